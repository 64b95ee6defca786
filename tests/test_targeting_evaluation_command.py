"""`evaluate_targeting` on the fixed-seed scenario (issue 16): the same seed gives the same
figures and the same plot, rules plus network capture more of the planted violations at a
5 % budget than rules alone, and nothing of the scenario stays in the database."""

import io

import pytest
from django.core.management import CommandError, call_command

from agencies.models import Agency
from intel.models import Record
from targeting.models import Evaluation

pytestmark = pytest.mark.django_db

SHIPMENTS = 300


def test_the_evaluation_is_reproducible_and_the_network_adds_captures(tmp_path):
    outputs = []
    for run in range(2):
        out = io.StringIO()
        call_command(
            "evaluate_targeting",
            seeds="5",
            shipments=SHIPMENTS,
            plot=tmp_path / f"plot-{run}.png",
            stdout=out,
            stderr=io.StringIO(),
        )
        outputs.append(out.getvalue())

    first, second = Evaluation.objects.order_by("created_at")
    assert first.results == second.results
    assert bytes(first.plot) == bytes(second.plot) == (tmp_path / "plot-0.png").read_bytes()
    # The table printed; what follows it names the plot's path and the time taken.
    assert outputs[0].split("\nAt ")[0] == outputs[1].split("\nAt ")[0]

    at_5 = first.results["summary"]
    network, rules = at_5["rules_network"]["0.05"], at_5["rules"]["0.05"]
    assert network["k"]["mean"] == SHIPMENTS * 5 // 100
    assert network["caught"]["mean"] > rules["caught"]["mean"]
    assert first.parameters == {"budget": 0.05, "seeds": [5], "shipments": SHIPMENTS}

    # Every seed was rolled back: no agency, no record of the scenario is left.
    assert not Agency.objects.filter(code__startswith="tc-").exists()
    assert not Record.objects.exists()


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"budget": 0.0}, "--budget"),
        ({"budget": 0.5}, "--budget"),
        ({"shipments": 10}, "--shipments"),
        ({"seeds": "1,x"}, "--seeds"),
        ({"seeds": ""}, "--seeds"),
    ],
)
def test_bad_options_are_refused_naming_them(options, named, tmp_path):
    with pytest.raises(CommandError, match=named):
        call_command("evaluate_targeting", plot=tmp_path / "plot.png", stdout=io.StringIO(), **options)
    assert not Evaluation.objects.exists()
