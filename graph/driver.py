"""One Neo4j driver per process, created on first use and closed when the process ends.

The driver is thread-safe and pools its connections; making one per request or per
task would pay the Bolt handshake and authentication every time.
"""

import atexit
import os
import threading

from django.conf import settings
from neo4j import Driver, GraphDatabase

_lock = threading.Lock()
_driver: Driver | None = None


def _unlocked_in_child() -> None:
    # A process forked while another of its parent's threads held the lock (a walk's thread
    # asking for the driver) would otherwise inherit it held by a thread it does not have.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_unlocked_in_child)


def graph_enabled() -> bool:
    return bool(settings.NEO4J_URI)


def get_driver() -> Driver:
    global _driver
    if not graph_enabled():
        raise RuntimeError("NEO4J_URI is not set: the graph runs on networkx in this process")
    with _lock:
        if _driver is None:
            _driver = GraphDatabase.driver(
                settings.NEO4J_URI,
                auth=(settings.NEO4J_USER, settings.NEO4J_PASSWORD),
                connection_timeout=5.0,
                max_transaction_retry_time=15.0,
            )
        return _driver


def forget_inherited_driver() -> None:
    """Drops, without closing, a driver a forked worker process inherited from its parent:
    its sockets are the parent's, and closing them here would cut the parent's sessions."""
    global _driver
    with _lock:
        _driver = None


def close_driver() -> None:
    global _driver
    with _lock:
        if _driver is not None:
            _driver.close()
            _driver = None


atexit.register(close_driver)
