"""Comparing Neo4j with what PostgreSQL says the graph must be.

The expected graph is computed here from the records themselves, not from the sync's
projections or counts: what each record asserts from its mentions and links, who may
see each of those from their `viewer_agencies()` at this moment. So a projection gone wrong shows up as a
difference instead of being confirmed by its own copy.

The comparison streams entity id ranges on both sides, so memory stays flat; PostgreSQL
is read in one repeatable-read snapshot. Run it while the sync is idle: a change still
in the outbox is, correctly, a difference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min

from graph.driver import get_driver
from graph.schema import ENTITY_LABEL, LABELS, NODE_PROPERTIES, RELATIONSHIP_PROPERTIES, RELATIONSHIP_TYPES
from intel.models import Entity, Link, Mention

BEYOND = 2**62
CHECKSUM_MODULUS = 2**64

# A node for every entity a record asserts, by a mention or as an end of a link (whose
# relationship needs it); seen by the agencies that may see a mention of it, as the choke
# point decides whether an entity is visible.
EXPECTED_NODES = """
    SELECT e.id, e.type, e.key,
           coalesce(array_agg(DISTINCT seen.agency_id ORDER BY seen.agency_id)
                    FILTER (WHERE seen.agency_id IS NOT NULL), '{}')
    FROM intel_entity e
    JOIN (
        SELECT m.entity_id, v.agency_id FROM intel_mention m LEFT JOIN graph_verify_mentions v ON v.id = m.id
        WHERE m.entity_id >= %(lo)s AND m.entity_id < %(hi)s
        UNION ALL
        SELECT l.source_id, NULL FROM intel_link l WHERE l.source_id >= %(lo)s AND l.source_id < %(hi)s
        UNION ALL
        SELECT l.target_id, NULL FROM intel_link l WHERE l.target_id >= %(lo)s AND l.target_id < %(hi)s
    ) AS seen ON seen.entity_id = e.id
    GROUP BY e.id, e.type, e.key
"""

EXPECTED_RELATIONSHIPS = """
    SELECT l.source_id, l.target_id, l.type,
           array_agg(DISTINCT l.record_id ORDER BY l.record_id),
           array_agg(DISTINCT v.agency_id ORDER BY v.agency_id)
    FROM intel_link l
    JOIN graph_verify_links v ON v.id = l.id
    WHERE l.source_id >= %(lo)s AND l.source_id < %(hi)s
    GROUP BY l.source_id, l.target_id, l.type
"""

ACTUAL_NODES = f"""
    MATCH (n:{ENTITY_LABEL}) WHERE n.entity_id >= $lo AND n.entity_id < $hi
    RETURN n.entity_id AS id, labels(n) AS labels, n.key AS key, n.type AS type,
           n.visible_to AS visible_to, keys(n) AS properties
"""

ACTUAL_RELATIONSHIPS = f"""
    MATCH (a:{ENTITY_LABEL})-[r]->(b) WHERE a.entity_id >= $lo AND a.entity_id < $hi
    RETURN a.entity_id AS s, b.entity_id AS t, type(r) AS type, r.records AS records,
           r.visible_to AS visible_to, keys(r) AS properties
