"""Session locks: held across the transactions of a long task, and freed at once when the
process holding one dies. On PostgreSQL an advisory lock of the session, released with its
connection; elsewhere (the embedded default, whose server serves requests on threads of one
process) an exclusive lock on a file of LOCK_DIR, released with its file. Either is
re-entrant in the session that holds it: a PostgreSQL connection, or here a thread."""

import fcntl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection

_held_here = threading.local()


@contextmanager
def session_lock(space: int, key: int) -> Iterator[None]:
    """Holds (space, key) against other sessions; waits while another holds it."""
    if connection.vendor != "postgresql":
        with _file_lock(space, key):
            yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [space, key])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])


@contextmanager
def session_lock_if_free(space: int, key: int) -> Iterator[bool]:
    """Holds (space, key) for the block when no other session holds it, without waiting:
    yields whether it does. What tells work a stopped process left unfinished from work
    under way."""
    if connection.vendor != "postgresql":
        taken, file = _take_file_lock(space, key, wait=False)
        try:
            yield taken
        finally:
            if taken:
                _release_file_lock(space, key, file)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [space, key])
        (taken,) = cursor.fetchone()
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])


@contextmanager
def _file_lock(space: int, key: int) -> Iterator[None]:
    _, file = _take_file_lock(space, key, wait=True)
    try:
        yield
    finally:
        _release_file_lock(space, key, file)


def _held() -> Counter:
    return _held_here.__dict__.setdefault("locks", Counter())


def _take_file_lock(space: int, key: int, *, wait: bool) -> tuple[bool, IO | None]:
    """Whether it was taken (not, without `wait`, when another thread or process holds it),
    and the lock's open file (none when this thread held it already)."""
    held = _held()
    if held[(space, key)]:
        held[(space, key)] += 1
        return True, None
    directory = Path(settings.LOCK_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    # The files stay: removing one while another session waits on it would let a third lock
    # a new file of the same name.
    file = (directory / f"{space:08x}-{key}.lock").open("a")
    try:
        fcntl.flock(file, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        return False, None
    held[(space, key)] += 1
    return True, file


def _release_file_lock(space: int, key: int, file: IO | None) -> None:
    _held()[(space, key)] -= 1
    if file is not None:
        fcntl.flock(file, fcntl.LOCK_UN)
        file.close()
