"""The audit chain's head is published where an edit of the database cannot reach (issue
11, class 12): rows edited with every later hash recomputed, or cut off the end, are found
by `verify_audit` without being told a head."""

import hashlib
import hmac
import io
import json
from itertools import pairwise

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from audit.log import chain_hash, record_event, verify_chain
from audit.models import AuditEvent

pytestmark = pytest.mark.django_db

EVERY = 3
KEY = "a test key for audit heads, not in the database"


@pytest.fixture(autouse=True)
def heads_settings(settings):
    settings.AUDIT_HEAD_EVERY = EVERY
    settings.AUDIT_HEAD_KEY = KEY


@pytest.fixture
def chain(django_capture_on_commit_callbacks):
    """Ten events, each appended in a transaction of its own that commits (heads are
    published only once the events are committed)."""
    for i in range(10):
        with django_capture_on_commit_callbacks(execute=True):
            record_event(f"test.event{i}", details={"n": i})
    return list(AuditEvent.objects.order_by("id"))


def heads(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def verify(**options) -> tuple[bool, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err, **options)
    except CommandError:
        return False, out.getvalue(), err.getvalue()
    return True, out.getvalue(), err.getvalue()


def tamper(statements: list[tuple[str, list]]) -> None:
    """As the table's owner: the append-only trigger off (see migration 0002) for these statements."""
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
        for sql, params in statements:
            cursor.execute(sql, params)
        cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")


def test_a_signed_head_is_published_every_n_events(chain, audit_heads_file):
    published = heads(audit_heads_file)
    by_id = {event.id: event.hash for event in chain}
    # One head each time an append passes a multiple of EVERY (from 0, the log being empty).
    ids = [0] + [event.id for event in chain]
    crossings = [new for old, new in pairwise(ids) if new // EVERY > old // EVERY]
    assert [head["id"] for head in published] == crossings and len(crossings) >= 3
    for head in published:
        assert by_id[head["id"]] == head["hash"]
        expected = hmac.new(KEY.encode(), f"{head['id']}:{head['hash']}".encode(), hashlib.sha256).hexdigest()
        assert head["mac"] == expected
    assert verify()[0]


def test_a_rolled_back_event_publishes_no_head(audit_heads_file, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            for i in range(EVERY + 1):
                record_event("test.rolled_back", details={"n": i})
            raise RuntimeError("roll back")
    assert not audit_heads_file.exists()


def test_rows_edited_with_every_later_hash_recomputed_fail_against_a_published_head(chain, audit_heads_file):
    published = heads(audit_heads_file)
    edited = next(event for event in chain if event.id < published[-1]["id"])
    # The attacker's rewrite: new content, then the chain recomputed from that row on.
    statements, prev = [], edited.prev_hash
    for event in chain[chain.index(edited) :]:
        if event.id == edited.id:
            event.details = {"n": "forged"}
        event.prev_hash = prev
        event.hash = prev = chain_hash(prev, event)
        statements.append(
            (
                "UPDATE audit_auditevent SET details = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(event.details), event.prev_hash, event.hash, event.id],
            )
        )
    tamper(statements)
    # The chain alone no longer shows it ...
    assert list(verify_chain()) == []
    # ... the published heads do, each one at or after the edited row by name.
    ok, _, err = verify()
    assert not ok
    for number, head in enumerate(published, start=1):
        named = f"event #{head['id']}: the head published at line {number}"
        assert (named in err) == (head["id"] >= edited.id), head
    assert "no longer matches the log" in err


def test_a_cut_off_end_fails_against_a_published_head(chain, audit_heads_file):
    last_head = heads(audit_heads_file)[-1]["id"]
    tamper([("DELETE FROM audit_auditevent WHERE id >= %s", [last_head])])
    assert list(verify_chain()) == []
    ok, _, err = verify()
    assert not ok
    assert f"event #{last_head}: the head published at line" in err and "missing from the log" in err


def test_a_head_line_not_signed_with_the_key_is_reported(chain, audit_heads_file):
    forged = {"id": chain[-1].id, "hash": chain[-1].hash, "mac": "0" * 64}
    with audit_heads_file.open("a") as heads_file:
        heads_file.write(json.dumps(forged) + "\n" + "not json\n")
    lines = len(audit_heads_file.read_text().splitlines())
    ok, _, err = verify()
    assert not ok
    assert f"line {lines - 1} of {audit_heads_file} is not a head signed with AUDIT_HEAD_KEY" in err
    assert f"line {lines} of {audit_heads_file} is not a head signed with AUDIT_HEAD_KEY" in err


def test_verify_audit_publishes_the_head_on_demand_only_when_the_log_verifies(chain, audit_heads_file):
    before = heads(audit_heads_file)
    ok, out, _ = verify(publish=True)
    assert ok and "published" in out
    after = heads(audit_heads_file)
    assert after[:-1] == before and (after[-1]["id"], after[-1]["hash"]) == (chain[-1].id, chain[-1].hash)

    tamper([("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"n": 99}', chain[-1].id])])
    ok, _, err = verify(publish=True)
    assert not ok and f"event #{chain[-1].id}: its content does not match its hash" in err
    assert heads(audit_heads_file) == after
