"""A full rebuild of the graph from PostgreSQL, streamed in batches.

Three passes, each over id ranges so memory stays flat however large the data:

1. records: every record's projection (who may see it now, what it asserts) is
   recomputed, projections of records that no longer exist are dropped, and the viewer
   counts are rebuilt from the projections (holding every lock, briefly);
2. nodes: every entity's node is written from the projections, and nodes in Neo4j that
   no record asserts any more are removed, range by range;
3. relationships: likewise, by source entity range, once every node exists.

Each batch takes the same advisory locks as the outbox drain and writes with a version
from the same sequence, so a resync can run while the application serves and the
drain runs: whichever of the two computes an element last, from the newer rows, wins.
The outbox is left alone; rows in it are synced again afterwards, which is harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Min

from graph import sync, writer
from intel.models import Entity, Record

# Above any entity id, so the last range also sweeps what lies beyond the last entity.
BEYOND = 2**62

Progress = Callable[[str, int, int], None]
RangeWriter = Callable[[int, int, int], int]


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


def resync_projections(batch_size: int, progress: Progress) -> int:
    total = Record.objects.count()
    done, last = 0, 0
    while True:
        ids = list(
            Record.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        with transaction.atomic():
            sync.lock_records(ids)
            current = sync.current_projections(ids)
            # A record deleted since it was listed: the empty projection locking it goes too.
            sync.store_projections(current, removed=set(ids) - set(current))
        done += len(ids)
        last = ids[-1]
        progress("records", done, total)
    with connection.cursor() as cursor:
        # Deleted records whose outbox rows the drain has not reached yet: the counts
        # rebuilt next and the node pass recompute their entities anyway.
        cursor.execute(
            "DELETE FROM graph_recordprojection p "
            "WHERE NOT EXISTS (SELECT 1 FROM intel_record r WHERE r.id = p.record_id)"
        )
    with transaction.atomic():
        sync.rebuild_counts()
    return done


def _entity_ranges(batch_size: int) -> tuple[list[tuple[int, int]], int]:
    bounds = Entity.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"] or 0, bounds["high"] or 0
    ranges = [(lo, lo + batch_size) for lo in range(low, high + 1, batch_size)] if high else []
    # The first and last ranges reach out to sweep stray nodes below and beyond.
    if ranges:
        ranges[0] = (-BEYOND, ranges[0][1])
        ranges[-1] = (ranges[-1][0], BEYOND)
    else:
        ranges = [(-BEYOND, BEYOND)]
    return ranges, len(ranges)


def _by_entity_range(phase: str, batch_size: int, progress: Progress, write_range: RangeWriter) -> int:
    """Runs `write_range(lo, hi, version)` over every entity id range, each in a transaction
    holding every entity lock; returns how many elements it wrote."""
    ranges, total = _entity_ranges(batch_size)
    written = 0
    for done, (lo, hi) in enumerate(ranges, start=1):
        with transaction.atomic():
            sync.lock_all_entities()
            written += write_range(lo, hi, sync.next_version())
        progress(phase, done, total)
    return written


def _write_nodes(lo: int, hi: int, version: int) -> int:
    nodes = sync.node_states_in_range(lo, hi)
    writer.write(writer.GraphChanges(nodes=nodes), version)
    writer.sweep(lo, hi, [node["id"] for node in nodes], None, version)
    return len(nodes)


def _write_relationships(lo: int, hi: int, version: int) -> int:
    relationships = sync.relationship_states_from_sources(lo, hi)
    writer.write(writer.GraphChanges(relationships=relationships), version)
    keep = [writer.relationship_key(rel["s"], rel["t"], rel["type"]) for rel in relationships]
    writer.sweep(lo, hi, None, keep, version)
    return len(relationships)


def resync_nodes(batch_size: int, progress: Progress) -> int:
    return _by_entity_range("nodes", batch_size, progress, _write_nodes)


def resync_relationships(batch_size: int, progress: Progress) -> int:
    """Once every node exists: relationships by the range of their source entity."""
    return _by_entity_range("relationships", batch_size, progress, _write_relationships)


def resync(
    record_batch: int = 2000, entity_batch: int = 5000, progress: Progress = _no_progress
) -> ResyncResult:
    started = time.perf_counter()
    result = ResyncResult()
    result.records = resync_projections(record_batch, progress)
    result.nodes = resync_nodes(entity_batch, progress)
    result.relationships = resync_relationships(entity_batch, progress)
    result.seconds = time.perf_counter() - started
    return result
