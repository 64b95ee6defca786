"""Heavy analytics as Celery jobs on the real stack (PostgreSQL, Redis, a real worker, and the
graph sync to Neo4j, whose batches move each agency's visibility basis): a job shows its
progress and stores its result for the asking agency only; an agreement terminated makes
that result stale and the recomputation differs; another agency asking gets a computation
of its own. Names are drawn per run, so the shared Neo4j holds no stranger's node of the
same key. Waiting loops fail only on a hang."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from graph import jobs
from graph.jobs import OPERATIONS, is_current, request_analysis, stored_analysis, visibility_basis
from graph.models import AnalyticsResult, OutboxEntry
from graph.outbox import note_sync_progress, sync_key
from graph.resync import resync
from graph.tasks import drain_outbox
from intel.import_writing import import_file
from intel.models import Entity, Record
from intel.services import delete_record
from sharing import agreements, releases
from tests.conftest import worker_database_url
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_import_batches import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = (
    "external_ref,category,classification,occurred_on,summary,"
    "importer_name,importer_country,broker_name,broker_country,goods_description"
)
RISK = {"operation": "network_risk", "parameters": {"limit": 50, "paths": 3}, "purpose": "investigation"}


def entity_ids_far_from_other_runs() -> None:
    """Neo4j is shared and keeps nodes of other runs under their databases' low entity ids:
    ours start far from them, so the sync meets no stranger's node."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('intel_entity', 'id'), %s)",
            [random.randrange(10**12, 10**15)],
        )


def load_csv(tmp_path: Path, owner, rows: list[str]) -> None:
    path = tmp_path / f"{owner.agency.code}-{uuid.uuid4().hex[:6]}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    import_file(path, owner.agency)


@pytest.fixture
def world(tmp_path: Path) -> dict:
    """Customs (cus) ships for importers Alpha and Beta through one broker; the police (pol)
    seized a shipment of Alpha's and releases its seizures to customs under an agreement;
    tax sees nothing of either."""
    tag = uuid.uuid4().hex[:6]
    entity_ids_far_from_other_runs()
    cus, pol, tax = staff(f"cus-{tag}"), staff(f"pol-{tag}"), staff(f"tax-{tag}")

    load_csv(
        tmp_path,
        cus,
        [
            f"S-1,shipment,restricted,2026-03-02,one,Alpha {tag} Trading,NL,Broker {tag} Customs,NL,",
            f"S-2,shipment,restricted,2026-03-03,two,Beta {tag} Trading,NL,Broker {tag} Customs,NL,",
        ],
    )
    load_csv(tmp_path, pol, [f"Z-1,seizure,restricted,2026-03-04,seized,Alpha {tag} Trading,NL,,,cocaine"])
    for record in Record.objects.filter(owner=pol.agency):
        releases.set_releasability(record, pol.analyst, "covering")
    agreement = in_force(
        (pol, True, False), (cus, False, True), categories=("seizure",), reference=f"MOU-{tag}"
    )
    alpha = Entity.objects.get(type="company", mentions__record__owner=pol.agency, mentions__role="importer")
    return {"cus": cus, "pol": pol, "tax": tax, "agreement": agreement, "alpha": alpha}


def synced() -> None:
    drain_outbox.delay()
    wait_for(lambda: not OutboxEntry.objects.exists(), "the graph sync to drain the outbox")


def finished(row: AnalyticsResult) -> AnalyticsResult:
    return wait_for(
        lambda: (fresh := AnalyticsResult.objects.get(pk=row.pk)).status in ("done", "failed") and fresh,
        f"the {row.operation} job to finish",
    )


def test_a_job_shows_progress_and_stores_its_result_for_its_agency_only(celery_worker, world):
    cus, tax = world["cus"], world["tax"]
    synced()
    # Holding the link table keeps the job inside its graph reading, where the test can see it.
    with psycopg.connect(worker_database_url(), autocommit=False) as holder:
        holder.execute("LOCK TABLE intel_link IN ACCESS EXCLUSIVE MODE")
        row = request_analysis(user=cus.analyst, **RISK)
        running = wait_for(
            lambda: (
                (r := AnalyticsResult.objects.get(pk=row.pk)).status == "running" and r.progress > 0 and r
            ),
            "the job to start and report progress",
        )
        assert 0 < running.progress < 100 and running.result is None
        holder.rollback()
    done = finished(row)
    assert (done.status, done.progress) == ("done", 100)
    assert is_current(done)
    # The seizure customs may see names Alpha: a seed, and Alpha's own shipment is at risk.
    assert world["alpha"].pk in done.result["seeds"]
    assert done.result["ranking"], "entities near the seizure are scored"

    assert list(AnalyticsResult.objects.values_list("agency_id", flat=True)) == [cus.agency.pk]
    assert stored_analysis(user=tax.analyst, **RISK) is None
    assert stored_analysis(user=cus.analyst, **RISK).pk == done.pk


