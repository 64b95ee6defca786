"""The project's PostgreSQL backend (core/postgresql) reads timestamps with psycopg's
compiled loader, and they come back as Django's own loader gave them: aware, in UTC, to the
microsecond, whatever offset they were written with. And how an import's statements are
planned on it (`intel.lookups.planned_as_lookups`), and the session settings its connections
start with."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.conf import settings
from django.db import DataError, connection

from core.postgresql.base import CompiledUtcLoader
from intel.lookups import planned_as_lookups
from intel.models import Entity

pytestmark = pytest.mark.django_db


def read(sql: str, params: list | None = None) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()


def test_connections_read_timestamps_with_the_compiled_loader():
    read("SELECT 1")
    assert connection.connection.adapters.get_loader(1184, 0) is CompiledUtcLoader


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2024-02-29 23:59:59.999999+00", datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2024-01-01 10:00:00.5+02", datetime(2024, 1, 1, 8, 0, 0, 500000, tzinfo=UTC)),
        ("1999-12-31 22:30:00-05:30", datetime(2000, 1, 1, 4, 0, tzinfo=UTC)),
        ("0001-01-01 00:00:00+00", datetime(1, 1, 1, tzinfo=UTC)),
    ],
)
def test_a_timestamp_reads_back_in_utc_to_the_microsecond(written, expected):
    (value,) = read("SELECT %s::timestamptz", [written])
    assert value == expected
    assert value.utcoffset() == timedelta(0)
    assert value.tzinfo == UTC


def test_an_aware_timestamp_written_from_another_zone_reads_back_as_the_same_instant():
    written = datetime(2026, 7, 1, 12, 0, 0, 123456, tzinfo=timezone(timedelta(hours=-7)))
    (value,) = read("SELECT %s::timestamptz", [written])
    assert value == written
    assert value.isoformat() == "2026-07-01T19:00:00.123456+00:00"


def test_null_and_infinity_are_read_as_django_reads_them():
    assert read("SELECT NULL::timestamptz") == (None,)
    with pytest.raises(DataError, match=r"(?i)infinity|too large|year"):
        read("SELECT 'infinity'::timestamptz")


def prepared_statements() -> int:
    (count,) = read(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement NOT LIKE %s", ["%pg_prepared%"]
    )
    return count


def look_up_keys(times: int) -> None:
    for _ in range(times):
        list(Entity.objects.filter(type="company", key__any_of=["NL:reg:1", "NL:reg:2"]).values_list("pk"))


def test_an_imports_lookups_are_planned_for_their_values_and_never_prepared():
    """The server prepares a statement run five times on a connection (config/settings.py),
    and PostgreSQL may then keep one generic plan for it; an import's lookups are planned
    each time for the keys they ask, as the tables grow within its transaction."""
    before = prepared_statements()
    with planned_as_lookups():
        assert read("SHOW enable_seqscan") == ("off",)
        look_up_keys(8)
        assert prepared_statements() == before
    assert read("SHOW enable_seqscan") == ("on",)
    look_up_keys(8)
    assert prepared_statements() == before + 1, "outside an import, the statement is prepared"


SHOW_PARALLEL_WORKERS = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('SHOW max_parallel_workers_per_gather')\n"
    "    print(cursor.fetchone()[0])"
)


def parallel_workers_of_a_process(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", SHOW_PARALLEL_WORKERS],
        cwd=settings.BASE_DIR,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_statement_starts_no_parallel_workers_unless_the_deployment_allows_some():
    """Under concurrent users a statement's parallel workers took the cores the other requests
    needed (config/settings.py); a deployment with cores to spare sets DATABASE_PARALLEL_WORKERS."""
    assert read("SHOW max_parallel_workers_per_gather") == ("0",)
    assert read("SHOW jit") == ("off",)
    allowed = parallel_workers_of_a_process(DATABASE_PARALLEL_WORKERS="2")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.split()[-1] == "2"
    unset = parallel_workers_of_a_process(DATABASE_PARALLEL_WORKERS="")
    assert unset.returncode == 0, unset.stderr
    assert unset.stdout.split()[-1] == "0"
    for wrong, told in [
        ("two", "DATABASE_PARALLEL_WORKERS must be a whole number"),
        ("-1", "DATABASE_PARALLEL_WORKERS must be 0 to 1024, got -1"),
        ("1025", "DATABASE_PARALLEL_WORKERS must be 0 to 1024, got 1025"),
    ]:
        refused = parallel_workers_of_a_process(DATABASE_PARALLEL_WORKERS=wrong)
        assert refused.returncode != 0
        assert told in refused.stderr
