"""Set-up of the processes that share a long job (a resync's ranges).

They are spawned, not forked: a forked child inherits the parent's open Redis and Bolt
sockets, and Celery's connection pool, cleaning up after the fork, reads from them and
waits forever. A spawned one starts clean and sets Django up itself, on the parent's
database (under the test runner, not the one the environment names).
"""

import multiprocessing.util
from contextlib import AbstractContextManager, nullcontext

import django
from django.conf import settings

_relationship_writes: AbstractContextManager = nullcontext()


def start(database_name: str, relationship_writes: AbstractContextManager) -> None:
    global _relationship_writes
    settings.DATABASES["default"]["NAME"] = database_name
    _relationship_writes = relationship_writes
    django.setup()
    multiprocessing.util.Finalize(None, _finish, exitpriority=10)


def relationship_writes() -> AbstractContextManager:
    """Held while writing relationships to Neo4j: one process at a time. Two writing
    relationships of the same busy node deadlock in Neo4j (its dense-node locks), and
    retrying does not end it; the reading and computing around the writes still overlap."""
    return _relationship_writes


def _finish() -> None:
    # A pool's worker leaves through os._exit, past atexit: close what it opened.
    from django.db import connections

    from graph.driver import close_driver

    connections.close_all()
    close_driver()
