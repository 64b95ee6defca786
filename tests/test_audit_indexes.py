"""The audit log's table carries only the indexes its readers use: each event written (one
per read of another agency's record) writes every one of them. Read from PostgreSQL's
catalogue, not from the model, so a migration that brings back a pattern-matching twin, or
an index no query reads, fails here."""

import pytest
from django.db import connection

from audit.log import record_event
from audit.models import AuditEvent
from tests.test_audit import verify

pytestmark = pytest.mark.django_db


def audit_indexes() -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes"
            " WHERE tablename = 'audit_auditevent' ORDER BY indexname"
        )
        return cursor.fetchall()


def test_the_audit_log_is_indexed_by_its_key_time_action_and_object_alone():
    columns = sorted(definition.split("btree ", 1)[1] for _, definition in audit_indexes())
    assert columns == ["(action)", "(at)", "(id)", "(object_type, object_id)"]


@pytest.mark.parametrize(
    "forged",
    [
        # A copy of the last event appended beside the chain: the same hash, twice.
        lambda last: {"prev_hash": last.prev_hash, "hash": last.hash},
        # An event chained onto the last one whose hash was not computed from its content.
        lambda last: {"prev_hash": last.hash, "hash": "f" * 64},
    ],
)
def test_an_event_added_beside_the_chain_is_named_by_verify_audit(forged):
    """No index keeps the chain whole (a unique hash did not keep two events from chaining
    onto one): `verify_audit` does, whatever was added."""
    record_event("test.event", details={"n": 1})
    last = record_event("test.event", details={"n": 2})
    # bulk_create skips save(), which the append-only log routes through the chain.
    (added,) = AuditEvent.objects.bulk_create(
        [AuditEvent(at=last.at, action="test.event", details={"n": 2}, **forged(last))]
    )
    _, err = verify()
    assert f"event #{added.pk}: " in err
