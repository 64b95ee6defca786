"""The graph sync on the real stack: PostgreSQL, Redis, real Celery worker (and beat)
processes and Neo4j, including the failures the sync must survive: Neo4j down, a
worker killed with SIGKILL mid-batch, two workers draining overlapping entities, and
visibility withdrawn by the clock.

Each test starts its own workers on the run's queue, so it can kill or stop them, and
empties Neo4j first. What the graph must hold is checked two ways: `graph_verify`
(which recomputes the graph from the records and `viewer_agencies()`, the functions the
sync uses), and against an expectation written here from the test's own data: the parties
each shipment row names and the agencies the test gave access to (`expected_shape`).
No test asserts on how long anything took; waiting loops fail only on a hang.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from stdnum import imo, iso6346

from agencies.models import Agency, User
from config.celery import app
from graph import batch, drain, writer
from graph.driver import get_driver
from graph.models import OutboxEntry
from graph.outbox import drain_pending_key, sync_key
from graph.schema import NODE_PROPERTIES, RELATIONSHIP_PROPERTIES, ensure_schema
from graph.tasks import drain_outbox
from graph.verify import verify
from intel.import_writing import import_file
from intel.merging import merge_entities
from intel.models import Entity, Mention, Record, RecordGroupObjectPermission
from intel.services import delete_record, update_record
from intel.signals import records_changed
from tests.conftest import ROOT, WorkerProcess, services, worker_database_url
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = (
    "external_ref,category,classification,occurred_on,summary,importer_name,importer_country,"
    "broker_name,broker_country,broker_phone,vessel_imo,vessel_name,container_numbers"
)
BROKERS = 5
IMPORTERS = 40
VESSELS = 10
CONTAINERS = 300


# --- data ------------------------------------------------------------------------------


def vessel_imo(index: int) -> str:
    digits = f"{900000 + index:06d}"
    return digits + imo.calc_check_digit(digits)


def container(index: int) -> str:
    stem = f"TGSU{index:06d}"
    return stem + iso6346.calc_check_digit(stem)


def parties(number: int, variant: int = 0) -> dict[str, str]:
    """The parties shipment `number` names: a few busy brokers (hubs), importers, vessels
    and containers shared between rows; `variant` changes which, so a re-import changes
    the shipment's links."""
    mix, broker = number + variant, (number * 7 + variant) % BROKERS
    return {
        "importer": f"Importer {mix % IMPORTERS:02d} Trading",
        "broker": f"Broker {broker} Customs",
        "phone": f"+31 10 555 01{broker:02d}",
        "vessel": vessel_imo(mix % VESSELS),
        "vessel_name": f"MV Test {mix % VESSELS}",
        "container": container((number * 13 + variant) % CONTAINERS),
    }


def shipment_rows(refs: range, variant: int = 0, prefix: str = "G") -> list[str]:
    rows = []
    for number in refs:
        named = parties(number, variant)
        rows.append(
            ",".join(
                [
                    f"{prefix}-{number:05d}",
                    "shipment",
                    "restricted",
                    "2026-03-02",
                    f"shipment {number} v{variant}",
                    named["importer"],
                    "NL",
                    named["broker"],
                    "NL",
                    named["phone"],
                    named["vessel"],
                    named["vessel_name"],
                    named["container"],
                ]
            )
        )
    return rows


def expected_shape(owner: Agency, variants: dict[int, int], readers: dict[int, set[Agency]]) -> Counter:
    """The graph the test's own data describes, as `graph_shape()` reads Neo4j: shipment
    nodes by key (the owner's code and the reference), other nodes by type, each with its
    viewers; relationships by their source (a shipment's key, or a type) and target type.
    `variants`: the variant of each shipment number in the database; `readers`: the agencies
    the test gave each number's record to. The owner sees all of its own; a party node or a
    relationship is seen by whoever sees a shipment naming it."""
    nodes: dict[tuple, set[int]] = defaultdict(set)
    relationships: dict[tuple, set[int]] = defaultdict(set)
    for number, variant in variants.items():
        seen = {owner.pk} | {agency.pk for agency in readers.get(number, ())}
        named = parties(number, variant)
        shipment = f"{owner.code}:G-{number:05d}"
        nodes["shipment", shipment] |= seen
        for kind, party, link in (
            ("company", "importer", "IMPORTED_BY"),
            ("company", "broker", "BROKERED_BY"),
            ("vessel", "vessel", "CARRIED_BY"),
            ("container", "container", "SHIPPED_IN"),
        ):
            nodes[kind, named[party]] |= seen
            relationships[link, shipment, None, kind] |= seen
        nodes["phone", named["phone"]] |= seen
        relationships["CONTACT", "company", named["broker"], "phone"] |= seen
    shape = Counter()
    for (kind, identity), seen in nodes.items():
        shape["node", kind, identity if kind == "shipment" else None, tuple(sorted(seen))] += 1
    for (link, source, _broker, target), seen in relationships.items():
        shape["relationship", link, source, target, tuple(sorted(seen))] += 1
    return shape


