"""Graph sync benchmarks (figures in docs/benchmarks.md, section "Graph sync").

    platform/with-env .venv/bin/python -m bench.graph_sync --records 100000 \\
        [--stages load,resync,verify,trickle,visibility,neomodel] [--out var/bench/graph_sync.json]

Runs only against the PostgreSQL database `interlink_graphbench` (created and migrated
when missing) and empties the Neo4j graph it writes. Stages:

- load: shipment records straight into the tables with COPY, entities drawn from pools
  sized to the data (a busy broker on thousands of records, a vessel on hundreds), one
  view grant to another agency on 2% of records;
- resync: `manage.py graph_resync` in a child process (three worker processes): elements per
  second, the peak RSS of each process and the peak proportional memory of all of them;
- verify: `manage.py graph_verify` must be clean;
- trickle: a real Celery worker drains while 50 record changes a second (a grant given or
  taken back) are committed; the lag of each, from its commit to its node's `visible_to`
  in Neo4j, polled every 20 ms; p50/p95 and the worker's peak RSS;
- visibility: an agreement through which one agency receives 100,000 shipments of the
  others (released to every covering agreement) comes into force at its last signature,
  then is terminated (`sharing.agreements`, as in the app); the time from each commit until
  the outbox is drained, the graph checked on a sample;
- neomodel: the same 10,000 entities and their links written by this sync, then saved one
  at a time with neomodel (in its own virtual environment: neomodel 7.0.0 pins neo4j~=6.1.0,
  which conflicts with the project's neo4j==6.4.1); the ratio of the times.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shlex
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bench.common import high_water_mib, percentile

ROOT = Path(__file__).resolve().parent.parent
DB = "interlink_graphbench"
QUEUE = "q_graphbench"
WORK = ROOT / "var" / "bench" / "graph"
AGENCIES = 20


# --- environment -------------------------------------------------------------------------


def database_url() -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", ""))
    if not parts.scheme.startswith("postgres"):
        raise SystemExit("run through platform/with-env: DATABASE_URL must name the PostgreSQL server")
    return urlunsplit(parts._replace(path=f"/{DB}"))


def child_env(**extra: str) -> dict[str, str]:
    # DEBUG off in every process, as deployed: on, each keeps all its SQL in memory.
    return {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_QUEUE": QUEUE,
        "DJANGO_DEBUG": "false",
        **extra,
    }


def setup() -> None:
    import psycopg

    admin = urlunsplit(urlsplit(database_url())._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=child_env(),
        check=True,
    )
    os.environ.update(child_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings

    if settings.DATABASES["default"]["NAME"] != DB:
        raise SystemExit(f"refusing to run on {settings.DATABASES['default']['NAME']!r}")


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return 0.0


def children(pid: int) -> list[int]:
    listing = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in listing.read_text().split()] if listing.exists() else []


def tree_rss_mib(pid: int) -> float:
    return sum(rss_mib(p) for p in [pid, *children(pid)])


def pss_mib(pid: int) -> float:
    """Proportional set size: pages shared with other processes count by their share."""
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for process {pid}")


def wipe_graph() -> None:
    from graph.driver import get_driver
    from graph.schema import ensure_schema

    # Relationships first, in batches of their own: a batch of nodes that holds a hub deletes
    # its hundreds of thousands of relationships in one transaction, past Neo4j's memory pool.
    with get_driver().session() as session:
        session.run("MATCH ()-[r]->() CALL (r) { DELETE r } IN TRANSACTIONS OF 50000 ROWS").consume()
        session.run("MATCH (n) CALL (n) { DELETE n } IN TRANSACTIONS OF 50000 ROWS").consume()
    ensure_schema(get_driver())


def wait_outbox_empty(timeout: float) -> float:
    from graph.models import OutboxEntry

    started = time.perf_counter()
    while OutboxEntry.objects.exists():
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"outbox not drained within {timeout} s")
        time.sleep(0.05)
    return time.perf_counter() - started


class Worker:
    """A real Celery worker on the bench queue, its memory sampled while it runs."""

    def __init__(self, concurrency: int = 2, **env: str) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self.log = WORK / "worker.log"
        self.name = f"graphbench-{os.getpid()}@bench"
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO"),
                *("--concurrency", str(concurrency), "--hostname", self.name),
                *("--without-gossip", "--without-mingle"),
            ],
            cwd=ROOT,
            env=child_env(**env),
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.peak = 0.0
        self._stop = threading.Event()
        from config.celery import app

        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[self.name], timeout=0.5):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit(f"bench worker did not start; see {self.log}")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_mib(self.process.pid))
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self.process.terminate()
        self.process.wait(timeout=120)


# --- load ----------------------------------------------------------------------------------


def pools(records: int) -> dict[str, int]:
    return {
        "importer": max(50, records // 200),
        "exporter": max(50, records // 200),
        "broker": max(5, records // 20000),
        "carrier": 20,
        "vessel": max(10, records // 2000),
        "container": max(100, records // 10),
    }


def load(records: int, seed: int = 11) -> dict:
    from django.contrib.auth.models import Permission
    from django.db import connection, transaction

    from agencies.models import Agency

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE intel_link, intel_mention, intel_recordgroupobjectpermission, "
            "intel_recorduserobjectpermission, intel_resolutioncandidate, intel_entitymerge, intel_record, "
            "intel_entity, graph_outboxentry, graph_recordprojection, graph_synccursor, audit_auditevent, "
            # An agreement left in force by an earlier run would change what each stage measures.
            "sharing_agreement "
            "RESTART IDENTITY CASCADE"
        )
    agencies = []
    for index in range(AGENCIES):
        agency = Agency.objects.filter(code=f"gb-{index:02d}").first()
        if agency is None:
            agency = Agency(code=f"gb-{index:02d}", name=f"Graph bench {index}", country="NL", kind="customs")
            agency.save()
        agencies.append(agency)
    view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
    sizes = pools(records)
    rnd = random.Random(seed)
    now = datetime.now(tz=UTC)

    # Entity ids: the shipments first (record i's shipment is entity i), then each pool.
    first: dict[str, int] = {}
    next_id = records + 1
    for role, size in sizes.items():
        first[role] = next_id
        next_id += size
    first["phone"] = next_id
    next_id += sizes["broker"]
    entity_count = next_id - 1

    def type_of(role: str) -> str:
        return role if role in ("shipment", "vessel", "container", "phone") else "company"

    def entity_rows():
        for pk in range(1, records + 1):
            yield (pk, "shipment", f"{agencies[pk % AGENCIES].code}:GB-{pk:07d}", "", now)
        for role, size in sizes.items():
            entity_type = type_of(role)
            for index in range(size):
                key = {
                    "vessel": f"imo:{9000000 + index}",
                    "container": f"GBSU{index:07d}",
                }.get(role, f"NL:name:{role} {index}")
                yield (first[role] + index, entity_type, key, "", now)
        for index in range(sizes["broker"]):
            yield (first["phone"] + index, "phone", f"+3110{index:07d}", "", now)

    mentions = links = 0
    with transaction.atomic():
        raw = connection.connection
        with raw.cursor() as cursor:
            with cursor.copy(
                "COPY intel_record (id, owner_id, external_ref, category, classification, caveats, summary,"
                " occurred_on, details, created_at, updated_at, content_hash, releasability, public_id)"
                " FROM STDIN"
            ) as copy:
                occurred = date(2026, 1, 1)
                for pk in range(1, records + 1):
                    owner = agencies[pk % AGENCIES].pk
                    copy.write_row(
                        (
                            pk,
                            owner,
                            f"GB-{pk:07d}",
                            "shipment",
                            1,
                            "[]",
                            "",
                            occurred,
                            "{}",
                            now,
                            now,
                            "",
                            "none",
                            uuid.uuid4(),
                        )
                    )
            with cursor.copy(
                "COPY intel_entity (id, type, key, block, created_at, name_fingerprints, public_id)"
                " FROM STDIN"
            ) as copy:
                for row in entity_rows():
                    copy.write_row((*row, "[]", uuid.uuid4()))
            picks = {}
            with cursor.copy(
                "COPY intel_mention (record_id, entity_id, entity_type, role, properties, resolved_key,"
                " search_text)"
                " FROM STDIN"
            ) as copy:
                for pk in range(1, records + 1):
                    chosen = {role: first[role] + rnd.randrange(size) for role, size in sizes.items()}
                    chosen["phone"] = first["phone"] + (chosen["broker"] - first["broker"])
                    chosen["shipment"] = pk
                    picks[pk] = chosen
                    for role, entity_id in chosen.items():
                        copy.write_row((pk, entity_id, type_of(role), role, "{}", "", ""))
                        mentions += 1
            with cursor.copy(
                "COPY intel_link (record_id, source_id, target_id, source_type, target_type, type,"
                " properties, public_id) FROM STDIN"
            ) as copy:
                for pk, chosen in picks.items():
                    for source, target, link_type in (
                        ("shipment", "importer", "IMPORTED_BY"),
                        ("shipment", "exporter", "EXPORTED_BY"),
                        ("shipment", "broker", "BROKERED_BY"),
                        ("shipment", "carrier", "CARRIED_BY"),
                        ("shipment", "vessel", "CARRIED_BY"),
                        ("shipment", "container", "SHIPPED_IN"),
                        ("broker", "phone", "CONTACT"),
                        ("carrier", "vessel", "OWNS"),
                    ):
                        copy.write_row(
                            (
                                pk,
                                chosen[source],
                                chosen[target],
                                type_of(source),
                                type_of(target),
                                link_type,
                                "{}",
                                uuid.uuid4(),
                            )
                        )
                        links += 1
            del picks
            grants = 0
            with cursor.copy(
                "COPY intel_recordgroupobjectpermission"
                " (content_object_id, group_id, permission_id, expires_at) FROM STDIN"
            ) as copy:
                for pk in range(1, records + 1):
                    if rnd.random() < 0.02:
                        grantee = agencies[(pk + 1 + rnd.randrange(AGENCIES - 1)) % AGENCIES]
                        copy.write_row((pk, grantee.group_id, view.pk, None))
                        grants += 1
            for table, last in (("intel_record", records), ("intel_entity", entity_count)):
                cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), %s)", [last])
    with connection.cursor() as cursor:
        for table in ("intel_record", "intel_entity", "intel_mention", "intel_link"):
            cursor.execute(f"ANALYZE {table}")
    return {
        "records": records,
        "entities": entity_count,
        "mentions": mentions,
        "links": links,
        "grants": grants,
        "pools": sizes,
        "load_seconds": round(time.perf_counter() - started, 1),
    }


# --- stages ----------------------------------------------------------------------------------


def run_resync(env: dict[str, str] | None = None) -> dict:
    """`manage.py graph_resync` into an emptied graph, in a child process with `env` (this
    bench's database by default): its time and the memory of its processes."""
    wipe_graph()
    WORK.mkdir(parents=True, exist_ok=True)
    output = WORK / "resync.log"
    started = time.perf_counter()
    with output.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "graph_resync", "--no-progress"],
            cwd=ROOT,
            env=env or child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Each process's own high-water mark, read until it exits (ru_maxrss would report
        # this driver's size after a large load: Linux carries it into children), and the
        # proportional memory of the resync and its worker processes together (their
        # pages shared since the fork counted once).
        peak = tree_peak = 0.0
        while process.poll() is None:
            try:
                pids = [process.pid, *children(process.pid)]
                peak = max(peak, *(high_water_mib(pid) for pid in pids))
                tree_peak = max(tree_peak, sum(pss_mib(pid) for pid in pids))
            except (OSError, RuntimeError):
                pass
            time.sleep(0.2)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"graph_resync failed; see {output}")
    match = re.search(r"resynced (\d+) records: (\d+) nodes and (\d+) relationships", output.read_text())
    records, nodes, relationships = (int(group) for group in match.groups())
    return {
        "records": records,
        "nodes": nodes,
        "relationships": relationships,
        "seconds": round(seconds, 1),
        "elements_per_second": round((nodes + relationships) / seconds),
        "peak_rss_mib": round(peak, 1),
        "peak_pss_all_processes_mib": round(tree_peak, 1),
    }


