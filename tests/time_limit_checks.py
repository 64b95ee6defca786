"""What `core.time_limits.statements_limited_to` must do, checked on each database vendor:
the fast tier runs these on SQLite (tests/fast/test_time_limits.py), the full tier on
PostgreSQL (tests/test_time_limits.py)."""

import time

import pytest
from django.db import DatabaseError, connection

from agencies.models import Agency
from core.time_limits import TimeLimitExceeded, statements_limited_to

# Counts to a hundred million, one row at a time: tens of seconds on either database.
COUNT_TO = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) SELECT count(*) FROM n"
)
SLOW = COUNT_TO.format(100_000_000)
QUICK = COUNT_TO.format(1000)


def a_slow_statement_is_stopped_and_the_block_undone() -> None:
    started = time.monotonic()
    with pytest.raises(TimeLimitExceeded), statements_limited_to(0.2):
        Agency.objects.create(code="tl1", name="Written before", country="NL", kind="customs")
        with connection.cursor() as cursor:
            cursor.execute(SLOW)
    # Stopped well before the count's tens of seconds (a generous bound, not a timing claim).
    assert time.monotonic() - started < 10
    assert not Agency.objects.filter(code="tl1").exists()


def quick_statements_pass_and_the_block_commits() -> None:
    with statements_limited_to(0.5):
        for _ in range(5):
            with connection.cursor() as cursor:
                cursor.execute(QUICK)
                assert cursor.fetchone()[0] == 1000
        Agency.objects.create(code="tl2", name="Kept", country="NL", kind="customs")
    assert Agency.objects.filter(code="tl2").exists()


def other_database_errors_pass_through() -> None:
    # SQLite reports a missing table as an OperationalError, as it reports a stopped statement.
    with pytest.raises(DatabaseError) as raised, statements_limited_to(5):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table_here")
    assert not isinstance(raised.value, TimeLimitExceeded)


def after_the_block_statements_are_not_limited() -> None:
    """Also inside a transaction that goes on after the block (each of these tests runs in
    one on PostgreSQL), and after a block that was stopped."""
    with statements_limited_to(0.01):
        pass
    with pytest.raises(TimeLimitExceeded), statements_limited_to(0.01):
        with connection.cursor() as cursor:
            cursor.execute(SLOW)
    with connection.cursor() as cursor:
        # A million rows, one at a time: far more than the block's hundredth of a second.
        cursor.execute(COUNT_TO.format(1_000_000))
        assert cursor.fetchone()[0] == 1_000_000


CHECKS = (
    a_slow_statement_is_stopped_and_the_block_undone,
    quick_statements_pass_and_the_block_commits,
    other_database_errors_pass_through,
    after_the_block_statements_are_not_limited,
)