def graph_shape() -> Counter:
    """What Neo4j holds, in the terms of `expected_shape`."""
    shape = Counter()
    for row in graph_rows("MATCH (n:Entity) RETURN n.type AS type, n.key AS key, n.visible_to AS seen"):
        key = row["key"] if row["type"] == "shipment" else None
        shape["node", row["type"], key, tuple(sorted(row["seen"]))] += 1
    for row in graph_rows(
        "MATCH (a:Entity)-[r]->(b:Entity) RETURN type(r) AS link, a.type AS source, a.key AS key, "
        "b.type AS target, r.visible_to AS seen"
    ):
        source = row["key"] if row["source"] == "shipment" else row["source"]
        shape["relationship", row["link"], source, row["target"], tuple(sorted(row["seen"]))] += 1
    return shape


def numbers_of(records: Iterable[Record]) -> list[int]:
    return [int(record.external_ref.removeprefix("G-")) for record in records]


def assert_graph_is(
    owner: Agency, variants: dict[int, int], readers: dict[int, set[Agency]] | None = None
) -> None:
    expected, actual = expected_shape(owner, variants, readers or {}), graph_shape()
    assert actual == expected, {"missing": expected - actual, "unexpected": actual - expected}


def import_rows(tmp_path: Path, agency: Agency, rows: list[str]) -> None:
    path = tmp_path / f"import-{uuid.uuid4().hex[:8]}.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    import_file(path, agency)


def view_permission() -> Permission:
    return Permission.objects.get(codename="view_record", content_type__app_label="intel")


def grant(records: list[Record] | list[int], agency: Agency, expires_at=None) -> None:
    """An explicit grant, written as sharing writes one: the change and the signal in one transaction."""
    ids = [getattr(record, "pk", record) for record in records]
    with transaction.atomic():
        RecordGroupObjectPermission.objects.bulk_create(
            [
                RecordGroupObjectPermission(
                    content_object_id=pk,
                    group=agency.group,
                    permission=view_permission(),
                    expires_at=expires_at,
                )
                for pk in ids
            ]
        )
        records_changed.send(sender=Record, record_ids=ids)


@pytest.fixture
def agencies(db) -> dict[str, Agency]:
    return {
        code: Agency.objects.create(code=code, name=code.upper(), country="NL", kind="customs")
        for code in ("cus", "pol", "tax", "cg")
    }


@pytest.fixture
def admin_user(db) -> User:
    return User.objects.create_superuser("graph-admin", "admin@example.org", "pw-not-used-123")


# --- processes -------------------------------------------------------------------------


@contextmanager
def environment(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def child_pids(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Beat:
    """A real `celery beat` process publishing the graph sync's periodic tasks."""

    def __init__(self, directory: Path, seconds: float) -> None:
        self.directory, self.seconds = directory, seconds
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {**os.environ, "GRAPH_SYNC_BEAT_SECONDS": str(self.seconds)}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(self.directory / "beat-schedule"),
                "--pidfile",
                str(self.directory / "beat.pid"),
            ],
            cwd=ROOT,
            env=env,
            stdout=(self.directory / "beat.log").open("ab"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess | Beat]]:
    """Starts workers (`start("worker", **env)`) and a beat (`start("beat", seconds)`);
    stops every one at the end of the test."""
    started: list[WorkerProcess | Beat] = []

    def start(kind: str, seconds: float = 1.0, **env: str) -> WorkerProcess | Beat:
        if kind == "beat":
            beat = Beat(tmp_path, seconds)
            beat.start()
            started.append(beat)
            return beat
        worker = WorkerProcess()
        worker.log = tmp_path / f"worker-{len(started)}.log"
        with environment(**env):
            worker.start()
        started.append(worker)
        return worker

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture(autouse=True)
def empty_graph(db, without_session_worker) -> None:
    """Each test starts from an empty graph with its schema, an empty queue and no drain
    marked as pending by an earlier test."""
    app.control.purge()
    cache.delete_many([drain_pending_key(), sync_key("helpers")])
    driver = get_driver()
    with driver.session() as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
    ensure_schema(driver)


