"""Writing outbox rows, inside the transaction that makes the change, and asking a
worker to drain them once that transaction has committed."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from graph.driver import graph_enabled
from graph.models import OutboxEntry

logger = logging.getLogger(__name__)

DRAIN_PENDING_SECONDS = 60


def sync_enabled() -> bool:
    """The graph is a Neo4j projection only on the full stack; the embedded mode answers
    graph questions from PostgreSQL's rows with networkx and keeps no outbox."""
    return graph_enabled() and connection.vendor == "postgresql"


def enqueue(kind: str, objects: Iterable[int] | QuerySet) -> int:
    """Outbox rows for these records or entities, in the current transaction. A QuerySet
    is inserted by one INSERT ... SELECT, however many rows it covers. Returns the
    number of rows written."""
    if not sync_enabled():
        return 0
    with connection.cursor() as cursor:
        if isinstance(objects, QuerySet):
            try:
                sql, params = objects.order_by().values("pk").query.sql_with_params()
            except EmptyResultSet:
                return 0
            cursor.execute(
                # The inner SQL is Django's own for the QuerySet, with its values as parameters.
                "INSERT INTO graph_outboxentry (kind, object_id, created_at) "  # noqa: S608
                f"SELECT %s, changed.pk, clock_timestamp() FROM ({sql}) AS changed(pk)",
                [kind, *params],
            )
        else:
            ids = sorted({int(pk) for pk in objects})
            if not ids:
                return 0
            cursor.execute(
                "INSERT INTO graph_outboxentry (kind, object_id, created_at) "
                "SELECT %s, pk, clock_timestamp() FROM unnest(%s::bigint[]) AS pk",
                [kind, ids],
            )
        written = cursor.rowcount
    if written:
        request_drain()
    return written


def enqueue_records(records: Iterable[int] | QuerySet) -> int:
    return enqueue(OutboxEntry.Kind.RECORD, records)


def enqueue_entities(entities: Iterable[int] | QuerySet) -> int:
    return enqueue(OutboxEntry.Kind.ENTITY, entities)


def sync_key(name: str) -> str:
    """A cache key of the drains' bookkeeping, named after the queue and database, so
    deployments (or test runs) sharing one Redis keep apart."""
    return f"graph-sync:{name}:{settings.CELERY_TASK_DEFAULT_QUEUE}:{connection.settings_dict['NAME']}"


def drain_pending_key() -> str:
    """Set while a drain is queued and has not started yet, so a burst of commits queues
    one drain, not one per commit; the drain clears it when it starts."""
    return sync_key("drain-pending")


def note_sync_progress() -> None:
    """A batch was synced: the sync follows (`synced_within`)."""
    cache.set(sync_key("progress"), time.time(), timeout=None)


def synced_within(seconds: float) -> bool:
    """Whether a batch was synced in the last `seconds` (by this deployment's drains)."""
    last = cache.get(sync_key("progress"))
    return last is not None and time.time() - last < seconds


def _send_drain() -> None:
    from graph.tasks import drain_outbox

    try:
        if cache.add(drain_pending_key(), 1, timeout=DRAIN_PENDING_SECONDS):
            try:
                drain_outbox.delay()
            except Exception:
                cache.delete(drain_pending_key())
                raise
    except Exception:  # the rows are committed; the beat's drain will take them
        logger.warning("graph sync: could not queue a drain; the periodic drain will", exc_info=True)


def request_drain() -> None:
    """Queues a drain once the current transaction commits (at once outside one)."""
    # One callback per transaction is enough, however many changes it sends.
    pending = getattr(connection, "run_on_commit", [])
    if not any(callback is _send_drain for _, callback, *_ in pending):
        transaction.on_commit(_send_drain)


def request_helpers() -> None:
    """A backlog of more than one batch: starts drains to work beside this one, up to
    `GRAPH_SYNC_DRAINS` in all (they take disjoint batches: SKIP LOCKED), once per backlog
    (until a drain empties the outbox: `clear_helpers`) or per
    `GRAPH_SYNC_TASK_SECONDS`. Without them, one drain at a time would leave the worker's
    other processes idle."""
    from graph.tasks import drain_outbox

    try:
        if cache.add(sync_key("helpers"), 1, timeout=settings.GRAPH_SYNC_TASK_SECONDS):
            for _ in range(settings.GRAPH_SYNC_DRAINS - 1):
                drain_outbox.delay()
    except Exception:  # the drain running now still takes the whole backlog
        logger.warning("graph sync: could not start helper drains", exc_info=True)


def _forget(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:  # without the cache every commit queues its own drain: no harm
        logger.warning("graph sync: cache unavailable", exc_info=True)


def clear_drain_request() -> None:
    """A drain starts: the next commit may queue another."""
    _forget(drain_pending_key())


def clear_helpers() -> None:
    """A drain emptied the outbox: the next backlog may start helpers again."""
    _forget(sync_key("helpers"))


@dataclass
class SyncState:
    backlog: int
    oldest: datetime | None

    @property
    def lag_seconds(self) -> float:
        if self.oldest is None:
            return 0.0
        return max(0.0, (timezone.now() - self.oldest).total_seconds())

    def as_dict(self) -> dict:
        return {
            "backlog": self.backlog,
            "lag_seconds": round(self.lag_seconds, 3),
            "oldest_unsynced": self.oldest.isoformat() if self.oldest else None,
        }


def sync_state() -> SyncState:
    """The backlog (outbox rows not yet synced) and the time of the oldest of them."""
    oldest = OutboxEntry.objects.order_by("id").values_list("created_at", flat=True).first()
    return SyncState(backlog=OutboxEntry.objects.count(), oldest=oldest)
