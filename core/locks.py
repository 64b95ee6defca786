"""A session-level PostgreSQL advisory lock: held across the transactions of a long task and
released with its connection, so a process that dies frees it at once."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def session_lock(space: int, key: int) -> Iterator[None]:
    """Holds (space, key) against other processes; waits while another holds it. The
    embedded default runs tasks in process, one at a time, and takes no lock."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [space, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])
