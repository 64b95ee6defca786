"""Stored analytics and targeting scores on the embedded default (SQLite, no sync, tasks run
in the caller): a result is served again while what the agency may see for its purpose is
as it was, and is stale as soon as any of it changes, whatever changed it (a service, an
analyst, the clock). Before, the workspace showed any done result, and targeting's scores
stayed current, after the agreement they were computed under had ended.

The scene (tests/workspace_scene.py): pol reads cus's shipments WS-1 and WS-2 under MOU-1
(risk assessment and investigation); tax shares with no one."""

import json
from contextlib import AbstractContextManager, nullcontext
from datetime import date, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client

from graph import jobs
from graph.models import AnalyticsResult
from intel.import_writing import import_file
from intel.merging import merge_entities
from intel.selectors import Reader
from sharing import agreements, releases
from targeting import scoring
from targeting.models import ScoringRun, ShipmentScore
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.workspace_scene import HEADER, ROWS, build
from workspace import selectors as workspace

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(tmp_path):
    assert connection.vendor == "sqlite"
    return build(tmp_path)


def computed(staff, purpose: str, on_commit) -> AnalyticsResult:
    with on_commit(execute=True):
        row = jobs.request_analysis(user=staff.analyst, operation="communities", purpose=purpose)
    return AnalyticsResult.objects.get(pk=row.pk)


def shown_on_the_workspace(staff, purpose: str) -> bool:
    return workspace.stored(Reader(staff.analyst, purpose), "communities")["communities"][1]


def test_a_result_is_served_again_while_nothing_changed(scene, django_capture_on_commit_callbacks):
    first = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    assert first.status == "done" and first.basis is not None
    # Reading is no change: the pages and the API read (and audit) in between.
    assert shown_on_the_workspace(scene.pol, "investigation")
    again = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    assert (again.pk, again.computed_at, again.basis) == (first.pk, first.computed_at, first.basis)
    assert jobs.is_current(again)


def reimport_changed(scene) -> None:
    """cus sends WS-2 again with another summary: a record pol reads changes its content."""
    path = scene.tmp_path / "cus-again.csv"
    path.write_text(HEADER + ROWS["cus"][1].replace(",second,", ",second amended,") + "\n")
    import_file(path, scene.cus.agency)


def share_another(scene) -> None:
    """cus imports a new shipment and releases it: one more record pol reads."""
    path = scene.tmp_path / "cus-more.csv"
    path.write_text(HEADER + "WS-9,shipment,restricted,2026-05-01,more,Harbour Fish BV,NL,,,,,,,,\n")
    import_file(path, scene.cus.agency)
    record = scene.cus.agency.records.get(external_ref="WS-9")
    releases.set_releasability(record, scene.cus.analyst, "covering")


def merge_two(scene) -> None:
    """cus's importer (named in WS-1 and WS-2, which pol reads) merged into pol's front."""
    merge_entities(scene.front, scene.importer, platform_admin())


def suspend(scene) -> None:
    agreements.suspend(scene.mou, platform_admin(), "the partner asked")


def past_its_end(scene) -> AbstractContextManager:
    """The clock passes MOU-1's end: no service runs, nothing is written."""
    return time_machine.travel(scene.mou.ends_at + timedelta(seconds=1), tick=False)


def amended(scene, **changes) -> None:
    amendment = agreements.amend(scene.mou, scene.cus.admin, **changes)
    agreements.propose(amendment, scene.cus.admin)
    for party in (scene.cus, scene.pol):
        amendment = agreements.sign(amendment, party.admin)


def without_investigation(scene) -> None:
    """MOU-1 amended to risk assessment alone: pol still reads WS-1 and WS-2, but not to
    investigate."""
    amended(scene, purposes=["risk_assessment"])


def phones_redacted(scene) -> None:
    """MOU-1 amended to hide phones: pol reads WS-1 and WS-2 without the broker's phone."""
    amended(scene, redacted_fields=["phone"])