def test_a_terminated_agreement_makes_the_result_stale_and_recomputation_differs(celery_worker, world):
    cus = world["cus"]
    synced()
    first = finished(request_analysis(user=cus.analyst, **RISK))
    assert world["alpha"].pk in first.result["seeds"] and is_current(first)
    assert request_analysis(user=cus.analyst, **RISK).computed_at == first.computed_at, "current: served"

    agreements.terminate(world["agreement"], platform_admin(), reason="ended by the test")
    synced()
    wait_for(lambda: not is_current(AnalyticsResult.objects.get(pk=first.pk)), "the sync to make it stale")

    again = finished(request_analysis(user=cus.analyst, **RISK))
    assert again.pk == first.pk and again.computed_at > first.computed_at
    # Customs' own records name no seizure: no seed, nobody at risk.
    assert (again.result["seeds"], again.result["ranking"]) == ([], [])
    assert is_current(again)


def test_another_agency_asking_gets_its_own_computation(celery_worker, world):
    cus, tax = world["cus"], world["tax"]
    synced()
    ours = finished(request_analysis(user=cus.analyst, **RISK))
    theirs = finished(request_analysis(user=tax.analyst, **RISK))
    assert theirs.pk != ours.pk and theirs.agency_id == tax.agency.pk
    assert (theirs.result["seeds"], theirs.result["ranking"]) == ([], [])
    kept = AnalyticsResult.objects.get(pk=ours.pk)
    assert (kept.result, kept.computed_at) == (ours.result, ours.computed_at)
    assert world["alpha"].pk in kept.result["seeds"]


def test_every_operation_runs_as_a_job_over_the_agencys_graph(celery_worker, world):
    cus = world["cus"]
    synced()
    # Customs' graph is one line: seizure Z-1 - Alpha - S-1 - broker - S-2 - Beta. The two in
    # the middle lie between 2 x 3 of the other nodes' pairs each, more than anyone else.
    hub = {
        ref: Entity.objects.get(
            type="shipment", mentions__record__external_ref=ref, mentions__role="shipment"
        )
        for ref in ("S-1", "S-2")
    }
    broker = Entity.objects.filter(type="company", mentions__role="broker").distinct().get()
    rows = {
        operation: finished(
            request_analysis(user=cus.analyst, operation=operation, parameters=None, purpose="investigation")
        )
        for operation in OPERATIONS
    }
    assert {operation: row.status for operation, row in rows.items()} == dict.fromkeys(OPERATIONS, "done")
    ranking = rows["betweenness"].result["ranking"]
    assert {ranking[0]["entity_id"], ranking[1]["entity_id"]} == {hub["S-1"].pk, broker.pk}
    assert ranking[0]["score"] == ranking[1]["score"] > ranking[2]["score"]
    communities = rows["communities"].result["communities"]
    assert sorted(m for c in communities for m in c["members"]) == sorted(
        [world["alpha"].pk, hub["S-1"].pk, hub["S-2"].pk, broker.pk, *entities_named("Beta", "Z-1")]
    )
    assert sum(c["seizures"] for c in communities) == 2, "the seizure's hub and Alpha"
    assert rows["containers_across_unrelated_importers"].result == {"matches": []}


def entities_named(importer: str, seizure: str) -> list[int]:
    beta = Entity.objects.get(type="company", key__icontains=importer.lower())
    hub = Entity.objects.get(
        type="shipment", mentions__record__external_ref=seizure, mentions__role="shipment"
    )
    return [beta.pk, hub.pk]


def test_asking_again_while_a_job_is_queued_queues_nothing_more(
    without_session_worker, world, monkeypatch, settings
):
    """The link chart polls while a job waits: each poll queued another copy, and each copy
    held a worker waiting for the first. A job queued too long ago is taken for lost."""
    sent: list[int] = []
    monkeypatch.setattr(jobs, "_send", sent.append)
    cus = world["cus"]
    asked = {request_analysis(user=cus.analyst, **RISK).pk for _ in range(3)}
    assert len(sent) == 1 and asked == set(sent)
    waited = timedelta(seconds=settings.ANALYTICS_REQUEUE_SECONDS + 1)
    AnalyticsResult.objects.filter(pk=sent[0]).update(requested_at=timezone.now() - waited)
    request_analysis(user=cus.analyst, **RISK)
    request_analysis(user=cus.analyst, **RISK)
    assert sent == [sent[0], sent[0]]


