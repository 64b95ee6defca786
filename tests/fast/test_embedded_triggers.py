"""The triggers of the embedded mode (SQLite) after every migration: SQLite drops a table's
triggers when Django rebuilds the table to change a constraint, and the audit log's were lost
so (audit 0004 and 0005) until audit 0006 made them again. Every rebuild to come must keep
them: this reads them from the migrated database, not from the migrations."""

import pytest
from django.db import DatabaseError, connection, transaction

from audit.log import record_event, verify_chain
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_every_trigger_the_migrations_made_is_there_after_the_last():
    assert connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
        triggers = cursor.fetchall()
    assert triggers == [
        ("audit_auditevent_no_delete", "audit_auditevent"),
        ("audit_auditevent_no_update", "audit_auditevent"),
        ("sharing_agreement_access_delete", "sharing_agreement"),
        ("sharing_agreement_access_insert", "sharing_agreement"),
        ("sharing_agreement_access_update", "sharing_agreement"),
        ("sharing_agreement_signed_terms", "sharing_agreement"),
        ("sharing_agreementparty_access_delete", "sharing_agreementparty"),
        ("sharing_agreementparty_access_insert", "sharing_agreementparty"),
        ("sharing_agreementparty_access_update", "sharing_agreementparty"),
        ("sharing_agreementparty_signed_delete", "sharing_agreementparty"),
        ("sharing_agreementparty_signed_terms", "sharing_agreementparty"),
    ]


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_auditevent SET action = 'edited' WHERE id = %s",
        "UPDATE audit_auditevent SET details = '{}', hash = prev_hash WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id >= %s",
    ],
)
def test_the_embedded_audit_log_refuses_to_change_or_lose_an_event(statement):
    events = [record_event("test.event", details={"n": n}) for n in range(3)]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement, [events[-1].pk])
    assert list(AuditEvent.objects.values_list("action", "details")) == [
        ("test.event", {"n": n}) for n in range(3)
    ]
    assert list(verify_chain()) == []


def test_the_orm_cannot_delete_an_audit_event_either():
    event = record_event("test.event")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
