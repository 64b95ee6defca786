"""fit_risk_weights on PostgreSQL from Decision rows made directly, and the evaluation page
over a stored evaluation."""

import io
import random
import uuid

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from intel.models import Record
from targeting import evaluation
from targeting.evaluations import store_evaluation
from targeting.indicators import DEFAULT_WEIGHTS
from targeting.models import Decision, Evaluation, RiskProfile
from tests.auth_helpers import signed_in
from tests.sharing_helpers import platform_admin

pytestmark = pytest.mark.django_db

RANDOM_PICKS = 120
TARGETED = 240


def decisions(staff, *, random_picks=RANDOM_PICKS, targeted=TARGETED) -> None:
    """Inspections whose violations follow `seized_identifier`, with noise elsewhere; and
    rows the fitting must leave out (no outcome yet, a release)."""
    draw = random.Random(11)
    total = random_picks + targeted + 2
    records = Record.objects.bulk_create(
        Record(owner=staff.agency, external_ref=f"D-{i}", category="shipment", classification=1)
        for i in range(total)
    )
    rows = []
    for i, record in enumerate(records):
        planted = draw.random() < 0.3
        values = {"seized_identifier": 1.0} if planted else {}
        if draw.random() < 0.3:
            values["watch_hs"] = round(draw.uniform(0.2, 1), 4)
        violating = draw.random() < (0.8 if planted else 0.05)
        outcome = draw.choice(["seizure", "other_violation"]) if violating else "nothing_found"
        action, pick = "inspect", i < random_picks
        if i == total - 2:
            outcome = ""
        if i == total - 1:
            action, outcome = "release", ""
        rows.append(
            Decision(
                agency=staff.agency,
                record=record,
                action=action,
                random_pick=pick,
                reason="test",
                indicators=values,
                decided_by=staff.analyst,
                decided_at=timezone.now(),
                outcome=outcome,
            )
        )
    Decision.objects.bulk_create(rows)


def test_fit_risk_weights_proposes_weights_with_their_validation(cus) -> None:
    decisions(cus)
    out = io.StringIO()
    call_command("fit_risk_weights", agency="cus", stdout=out, stderr=io.StringIO())
    proposal = RiskProfile.objects.get(agency=cus.agency, status="proposed")
    assert proposal.version == 2
    assert RiskProfile.objects.get(agency=cus.agency, status="active").version == 1
    assert max(proposal.weights, key=proposal.weights.get) == "seized_identifier"
    assert sum(proposal.weights.values()) == pytest.approx(sum(DEFAULT_WEIGHTS.values()), abs=0.05)
    # Never fired in the outcomes: kept as they were.
    assert proposal.weights["partner_mismatch"] == DEFAULT_WEIGHTS["partner_mismatch"]
    checked = proposal.validation
    assert checked["outcomes"] == RANDOM_PICKS + TARGETED
    assert checked["random_picks"] == RANDOM_PICKS
    assert checked["against_version"] == 1
    assert 0.5 < checked["fitted"]["auc"] <= 1
    assert (
        AuditEvent.objects.filter(action="targeting.profile.proposed", agency_id=cus.agency.pk).count() == 1
    )
    text = out.getvalue()
    assert f"Proposed version 2 of cus's weights ({proposal.public_id})" in text
    assert f"validated on {RANDOM_PICKS} random picks" in text
    assert "proposed  AUC" in text and "current   AUC" in text


def test_fit_risk_weights_refuses_too_few_random_picks(cus, pol) -> None:
    decisions(cus)
    with pytest.raises(CommandError, match=f"{RANDOM_PICKS} random-pick outcomes, fewer than the 500"):
        call_command("fit_risk_weights", agency="cus", min_outcomes=500, stdout=io.StringIO())
    # Another agency's outcomes are not pol's.
    with pytest.raises(CommandError, match="0 random-pick outcomes"):
        call_command("fit_risk_weights", agency="pol", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--agency: no agency 'nope'"):
        call_command("fit_risk_weights", agency="nope", stdout=io.StringIO())
    assert not RiskProfile.objects.filter(status="proposed").exists()


def stored() -> Evaluation:
    truth = {f"s{i}": i % 4 == 0 for i in range(40)}
    rules = {d: float(v) + (i % 7) / 10 for i, (d, v) in enumerate(truth.items())}
    results = evaluation.evaluate(
        [evaluation.Case(seed, truth, {"rules": rules, "rules_network": rules}) for seed in (1, 2)]
    )
    return store_evaluation(
        parameters={"budget": 0.05, "seeds": [1, 2]}, results=results, plot=evaluation.plot(results)
    )


def test_the_evaluation_page_shows_the_latest_evaluation_and_its_plot(cus) -> None:
    client = signed_in(Client(), cus.analyst)
    empty = client.get("/targeting/evaluation/")
    assert empty.status_code == 200 and b"No evaluation yet" in empty.content
    stored()
    latest = stored()
    response = client.get("/targeting/evaluation/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/targeting/evaluation/{latest.public_id}/plot.png"' in html
    assert "<td>Rules + network</td><td>5 %</td>" in html
    assert "style=" not in html and "<style" not in html and "<script" not in html
    plot = client.get(f"/targeting/evaluation/{latest.public_id}/plot.png")
    assert plot.status_code == 200
    assert plot["Content-Type"] == "image/png"
    assert plot.content == bytes(Evaluation.objects.get(pk=latest.pk).plot)
    assert plot.content.startswith(b"\x89PNG")
    assert client.get(f"/targeting/evaluation/{uuid.uuid4()}/plot.png").status_code == 404


def test_the_evaluation_page_is_for_agency_staff(cus) -> None:
    latest = stored()
    signed_out = Client().get("/targeting/evaluation/")
    assert signed_out.status_code == 302 and "/accounts/login/" in signed_out["Location"]
    assert Client().get(f"/targeting/evaluation/{latest.public_id}/plot.png").status_code == 302
    no_agency = signed_in(Client(), platform_admin())
    assert no_agency.get("/targeting/evaluation/").status_code == 403


def test_store_evaluation_refuses_what_is_not_an_evaluation() -> None:
    with pytest.raises(ValidationError) as refused:
        store_evaluation(parameters={}, results={"budgets": []}, plot=b"GIF89a")
    assert set(refused.value.message_dict) == {"results", "plot"}
    assert not Evaluation.objects.exists()
