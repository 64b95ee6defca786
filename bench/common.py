"""What every benchmark process shares: the bench database, Django set-up, resets.

Benchmarks run only against the database named `interlink_bench`, never the dev
database or a test database: `bench_database_url` derives its address from the
DATABASE_URL the environment gives and swaps the name, and `setup_django` refuses to
start on any other name.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Another name only for a second bench database beside the first (a branch measured while
# the lead's run holds `interlink_bench`); always starting with that name.
BENCH_DB = os.environ.get("BENCH_DATABASE", "interlink_bench")
if not BENCH_DB.startswith("interlink_bench"):
    raise SystemExit(f"BENCH_DATABASE must start with interlink_bench, not {BENCH_DB!r}")
WORK_DIR = ROOT / "var" / "bench"

# Tables the benchmarks fill; truncated between stages so each starts from the same state.
DATA_TABLES = (
    "intel_resolutioncandidate",
    "intel_entitymerge",
    "intel_link",
    "intel_mention",
    "intel_recordgroupobjectpermission",
    "intel_recorduserobjectpermission",
    "guardian_groupobjectpermission",
    "sharing_disclosurerequest_records",
    "sharing_disclosurerequest",
    "sharing_recordrelease",
    "intel_record",
    "sharing_agreementparty",
    "sharing_agreement",
    "intel_entity",
    "intel_importbatch",
    "audit_auditevent",
)


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between the nearest ranks (q in 0..100), numpy's default; NaN of
    no values."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bench_database_url(source: str | None = None) -> str:
    """The address of the bench database: the configured server, role and password, our own name."""
    source = source or os.environ.get("DATABASE_URL", "")
    parts = urlsplit(source)
    if not parts.scheme.startswith("postgres"):
        raise SystemExit(
            "the benchmarks need PostgreSQL: run them through platform/with-env so DATABASE_URL is set"
        )
    return urlunsplit(parts._replace(path=f"/{BENCH_DB}"))


def bench_env() -> dict[str, str]:
    # Its own Celery queue and cache prefix: the graph outbox's drains a served request
    # queues are never taken by a worker of the dev database.
    return {
        **os.environ,
        "DATABASE_URL": bench_database_url(),
        "DJANGO_DEBUG": "false",
        "CELERY_QUEUE": "interlink-bench",
        "CACHE_KEY_PREFIX": "bench",
    }


def ensure_database(recreate: bool = True) -> None:
    """Creates the bench database (the role has CREATEDB) and migrates it.

    Recreated by default: migrations change while the project is being built, and a
    bench database migrated from an earlier draft of one would not match the models."""
    import psycopg

    url = bench_database_url()
    admin_url = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if recreate:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=bench_env(),
        check=True,
    )


def setup_django() -> None:
    """Django on the bench database, with DEBUG off as in production.

    DEBUG on would keep every SQL statement in `connection.queries` and cost time in
    each query, which production does not pay.
    """
    os.environ.update(bench_env())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django
    from django.conf import settings

    django.setup()
    name = settings.DATABASES["default"]["NAME"]
    if name != BENCH_DB:
        raise SystemExit(f"refusing to benchmark on database {name!r}; only {BENCH_DB!r}")


def reset_data() -> None:
    """Empties the tables the benchmarks fill. TRUNCATE, not DELETE: the audit log's
    trigger refuses row deletes, and TRUNCATE of a million rows is instant."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")


def ensure_agencies(count: int, prefix: str = "bench") -> list:
    """`count` agencies (each with its guardian group), created on first use."""
    from agencies.models import Agency

    kinds = [choice for choice, _ in Agency.Kind.choices]
    countries = ["NL", "BE", "DE", "FR", "ES", "IT", "PL", "SE", "DK", "PT"]
    agencies = []
    for index in range(count):
        agency = Agency.objects.filter(code=f"{prefix}-{index:02d}").first()
        if agency is None:
            agency = Agency(
                code=f"{prefix}-{index:02d}",
                name=f"Bench agency {index:02d}",
                country=countries[index % len(countries)],
                kind=kinds[index % len(kinds)],
            )
            agency.save()
        agencies.append(agency)
    return agencies


def vacuum_analyze(*tables: str) -> None:
    """Fresh statistics and visibility map, as autovacuum would give a settled table."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM (ANALYZE) {table}")


@contextmanager
def stopwatch(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = time.perf_counter() - started


def high_water_mib(pid: int | str) -> float:
    """VmHWM: the high-water mark of a process's own memory since it started (or exec'd).

    Not ru_maxrss: Linux carries the parent's high-water mark into a child across fork
    and exec, so a child of a big benchmark driver would report the driver's size."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")