def test_a_stored_result_is_current_only_while_the_sync_follows(
    without_session_worker, world, monkeypatch, settings
):
    """A change waiting unsynced moves no basis. Once one has waited GRAPH_SYNC_STALLED_SECONDS
    with no batch synced meanwhile (Neo4j down), or a batch failed on it, what the agency sees
    may have changed: no stored result is current then, and asking computes again. A backlog
    the drains are working through (a long import's rows, stamped when written) is no stall."""
    sent: list[int] = []
    monkeypatch.setattr(jobs, "_send", sent.append)
    cus = world["cus"]
    OutboxEntry.objects.all().delete()  # as if the sync had followed the fixture's imports
    cache.delete(sync_key("progress"))
    asked = request_analysis(user=cus.analyst, operation="communities", purpose="investigation")
    # As if its job had run.
    AnalyticsResult.objects.filter(pk=asked.pk).update(
        status="done",
        progress=100,
        result={"communities": []},
        basis=visibility_basis(cus.agency.pk, "investigation"),
        computed_with=jobs.ANALYSES_VERSION,
    )
    row = AnalyticsResult.objects.get(pk=asked.pk)
    sent.clear()
    assert is_current(row)
    record = Record.objects.filter(owner=world["pol"].agency).first()
    change = OutboxEntry.objects.create(kind="record", object_id=record.pk, created_at=timezone.now())
    assert is_current(row), "a change the sync is about to follow: the lag it may show"

    waited = timezone.now() - timedelta(seconds=settings.GRAPH_SYNC_STALLED_SECONDS + 1)
    OutboxEntry.objects.filter(pk=change.pk).update(created_at=waited)
    assert not is_current(row), "waited that long, and nothing synced since"
    note_sync_progress()
    assert is_current(row), "a backlog the drains work through"
    OutboxEntry.objects.filter(pk=change.pk).update(attempts=1)
    assert not is_current(row), "a batch failed on it"

    request_analysis(user=cus.analyst, operation="communities", purpose="investigation")
    assert sent == [row.pk] and AnalyticsResult.objects.get(pk=row.pk).status == "pending"


def test_a_resync_before_the_drain_still_makes_the_result_stale(without_session_worker, world, monkeypatch):
    """A resync stores each record's projection as of now; the outbox row of a change made
    before it, drained after, finds no difference left. The resync itself marks whoever's
    view of a record changed: else customs' result, computed with the police seizure, would
    stay current after the agreement ended."""
    monkeypatch.setattr(jobs, "_send", jobs.run_analysis)  # in process, once committed
    cus = world["cus"]
    drain_outbox()  # in process: the graph follows the fixture's imports
    row = request_analysis(user=cus.analyst, **RISK)
    row = AnalyticsResult.objects.get(pk=row.pk)
    assert world["alpha"].pk in row.result["seeds"] and is_current(row)

    agreements.terminate(world["agreement"], platform_admin(), reason="ended by the test")
    assert OutboxEntry.objects.exists()
    resync(workers=1)
    drain_outbox()
    assert not OutboxEntry.objects.exists()
    assert not is_current(AnalyticsResult.objects.get(pk=row.pk))


def test_a_record_deleted_and_resynced_before_the_drain_makes_the_result_stale(
    without_session_worker, world, monkeypatch
):
    """The resync drops the projections of records deleted since: whoever could see one
    sees another graph, and the deletion's outbox row, drained after, finds no projection
    to tell it by."""
    monkeypatch.setattr(jobs, "_send", jobs.run_analysis)  # in process, once committed
    cus, pol = world["cus"], world["pol"]
    drain_outbox()
    row = AnalyticsResult.objects.get(pk=request_analysis(user=cus.analyst, **RISK).pk)
    assert world["alpha"].pk in row.result["seeds"] and is_current(row)

    delete_record(Record.objects.get(owner=pol.agency, external_ref="Z-1"), pol.admin)
    resync(workers=1)
    drain_outbox()
    assert not is_current(AnalyticsResult.objects.get(pk=row.pk))
