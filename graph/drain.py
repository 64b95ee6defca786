"""Draining the outbox: claiming due rows batch by batch, syncing their records, and
deferring the rows of a batch that failed (with back-off, retried one record at a time);
entity rows are first turned into rows for the records asserting those entities."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from graph.batch import BatchResult, sync_records
from graph.models import OutboxEntry
from graph.outbox import note_sync_progress

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300
# Failures of the services themselves: no row is at fault, so none is deferred.
UNAVAILABLE = (ServiceUnavailable, SessionExpired, OperationalError, InterfaceError)


def expand_entity_entries(limit: int = 1000) -> int:
    """Turns outbox rows about entities (a merge or its undo moved their mentions and
    links) into rows about the records that now assert them; the records' previous
    projections cover what they asserted before. Keeps the oldest row's time, so the
    sync lag still counts from the change."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, object_id, created_at FROM graph_outboxentry
            WHERE kind = %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.ENTITY, limit],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        entity_ids = sorted({object_id for _, object_id, _ in rows})
        oldest = min(created_at for _, _, created_at in rows)
        cursor.execute(
            """
            INSERT INTO graph_outboxentry (kind, object_id, created_at)
            SELECT %(kind)s, record_id, %(created_at)s FROM (
                SELECT record_id FROM intel_mention WHERE entity_id = ANY(%(ids)s)
                UNION SELECT record_id FROM intel_link WHERE source_id = ANY(%(ids)s)
                UNION SELECT record_id FROM intel_link WHERE target_id = ANY(%(ids)s)
            ) AS asserting
            """,
            {"kind": OutboxEntry.Kind.RECORD, "ids": entity_ids, "created_at": oldest},
        )
        cursor.execute("DELETE FROM graph_outboxentry WHERE id = ANY(%s)", [[pk for pk, _, _ in rows]])
        return len(rows)


def claim_records(batch_size: int) -> tuple[list[int], list[int]]:
    """Locks the oldest due record rows (another drain skips them) and the other rows
    naming the same records; returns (row ids, record ids). Every claimed row was
    committed before the batch reads anything, so the batch's state covers its change.
    A row that failed before is claimed alone, so one bad record fails only itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, object_id, attempts FROM graph_outboxentry
            WHERE kind = %s AND (not_before IS NULL OR not_before <= clock_timestamp())
            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.RECORD, batch_size],
        )
        rows = cursor.fetchall()
        if not rows:
            return [], []
        if rows[0][2]:
            rows = [row for row in rows if row[1] == rows[0][1]]
        else:
            retried = next((index for index, row in enumerate(rows) if row[2]), len(rows))
            rows = rows[:retried]
        row_ids = [pk for pk, _, _ in rows]
        record_ids = sorted({object_id for _, object_id, _ in rows})
        cursor.execute(
            """
            SELECT id FROM graph_outboxentry
            WHERE kind = %s AND object_id = ANY(%s) AND NOT id = ANY(%s)
            FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.RECORD, record_ids, row_ids],
        )
        row_ids += [pk for (pk,) in cursor.fetchall()]
        return row_ids, record_ids


def defer(row_ids: list[int]) -> None:
    """Puts failed rows back with an exponential back-off (2 s, 4 s, ... up to 5 minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE graph_outboxentry SET attempts = attempts + 1,
                not_before = clock_timestamp() + make_interval(secs => least(%s, power(2, attempts + 1)))
            WHERE id = ANY(%s)
            """,
            [MAX_BACKOFF_SECONDS, row_ids],
        )


def drain_batch(batch_size: int) -> BatchResult | None:
    """Syncs one batch from the outbox; None when there was nothing due. A batch that fails
    because Neo4j or PostgreSQL is unreachable raises, leaving its rows as they were; one
    that fails for any other reason has its rows deferred and is reported as failed."""
    row_ids: list[int] = []
    record_ids: list[int] = []
    try:
        with transaction.atomic():
            row_ids, record_ids = claim_records(batch_size)
            if not row_ids:
                return None
            result = sync_records(record_ids)
            result.outbox_rows = len(row_ids)
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM graph_outboxentry WHERE id = ANY(%s)", [row_ids])
        note_sync_progress()
        return result
    except UNAVAILABLE:
        raise
    except Exception:
        logger.exception(
            "graph sync: batch of %d records failed (first %s); deferred", len(record_ids), record_ids[:10]
        )
        defer(row_ids)
        return BatchResult(failed=len(record_ids))


def drain(
    batch_size: int | None = None,
    max_seconds: float | None = None,
    on_backlog: Callable[[], None] | None = None,
) -> tuple[BatchResult, bool]:
    """Drains the outbox batch by batch until it is empty or `max_seconds` have passed;
    returns the totals and whether it stopped with work left. `on_backlog` is called after
    each full batch (more is probably waiting)."""
    batch_size = batch_size or settings.GRAPH_SYNC_BATCH_SIZE
    started = time.monotonic()
    total = BatchResult()
    while True:
        expand_entity_entries()
        batch = drain_batch(batch_size)
        if batch is None:
            return total, False
        for name in ("records", "failed", "outbox_rows", "nodes", "relationships", "removed"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        if on_backlog is not None and batch.outbox_rows >= batch_size:
            on_backlog()
        if not batch.failed:
            logger.info(
                "graph sync: %d records (%d outbox rows), %d nodes, %d relationships, %d removed",
                batch.records,
                batch.outbox_rows,
                batch.nodes,
                batch.relationships,
                batch.removed,
            )
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            return total, True
