"""Scoring as a Celery job on the real stack (PostgreSQL, Redis, a real worker, the graph sync
to Neo4j moving each agency's visibility basis): a run stores customs' scores with progress
and its basis; an agreement terminated makes them stale, the periodic task queues the run
again and the seizure customs no longer sees stops counting. Waiting loops fail only on a hang."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from intel.models import Record
from sharing import agreements, releases
from targeting import scoring
from targeting.models import ScoringRun, ShipmentScore
from targeting.tasks import rescore_stale
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_graph_jobs import entity_ids_far_from_other_runs, load_csv, synced
from tests.test_import_batches import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(tmp_path: Path) -> dict:
    """Customs declares a shipment of Alpha's and one of Beta's; the police seized from Alpha
    and release their seizures to customs under an agreement in force."""
    tag = uuid.uuid4().hex[:6]
    entity_ids_far_from_other_runs()
    cus, pol = staff(f"cus-{tag}"), staff(f"pol-{tag}")

    load_csv(
        tmp_path,
        cus,
        [
            f"S-1,shipment,restricted,2026-03-02,one,Alpha {tag} Trading,NL,Broker {tag} Customs,NL,",
            f"S-2,shipment,restricted,2026-03-03,two,Beta {tag} Trading,NL,Other {tag} Brokers,NL,",
        ],
    )
    load_csv(tmp_path, pol, [f"Z-1,seizure,restricted,2025-09-04,seized,Alpha {tag} Trading,NL,,,cocaine"])
    for record in Record.objects.filter(owner=pol.agency):
        releases.set_releasability(record, pol.analyst, "covering")
    agreement = in_force(
        (pol, True, False),
        (cus, False, True),
        categories=("seizure",),
        purposes=("risk_assessment",),
        reference=f"MOU-{tag}",
    )
    return {"cus": cus, "agreement": agreement}


def fired(agency, ref: str) -> set[str]:
    row = ShipmentScore.objects.get(agency=agency, record__external_ref=ref, record__owner=agency)
    return {part["name"] for part in row.parts}


def finished_after(agency, moment) -> ScoringRun:
    return wait_for(
        lambda: (
            (run := ScoringRun.objects.get(agency=agency)).status in ("done", "failed")
            and run.finished_at
            and (moment is None or run.finished_at > moment)
            and run
        ),
        "the scoring job to finish",
    )


def test_a_scoring_job_goes_stale_when_the_agreement_ends_and_is_run_again(celery_worker, world):
    cus = world["cus"]
    synced()
    scoring.request_scoring(agency_id=cus.agency.pk)
    first = finished_after(cus.agency, None)
    assert (first.status, first.progress, first.scored) == ("done", 100, 2)
    assert first.basis and scoring.is_current(first)
    # Alpha is named in the police seizure customs may see; Beta is not.
    assert "seizure_distance" in fired(cus.agency, "S-1")
    assert "seizure_distance" not in fired(cus.agency, "S-2")
    assert cus.agency.pk not in scoring.stale_agencies()

    agreements.terminate(world["agreement"], platform_admin(), reason="ended by the test")
    synced()
    wait_for(lambda: cus.agency.pk in scoring.stale_agencies(), "the sync to make the scores stale")

    rescore_stale.delay()
    again = finished_after(cus.agency, first.finished_at)
    assert again.status == "done" and again.basis > first.basis and scoring.is_current(again)
    assert "seizure_distance" not in fired(cus.agency, "S-1")
