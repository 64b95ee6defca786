"""The record list and detail APIs at scale, with sharing agreements: guardian's direct
foreign-key permissions (what `Record.objects.visible_to` uses) against guardian's
generic permissions, same data.

Data goes in with PostgreSQL COPY, not the ORM: a million records and the permission
rows that go with them load in a minute or two. Each of the 20 agencies owns an equal
share of the records and, as the importer writes them, its group holds change and
delete rows for its own records. Each agency also holds explicit `view_record` grants
on `grant_share` of every other agency's records; in the direct table some of those
have an expiry (most in the future, some already past), and the generic table, which
cannot express an expiry, holds exactly the grants still in force, so both variants
must return the same records. The benchmark checks that they do.

The analyst's agency is a party to 50 agreements in force (19 bilateral, 31 with two to
five other parties), and to 10 that are not (suspended, past their end date, unsigned);
40 more bind the other agencies among themselves. Owners release 30% of their records to
every covering agreement and 10% by name to one agreement they provide under. The count
the analyst should see is computed here, in Python, from those facts (an oracle written
apart from the choke point), and the benchmark fails when the API says otherwise.
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
from config.runtime import settle_heap

ANALYST = "bench-analyst"
PURPOSE = "risk_assessment"
OTHER_PURPOSES = ("investigation", "intelligence", "prosecution")
DIRECT_PATH = f"/api/records/?purpose={PURPOSE}"

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
    visible_by_agreement: int = 0
    agreements_in_force_for_analyst: int = 0
    agreements: int = 0
    releases_by_name: int = 0
    direct_view_grants: int = 0
    direct_expired_grants: int = 0
    generic_view_grants: int = 0
    owner_permission_rows: int = 0
    table_sizes: dict[str, str] = field(default_factory=dict)
    load_seconds: float = 0.0
    # Records the analyst reads only under an agreement, for the detail benchmark.
    shared_sample: list[int] = field(default_factory=list)


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


@dataclass
class BenchAgreement:
    pk: int
    categories: tuple[str, ...]
    ceiling: int
    providers: frozenset[int]
    receivers: frozenset[int]
    in_force: bool


def populate(records: int, agency_count: int = 20, grant_share: float = 0.02, seed: int = 7) -> Dataset:
    """Replaces the bench data with `records` records, their permission rows, agreements
    and releases."""
    from django.contrib.auth.models import Permission
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from agencies.models import User
    from intel.models import Record

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
    agreements = create_agreements([a.pk for a in agencies], rnd, now)
    stats.agreements = len(agreements)
    provides_under = {
        agency.pk: [a.pk for a in agreements if a.in_force and agency.pk in a.providers]
        for agency in agencies
    }
    oracle = VisibilityOracle(analyst_agency.pk, agreements)

    # Records, then permissions, each committed and the records analysed in between: the
    # foreign keys are checked at COMMIT, and loaded in one transaction those checks once ran
    # for over ten minutes (two in another run), seemingly when autovacuum had analysed the
    # just-emptied records table during the COPY. In steps they check against fresh statistics.
    releases = []
    with transaction.atomic():
        raw = connection.connection  # psycopg's own connection, for COPY
        with raw.cursor() as cursor:
            # Every column of the model, so a column added later gets its model default.
            fields = Record._meta.concrete_fields
            defaults = {f.column: _column_default(f) for f in fields}
            columns = ", ".join(f.column for f in fields)
            with cursor.copy(f"COPY intel_record ({columns}) FROM STDIN") as copy:
                for pk in range(1, records + 1):
                    owner_id = agencies[pk % agency_count].pk
                    values = _record_values(pk, owner_id, rnd, first_day, now)
                    roll = rnd.random()
                    if roll < 0.3:
                        values["releasability"] = "covering"
                    elif roll < 0.4 and provides_under[owner_id]:
                        values["releasability"] = "named"
                        releases.append((pk, rnd.choice(provides_under[owner_id]), owner_id))
                    oracle.add_record(pk, values)
                    copy.write_row(tuple(values.get(f.column, defaults[f.column]) for f in fields))
            cursor.execute("SELECT setval(pg_get_serial_sequence('intel_record', 'id'), %s)", [records])
    stats.releases_by_name = len(releases)
    vacuum_analyze("intel_record")

    with transaction.atomic():
        raw = connection.connection
        with raw.cursor() as cursor:
            # After the records' statistics: checked against a table the planner believed
            # empty, each release's foreign key scanned all the records.
            with cursor.copy(
                "COPY sharing_recordrelease (record_id, agreement_id, released_by_id, released_at, hops, "
                "inherited_redactions) FROM STDIN"
            ) as copy:
                # The owners' own releases: no onward step, nothing inherited.
                for pk, agreement_id, owner_id in releases:
                    oracle.add_release(pk, agreement_id)
                    copy.write_row((pk, agreement_id, owner_id, now, 0, "[]"))
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
                    if grantee.pk == analyst_agency.pk and (expires is None or expires > now):
                        oracle.add_grant(pk)
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
    stats.agreements_in_force_for_analyst = len(oracle.receiving)
    stats.visible_to_analyst = len(oracle.visible)
    stats.visible_by_agreement = len(oracle.by_agreement)
    only_shared = sorted(oracle.by_agreement - oracle.granted)
    stats.shared_sample = rnd.sample(only_shared, min(500, len(only_shared)))
    vacuum_analyze(
        "intel_record",
        "sharing_recordrelease",
        "intel_recordgroupobjectpermission",
        "guardian_groupobjectpermission",
    )
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


class VisibilityOracle:
    """What the analyst's agency may read for PURPOSE, from the rules as written in
    DESIGN.md, not from the choke point: its own records, unexpired grants, and records
    released (to every covering agreement, or by name) under an agreement in force in
    which the agency receives, the owner provides, and whose scope covers the record."""

    def __init__(self, agency_id: int, agreements: list[BenchAgreement]):
        self.agency_id = agency_id
        self.receiving = {a.pk: a for a in agreements if a.in_force and agency_id in a.receivers}
        self.records: dict[int, tuple[int, str, int]] = {}
        self.visible: set[int] = set()
        self.by_agreement: set[int] = set()
        self.granted: set[int] = set()

    def add_record(self, pk: int, values: dict) -> None:
        owner, category, level = values["owner_id"], values["category"], values["classification"]
        self.records[pk] = (owner, category, level)
        if owner == self.agency_id:
            self.visible.add(pk)
        elif values.get("releasability") == "covering" and any(
            self._covers(a, owner, category, level) for a in self.receiving.values()
        ):
            self._add_shared(pk)

    def add_release(self, pk: int, agreement_id: int) -> None:
        owner, category, level = self.records[pk]
        agreement = self.receiving.get(agreement_id)
        if owner != self.agency_id and agreement and self._covers(agreement, owner, category, level):
            self._add_shared(pk)

    def add_grant(self, pk: int) -> None:
        self.visible.add(pk)
        self.granted.add(pk)

    def _add_shared(self, pk: int) -> None:
        self.visible.add(pk)
        self.by_agreement.add(pk)

    @staticmethod
    def _covers(agreement: BenchAgreement, owner: int, category: str, level: int) -> bool:
        return (
            owner in agreement.providers and category in agreement.categories and level <= agreement.ceiling
        )


def create_agreements(agency_ids: list[int], rnd: random.Random, now: datetime) -> list[BenchAgreement]:
    """50 agreements in force with the first agency as a party, 10 with it that are not in
    force, and 40 among the others; every one permits PURPOSE."""
    from sharing.models import Agreement, AgreementParty

    analyst, others = agency_ids[0], agency_ids[1:]
    specs: list[tuple[list[int], str]] = [([analyst, other], "active") for other in others]
    specs += [([analyst, *rnd.sample(others, rnd.randint(2, 5))], "active") for _ in range(50 - len(specs))]
    specs += [([analyst, rnd.choice(others)], state) for state in ("suspended",) * 4 + ("expired",) * 3]
    specs += [([analyst, rnd.choice(others)], "proposed") for _ in range(3)]
    specs += [(rnd.sample(others, rnd.randint(2, 4)), "active") for _ in range(40)]
    created = []
    for index, (parties, state) in enumerate(specs):
        categories = tuple(sorted(rnd.sample(("shipment", "inspection", "seizure"), rnd.randint(1, 3))))
        if len(parties) == 2 and index < len(others):
            categories = ("inspection", "seizure", "shipment")
        agreement = Agreement.objects.create(
            reference=f"BENCH-{index:03d}",
            title=f"Bench agreement {index}",
            status=state,
            starts_at=now - timedelta(days=400),
            ends_at=now - timedelta(days=1) if state == "expired" else now + timedelta(days=400),
            categories=list(categories),
            classification_ceiling=rnd.choice((1, 1, 2, 3)),
            purposes=[PURPOSE, *rnd.sample(OTHER_PURPOSES, rnd.randint(0, 2))],
            redacted_fields=rnd.choice(([], [], ["phone", "email"])),
            fully_signed_at=None if state == "proposed" else now - timedelta(days=400),
        )
        # One party in five only receives, except the analyst's, which receives and provides.
        roles = {agency: agency == analyst or rnd.random() >= 0.2 for agency in parties}
        AgreementParty.objects.bulk_create(
            AgreementParty(
                agreement=agreement,
                agency_id=agency,
                provides=roles[agency],
                receives=True,
                signed_at=agreement.fully_signed_at,
            )
            for agency in parties
        )
        created.append(
            BenchAgreement(
                agreement.pk,
                categories,
                agreement.classification_ceiling,
                frozenset(a for a, provides in roles.items() if provides),
                frozenset(parties),
                state == "active",
            )
        )
    return created


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


def measure(dataset: Dataset, requests: int, warmup: int = 20) -> tuple[list[Variant], dict]:
    """Interleaves the variants request by request (A, B, C, A, B, ...), so drift in the
    machine's load falls on all of them alike."""
    from django.conf import settings
    from django.urls import clear_url_caches
    from rest_framework.test import APIClient

    from agencies.models import User
    from bench.urls import VARIANT_RECORDS_PATH

    settings.ROOT_URLCONF = "bench.urls"
    clear_url_caches()
    analyst = User.objects.get(username=ANALYST)
    client = APIClient()
    client.force_authenticate(analyst)
    variants = [
        Variant("direct FK (RecordGroupObjectPermission, visible_to)", DIRECT_PATH),
        Variant(
            "generic (GroupObjectPermission, guardian's pk::text IN shape)",
            f"{VARIANT_RECORDS_PATH}?purpose={PURPOSE}",
        ),
        Variant("direct FK, with PostgreSQL's JIT on for the request", DIRECT_PATH, {"jit": "on"}),
    ]

    answers = {}
    for variant in variants:
        with session_settings(variant.settings):
            response = client.get(variant.path)
        if response.status_code != 200:
            raise RuntimeError(f"{variant.path}: HTTP {response.status_code}")
        body = response.json()
        answers[variant.name] = (body["count"], body["count_exact"], [row["id"] for row in body["results"]])
    if len({str(answer) for answer in answers.values()}) != 1:
        raise RuntimeError(f"the variants disagree on what the analyst sees: {answers}")
    count, exact, first_page = next(iter(answers.values()))
    # The API counts up to its limit; the choke point itself counts everything.
    limit = settings.PAGINATION_COUNT_LIMIT
    expected = dataset.visible_to_analyst
    if (count, exact) != (min(expected, limit), expected <= limit):
        raise RuntimeError(f"the API shows {count} records (exact: {exact}), the oracle says {expected}")
    from intel.models import Record

    everything = Record.objects.visible_to(analyst, PURPOSE).count()
    if everything != expected:
        raise RuntimeError(f"the choke point counts {everything} records, the oracle says {expected}")
    check = {
        "count": count,
        "count_exact": exact,
        "count_limit": limit,
        "choke_point_count": everything,
        "page_size": len(first_page),
        "identical": True,
        "oracle_agrees": True,
    }

    for _ in range(warmup):
        for variant in variants:
            with session_settings(variant.settings):
                client.get(variant.path)
    # As a served process does once it is loaded (config/wsgi.py).
    settle_heap()
    for _ in range(requests):
        for variant in variants:
            with session_settings(variant.settings), sql_timer(variant.sql_ms):
                started = time.perf_counter()
                response = client.get(variant.path)
                variant.latencies_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"{variant.path}: HTTP {response.status_code}")
    return variants, check


def measure_detail(dataset: Dataset, requests: int, warmup: int = 20) -> dict:
    """GET /api/records/ID/ for records the analyst reads only under an agreement, with the
    purpose stated: the purpose check, redaction and the audit write included."""
    from rest_framework.test import APIClient

    from agencies.models import User
    from audit.models import AuditEvent

    client = APIClient()
    client.force_authenticate(User.objects.get(username=ANALYST))
    sample = dataset.shared_sample
    audited_before = AuditEvent.objects.count()
    latencies = []
    for index in range(warmup + requests):
        record_id = sample[index % len(sample)]
        started = time.perf_counter()
        response = client.get(f"/api/records/{record_id}/?purpose={PURPOSE}")
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"record {record_id}: HTTP {response.status_code} {response.content[:200]!r}")
        if index >= warmup:
            latencies.append(elapsed)
    audited = AuditEvent.objects.count() - audited_before
    if audited != warmup + requests:
        raise RuntimeError(f"{warmup + requests} reads of shared records wrote {audited} audit events")
    return {
        "requests": requests,
        "warmup": warmup,
        "distinct_records": min(len(sample), warmup + requests),
        "audit_events_written": audited,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "mean_ms": statistics.fmean(latencies),
    }


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

    from agencies.models import User

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