def wait_synced(timeout: float = 60.0) -> None:
    """Waits until every committed change is in Neo4j (the outbox is empty: a batch
    deletes its rows in the transaction that commits after its Neo4j write)."""
    started = time.monotonic()
    while OutboxEntry.objects.exists():
        if time.monotonic() - started > timeout:
            pytest.fail(f"{OutboxEntry.objects.count()} outbox rows still unsynced after {timeout} s")
        time.sleep(0.1)


def assert_graph_matches_postgresql() -> None:
    result = verify(batch_size=500)
    assert result.clean, "\n".join(result.summary + result.differences[:50])


def graph_rows(query: str, **params) -> list:
    records, _, _ = get_driver().execute_query(query, params)
    return records


def agencies_seen_in_graph() -> set[int]:
    rows = graph_rows(
        "MATCH (n:Entity) UNWIND n.visible_to AS a RETURN DISTINCT a AS a "
        "UNION MATCH ()-[r]->() UNWIND r.visible_to AS a RETURN DISTINCT a AS a"
    )
    return {row["a"] for row in rows}


def node(entity: Entity):
    rows = graph_rows("MATCH (n:Entity {entity_id: $id}) RETURN n", id=entity.pk)
    return rows[0]["n"] if rows else None


# --- tests -----------------------------------------------------------------------------


def test_the_graph_follows_records_merges_and_deletes_and_holds_no_record_content(
    tmp_path, agencies, admin_user, processes
):
    processes("worker")
    cus, pol = agencies["cus"], agencies["pol"]
    import_rows(tmp_path, cus, shipment_rows(range(30)))
    grant(Record.objects.filter(external_ref__lte="G-00009"), pol)
    wait_synced()
    assert_graph_matches_postgresql()
    variants, readers = dict.fromkeys(range(30), 0), {number: {pol} for number in range(10)}
    assert_graph_is(cus, variants, readers)

    nodes = graph_rows("MATCH (n) RETURN labels(n) AS labels, keys(n) AS keys")
    assert len(nodes) == Entity.objects.filter(mentions__isnull=False).distinct().count()
    for row in nodes:
        assert set(row["keys"]) == NODE_PROPERTIES, row
        assert len(row["labels"]) == 2 and "Entity" in row["labels"], row
    rels = graph_rows("MATCH ()-[r]->() RETURN keys(r) AS keys")
    assert rels and all(set(row["keys"]) == RELATIONSHIP_PROPERTIES for row in rels)
    stated = set(Mention.objects.values_list("properties__name", flat=True)) - {None}
    values = graph_rows("MATCH (n) UNWIND [k IN keys(n) WHERE k <> 'key' | n[k]] AS v RETURN collect(v) AS v")
    assert not stated & set(map(str, values[0]["v"])), "names stated by records are not graph properties"

    broker = Entity.objects.filter(mentions__role="broker").first()
    assert node(broker)["visible_to"] == sorted({cus.pk, pol.pk})

    # A deleted record takes what only it asserted: its shipment node and its links.
    record = Record.objects.get(external_ref="G-00020")
    shipment = Entity.objects.get(type="shipment", mentions__record=record)
    delete_record(record, admin_user)
    wait_synced()
    assert node(shipment) is None
    assert node(broker) is not None
    assert not graph_rows("MATCH ()-[r]->() WHERE $id IN r.records RETURN r", id=record.pk)
    del variants[20]
    assert_graph_is(cus, variants, readers)

    # A merge moves mentions and links to the survivor; the merged entity's node goes.
    vessels = list(Entity.objects.filter(type="vessel").order_by("pk")[:2])
    merge_entities(vessels[0], vessels[1], admin_user)
    wait_synced()
    assert node(vessels[1]) is None
    assert_graph_matches_postgresql()