@pytest.mark.parametrize(
    "change",
    [
        reimport_changed,
        share_another,
        merge_two,
        suspend,
        past_its_end,
        without_investigation,
        phones_redacted,
    ],
)
def test_any_change_of_what_the_agency_may_see_makes_it_stale(
    scene, change, tmp_path, django_capture_on_commit_callbacks
):
    scene.tmp_path = tmp_path
    row = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    assert jobs.is_current(row) and shown_on_the_workspace(scene.pol, "investigation")
    with change(scene) or nullcontext():
        row.refresh_from_db()
        assert not jobs.is_current(row)
        assert not shown_on_the_workspace(scene.pol, "investigation")
        # Asked again, it is computed again over what pol may see now.
        again = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
        assert again.computed_at > row.computed_at and jobs.is_current(again)


def test_a_change_for_another_purpose_leaves_the_result_current(
    scene, tmp_path, django_capture_on_commit_callbacks
):
    """Amended to risk assessment alone, MOU-1 still lets pol assess risk over WS-1 and WS-2:
    a result for that purpose rests on the same records, one for investigation does not."""
    scene.tmp_path = tmp_path
    assessed = computed(scene.pol, "risk_assessment", django_capture_on_commit_callbacks)
    investigated = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    without_investigation(scene)
    assert jobs.is_current(AnalyticsResult.objects.get(pk=assessed.pk))
    assert not jobs.is_current(AnalyticsResult.objects.get(pk=investigated.pk))


def test_another_agencys_change_leaves_it_current(scene, tmp_path, django_capture_on_commit_callbacks):
    """tax shares with no one: its own new record changes nothing pol may see."""
    row = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    path = tmp_path / "tax-more.csv"
    path.write_text(HEADER + "TX-9,shipment,restricted,2026-05-02,tax,Tax Only Importer BV,NL,,,,,,,,\n")
    import_file(path, scene.tax.agency)
    assert jobs.is_current(AnalyticsResult.objects.get(pk=row.pk))


def test_a_result_of_other_analyses_is_computed_again_not_served(
    scene, monkeypatch, django_capture_on_commit_callbacks
):
    """A deploy that changes what an analysis answers raises ANALYSES_VERSION: what the
    earlier analyses stored, over the same graph, is stale, and asked again is computed by
    these; a result stored before versions were kept (none) is stale too."""
    row = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    deployed = jobs.ANALYSES_VERSION + 1
    assert row.computed_with == jobs.ANALYSES_VERSION and jobs.is_current(row)
    monkeypatch.setattr(jobs, "ANALYSES_VERSION", deployed)
    assert not jobs.is_current(row)
    assert not shown_on_the_workspace(scene.pol, "investigation")
    again = computed(scene.pol, "investigation", django_capture_on_commit_callbacks)
    assert again.pk == row.pk and again.computed_at > row.computed_at
    assert again.computed_with == deployed and jobs.is_current(again)
    AnalyticsResult.objects.filter(pk=row.pk).update(computed_with=None)
    assert not jobs.is_current(AnalyticsResult.objects.get(pk=row.pk))


@pytest.mark.parametrize("raised", [(1, 0), (0, 1)], ids=["analyses", "scoring"])
def test_scores_of_other_analyses_or_scoring_go_stale_and_are_scored_again(
    scene, monkeypatch, raised, django_capture_on_commit_callbacks
):
    """A score rests on the analyses' network facts and on the scoring: a deploy that raises
    either version leaves the scores stale, and the periodic task scores them again."""
    with django_capture_on_commit_callbacks(execute=True):
        scoring.request_scoring(agency_id=scene.pol.agency.pk)
    run = ScoringRun.objects.get(agency=scene.pol.agency)
    assert run.computed_with == f"{jobs.ANALYSES_VERSION}.{scoring.SCORING_VERSION}"
    assert scoring.is_current(run)
    deployed = f"{jobs.ANALYSES_VERSION + raised[0]}.{scoring.SCORING_VERSION + raised[1]}"
    monkeypatch.setattr(scoring, "COMPUTED_WITH", deployed)
    assert not scoring.is_current(run)
    assert scoring.stale_agencies() == [scene.pol.agency.pk]
    with django_capture_on_commit_callbacks(execute=True):
        scoring.request_scoring(agency_id=scene.pol.agency.pk)
    run.refresh_from_db()
    assert run.computed_with == deployed and scoring.is_current(run)