def run_verify() -> dict:
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "manage.py", "graph_verify"],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
    )
    return {
        "clean": process.returncode == 0,
        "seconds": round(time.perf_counter() - started, 1),
        "summary": process.stdout.splitlines()[:20],
    }


def toggle_grant(record_id: int, owner_id: int, agency, view_id: int) -> list[int]:
    """Gives or takes back a view grant, as sharing does; returns who may see the record
    afterwards (the bench data has no agreements: the owner and the grantees)."""
    from django.db import transaction

    from intel.models import Record, RecordGroupObjectPermission
    from intel.signals import records_changed

    with transaction.atomic():
        grants = RecordGroupObjectPermission.objects.filter(
            content_object_id=record_id, permission_id=view_id
        )
        if not grants.filter(group=agency.group).delete()[0]:
            RecordGroupObjectPermission.objects.create(
                content_object_id=record_id, group=agency.group, permission_id=view_id
            )
        records_changed.send(sender=Record, record_ids=[record_id])
        return sorted({owner_id, *grants.values_list("group__agency__id", flat=True)})


def run_trickle(records: int, seconds: float, rate: float) -> dict:
    from django.contrib.auth.models import Permission

    from agencies.models import Agency
    from graph.driver import get_driver

    agencies = list(Agency.objects.filter(code__startswith="gb-"))
    view_id = Permission.objects.get(codename="view_record", content_type__app_label="intel").pk
    worker = Worker()
    pending: dict[int, tuple[float, list[int]]] = {}
    lags: list[float] = []
    lock = threading.Lock()
    done = threading.Event()

    def watch() -> None:
        driver = get_driver()
        while not (done.is_set() and not pending):
            with lock:
                wanted = dict(pending)
            if wanted:
                rows, _, _ = driver.execute_query(
                    "MATCH (n:Entity) WHERE n.entity_id IN $ids RETURN n.entity_id AS id, n.visible_to AS v",
                    ids=list(wanted),
                )
                seen = time.perf_counter()
                with lock:
                    for row in rows:
                        entry = pending.get(row["id"])
                        if entry and list(row["v"]) == entry[1]:
                            lags.append(seen - entry[0])
                            del pending[row["id"]]
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    rnd = random.Random(5)
    started = time.perf_counter()
    changes = 0
    try:
        while time.perf_counter() - started < seconds:
            due = started + changes / rate
            if (pause := due - time.perf_counter()) > 0:
                time.sleep(pause)
            record_id = rnd.randrange(1, records + 1)
            viewers = toggle_grant(
                record_id, agencies[record_id % AGENCIES].pk, rnd.choice(agencies), view_id
            )
            with lock:
                # Record i's shipment is entity i, and only record i asserts it.
                pending[record_id] = (time.perf_counter(), viewers)
            changes += 1
        achieved = changes / (time.perf_counter() - started)
        done.set()
        watcher.join(timeout=120)
    finally:
        done.set()
        worker.stop()
    return {
        "changes": changes,
        "rate_per_second": round(achieved, 1),
        "lag_p50_seconds": round(percentile(lags, 50), 3),
        "lag_p95_seconds": round(percentile(lags, 95), 3),
        "lag_max_seconds": round(max(lags), 3),
        "unsynced": len(pending),
        "worker_peak_rss_mib": round(worker.peak, 1),
    }