def test_running_a_batch_twice_or_an_older_write_after_a_newer_one_leaves_the_same_graph(tmp_path, agencies):
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(20)))
    ids = list(Record.objects.values_list("pk", flat=True))
    for _ in range(2):
        with transaction.atomic():
            batch.sync_records(ids)
    OutboxEntry.objects.all().delete()
    assert_graph_matches_postgresql()
    assert_graph_is(agencies["cus"], dict.fromkeys(range(20), 0))

    entity = Entity.objects.filter(type="vessel").first()
    current = node(entity)
    stale = {"id": entity.pk, "key": entity.key, "type": entity.type, "visible_to": [999]}
    writer.write(writer.GraphChanges(nodes=[stale]), version=current["sync_version"] - 1)
    writer.write(writer.GraphChanges(removed_nodes=[entity.pk]), version=current["sync_version"] - 1)
    assert node(entity)["visible_to"] == current["visible_to"]
    assert_graph_matches_postgresql()
    assert_graph_is(agencies["cus"], dict.fromkeys(range(20), 0))


def test_neo4j_down_while_500_records_are_created_and_changed_health_names_it_and_the_graph_converges(
    tmp_path, agencies, admin_user, processes
):
    processes("worker")
    processes("beat", seconds=1.0)
    cus, pol, tax = agencies["cus"], agencies["pol"], agencies["tax"]
    services("stop", "neo4j")
    try:
        import_rows(tmp_path, cus, shipment_rows(range(500)))
        # Changed: half re-imported naming other parties, grants given, summaries edited, some deleted.
        import_rows(tmp_path, cus, shipment_rows(range(0, 500, 2), variant=3))
        records = list(Record.objects.order_by("pk"))
        grant(records[:150], pol)
        grant(records[100:200], tax)
        for record in records[200:225]:
            update_record(record, admin_user, summary="re-assessed")
        for record in records[475:]:
            delete_record(record, admin_user)
        assert OutboxEntry.objects.count() >= 500
        time.sleep(2)  # a few beat ticks find Neo4j down and leave the outbox alone
        assert OutboxEntry.objects.count() >= 500
        health = Client().get("/health/")
        assert health.status_code == 503
        assert health.json()["down"] == ["graph"]
        assert health.json()["checks"]["graph"]["state"] == "down"
        assert health.json()["checks"]["database"]["state"] == "up"
    finally:
        services("start", "neo4j")
    wait_synced(timeout=120)
    assert Client().get("/health/").status_code == 200
    assert_graph_matches_postgresql()
    assert Record.objects.count() == 475
    shipments = graph_rows("MATCH (n:Shipment) RETURN count(n) AS c")[0]["c"]
    assert shipments == 475
    readers = defaultdict(set)
    for agency, given in ((pol, records[:150]), (tax, records[100:200])):
        for number in numbers_of(given):
            readers[number].add(agency)
    deleted = set(numbers_of(records[475:]))
    variants = {number: 3 if number % 2 == 0 else 0 for number in range(500) if number not in deleted}
    assert_graph_is(cus, variants, readers)