def test_the_queue_reads_what_the_agency_may_see_once_to_keep_its_scores_current_and_show_it(
    scene, monkeypatch, django_capture_on_commit_callbacks
):
    """Opening the queue asks whether the scores are current (to score again if not), then
    shows whether they are: on one reading of the agency's basis, here a digest of all it
    may see. Stale, the scoring reads it once more, as it must: what it scores over."""
    client = signed_in(Client(), scene.pol.analyst)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/targeting/").status_code == 200
    assert scoring.is_current(ScoringRun.objects.get(agency=scene.pol.agency))
    digests = []
    digest = jobs.seen_digest
    monkeypatch.setattr(jobs, "seen_digest", lambda **asked: digests.append(asked) or digest(**asked))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        page = client.get("/targeting/").content.decode()
    assert (len(digests), queued) == (1, [])
    assert "Scores current" in page
    digests.clear()
    suspend(scene)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        page = client.get("/targeting/").content.decode()
    # Scored once the page's transaction commits (here, as the block ends: after the page).
    assert (len(digests), len(queued)) == (2, 1)
    assert "Scoring pending" in page
    assert scoring.is_current(ScoringRun.objects.get(agency=scene.pol.agency))


def test_an_explanation_from_the_api_reads_what_the_agency_may_see_once(
    scene, monkeypatch, django_capture_on_commit_callbacks
):
    """The API keeps the scores current, as the queue page does, and the explanation asks
    whether its network parts rest on what the agency sees now: one reading for both."""
    client = signed_in(Client(), scene.cus.analyst)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get("/targeting/").status_code == 200
    declaration = ShipmentScore.objects.filter(agency=scene.cus.agency).select_related("record").first()
    digests = []
    digest = jobs.seen_digest
    monkeypatch.setattr(jobs, "seen_digest", lambda **asked: digests.append(asked) or digest(**asked))
    answer = client.get(f"/api/targeting/queue/{declaration.record.public_id}/")
    assert answer.status_code == 200
    assert len(digests) == 1


def test_targeting_scores_go_stale_when_the_agreement_ends(scene, django_capture_on_commit_callbacks):
    """pol's scores read cus's shipments for risk assessment; once MOU-1 is suspended they
    rest on records pol may not read, and are current no more until scored again."""
    with django_capture_on_commit_callbacks(execute=True):
        scoring.request_scoring(agency_id=scene.pol.agency.pk)
    run = ScoringRun.objects.get(agency=scene.pol.agency)
    assert run.status == "done" and scoring.is_current(run)
    suspend(scene)
    assert not scoring.is_current(run)


def test_a_detail_redacted_since_makes_the_scores_stale(tmp_path, django_capture_on_commit_callbacks):
    """tax's declaration TAX-VAT-1 of cus's consignment states twice cus's value: cus's
    score rests on the mismatch. Once the agreement redacts the declared value, cus still
    reads TAX-VAT-1 but not its value, and a score resting on it is current no more."""
    cus, tax = staff("cus"), staff("tax", kind="tax")
    mou = in_force(
        (tax, True, False), (cus, False, True), categories=("shipment",), purposes=("risk_assessment",)
    )
    day = (date.today() - timedelta(days=2)).isoformat()
    declared = {
        "category": "shipment",
        "occurred_on": day,
        "consignment_ref": "6NL812345678-0021",
        "importer": {"name": "Harbourline Fresh B.V.", "country": "NL", "reg_no": "NL004495445B01"},
        "declared_value": "18400",
        "currency": "EUR",
    }
    for owner, row in (
        (
            tax,
            {**declared, "external_ref": "TAX-VAT-1", "declared_value": "36800", "releasability": "covering"},
        ),
        (cus, {**declared, "external_ref": "CUS-1"}),
    ):
        path = tmp_path / f"{owner.agency.code}.jsonl"
        path.write_text(json.dumps(row) + "\n")
        import_file(path, owner.agency, user=owner.liaison)
    with django_capture_on_commit_callbacks(execute=True):
        scoring.request_scoring(agency_id=cus.agency.pk)
    run = ScoringRun.objects.get(agency=cus.agency)
    assert scoring.is_current(run)
    amendment = agreements.amend(mou, tax.admin, redacted_fields=["details.declared_value"])
    agreements.propose(amendment, tax.admin)
    for party in (tax, cus):
        amendment = agreements.sign(amendment, party.admin)
    assert not scoring.is_current(run)