def run_visibility(covered: int) -> dict:
    """An agreement through which gb-00 receives the other agencies' shipments comes into
    force when its last party signs, then a platform admin terminates it: each time, from
    the commit until the outbox is drained, with the graph checked on a sample."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from agencies.models import Agency, User
    from graph.driver import get_driver
    from intel.models import Record
    from sharing import agreements
    from sharing.access import covered_records
    from sharing.models import AgreementParty

    agencies = list(Agency.objects.order_by("code"))
    receiver, providers = agencies[0], agencies[1:]
    # Records gb-00 may not see yet (not its own, no grant): released to every covering
    # agreement, which changes no one's view until an agreement covers them.
    candidates = Record.objects.exclude(owner=receiver).exclude(
        recordgroupobjectpermission__group=receiver.group
    )
    ids = list(candidates.order_by("pk").values_list("pk", flat=True)[:covered])
    Record.objects.filter(pk__in=ids).update(releasability="covering")
    sample = random.Random(3).sample(ids, 200)
    admins = {
        agency.pk: User.objects.update_or_create(
            username=f"bench-admin-{agency.code}", defaults={"agency": agency, "role": User.Role.AGENCY_ADMIN}
        )[0]
        for agency in agencies
    }
    platform_admin = User.objects.update_or_create(
        username="bench-platform-admin", defaults={"is_superuser": True, "is_staff": True}
    )[0]
    now = timezone.now()
    agreement = agreements.create_agreement(
        admins[receiver.pk],
        reference=f"BENCH-VIS-{int(now.timestamp())}",
        title="Bench: every agency's shipments to gb-00",
        starts_at=now - timedelta(minutes=1),
        ends_at=now + timedelta(days=365),
        parties=[(receiver, False, True), *[(agency, True, False) for agency in providers]],
        categories=["shipment"],
        classification_ceiling=3,
        purposes=["risk_assessment"],
    )
    # Proposing tells the graph sync too (nothing it shows changes yet): drained before timing.
    worker = Worker()
    try:
        agreements.propose(agreement, admins[receiver.pk])
        for agency in providers:
            agreements.sign(agreement, admins[agency.pk])
        if not AgreementParty.objects.filter(agreement=agreement, signed_at__isnull=True).count() == 1:
            raise SystemExit("the bench agreement should wait for gb-00's signature only")
        wait_outbox_empty(timeout=1800)
        covered_now = covered_records(agreement).count()
        result = {"records": covered_now}
        for phase in ("activated", "terminated"):
            with transaction.atomic():
                if phase == "activated":
                    agreements.sign(agreement, admins[receiver.pk])
                else:
                    agreements.terminate(agreement, platform_admin, "bench")
            committed = time.perf_counter()
            wait_outbox_empty(timeout=3600)
            seconds = time.perf_counter() - committed
            rows, _, _ = get_driver().execute_query(
                "MATCH (n:Entity) WHERE n.entity_id IN $ids RETURN $agency IN n.visible_to AS sees",
                ids=list(
                    Record.objects.filter(pk__in=sample)
                    .values_list("mentions__entity_id", flat=True)
                    .filter(mentions__role="shipment")
                ),
                agency=receiver.pk,
            )
            expected = phase == "activated"
            result[phase] = {
                "seconds": round(seconds, 1),
                "sample_current": sum(row["sees"] == expected for row in rows),
                "sample": len(rows),
            }
        result["worker_peak_rss_mib"] = round(worker.peak, 1)
    finally:
        worker.stop()
    return result


NEOMODEL_SCRIPT = ROOT / "bench" / "graph_neomodel.py"
NEOMODEL_VENV = WORK / "neomodel-venv"


def neomodel_python() -> Path:
    python = NEOMODEL_VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(NEOMODEL_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(ROOT / "bench" / "requirements.txt")],
            check=True,
        )
    return python


def run_neomodel(entities: int) -> dict:
    from django.db import transaction

    from graph import batch, element_states, projections
    from intel.models import Mention, Record

    # The first records whose entities, together, number `entities`.
    chosen: set[int] = set()
    record_ids: list[int] = []
    for record_id in Record.objects.order_by("pk").values_list("pk", flat=True).iterator():
        asserted = set(Mention.objects.filter(record_id=record_id).values_list("entity_id", flat=True))
        if len(chosen | asserted) > entities:
            break
        chosen |= asserted
        record_ids.append(record_id)
    # The rows this sync writes for them, computed once: both sides write the same elements.
    wipe_graph()
    started = time.perf_counter()
    for start in range(0, len(record_ids), 500):
        with transaction.atomic():
            batch.sync_records(record_ids[start : start + 500])
    ours = time.perf_counter() - started
    with transaction.atomic():
        _, triples = projections.touched(projections.current_projections(record_ids))
        nodes = element_states.node_states(chosen)
        relationships = [
            rel
            for chunk in element_states.relationship_states_from_sources(0, 2**62)
            for rel in chunk
            if (rel["s"], rel["t"], rel["type"]) in triples
        ]

    data = WORK / "neomodel-rows.json"
    data.write_text(json.dumps({"nodes": nodes, "relationships": relationships}))
    theirs = {}
    for mode in ("one", "batch"):
        wipe_graph()
        process = subprocess.run(
            [str(neomodel_python()), str(NEOMODEL_SCRIPT), str(data), mode],
            env=child_env(),
            capture_output=True,
            text=True,
            check=True,
        )
        theirs[mode] = json.loads(process.stdout.strip().splitlines()[-1])["seconds"]
    wipe_graph()
    return {
        "records": len(record_ids),
        "nodes": len(nodes),
        "relationships": len(relationships),
        "sync_seconds": round(ours, 2),
        "neomodel_seconds": round(theirs["one"], 2),
        "ratio": round(theirs["one"] / ours, 1),
        "neomodel_batch_seconds": round(theirs["batch"], 2),
        "batch_ratio": round(theirs["batch"] / ours, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--stages", default="load,resync,verify,trickle,visibility,neomodel")
    parser.add_argument("--trickle-seconds", type=float, default=60)
    parser.add_argument("--trickle-rate", type=float, default=50)
    parser.add_argument("--covered", type=int, default=100_000)
    parser.add_argument("--neomodel-entities", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=WORK / "graph_sync.json")
    args = parser.parse_args(argv)
    setup()
    from config.celery import app

    app.control.purge()
    results: dict = json.loads(args.out.read_text()) if args.out.exists() else {}
    stages = {
        "load": lambda: load(args.records),
        "resync": run_resync,
        "verify": run_verify,
        "trickle": lambda: run_trickle(args.records, args.trickle_seconds, args.trickle_rate),
        "visibility": lambda: run_visibility(args.covered),
        "neomodel": lambda: run_neomodel(args.neomodel_entities),
    }
    from bench.run import code_version

    # Named before the run: a commit made while it runs is not what was measured.
    code = code_version()
    for name in args.stages.split(","):
        print(f"== {name}", flush=True)
        results[name] = stages[name]()
        print(json.dumps(results[name], indent=2), flush=True)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))
        if name == "neomodel":
            write_neomodel_section(results[name], argv if argv is not None else sys.argv[1:], code)


NEOMODEL_BEGIN = (
    "<!-- bench/graph_sync.py neomodel: begin. Generated by bench/graph_sync.py; do not edit. -->"
)
NEOMODEL_END = "<!-- bench/graph_sync.py neomodel: end -->"


def write_neomodel_section(measured: dict, argv: list[str], code: str) -> None:
    from bench import report

    command = shlex.join(["platform/with-env", ".venv/bin/python", "-m", "bench.graph_sync", *argv])
    lines = [
        "### This sync against neomodel",
        "",
        f"- code measured: {code}; date: {datetime.now(UTC):%Y-%m-%d %H:%M UTC}",
        f"- command: `{command}`",
        f"- the same {measured['nodes']:,} nodes and {measured['relationships']:,} relationships (the "
        f"entities of the first {measured['records']:,} records), written into an emptied graph each time",
        "",
        "| writer | seconds | times this sync's |",
        "| --- | ---: | ---: |",
        f"| this sync (`graph.batch.sync_records`, 500 records a batch, PostgreSQL work included) "
        f"| {measured['sync_seconds']} | 1 |",
        f"| neomodel, one at a time (`save()`, `connect()`) | {measured['neomodel_seconds']} "
        f"| {measured['ratio']} |",
        f"| neomodel, batches of 1,000 (`create_or_update`; `connect()` 1,000 to a transaction) "
        f"| {measured['neomodel_batch_seconds']} | {measured['batch_ratio']} |",
    ]
    report.write_section(ROOT / "docs" / "benchmarks.md", "\n".join(lines), NEOMODEL_BEGIN, NEOMODEL_END)


if __name__ == "__main__":
    main()