def advisory_locks(granted: bool) -> int:
    """Sync locks held (a batch in flight) or awaited (two batches on one node), in this database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted = %s "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            [granted],
        )
        return cursor.fetchone()[0]


def wait_mid_batch(below: int) -> None:
    """Returns while a batch holds its locks and fewer than `below` outbox rows are left."""
    deadline = time.monotonic() + 60
    while not (advisory_locks(granted=True) and 0 < OutboxEntry.objects.count() < below):
        assert time.monotonic() < deadline, "no batch in flight"
        time.sleep(0.005)


def received(log: Path, task_id: str) -> int:
    return log.read_text().count(f"graph.drain_outbox[{task_id}] received")


def test_a_worker_killed_mid_batch_has_its_batch_redelivered_and_the_graph_converges(
    tmp_path, agencies, processes
):
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(500)))
    backlog = OutboxEntry.objects.count()
    # Small batches, so the drain is mid-batch most of the time; a short visibility
    # timeout, so the restarted worker takes back the dead worker's task within seconds.
    env = {
        "GRAPH_SYNC_BATCH_SIZE": "10",
        "CELERY_VISIBILITY_TIMEOUT": "5",
        "CELERY_UNACKED_RESTORE_SECONDS": "1",
    }
    first = processes("worker", **env)

    # The pool processes die mid-batch: the worker rejects the task back onto the queue
    # (acks_late, reject_on_worker_lost) and runs it again in a fresh pool process.
    wait_mid_batch(below=backlog * 9 // 10)
    for pid in child_pids(first.process.pid):
        os.kill(pid, signal.SIGKILL)
    task_id = re.search(r"graph\.drain_outbox\[([0-9a-f-]+)\] received", first.log.read_text()).group(1)
    deadline = time.monotonic() + 30
    while received(first.log, task_id) < 2:
        assert time.monotonic() < deadline, "the task was not redelivered"
        time.sleep(0.1)

    # The whole worker dies mid-batch: the batch's transaction rolls back, its rows stay in
    # the outbox, and the task, never acknowledged, goes to the worker started next.
    wait_mid_batch(below=OutboxEntry.objects.count())
    for pid in [first.process.pid, *child_pids(first.process.pid)]:
        os.kill(pid, signal.SIGKILL)
    first.process.wait()
    assert 0 < OutboxEntry.objects.count() < backlog
    second = processes("worker", **env)
    wait_synced(timeout=90)
    assert received(second.log, task_id) >= 1, "redelivered to the restarted worker"
    assert_graph_matches_postgresql()
    assert_graph_is(agencies["cus"], dict.fromkeys(range(500), 0))


def test_a_record_that_cannot_be_written_is_set_aside_without_holding_up_the_rest(
    tmp_path, agencies, processes
):
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(100)))
    vessel = Entity.objects.filter(type="vessel").order_by("pk").first()
    blocked = set(Mention.objects.filter(entity=vessel).values_list("record_id", flat=True))
    # A node that is not the vessel's holds its entity id: writing the vessel breaks a constraint.
    get_driver().execute_query("CREATE (:Entity:Company {key: 'squatter', entity_id: $id})", id=vessel.pk)
    processes("worker")
    processes("beat", seconds=1.0)

    deadline = time.monotonic() + 30
    while set(OutboxEntry.objects.values_list("object_id", flat=True)) != blocked:
        assert time.monotonic() < deadline, "the other records were held up"
        time.sleep(0.2)
    assert all(attempts >= 1 for attempts in OutboxEntry.objects.values_list("attempts", flat=True))
    shipments = graph_rows("MATCH (n:Shipment) RETURN count(n) AS c")[0]["c"]
    assert shipments == 100 - len(blocked)

    get_driver().execute_query("MATCH (n {key: 'squatter'}) DELETE n")
    wait_synced(timeout=30)
    assert_graph_matches_postgresql()
    assert_graph_is(agencies["cus"], dict.fromkeys(range(100), 0))


def test_two_workers_draining_overlapping_entities_lose_no_update(tmp_path, agencies, processes):
    env = {"GRAPH_SYNC_BATCH_SIZE": "5"}
    processes("worker", **env)
    processes("worker", **env)
    waits = []
    stop = threading.Event()

    def watch_lock_waits() -> None:
        from django.db import connections

        while not stop.is_set():
            waits.append(advisory_locks(granted=False))
            time.sleep(0.005)
        connections["default"].close()

    watcher = threading.Thread(target=watch_lock_waits)
    watcher.start()
    try:
        others = [agencies["pol"], agencies["tax"], agencies["cg"]]
        for chunk in range(10):
            refs = range(chunk * 40, chunk * 40 + 40)
            import_rows(tmp_path, agencies["cus"], shipment_rows(refs))
            grant(Record.objects.filter(external_ref__in=[f"G-{n:05d}" for n in refs]), others[chunk % 3])
            for _ in range(4):
                drain_outbox.delay()
        wait_synced(timeout=120)
    finally:
        stop.set()
        watcher.join()
    assert_graph_matches_postgresql()
    everyone = sorted(agency.pk for agency in agencies.values())
    brokers = list(Entity.objects.filter(mentions__role="broker").values_list("pk", flat=True).distinct())
    hubs = graph_rows("MATCH (n:Entity) WHERE n.entity_id IN $ids RETURN n.visible_to AS v", ids=brokers)
    assert len(hubs) == BROKERS and all(row["v"] == everyone for row in hubs)
    assert max(waits) > 0, "the two workers' batches never contended for a node"
    readers = {number: {others[number // 40 % 3]} for number in range(400)}
    assert_graph_is(agencies["cus"], dict.fromkeys(range(400), 0), readers)


def test_a_backlog_of_more_than_a_batch_is_drained_by_every_worker_process(tmp_path, agencies, processes):
    """One drain at a time would leave the worker's second process idle through an
    agreement's 100,000 records: a full batch starts a helper drain beside it."""
    worker = processes("worker", GRAPH_SYNC_BATCH_SIZE="5")
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(400)))
    wait_synced(timeout=120)
    assert_graph_matches_postgresql()
    assert_graph_is(agencies["cus"], dict.fromkeys(range(400), 0))
    drained_by = set(
        re.findall(r"INFO/(ForkPoolWorker-\d+)\] graph sync: \d+ records", worker.log.read_text())
    )
    assert len(drained_by) == 2, f"batches drained by {drained_by} only"