"""


def _digest(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big")


@dataclass
class Tally:
    """Count and order-independent checksum of one label's or type's elements."""

    count: int = 0
    checksum: int = 0

    def add(self, *parts: object) -> None:
        self.count += 1
        self.checksum = (self.checksum + _digest(*parts)) % CHECKSUM_MODULUS


@dataclass
class VerifyResult:
    differences: list[str] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


Report = Callable[[str], None]


def _ranges(batch_size: int) -> Iterator[tuple[int, int]]:
    bounds = Entity.objects.aggregate(low=Min("pk"), high=Max("pk"))
    low, high = bounds["low"], bounds["high"]
    if low is None:
        yield -BEYOND, BEYOND
        return
    starts = list(range(low, high + 1, batch_size))
    for index, start in enumerate(starts):
        lo = -BEYOND if index == 0 else start
        hi = BEYOND if index == len(starts) - 1 else start + batch_size
        yield lo, hi


def _load_viewers(batch_size: int) -> None:
    """Who may see each mention and each link now, into temporary tables, batch by batch."""
    with connection.cursor() as cursor:
        for table, model in (("graph_verify_mentions", Mention), ("graph_verify_links", Link)):
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (id bigint, agency_id int) ON COMMIT DROP")
            last = 0
            while True:
                ids = list(
                    model.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
                )
                if not ids:
                    break
                viewers = model.objects.filter(pk__in=ids).viewer_agencies()
                with cursor.cursor.copy(f"COPY {table} (id, agency_id) FROM STDIN") as copy:
                    for pk, agencies in viewers.items():
                        for agency in agencies:
                            copy.write_row((pk, agency))
                last = ids[-1]
            cursor.execute(f"CREATE INDEX ON {table} (id)")
            cursor.execute(f"ANALYZE {table}")


def _query(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _neo4j(query: str, **params: object) -> list:
    records, _, _ = get_driver().execute_query(query, params, database_=settings.NEO4J_DATABASE)
    return records


def _compare_nodes(lo: int, hi: int, result: VerifyResult, expected_tally: dict, actual_tally: dict) -> None:
    expected = {
        pk: (LABELS[type_], type_, key, list(agencies))
        for pk, type_, key, agencies in _query(EXPECTED_NODES, {"lo": lo, "hi": hi})
    }
    for label, _, key, agencies in expected.values():
        expected_tally[label].add(key, agencies)
    seen = set()
    for row in _neo4j(ACTUAL_NODES, lo=lo, hi=hi):
        pk = row["id"]
        seen.add(pk)
        labels = sorted(set(row["labels"]) - {ENTITY_LABEL})
        label = labels[0] if len(labels) == 1 else "|".join(labels) or "(none)"
        actual_tally.setdefault(label, Tally()).add(row["key"], list(row["visible_to"] or []))
        extra = sorted(set(row["properties"]) - NODE_PROPERTIES)
        if extra:
            result.differences.append(f"node {pk}: properties not allowed on the graph: {', '.join(extra)}")
        if pk not in expected:
            result.differences.append(f"node {pk} ({label} {row['key']!r}): in Neo4j, asserted by no record")
            continue
        want_label, want_type, want_key, want_agencies = expected[pk]
        if label != want_label or row["type"] != want_type or row["key"] != want_key:
            result.differences.append(
                f"node {pk}: PostgreSQL says {want_label} {want_key!r}, "
                f"Neo4j has {label} {row['type']!r} {row['key']!r}"
            )
        if list(row["visible_to"] or []) != want_agencies:
            result.differences.append(
                f"node {pk} ({want_label}): visible_to {want_agencies} in PostgreSQL, "
                f"{row['visible_to']} in Neo4j"
            )
    for pk in sorted(set(expected) - seen):
        label, _, key, agencies = expected[pk]
        result.differences.append(f"node {pk} ({label} {key!r}, visible_to {agencies}): missing in Neo4j")


def _compare_relationships(
    lo: int, hi: int, result: VerifyResult, expected_tally: dict, actual_tally: dict
) -> None:
    expected = {
        (s, t, type_): (list(records), list(agencies))
        for s, t, type_, records, agencies in _query(EXPECTED_RELATIONSHIPS, {"lo": lo, "hi": hi})
    }
    for (s, t, type_), (records, agencies) in expected.items():
        expected_tally[type_].add(s, t, records, agencies)
    seen = set()
    for row in _neo4j(ACTUAL_RELATIONSHIPS, lo=lo, hi=hi):
        identity = (row["s"], row["t"], row["type"])
        # The order of `records` in Neo4j is the order records came in: compare as sets.
        records, agencies = sorted(row["records"] or []), list(row["visible_to"] or [])
        name = f"{row['s']}-[{row['type']}]->{row['t']}"
        if identity in seen:
            result.differences.append(f"relationship {name}: duplicated in Neo4j")
        seen.add(identity)
        actual_tally.setdefault(row["type"], Tally()).add(row["s"], row["t"], records, agencies)
        extra = sorted(set(row["properties"]) - RELATIONSHIP_PROPERTIES)
        if extra:
            result.differences.append(f"relationship {name}: properties not allowed: {', '.join(extra)}")
        if identity not in expected:
            result.differences.append(f"relationship {name}: in Neo4j, asserted by no record")
            continue
        want_records, want_agencies = expected[identity]
        if records != want_records:
            result.differences.append(
                f"relationship {name}: records {want_records} in PostgreSQL, {records} in Neo4j"
            )
        if agencies != want_agencies:
            result.differences.append(
                f"relationship {name}: visible_to {want_agencies} in PostgreSQL, {agencies} in Neo4j"
            )
    for s, t, type_ in sorted(set(expected) - seen):
        records, agencies = expected[(s, t, type_)]
        result.differences.append(
            f"relationship {s}-[{type_}]->{t} (records {records}, visible_to {agencies}): missing in Neo4j"
        )


def _summarize(
    kind: str, names: list[str], expected: dict, actual: dict, totals: dict, result: VerifyResult
) -> None:
    for name in names:
        want, have = expected.get(name, Tally()), actual.get(name, Tally())
        ok = want.count == have.count == totals.get(name, 0) and want.checksum == have.checksum
        result.summary.append(
            f"{kind} {name:<16} PostgreSQL {want.count:>9}  Neo4j {totals.get(name, 0):>9}  "
            f"checksum {want.checksum:016x} / {have.checksum:016x}  {'ok' if ok else 'DIFFERENT'}"
        )
        if not ok and want.count == have.count and want.checksum == have.checksum:
            # Each element in range matched, yet the totals differ: strays the ranges miss.
            result.differences.append(
                f"{kind} {name}: {totals.get(name, 0)} in Neo4j in all, {want.count} expected "
                f"(elements outside the entity graph)"
            )


def verify(batch_size: int = 5000, progress: Callable[[str, int], None] | None = None) -> VerifyResult:
    result = VerifyResult()
    node_expected: dict[str, Tally] = {label: Tally() for label in LABELS.values()}
    node_actual: dict[str, Tally] = {}
    rel_expected: dict[str, Tally] = {rel_type: Tally() for rel_type in RELATIONSHIP_TYPES}
    rel_actual: dict[str, Tally] = {}
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot for the whole comparison; inside a caller's transaction, theirs.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        _load_viewers(batch_size)
        ranges = list(_ranges(batch_size))
        for done, (lo, hi) in enumerate(ranges, start=1):
            _compare_nodes(lo, hi, result, node_expected, node_actual)
            if progress:
                progress("nodes", done)
        for done, (lo, hi) in enumerate(ranges, start=1):
            _compare_relationships(lo, hi, result, rel_expected, rel_actual)
            if progress:
                progress("relationships", done)
    # Totals over the whole graph, whatever the ranges reached; a type or label Neo4j has
    # never seen is simply absent (asking for it by name only draws a warning).
    label_totals = {
        row["label"]: row["c"]
        for row in _neo4j("MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS c")
    }
    type_totals = {
        row["type"]: row["c"] for row in _neo4j("MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS c")
    }
    _summarize("nodes", list(LABELS.values()), node_expected, node_actual, label_totals, result)
    _summarize("relationships", list(RELATIONSHIP_TYPES), rel_expected, rel_actual, type_totals, result)
    return result
