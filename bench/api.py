"""The record list API at scale: guardian's direct foreign-key permissions (what
`Record.objects.visible_to` uses) against guardian's generic permissions, same data.

Data goes in with PostgreSQL COPY, not the ORM: a million records and the permission
rows that go with them load in a minute or two. Each of the 20 agencies owns an equal
share of the records and, as the importer writes them, its group holds change and
delete rows for its own records. Each agency also holds explicit `view_record` grants
on `grant_share` of every other agency's records; in the direct table some of those
have an expiry (most in the future, some already past), and the generic table, which
cannot express an expiry, holds exactly the grants still in force, so both variants
must return the same records. The benchmark checks that they do.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC as utc
from datetime import date, datetime, timedelta

from bench.common import ensure_agencies, reset_data, vacuum_analyze

ANALYST = "bench-analyst"
DIRECT_PATH = "/api/records/"

CATEGORIES = ("shipment",) * 17 + ("inspection",) * 2 + ("seizure",)
PORTS = ("NLRTM", "BEANR", "DEHAM", "CNSHA", "VNSGN", "USNYC", "SGSIN", "AEJEA", "BRSSZ", "ESALG")
HS = ("030389", "240220", "847130", "610910", "760429", "080390", "851713", "640411")


@dataclass
class Dataset:
    records: int
    agencies: int
    grant_share: float
    analyst_agency: str = ""
    visible_to_analyst: int = 0
    direct_view_grants: int = 0
    direct_expired_grants: int = 0
    generic_view_grants: int = 0
    owner_permission_rows: int = 0
    table_sizes: dict[str, str] = field(default_factory=dict)
    load_seconds: float = 0.0


@dataclass
class Variant:
    name: str
    path: str
    # PostgreSQL settings for this variant's requests, set before and reset after each.
    settings: dict[str, str] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    sql_ms: dict[str, list[float]] = field(default_factory=dict)

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (q in 0..100), as numpy's default computes it."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- loading ---------------------------------------------------------------------------


def populate(records: int, agency_count: int = 20, grant_share: float = 0.02, seed: int = 7) -> Dataset:
    """Replaces the bench data with `records` records and their permission rows."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from intel.models import Record
    from sharing.models import User

    started = time.perf_counter()
    reset_data()
    agencies = ensure_agencies(agency_count)
    analyst_agency = agencies[0]
    User.objects.update_or_create(
        username=ANALYST, defaults={"agency": analyst_agency, "role": User.Role.ANALYST}
    )
    ctype = ContentType.objects.get_for_model(Record)
    perms = {p.codename: p.pk for p in Permission.objects.filter(content_type=ctype)}
    rnd = random.Random(seed)
    now = datetime.now(tz=utc)
    first_day = date(2023, 1, 1)
    stats = Dataset(records=records, agencies=agency_count, grant_share=grant_share)
    stats.analyst_agency = analyst_agency.code

    # Records, then permissions, each committed and the records analysed in between: the
    # foreign keys are checked at COMMIT, and loaded in one transaction those checks once ran
    # for over ten minutes (two in another run), seemingly when autovacuum had analysed the
    # just-emptied records table during the COPY. In steps they check against fresh statistics.
    with transaction.atomic():
        raw = connection.connection  # psycopg's own connection, for COPY
        with raw.cursor() as cursor:
            # Every column of the model, so a column added later gets its model default.
            fields = Record._meta.concrete_fields
            defaults = {f.column: _column_default(f) for f in fields}
            columns = ", ".join(f.column for f in fields)
            with cursor.copy(f"COPY intel_record ({columns}) FROM STDIN") as copy:
                for pk in range(1, records + 1):
                    values = _record_values(pk, agencies[pk % agency_count].pk, rnd, first_day, now)
                    copy.write_row(tuple(values.get(f.column, defaults[f.column]) for f in fields))
            cursor.execute("SELECT setval(pg_get_serial_sequence('intel_record', 'id'), %s)", [records])
    vacuum_analyze("intel_record")

    with transaction.atomic():
        raw = connection.connection
        with raw.cursor() as cursor:
            # Drawn once, then written to both tables: one connection runs one COPY at a time.
            grants = []
            for pk in range(1, records + 1):
                owner = agencies[pk % agency_count]
                for grantee in agencies:
                    if grantee.pk == owner.pk or rnd.random() >= grant_share:
                        continue
                    roll = rnd.random()
                    expires = (
                        None
                        if roll < 0.8
                        else now + timedelta(days=30)
                        if roll < 0.95
                        else now - timedelta(days=1)
                    )
                    grants.append((pk, grantee.group_id, expires))
            owner_perms = (perms["change_record"], perms["delete_record"])
            with cursor.copy(
                "COPY intel_recordgroupobjectpermission"
                " (content_object_id, group_id, permission_id, expires_at) FROM STDIN"
            ) as copy:
                for pk in range(1, records + 1):
                    group_id = agencies[pk % agency_count].group_id
                    for perm in owner_perms:
                        copy.write_row((pk, group_id, perm, None))
                for pk, group_id, expires in grants:
                    copy.write_row((pk, group_id, perms["view_record"], expires))
            with cursor.copy(
                "COPY guardian_groupobjectpermission"
                " (object_pk, content_type_id, group_id, permission_id) FROM STDIN"
            ) as copy:
                for pk in range(1, records + 1):
                    group_id = agencies[pk % agency_count].group_id
                    for perm in owner_perms:
                        copy.write_row((str(pk), ctype.pk, group_id, perm))
                for pk, group_id, expires in grants:
                    if expires is None or expires > now:
                        copy.write_row((str(pk), ctype.pk, group_id, perms["view_record"]))
    owner_rows = 2 * records
    direct_view = len(grants)
    expired = sum(1 for _, _, expires in grants if expires is not None and expires <= now)
    generic_view = direct_view - expired
    stats.owner_permission_rows = owner_rows
    stats.direct_view_grants = direct_view
    stats.direct_expired_grants = expired
    stats.generic_view_grants = generic_view
    vacuum_analyze("intel_record", "intel_recordgroupobjectpermission", "guardian_groupobjectpermission")
    stats.load_seconds = time.perf_counter() - started

    with connection.cursor() as cursor:
        for table in ("intel_record", "intel_recordgroupobjectpermission", "guardian_groupobjectpermission"):
            cursor.execute(
                "SELECT pg_size_pretty(pg_total_relation_size(%s)), pg_size_pretty(pg_relation_size(%s))",
                [table, table],
            )
            total, heap = cursor.fetchone()
            stats.table_sizes[table] = f"{total} (heap {heap})"
    return stats


