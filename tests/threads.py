"""Which threads ask Django for a database connection: a connection is per thread, and one
asked for on a thread of the code's own is outside the caller's (and a test's) transaction."""

from __future__ import annotations

import threading

import pytest
from django.db.utils import ConnectionHandler


def threads_asking_for_the_database(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The names of the threads that ask for a connection from now on, filled as they ask."""
    asking: set[str] = set()
    handed_out = ConnectionHandler.__getitem__

    def recorded(handler: ConnectionHandler, alias: str):
        asking.add(threading.current_thread().name)
        return handed_out(handler, alias)

    monkeypatch.setattr(ConnectionHandler, "__getitem__", recorded)
    return asking
