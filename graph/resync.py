"""A full rebuild of the graph from PostgreSQL, streamed in batches.

Three passes, each over id ranges so memory stays flat however large the data:

1. records: every record's projection (who may see it now, what it asserts) is
   recomputed, projections of records that no longer exist are dropped, and the two
   tables of viewer counts are rebuilt from the projections (see `viewer_counts.rebuild_counts`);
2. nodes: every entity's node is written from the projections, and nodes in Neo4j that
   no record asserts any more are removed, range by range;
3. relationships: likewise, by source entity range, once every node exists; a range's
   relationships are read with a server-side cursor and written in chunks bounded by the
   record ids they carry, since a busy broker's carry millions.

Each pass's ranges are shared among worker processes (`workers` of them, see
`graph.worker_process`; with one, this process runs them): a range is a few hundred
milliseconds of Python, PostgreSQL and Neo4j, and one process left a core idle. Ranges
of one pass never share an element.

Each range takes the same locks as the outbox drain (a node or relationship range holds
every entity partition, shared with the other ranges but not with a batch) and writes
with a version from the same sequence, so a resync can run while the application serves
and the drain runs: whichever of the two computes an element last, from the newer rows,
wins. The outbox is left alone; rows in it are synced again afterwards, which is harmless.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min

from graph import element_states, jobs, locks, projections, viewer_counts, worker_process, writer
from intel.models import Entity, Record

# Above any entity id, so the last range also sweeps what lies beyond the last entity.
BEYOND = 2**62

Progress = Callable[[str, int, int], None]

# One more process than this machine's two cores: relationship writes go one at a time,
# and a third process keeps reading and computing while the other two wait for Neo4j
# (docs/benchmarks.md, "The resync uses both cores").
DEFAULT_WORKERS = 3


@dataclass
class ResyncResult:
    records: int = 0
    nodes: int = 0
    relationships: int = 0
    seconds: float = 0.0

    @property
    def elements(self) -> int:
        return self.nodes + self.relationships

    @property
    def elements_per_second(self) -> float:
        return self.elements / self.seconds if self.seconds else 0.0


def _no_progress(phase: str, done: int, total: int) -> None:
    """Progress callback that reports nothing."""


Task = tuple[str, int, int]
Runner = Callable[[Iterable[Task]], Iterator[int]]


@contextmanager
def _workers(count: int) -> Iterator[Runner]:
    """Runs tasks (see `_run`) in `count` worker processes, yielding each result as it
    comes; with one, in this process."""
    if count <= 1:
        yield lambda tasks: map(_run, tasks)
        return
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(
        count,
        initializer=worker_process.start,
        initargs=(connection.settings_dict["NAME"], context.Lock()),
    )
    try:
        yield lambda tasks: pool.imap_unordered(_run, tasks)
    except BaseException:
        pool.terminate()
        raise
    else:
        pool.close()
    finally:
        pool.join()


def _run(task: Task) -> int:
    """One range of one pass, in its own transaction; returns how many records or
    elements it wrote."""
    phase, lo, hi = task
    if phase == "records":
        return _project_records(lo, hi)
    if phase in viewer_counts.COUNTS_FROM_PROJECTIONS:
        with transaction.atomic():
            viewer_counts.rebuild_counts(phase)
        return 0
    with transaction.atomic():
        locks.lock_all_entities(shared=True)
        version = locks.next_version()
        return _write_nodes(lo, hi, version) if phase == "nodes" else _write_relationships(lo, hi, version)


def _project_records(lo: int, hi: int) -> int:
    """The range's projections as of now. Whoever may see another thing of a record than its
    stored projection said has its stored analytics made stale, as a sync batch would: the
    outbox row of that change, drained after this, finds the projection already stored and
    no difference left to tell."""
    ids = list(Record.objects.filter(pk__gte=lo, pk__lt=hi).order_by("pk").values_list("pk", flat=True))
    if ids:
        with transaction.atomic():
            locks.lock_records(ids)
            previous = projections.stored_projections(ids)
            current = projections.current_projections(ids)
            # A record deleted since it was listed: the empty projection locking it goes too.
            projections.store_projections(current, removed=set(ids) - set(current))
            _note_viewers_of(
                projection
                for pk in ids
                if previous.get(pk) != current.get(pk)
                for projection in (previous.get(pk), current.get(pk))
                if projection is not None
            )
    return len(ids)


def _write_nodes(lo: int, hi: int, version: int) -> int:
    nodes = element_states.node_states_in_range(lo, hi)
    # Sweeping first: a node holding one of these entity ids under another key (left by
    # another database) would make the write break the uniqueness of entity ids.
    writer.sweep_nodes(lo, hi, [writer.node_key(node["id"], node["key"]) for node in nodes], version)
    writer.write(writer.GraphChanges(nodes=nodes), version)
    return len(nodes)


def _write_relationships(lo: int, hi: int, version: int) -> int:
    keep: list[str] = []
    for chunk in element_states.relationship_states_from_sources(lo, hi):
        with worker_process.relationship_writes():
            writer.write(writer.GraphChanges(relationships=chunk), version)
        keep += [writer.relationship_key(rel["s"], rel["t"], rel["type"]) for rel in chunk]
    # Looked for beside the other process's writes; removed, when there are any, between them.
    stray = writer.stray_relationships(lo, hi, keep)
    if stray:
        with worker_process.relationship_writes():
            writer.write(writer.GraphChanges(removed_relationships=stray), version)
    return len(keep)


def _ranges(model: type[Record] | type[Entity], width: int) -> list[tuple[int, int]]:
    """Id ranges of `width` covering the table; the first and last reach out below and
    beyond it (to sweep stray nodes there)."""
    bounds = model.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"] or 0, bounds["high"] or 0
    ranges = [(lo, lo + width) for lo in range(low, high + 1, width)] if high else []
    if not ranges:
        return [(-BEYOND, BEYOND)]
    ranges[0] = (-BEYOND, ranges[0][1])
    ranges[-1] = (ranges[-1][0], BEYOND)
    return ranges


def _pass(run: Runner, phase: str, ranges: list[tuple[int, int]], progress: Progress, total: int) -> int:
    done = written = 0
    for count in run((phase, lo, hi) for lo, hi in ranges):
        written += count
        done += count if phase == "records" else 1
        progress(phase, done, total)
    return written


def _note_viewers_of(changed: Iterable[projections.Projection]) -> None:
    """In the caller's transaction: whoever may see something of these projections sees
    another graph now (their stored analytics stop being current, as after a sync batch)."""
    agencies = set().union(*(projection.agencies for projection in changed))
    if agencies:
        jobs.note_visibility_changes(agencies, locks.next_version())


def resync_projections(run: Runner, batch_size: int, progress: Progress) -> int:
    done = _pass(run, "records", _ranges(Record, batch_size), progress, Record.objects.count())
    with transaction.atomic(), connection.cursor() as cursor:
        # Deleted records whose outbox rows the drain has not reached yet: the counts
        # rebuilt next and the node pass recompute their entities anyway. Whoever could see
        # one sees another graph now, and the drain will find no projection to tell it by.
        cursor.execute(
            "DELETE FROM graph_recordprojection p "
            "WHERE NOT EXISTS (SELECT 1 FROM intel_record r WHERE r.id = p.record_id) "
            "RETURNING p.record_id, p.entities, p.links"
        )
        # Django's cursor hands jsonb over as text.
        _note_viewers_of(
            projections.projection_of(json.loads(entities), json.loads(links))
            for _, entities, links in cursor.fetchall()
        )
    # The two tables side by side, one per worker.
    for _ in run((table, 0, 0) for table in viewer_counts.COUNTS_FROM_PROJECTIONS):
        pass
    return done


def resync(
    record_batch: int = 2000,
    entity_batch: int = 5000,
    workers: int = DEFAULT_WORKERS,
    progress: Progress = _no_progress,
) -> ResyncResult:
    started = time.perf_counter()
    result = ResyncResult()
    with _workers(workers) as run:
        result.records = resync_projections(run, record_batch, progress)
        entity_ranges = _ranges(Entity, entity_batch)
        # Every node before any relationship: a relationship is matched through its ends.
        result.nodes = _pass(run, "nodes", entity_ranges, progress, len(entity_ranges))
        result.relationships = _pass(run, "relationships", entity_ranges, progress, len(entity_ranges))
    result.seconds = time.perf_counter() - started
    return result
