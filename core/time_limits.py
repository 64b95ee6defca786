"""Reads whose cost the user's input decides (a search text), given a time to finish.

Indexes make the usual inputs cheap, but some input always escapes them: a search for a
short text or one that no record the reader may see contains. Such a read is stopped and
refused rather than left to hold a worker and a connection for as long as it takes."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import errors as pg_errors


class TimeLimitExceeded(Exception):
    """A statement ran past the time its block gave it; the block's writes are undone."""


@contextmanager
def statements_limited_to(seconds: float, *, using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """Inside, in one transaction, each statement may run for `seconds`; one that runs longer
    is stopped, the transaction rolled back (nothing the block wrote stays, audit included)
    and `TimeLimitExceeded` raised. PostgreSQL stops it itself (`statement_timeout`); SQLite
    is asked between its steps whether the statement's time is up."""
    connection = connections[using]
    outer = connection.in_atomic_block
    try:
        with _begun_as_a_reader(connection), transaction.atomic(using=using):
            if connection.vendor == "postgresql":
                timeout = f"{max(1, round(seconds * 1000))}ms"
                previous = _set_statement_timeout(connection, timeout, read_previous=outer)
                yield
                if outer:
                    # Made local to the transaction, the setting would outlive the savepoint
                    # this block released (a rolled back one takes it back).
                    _set_statement_timeout(connection, previous)
            elif connection.vendor == "sqlite":
                with connection.execute_wrapper(_sqlite_deadline(seconds)):
                    yield
            else:
                yield
    except OperationalError as error:
        if _stopped(connection, error):
            raise TimeLimitExceeded(str(error)) from error
        raise


@contextmanager
def _begun_as_a_reader(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """On SQLite, a transaction begun inside begins as a reader (DEFERRED): the embedded
    default's take the write lock as they begin (config/settings.py), and a search, which
    only reads, would have waited for every writer, an import's transaction the whole import."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    mode = connection.transaction_mode
    connection.transaction_mode = None
    try:
        yield
    finally:
        connection.transaction_mode = mode


def _set_statement_timeout(
    connection: BaseDatabaseWrapper, value: str, *, read_previous: bool = False
) -> str:
    with connection.cursor() as cursor:
        previous = ""
        if read_previous:
            cursor.execute("SELECT current_setting('statement_timeout')")
            previous = cursor.fetchone()[0]
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [value])
    return previous


@contextmanager
def taking_at_least(seconds: float) -> Iterator[None]:
    """The block, and then a wait until `seconds` have passed since it began (also when it
    raised): a read whose cost an index decides by rows the reader may not see answers no
    sooner for them being there than for their absence."""
    started = time.monotonic()
    try:
        yield
    finally:
        left = seconds - (time.monotonic() - started)
        if left > 0:
            time.sleep(left)


# How many SQLite virtual machine steps pass between two looks at the clock.
SQLITE_STEPS_PER_CHECK = 1000


def _sqlite_deadline(seconds: float):
    def run_with_deadline(execute, sql, params, many, context):
        deadline = time.monotonic() + seconds
        database = context["connection"].connection
        database.set_progress_handler(lambda: time.monotonic() > deadline, SQLITE_STEPS_PER_CHECK)
        try:
            return execute(sql, params, many, context)
        finally:
            database.set_progress_handler(None, 0)

    return run_with_deadline


def _stopped(connection: BaseDatabaseWrapper, error: OperationalError) -> bool:
    cause = error.__cause__
    if isinstance(cause, pg_errors.QueryCanceled):
        return True
    # sqlite3 reports a statement its progress handler stopped as "interrupted".
    return connection.vendor == "sqlite" and "interrupted" in str(error)
