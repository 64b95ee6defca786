"""Statements given a time limit, on PostgreSQL (tests/time_limit_checks.py), and a search's
audit outside its limit."""

import threading
import time

import pytest
from django.db import connection, connections
from django.test import Client

from audit.log import AUDIT_LOCK_KEY
from audit.models import AuditEvent
from core import time_limits
from tests import time_limit_checks as checks
from tests.auth_helpers import signed_in
from tests.workspace_scene import build

# In the transaction each test runs in: the block is a savepoint of it.
pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda check: check.__name__)
def test_statements_limited_to(check):
    assert connection.vendor == "postgresql"
    check()


@pytest.mark.django_db(transaction=True)
def test_a_search_waits_for_the_audit_chain_beyond_its_time_limit(tmp_path, settings):
    """The time limit is for a search's reads: its audit, written after them, waits for the
    audit chain's lock (held here by another connection, as an import's transaction holds
    it) for as long as it takes, rather than being refused as too broad."""
    scene = build(tmp_path)
    client = signed_in(Client(), scene.pol.analyst)
    settings.SEARCH_STATEMENT_SECONDS = 0.2
    other = connections.create_connection("default")
    other.ensure_connection()
    other.set_autocommit(False)  # the lock is held until the transaction ends
    holder = other.connection
    holder.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
    release = threading.Timer(1.0, holder.rollback)
    release.start()
    try:
        events = AuditEvent.objects.count()
        api = client.get("/api/search/?q=quay", HTTP_X_INTERLINK_PURPOSE="investigation")
        assert api.status_code == 200 and api.json()["count"] == 2
        # pol sees cus's records naming Quay Brokers: their reads are audited.
        assert AuditEvent.objects.count() > events
        events = AuditEvent.objects.count()
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [AUDIT_LOCK_KEY])
        release = threading.Timer(1.0, holder.rollback)
        release.start()
        page = client.get("/search/?q=quay", HTTP_X_INTERLINK_PURPOSE="investigation")
        assert page.status_code == 200 and "Quay Brokers" in page.content.decode()
        assert AuditEvent.objects.count() > events
    finally:
        release.join()
        other.close()


def test_every_search_waits_out_its_least_time(tmp_path, settings, monkeypatch):
    """Found, hidden or absent: the API's search and the page's wait until
    SEARCH_MIN_SECONDS have passed since their reads began."""
    scene = build(tmp_path)
    client = signed_in(Client(), scene.cus.analyst)
    settings.SEARCH_MIN_SECONDS = 30
    waits: list[float] = []

    class Clock:
        monotonic = staticmethod(time.monotonic)

        @staticmethod
        def sleep(seconds: float) -> None:
            waits.append(seconds)

    monkeypatch.setattr(time_limits, "time", Clock)
    for path in ("/api/search/?q={}", "/search/?q={}"):
        for text in ("quay", "secret+front", "nowhere+at+all"):
            waits.clear()
            assert client.get(path.format(text)).status_code == 200
            assert len(waits) == 1 and 0 < waits[0] <= 30, (path, text, waits)
