"""Visibility that changes with the clock, with nobody acting: a grant reaching its
expiry, an agreement reaching its start or end date.

The choke point compares such dates with the clock at read time, so PostgreSQL needs no
job; the graph's `visible_to` lists, though, were computed earlier and must be
recomputed. A beat task keeps a watermark and, each time it runs, asks every watcher in
`settings.GRAPH_VISIBILITY_WATCHERS` (the access policy's, in `sharing.access`) for the
records whose visibility may have changed between the watermark and now, and writes outbox
rows for them in the transaction that moves the watermark. A watcher is any function
`(since, until) -> QuerySet of records (or record ids)`; it only says where to look
again, never who may see what: the sync asks `viewer_agencies()` for that. (Sharing's own beat task also sends
`records_changed` when it marks an agreement active or expired, every minute; the
watchers make the graph follow within one of its own, shorter, cycles.)
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from graph.models import SyncCursor
from graph.outbox import enqueue_records

CURSOR_NAME = "visibility-watch"
# A first run looks back to the beginning, so grants that expired before the sync was
# deployed are looked at once too.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)


def watch(now: datetime | None = None) -> int:
    """Writes outbox rows for the records whose visibility the clock may have changed
    since the last run; returns how many. Two concurrent runs serialize on the
    watermark row, so a window is looked at once."""
    until = now or timezone.now()
    written = 0
    with transaction.atomic():
        SyncCursor.objects.get_or_create(name=CURSOR_NAME, defaults={"value": BEGINNING})
        cursor = SyncCursor.objects.select_for_update().get(name=CURSOR_NAME)
        if until <= cursor.value:
            return 0
        for path in settings.GRAPH_VISIBILITY_WATCHERS:
            written += enqueue_records(import_string(path)(cursor.value, until))
        cursor.value = until
        cursor.save(update_fields=["value"])
    return written