def _column_default(model_field) -> object:
    from django.db.models import JSONField

    value = model_field.get_default()
    return json.dumps(value) if isinstance(model_field, JSONField) else value


def _record_values(pk: int, owner_id: int, rnd: random.Random, first_day: date, now: datetime) -> dict:
    category = rnd.choice(CATEGORIES)
    details = {
        "port_of_loading": rnd.choice(PORTS),
        "port_of_discharge": rnd.choice(PORTS),
        "hs_codes": [rnd.choice(HS)],
        "declared_value": f"{rnd.randrange(500, 500_000)}.00",
        "currency": "EUR",
    }
    return {
        "id": pk,
        "owner_id": owner_id,
        "external_ref": f"REC-{pk:08d}",
        "category": category,
        "classification": rnd.choice((0, 1, 1, 2)),
        "caveats": "[]",
        "summary": f"{category.title()} of goods declared at {details['port_of_discharge']}",
        "occurred_on": first_day + timedelta(days=rnd.randrange(1185)),
        "details": json.dumps(details),
        "created_at": now,
        "updated_at": now,
        "content_hash": "",
    }


# --- measuring --------------------------------------------------------------------------


def _statement_kind(sql: str) -> str:
    if '"intel_record"' not in sql.split(" WHERE ", 1)[0]:
        return "other"
    if "COUNT(*)" in sql:
        return "count"
    if " LIMIT " in sql:
        return "page"
    return "other"


@contextmanager
def sql_timer(sink: dict[str, list[float]]) -> Iterator[None]:
    """Time spent in the database per kind of statement during one request."""
    from django.db import connection

    spent: dict[str, float] = {}

    def wrapper(execute: Callable, sql: str, params, many: bool, context: dict):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            kind = _statement_kind(sql)
            spent[kind] = spent.get(kind, 0.0) + (time.perf_counter() - started) * 1000

    with connection.execute_wrapper(wrapper):
        yield
    for kind in ("count", "page", "other"):
        sink.setdefault(kind, []).append(spent.get(kind, 0.0))


