"""Scoring declarations over what the scoring agency may see (issue 16): a partner's seizure
counts only under an agreement in force, so two customs agencies score the same consignment
differently and a score falls when the agreement ends; an admin's change of weights changes
the ranking and is audited; the parts of every explanation add up to its score.

The expectations are written from the records each test imports and the agreements it signs,
by hand: which indicator must fire for whom, never read back from the scorer."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit.models import AuditEvent
from graph.models import OutboxEntry
from intel.import_writing import import_file
from intel.models import Record
from sharing import agreements
from targeting import profiles, scoring
from targeting.indicators import DEFAULT_WEIGHTS
from targeting.models import RiskProfile, ScoringRun, ShipmentScore
from tests.sharing_helpers import in_force, platform_admin, staff

pytestmark = pytest.mark.django_db

TODAY = date.today()
FRONT = {"name": "Harbourline Fresh B.V.", "country": "NL", "reg_no": "NL004495445B01"}


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def load(tmp_path: Path, owner, rows: list[dict]) -> None:
    path = tmp_path / f"{owner.agency.code}-{len(list(tmp_path.iterdir()))}.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    # The liaison officer: a file that releases its records is theirs to import.
    import_file(path, owner.agency, user=owner.liaison)


def declaration(ref: str, consignment: str, **columns) -> dict:
    return {
        "external_ref": ref,
        "category": "shipment",
        "occurred_on": day(2),
        "consignment_ref": consignment,
        "importer": FRONT,
        "exporter": {"name": "Pacific Banana Exports S.A.", "country": "EC"},
        "port_of_loading": "ECGYE",
        "port_of_discharge": "NLRTM",
        "hs_codes": "080390",
        "declared_value": "18400",
        "currency": "EUR",
        **columns,
    }


def parts(agency, ref: str) -> dict[str, dict]:
    row = ShipmentScore.objects.get(agency=agency, record__external_ref=ref, record__owner=agency)
    return {part["name"]: part for part in row.parts}


def score_of(agency, ref: str) -> float:
    return ShipmentScore.objects.get(agency=agency, record__external_ref=ref, record__owner=agency).score


@pytest.fixture
def world(tmp_path):
    """Police seized from the front 200 days ago and release it to customs NL under an
    agreement in force; customs BE has no agreement. Both customs declare the front's
    consignment of two days ago."""
    cus, cbe, pol = staff("cus"), staff("cbe", country="BE"), staff("pol", kind="police")
    load(
        tmp_path,
        pol,
        [
            {
                "external_ref": "POL-SZ-1",
                "category": "seizure",
                "occurred_on": day(200),
                "consignment_ref": "6NL812345678-0001",
                "importer": FRONT,
                "goods_description": "cocaine",
                "releasability": "covering",
            }
        ],
    )
    agreement = in_force(
        (pol, True, False),
        (cus, False, True),
        categories=("seizure",),
        purposes=("risk_assessment",),
        days=365,
    )
    load(tmp_path, cus, [declaration("CUS-1", "6NL812345678-0007")])
    load(tmp_path, cbe, [declaration("CBE-1", "6NL812345678-0007")])
    return cus, cbe, pol, agreement


def test_two_agencies_score_one_consignment_by_what_each_may_see(world):
    cus, cbe, _, _ = world
    scoring.score_agency(agency_id=cus.agency.pk)
    scoring.score_agency(agency_id=cbe.agency.pk)

    seen_by_cus, seen_by_cbe = parts(cus.agency, "CUS-1"), parts(cbe.agency, "CBE-1")
    # Customs NL sees the police seizure naming the importer: the importer is in a seizure.
    assert seen_by_cus["seizure_distance"]["value"] == 1.0
    assert "new_importer" not in seen_by_cus  # first seen 200 days ago, in the seizure
    # Customs BE sees only its own declaration: no seizure, and the importer is new to it.
    assert "seizure_distance" not in seen_by_cbe and "network_risk" not in seen_by_cbe
    assert "new_importer" in seen_by_cbe
    assert score_of(cus.agency, "CUS-1") > score_of(cbe.agency, "CBE-1")
    # Neither agency's evidence names a record it may not see.
    police = set(Record.objects.filter(owner__code="pol").values_list("pk", flat=True))
    for part in seen_by_cbe.values():
        assert not police & set(part["records"])


def test_a_score_falls_when_the_agreement_ends(world):
    cus, _, _, agreement = world
    scoring.score_agency(agency_id=cus.agency.pk)
    before = score_of(cus.agency, "CUS-1")

    agreements.terminate(agreement, platform_admin(), "the partnership ended")
    scoring.score_agency(agency_id=cus.agency.pk)

    after = parts(cus.agency, "CUS-1")
    assert "seizure_distance" not in after and "network_risk" not in after
    assert score_of(cus.agency, "CUS-1") < before


def test_parts_add_up_to_the_score(world):
    cus, cbe, _, _ = world
    for agency in (cus.agency, cbe.agency):
        scoring.score_agency(agency_id=agency.pk)
    rows = list(ShipmentScore.objects.all())
    assert len(rows) == 2
    for row in rows:
        assert row.parts
        assert round(sum(part["contribution"] for part in row.parts), 4) == row.score
        assert round(sum(p["contribution"] for p in row.parts if p["kind"] == "rules"), 4) == row.rules_score
        for part in row.parts:
            assert part["contribution"] == round(part["weight"] * part["value"], 4)


def test_an_admins_weights_change_the_ranking_and_are_audited(tmp_path):
    cus = staff("cus")
    load(
        tmp_path,
        cus,
        [
            declaration("ROUTE", "6NL812345678-0011", port_of_loading="PKKHI", hs_codes="080390"),
            declaration("GOODS", "6NL812345678-0012", port_of_loading="ECGYE", hs_codes="240220"),
        ],
    )
    weights = {**dict.fromkeys(DEFAULT_WEIGHTS, 0.0), "watch_route": 10.0, "watch_hs": 5.0}
    profiles.change_profile(
        cus.admin,
        reason="the port first",
        weights=weights,
        watchlists={"ports": ["PKKHI"], "hs_prefixes": ["2402"]},
    )
    scoring.score_agency(agency_id=cus.agency.pk)
    assert (score_of(cus.agency, "ROUTE"), score_of(cus.agency, "GOODS")) == (10.0, 5.0)

    profiles.change_profile(cus.admin, reason="tobacco first", weights={**weights, "watch_hs": 20.0})
    scoring.score_agency(agency_id=cus.agency.pk)
    assert (score_of(cus.agency, "ROUTE"), score_of(cus.agency, "GOODS")) == (10.0, 20.0)

    event = AuditEvent.objects.filter(action="targeting.profile.changed").order_by("-id").first()
    assert event.actor_id == cus.admin.pk
    assert event.details["reason"] == "tobacco first"
    assert event.details["changes"]["weights"]["from"]["watch_hs"] == 5.0
    assert event.details["changes"]["weights"]["to"]["watch_hs"] == 20.0
    assert list(
        RiskProfile.objects.filter(agency=cus.agency).order_by("version").values_list("version", "status")
    ) == [(1, "superseded"), (2, "superseded"), (3, "active")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"weights": {"no_such_indicator": 1}}, "weights"),
        ({"weights": {"watch_hs": -1}}, "weights"),
        ({"weights": {"watch_hs": float("nan")}}, "weights"),
        ({"watchlists": {"ports": ["ROTTERDAM"]}}, "ports"),
        ({"watchlists": {"countries": ["XX"]}}, "countries"),
        ({"watchlists": {"hs_prefixes": ["24a2"]}}, "hs_prefixes"),
        ({"watchlists": {"vessels": []}}, "watchlists"),
        ({"budget": 1.5}, "budget"),
        ({"random_share": True}, "random_share"),
        ({"reason": "  "}, "reason"),
    ],
)
def test_a_bad_profile_change_names_its_field_and_writes_nothing(changes, field):
    cus = staff("cus")
    before = RiskProfile.objects.count()
    with pytest.raises(ValidationError) as refused:
        profiles.change_profile(cus.admin, **{"reason": "why not", **changes})
    assert field in refused.value.message_dict
    assert RiskProfile.objects.filter(status="active").count() <= 1
    assert RiskProfile.objects.count() <= before + 1  # the defaults, at most


@pytest.mark.parametrize("role", ["analyst", "liaison"])
def test_only_an_agency_admin_changes_the_profile(role):
    cus = staff("cus")
    with pytest.raises(PermissionDenied):
        profiles.change_profile(getattr(cus, role), reason="mine", weights=dict(DEFAULT_WEIGHTS))


def test_a_run_keeps_its_basis_and_goes_stale_when_the_profile_changes(world):
    cus, _, _, _ = world
    scoring.request_scoring(agency_id=cus.agency.pk)
    assert scoring.run_scoring(cus.agency.pk) == ScoringRun.Status.DONE
    run = ScoringRun.objects.get(agency=cus.agency)
    assert (run.status, run.progress, run.scored) == ("done", 100, 1)
    assert scoring.is_current(run)
    assert cus.agency.pk not in scoring.stale_agencies()

    profiles.change_profile(cus.admin, reason="new weights", weights={**DEFAULT_WEIGHTS, "watch_hs": 1.0})
    assert not scoring.is_current(ScoringRun.objects.get(agency=cus.agency))
    assert cus.agency.pk in scoring.stale_agencies()


def test_scores_are_stale_while_the_sync_stalls_and_a_queued_run_is_queued_once(
    world, monkeypatch, settings, django_capture_on_commit_callbacks
):
    """A change waiting unsynced moves no basis: once a batch has failed on one waiting for
    GRAPH_SYNC_STALLED_SECONDS (the sync stalled), what customs sees may have changed, and its
    scores are stale. The periodic task and the queue page ask again each minute: a run
    already queued is not queued again."""
    cus, _, _, _ = world
    scoring.request_scoring(agency_id=cus.agency.pk)
    assert scoring.run_scoring(cus.agency.pk) == ScoringRun.Status.DONE
    assert scoring.is_current(ScoringRun.objects.get(agency=cus.agency))
    record = Record.objects.filter(owner=cus.agency).first()
    stalled = timezone.now() - timedelta(seconds=settings.GRAPH_SYNC_STALLED_SECONDS + 1)
    OutboxEntry.objects.create(kind="record", object_id=record.pk, created_at=stalled, attempts=1)
    assert not scoring.is_current(ScoringRun.objects.get(agency=cus.agency))
    assert cus.agency.pk in scoring.stale_agencies()

    sent: list[int] = []
    monkeypatch.setattr(scoring, "_send", sent.append)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            scoring.request_scoring(agency_id=cus.agency.pk)
    assert sent == [cus.agency.pk]


@pytest.mark.parametrize(("redacted", "fires"), [((), True), (("details.declared_value",), False)])
def test_a_partner_value_counts_only_where_the_agreement_shows_it(tmp_path, redacted, fires):
    """Tax's VAT record of the consignment states twice the declared value: a mismatch for
    customs, unless the agreement redacts the value (then customs never reads it)."""
    cus, tax = staff("cus"), staff("tax", kind="tax")
    in_force(
        (tax, True, False),
        (cus, False, True),
        categories=("shipment",),
        purposes=("risk_assessment",),
        redacted_fields=list(redacted),
        days=365,
    )
    vat = declaration("TAX-VAT-1", "6NL812345678-0021", declared_value="36800")
    load(tmp_path, tax, [{**vat, "releasability": "covering"}])
    load(tmp_path, cus, [declaration("CUS-1", "6NL812345678-0021")])
    scoring.score_agency(agency_id=cus.agency.pk)
    assert ("partner_mismatch" in parts(cus.agency, "CUS-1")) is fires
    if fires:
        tax_record = Record.objects.get(owner=tax.agency, external_ref="TAX-VAT-1")
        assert parts(cus.agency, "CUS-1")["partner_mismatch"]["records"] == [tax_record.pk]


def test_a_partial_change_keeps_the_weights_and_lists_not_named():
    cus = staff("cus")
    profiles.change_profile(
        cus.admin,
        reason="start",
        watchlists={"ports": ["PKKHI"], "countries": ["EC"], "hs_prefixes": ["2402"]},
    )
    changed = profiles.change_profile(
        cus.admin, reason="tobacco", weights={"watch_hs": 42.0}, watchlists={"countries": ["PE"]}
    )
    assert changed.weights == {**DEFAULT_WEIGHTS, "watch_hs": 42.0}
    assert changed.watchlists == {"ports": ["PKKHI"], "countries": ["PE"], "hs_prefixes": ["2402"]}


def test_a_rescoring_updates_each_declarations_row_in_place(world):
    """A decision locks its declaration's score row; one that waited while a rescoring
    committed must find the row again, so rescoring keeps the rows and changes them."""
    cus, _, _, _ = world
    scoring.score_agency(agency_id=cus.agency.pk)
    before = ShipmentScore.objects.get(agency=cus.agency)
    profiles.change_profile(
        cus.admin, reason="more weight on seizures nearby", weights={"seizure_distance": 50.0}
    )
    scoring.score_agency(agency_id=cus.agency.pk)
    after = ShipmentScore.objects.get(agency=cus.agency)
    assert after.pk == before.pk
    assert after.score == before.score + 30.0  # seizure distance 1.0, from 20 to 50
    assert after.computed_at > before.computed_at


def test_the_command_scores_each_customs_agency_once_before_its_queue_is_opened(world, capsys):
    cus, cbe, pol, _ = world
    call_command("score_declarations")

    runs = {run.agency.code: run for run in ScoringRun.objects.select_related("agency")}
    assert sorted(runs) == ["cbe", "cus"]  # customs only: police has no targeting queue
    assert {run.status for run in runs.values()} == {ScoringRun.Status.DONE}
    assert parts(cus.agency, "CUS-1")["seizure_distance"]["value"] == 1.0
    assert "seizure_distance" not in parts(cbe.agency, "CBE-1")
    finished = {code: run.finished_at for code, run in runs.items()}

    # Scores that are current are left as they are: opening the queue then scores nothing.
    call_command("score_declarations")
    assert {
        run.agency.code: run.finished_at for run in ScoringRun.objects.select_related("agency")
    } == finished
    assert scoring.request_scoring(agency_id=cus.agency.pk).status == ScoringRun.Status.DONE

    call_command("score_declarations", "--agency", pol.agency.code)
    assert ScoringRun.objects.get(agency=pol.agency).status == ScoringRun.Status.DONE


def test_the_command_names_an_agency_that_does_not_exist(world):
    with pytest.raises(CommandError, match="--agency: no agency 'nope'"):
        call_command("score_declarations", "--agency", "cus", "--agency", "nope")
    assert not ScoringRun.objects.exists()  # nothing scored when one named is wrong
