"""Writing and verifying the hash-chained audit log.

Each event's hash is SHA-256 over the previous event's hash and the event's own
canonical JSON, so editing any row breaks its own hash and removing one breaks the
chain at the next row. Appends take a transaction-level lock so that two writers
never chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, models, transaction
from django.utils import timezone

from sharing.models import AuditEvent

GENESIS_HASH = "0" * 64
# Any constant works; it only has to be the same for every writer of this table.
AUDIT_LOCK_KEY = 0x1A7E_A0D1


@dataclass(frozen=True)
class Event:
    action: str
    actor: models.Model | None = None
    agency_id: int | None = None
    object_type: str = ""
    object_id: str = ""
    details: dict | None = None


def event_for(
    action: str,
    *,
    actor=None,
    obj: models.Model | None = None,
    agency_id: int | None = None,
    details: dict | None = None,
) -> Event:
    """An event about `obj` by `actor`; the agency defaults to the actor's."""
    if agency_id is None and actor is not None:
        agency_id = getattr(actor, "agency_id", None)
    return Event(
        action=action,
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
        agency_id=agency_id,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        details=details or {},
    )


def canonical(event: AuditEvent) -> str:
    return json.dumps(
        {
            "at": event.at.isoformat(),
            "actor": event.actor_id,
            "actor_username": event.actor_username,
            "agency": event.agency_id,
            "action": event.action,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "details": event.details,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )


def chain_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256((prev_hash + canonical(event)).encode()).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
    # SQLite serializes writers on its database lock already.


def record_events(events: Iterable[Event], at: datetime | None = None) -> list[AuditEvent]:
    """Appends events to the chain, in order, in the caller's transaction."""
    events = list(events)
    if not events:
        return []
    at = at or timezone.now()
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        prev = last or GENESIS_HASH
        rows = []
        for event in events:
            row = AuditEvent(
                at=at,
                actor=event.actor,
                actor_username=event.actor.get_username() if event.actor is not None else "",
                agency_id=event.agency_id,
                action=event.action,
                object_type=event.object_type,
                object_id=event.object_id,
                details=json.loads(json.dumps(event.details or {}, default=str)),
                prev_hash=prev,
            )
            row.hash = prev = chain_hash(row.prev_hash, row)
            rows.append(row)
        return AuditEvent.objects.bulk_create(rows)


def record_event(action: str, **kwargs) -> AuditEvent:
    return record_events([event_for(action, **kwargs)])[0]


@dataclass(frozen=True)
class Problem:
    event_id: int
    reason: str

    def __str__(self) -> str:
        return f"event #{self.event_id}: {self.reason}"


def verify_chain(batch_size: int = 5000) -> Iterator[Problem]:
    """Walks the whole log in id order and yields every break in the chain."""
    prev_hash, prev_id = GENESIS_HASH, None
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != prev_hash:
            where = f"after #{prev_id}" if prev_id else "at the start of the log"
            yield Problem(
                event.id, f"does not chain onto the event {where}: a row before it was removed or edited"
            )
        if chain_hash(event.prev_hash, event) != event.hash:
            yield Problem(event.id, "its content does not match its hash: the row was edited")
        prev_hash, prev_id = event.hash, event.id
