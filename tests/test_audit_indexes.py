"""The audit log's table carries only the indexes its readers use: each event written (one
per read of another agency's record) writes every one of them. Read from PostgreSQL's
catalogue, not from the model, so a migration that brings back a pattern-matching twin
fails here."""

import pytest
from django.db import IntegrityError, connection, transaction

from audit.log import record_event
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def audit_indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'audit_auditevent' ORDER BY indexname"
        )
        return cursor.fetchall()


def test_no_index_of_the_audit_log_is_a_pattern_matching_twin():
    definitions = [definition for _, definition in audit_indexes()]
    assert not [d for d in definitions if "pattern_ops" in d]
    # The key, the time, the action, the object (alone and with its type), the hash.
    assert len(definitions) == 6


@pytest.mark.parametrize("column", ["at", "action", "object_id", "hash"])
def test_each_column_read_by_itself_keeps_an_index(column):
    leading = [d for _, d in audit_indexes() if f"btree ({column})" in d]
    assert len(leading) == 1, leading


def test_two_events_cannot_share_a_hash():
    event = record_event("test.event", details={"n": 1})
    copy = AuditEvent(at=event.at, action="test.event", details={}, prev_hash=event.hash, hash=event.hash)
    with pytest.raises(IntegrityError), transaction.atomic():
        # bulk_create skips save(), which the append-only log would route through the chain.
        AuditEvent.objects.bulk_create([copy])