def test_an_expired_grant_leaves_visible_to_with_nobody_acting(tmp_path, agencies, processes):
    processes("worker")
    processes("beat", seconds=1.0)
    cus, pol, tax = agencies["cus"], agencies["pol"], agencies["tax"]
    import_rows(tmp_path, cus, shipment_rows(range(20)))
    records = list(Record.objects.order_by("pk"))
    expiry = timezone.now() + timedelta(seconds=4)
    grant(records[:10], pol, expires_at=expiry)
    grant(records[5:15], tax)
    wait_synced()
    assert agencies_seen_in_graph() == {cus.pk, pol.pk, tax.pk}
    assert_graph_matches_postgresql()

    while timezone.now() < expiry:
        time.sleep(0.05)
    deadline = time.monotonic() + 120
    while pol.pk in agencies_seen_in_graph():
        assert time.monotonic() < deadline, "the expired grant still shows in the graph"
        time.sleep(0.1)
    assert agencies_seen_in_graph() == {cus.pk, tax.pk}
    assert_graph_matches_postgresql()
    assert_graph_is(cus, dict.fromkeys(range(20), 0), {number: {tax} for number in numbers_of(records[5:15])})

    # Withdrawn by a change elsewhere (as sharing does when an agreement ends): the
    # receiver gets a QuerySet and writes its outbox rows with one INSERT ... SELECT.
    with transaction.atomic():
        withdrawn = Record.objects.filter(recordgroupobjectpermission__group=tax.group)
        ids = list(withdrawn.values_list("pk", flat=True))
        RecordGroupObjectPermission.objects.filter(group=tax.group).delete()
        records_changed.send(sender=Record, record_ids=Record.objects.filter(pk__in=ids))
    wait_synced()
    assert agencies_seen_in_graph() == {cus.pk}
    assert_graph_matches_postgresql()
    assert_graph_is(cus, dict.fromkeys(range(20), 0))


def test_an_agreement_redacting_phones_and_reaching_its_end_date_shapes_visible_to(tmp_path, processes):
    from sharing import releases
    from tests.sharing_helpers import in_force, staff

    processes("worker")
    processes("beat", seconds=1.0)
    cus, pol = staff("cus"), staff("pol", kind="police")
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    for record in Record.objects.filter(owner=cus.agency):
        releases.set_releasability(record, cus.analyst, "covering")
    ends = timezone.now() + timedelta(seconds=8)
    in_force(
        (cus, True, False),
        (pol, False, True),
        redacted_fields=["phone"],
        starts_at=ends - timedelta(seconds=10),
        days=10 / 86400,
    )
    wait_synced()
    assert_graph_matches_postgresql()
    rows = graph_rows("MATCH (n:Entity) RETURN n.type AS type, n.visible_to AS v")
    assert {tuple(row["v"]) for row in rows if row["type"] == "phone"} == {(cus.agency.pk,)}
    assert {tuple(row["v"]) for row in rows if row["type"] == "company"} == {(cus.agency.pk, pol.agency.pk)}

    # Access stops at the end date, with nobody acting; the graph follows within a cycle.
    while timezone.now() < ends:
        time.sleep(0.05)
    deadline = time.monotonic() + 120
    while pol.agency.pk in agencies_seen_in_graph():
        assert time.monotonic() < deadline, "the ended agreement still shows in the graph"
        time.sleep(0.1)
    assert_graph_matches_postgresql()


