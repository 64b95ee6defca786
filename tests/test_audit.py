"""The audit log is append-only in the database, and verify_audit finds tampering."""

import io
import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from agencies.models import Agency, User
from audit.log import event_for, record_event, record_events, verify_chain
from audit.models import AuditEvent


@pytest.fixture
def chain(db):
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    user = User.objects.create(username="auditor", agency=agency, role="liaison")
    record_events([event_for(f"test.event{i}", actor=user, details={"n": i}) for i in range(5)])
    return list(AuditEvent.objects.order_by("id"))


def tamper(sql: str, params: list) -> None:
    """As the table's owner, switch the append-only trigger off for one statement."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")


def verify() -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except CommandError:
        pass
    return out.getvalue(), err.getvalue()


def test_an_intact_chain_verifies(chain):
    out, err = verify()
    assert "audit log intact: 5 events" in out
    assert err == ""


def test_the_database_refuses_updates_and_deletes(chain):
    for statement in (
        "UPDATE audit_auditevent SET action = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement, [chain[1].pk])
    assert AuditEvent.objects.count() == 5


def test_verify_audit_names_an_edited_row(chain):
    tamper("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"n": 99}', chain[2].pk])
    _, err = verify()
    assert f"event #{chain[2].pk}: its content does not match its hash" in err
    assert f"event #{chain[3].pk}" not in err


def test_verify_audit_names_the_row_after_a_deleted_one(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[2].pk])
    _, err = verify()
    assert f"event #{chain[3].pk}: does not chain onto the event after #{chain[1].pk}" in err


def test_verify_audit_with_the_earlier_head_detects_a_cut_off_end(chain):
    head = f"{chain[-1].pk}:{chain[-1].hash}"
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [chain[-1].pk])
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_audit", head=head, stderr=err, stdout=io.StringIO())
    assert f"event #{chain[-1].pk}: the head reported earlier is missing or changed" in err.getvalue()


def test_appends_chain_onto_the_previous_hash(chain):
    event = record_event("test.more")
    assert event.prev_hash == chain[-1].hash


@pytest.mark.django_db(transaction=True)
def test_appends_from_concurrent_transactions_form_one_chain():
    """Writers in their own connections, each appending in a transaction of its own, never
    chain onto the same predecessor; the hashes the database computed are those
    verify_chain recomputes, non-ASCII text included."""
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    user = User.objects.create(username="zoë", agency=agency, role="analyst")
    writers, rounds, per_append = 4, 5, 3
    failures = []

    def write(writer: int) -> None:
        try:
            for round_ in range(rounds):
                with transaction.atomic():
                    record_events(
                        event_for("test.concurrent", actor=user, details={"w": writer, "r": round_, "x": "Ç"})
                        for _ in range(per_append)
                    )
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == writers * rounds * per_append
    assert len({event.prev_hash for event in events}) == len(events)
    assert list(verify_chain()) == []