def measure(requests: int, warmup: int = 20) -> tuple[list[Variant], dict]:
    """Interleaves the variants request by request (A, B, C, D, E, A, B, ...), so drift in
    the machine's load falls on all of them alike."""
    from django.conf import settings
    from django.urls import clear_url_caches
    from rest_framework.test import APIClient

    from bench.urls import VARIANT_RECORDS_PATH
    from sharing.models import User

    settings.ROOT_URLCONF = "bench.urls"
    clear_url_caches()
    analyst = User.objects.get(username=ANALYST)
    client = APIClient()
    client.force_authenticate(analyst)
    variants = [
        Variant("direct FK (RecordGroupObjectPermission, visible_to)", DIRECT_PATH),
        Variant(
            "generic (GroupObjectPermission, guardian's pk::text IN shape)",
            VARIANT_RECORDS_PATH + "?shape=in",
        ),
        Variant(
            "generic (GroupObjectPermission, EXISTS on object_pk = pk::text)",
            VARIANT_RECORDS_PATH + "?shape=exists",
        ),
        Variant("direct FK, with PostgreSQL's JIT off for the request", DIRECT_PATH, {"jit": "off"}),
        Variant(
            "direct FK, grants filtered on the group and permission ids (no joins)",
            VARIANT_RECORDS_PATH + "?shape=direct-ids",
        ),
    ]

    answers = {}
    for variant in variants:
        with session_settings(variant.settings):
            response = client.get(variant.path)
        if response.status_code != 200:
            raise RuntimeError(f"{variant.path}: HTTP {response.status_code}")
        body = response.json()
        answers[variant.name] = (body["count"], [row["id"] for row in body["results"]])
    if len({str(answer) for answer in answers.values()}) != 1:
        raise RuntimeError(f"the variants disagree on what the analyst sees: {answers}")
    count, first_page = next(iter(answers.values()))
    check = {"count": count, "page_size": len(first_page), "identical": True}

    for _ in range(warmup):
        for variant in variants:
            with session_settings(variant.settings):
                client.get(variant.path)
    for _ in range(requests):
        for variant in variants:
            with session_settings(variant.settings), sql_timer(variant.sql_ms):
                started = time.perf_counter()
                response = client.get(variant.path)
                variant.latencies_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{variant.path}: HTTP {response.status_code}")
    return variants, check


@contextmanager
def session_settings(values: dict[str, str]) -> Iterator[None]:
    from django.db import connection

    if not values:
        yield
        return
    with connection.cursor() as cursor:
        for name, value in values.items():
            cursor.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for name in values:
                cursor.execute(f"RESET {name}")


def explain(path: str, settings: dict[str, str] | None = None) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the count and page queries one request really sent."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from sharing.models import User

    client = APIClient()
    client.force_authenticate(User.objects.get(username=ANALYST))
    with session_settings(settings or {}), CaptureQueriesContext(connection) as captured:
        client.get(path)
    plans = {}
    with session_settings(settings or {}), connection.cursor() as cursor:
        for query in captured.captured_queries:
            kind = _statement_kind(query["sql"])
            if kind in ("count", "page") and kind not in plans:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                plan = "\n".join(row[0] for row in cursor.fetchall())
                plans[kind] = f"{query['sql']}\n\n{plan}"
    return plans


def summarize(variants: list[Variant]) -> list[dict]:
    base = variants[0]
    rows = []
    for variant in variants:
        rows.append(
            {
                "name": variant.name,
                "requests": len(variant.latencies_ms),
                "p50_ms": variant.p(50),
                "p95_ms": variant.p(95),
                "mean_ms": statistics.fmean(variant.latencies_ms),
                "count_sql_p50_ms": percentile(variant.sql_ms.get("count", []), 50),
                "page_sql_p50_ms": percentile(variant.sql_ms.get("page", []), 50),
                "other_sql_p50_ms": percentile(variant.sql_ms.get("other", []), 50),
                "p50_ratio": variant.p(50) / base.p(50),
                "p95_ratio": variant.p(95) / base.p(95),
            }
        )
    return rows