def test_health_and_admin_show_lag_and_backlog_and_verify_and_resync_repair_the_graph(
    tmp_path, agencies, admin_user, client, capsys, sign_in
):
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(50)))
    oldest = OutboxEntry.objects.order_by("id").first().created_at
    # The sync's state is a platform admin's to see (the public answer says up or down only);
    # the clock moved on five minutes past the oldest change still waiting to be synced.
    sign_in(client, admin_user)
    with time_machine.travel(oldest + timedelta(minutes=5)):
        body = client.get("/health/").json()
    assert body["graph_sync"]["backlog"] == OutboxEntry.objects.count() > 0
    assert body["graph_sync"]["oldest_unsynced"] == oldest.isoformat()
    assert body["graph_sync"]["lag_seconds"] >= 300
    page = client.get("/admin/graph/outboxentry/").content.decode()
    assert "Graph sync: backlog" in page

    with pytest.raises(CommandError, match="difference"):
        call_command("graph_verify")
    assert "missing in Neo4j" in capsys.readouterr().out

    get_driver().execute_query(
        "CREATE (:Entity:Company {entity_id: 10000000, key: 'stray', type: 'company', name: 'x'})"
    )
    # A node left by another database, holding a real entity's id under another key.
    impostor = Entity.objects.filter(type="company").first().pk
    get_driver().execute_query(
        "CREATE (:Entity:Company {entity_id: $id, key: 'impostor', type: 'company'})", id=impostor
    )
    call_command("graph_resync", "--record-batch", "7", "--entity-batch", "25")
    call_command("graph_verify")
    assert "Neo4j matches PostgreSQL" in capsys.readouterr().out
    assert not graph_rows("MATCH (n) WHERE n.key IN ['stray', 'impostor'] RETURN n")
    assert_graph_is(agencies["cus"], dict.fromkeys(range(50), 0))

    drain.drain()
    assert client.get("/health/").json()["graph_sync"]["backlog"] == 0
    assert_graph_matches_postgresql()


RESYNC_CHANGES = 30


def test_a_resync_beside_changing_records_and_a_draining_worker_leaves_the_graph_postgresql_describes(
    tmp_path, agencies, processes
):
    """`graph_resync` runs while the application serves: its worker processes share the
    entity locks among themselves, never with a batch, and the later computation wins."""
    processes("worker", GRAPH_SYNC_BATCH_SIZE="10")
    import_rows(tmp_path, agencies["cus"], shipment_rows(range(150)))
    wait_synced(timeout=120)
    resync = subprocess.Popen(
        [sys.executable, "manage.py", "graph_resync", "--record-batch", "5", "--entity-batch", "10"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": worker_database_url()},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    others = [agencies["pol"], agencies["tax"], agencies["cg"]]
    changes = 0
    # The resync's last range reaches past the highest id, and its entity ranges are taken
    # after the records: what is added while it runs is read too, so changes without end
    # kept it running as long as they went on.
    while resync.poll() is None and changes < RESYNC_CHANGES:
        start = 150 + changes * 10
        import_rows(tmp_path, agencies["cus"], shipment_rows(range(start, start + 10)))
        refs = [f"G-{n:05d}" for n in range(changes * 10, changes * 10 + 10)]
        grant(Record.objects.filter(external_ref__in=refs), others[changes % 3])
        changes += 1
    output = resync.communicate()[0]
    assert resync.returncode == 0, output
    assert "resynced" in output and "records:" in output
    assert changes >= 3, "the resync ended before records could change beside it"
    wait_synced(timeout=120)
    assert_graph_matches_postgresql()
    readers = {number: {others[number // 10 % 3]} for number in range(changes * 10)}
    assert_graph_is(agencies["cus"], dict.fromkeys(range(150 + changes * 10), 0), readers)
