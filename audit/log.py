"""Writing and verifying the hash-chained audit log.

Each event's hash is SHA-256 over the previous event's hash and the event's own
canonical JSON, so editing any row breaks its own hash and removing one breaks the
chain at the next row. Appends take a transaction-level lock so that two writers
never chain onto the same predecessor.

Someone who can write the database can still edit a row and recompute every hash after
it. So every AUDIT_HEAD_EVERY events the writer also publishes the chain's head (id and
hash, HMAC-signed with AUDIT_HEAD_KEY, which is not in the database) to the append-only
file AUDIT_HEAD_FILE, once its transaction commits; `verify_published_heads` then finds
a head the database no longer holds or no longer matches.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from audit.models import AuditEvent

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


def _row(event: Event, at: datetime) -> AuditEvent:
    return AuditEvent(
        at=at,
        actor_id=event.actor.pk if event.actor is not None else None,
        actor_username=event.actor.get_username() if event.actor is not None else "",
        agency_id=event.agency_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        details=json.loads(json.dumps(event.details or {}, default=str)),
    )


def record_events(events: Iterable[Event], at: datetime | None = None) -> list[AuditEvent]:
    """Appends events to the chain, in order, in the caller's transaction."""
    at = at or timezone.now()
    rows = [_row(event, at) for event in events]
    if not rows:
        return []
    if connection.vendor == "postgresql":
        last_id = _append_in_database(rows)
    else:
        with transaction.atomic():
            _lock_chain()
            last_id, prev = AuditEvent.objects.order_by("-id").values_list("id", "hash").first() or (
                0,
                GENESIS_HASH,
            )
            for row in rows:
                row.prev_hash = prev
                row.hash = prev = chain_hash(row.prev_hash, row)
            rows = AuditEvent.objects.bulk_create(rows)
    head = rows[-1]
    every = settings.AUDIT_HEAD_EVERY
    if every > 0 and head.id // every > last_id // every:
        # Robust: the events are committed by then; a head that cannot be written is
        # logged as an error, not turned into a failed request.
        transaction.on_commit(partial(publish_head, event_id=head.id, event_hash=head.hash), robust=True)
    return rows


def _append_in_database(rows: list[AuditEvent]) -> int:
    """Appends the rows by `audit_append` (migration audit 0003): the lock, the head read,
    the hashes and the inserts in one statement, so one round trip, and no savepoint (a
    statement is atomic). The hash is computed there over the same canonical text as
    `chain_hash`, which `verify_chain` recomputes. Sets each row's id and hashes; returns
    the id of the event the chain ended at before."""
    payload = [
        {
            "canonical": canonical(row),
            "at": row.at.isoformat(),
            "actor_id": row.actor_id,
            "actor_username": row.actor_username,
            "agency_id": row.agency_id,
            "action": row.action,
            "object_type": row.object_type,
            "object_id": row.object_id,
            "details": row.details,
        }
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT event_id, event_prev_hash, event_hash, previous_id"
            " FROM audit_append(%s::jsonb, %s::bigint)",
            [json.dumps(payload), AUDIT_LOCK_KEY],
        )
        appended = cursor.fetchall()
    for row, (event_id, prev_hash, event_hash, _) in zip(rows, appended, strict=True):
        row.pk, row.prev_hash, row.hash = event_id, prev_hash, event_hash
        row._state.adding, row._state.db = False, connection.alias
    return appended[0][3]


def record_event(action: str, **kwargs) -> AuditEvent:
    return record_events([event_for(action, **kwargs)])[0]


def _head_mac(event_id: int, event_hash: str) -> str:
    message = f"{event_id}:{event_hash}".encode()
    return hmac.new(settings.AUDIT_HEAD_KEY.encode(), message, hashlib.sha256).hexdigest()


def publish_head(*, event_id: int | None = None, event_hash: str = "") -> tuple[int, str] | None:
    """Appends a signed (id, hash) head, by default the newest event's, to AUDIT_HEAD_FILE."""
    if event_id is None:
        newest = AuditEvent.objects.order_by("-id").values_list("id", "hash").first()
        if newest is None:
            return None
        event_id, event_hash = newest
    line = json.dumps(
        {
            "id": event_id,
            "hash": event_hash,
            "published_at": timezone.now().isoformat(),
            "mac": _head_mac(event_id, event_hash),
        }
    )
    path = settings.AUDIT_HEAD_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as heads:
        # One line per write under an exclusive lock: writers in other processes never interleave.
        fcntl.flock(heads, fcntl.LOCK_EX)
        heads.write(line + "\n")
        heads.flush()
    return event_id, event_hash


@dataclass(frozen=True)
class Problem:
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        return f"event #{self.event_id}: {self.reason}" if self.event_id is not None else self.reason


def published_heads() -> Iterator[tuple[int, dict | None]]:
    """(line number, head) for each line of AUDIT_HEAD_FILE; None for an unreadable line."""
    path = settings.AUDIT_HEAD_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8") as heads:
        for number, line in enumerate(heads, start=1):
            try:
                head = json.loads(line)
                head = head if isinstance(head, dict) and isinstance(head.get("id"), int) else None
            except ValueError:
                head = None
            yield number, head


def verify_published_heads(batch_size: int = 5000) -> Iterator[Problem]:
    """Every published head must still be in the log with the same hash: an edit with all
    later hashes recomputed changes it, a cut-off end removes it."""
    where = settings.AUDIT_HEAD_FILE
    pending: dict[int, tuple[int, str]] = {}

    def check() -> Iterator[Problem]:
        stored = dict(AuditEvent.objects.filter(pk__in=pending).values_list("id", "hash"))
        for event_id, (number, expected) in sorted(pending.items()):
            if event_id not in stored:
                yield Problem(
                    event_id,
                    f"the head published at line {number} of {where} is missing from the log: "
                    "events were removed or cut off its end",
                )
            elif stored[event_id] != expected:
                yield Problem(
                    event_id,
                    f"the head published at line {number} of {where} ({event_id}:{expected}) no longer "
                    "matches the log: events up to it were edited and their hashes recomputed",
                )
        pending.clear()

    for number, head in published_heads():
        valid = head is not None and hmac.compare_digest(
            str(head.get("mac", "")), _head_mac(head["id"], str(head.get("hash", "")))
        )
        if not valid:
            yield Problem(None, f"line {number} of {where} is not a head signed with AUDIT_HEAD_KEY")
            continue
        pending[head["id"]] = (number, head["hash"])
        if len(pending) >= batch_size:
            yield from check()
    yield from check()


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
