"""Bringing Neo4j up to date with PostgreSQL, a batch of records at a time.

For each record in a batch the sync reads, from PostgreSQL, what it asserts (the
entities it mentions or links, and its links) and who may see each of those now (the
mentions' and links' `viewer_agencies()`, the visibility rule turned around, redaction
included), and stores that as the record's projection, moving per-element viewer
counts (how many synced records asserting the element each agency may see) by the
difference from the previous projection. An element whose set of agencies changed (a
count reached or left zero), or whose records did, is then written: a node's or
relationship's `visible_to` is the agencies with a count above zero; a relationship's
`records` (the synced records asserting it) gains and loses the batch's own records. An
element no synced record asserts any more is removed. The rest is already as the graph
shows it, and is left alone (a graph that lost data is what `graph_resync` is for).

Concurrency: two batches must never compute the same element at once, or the later
write could carry the older state. A batch first locks its records' projection rows (a
row lock, taken in ascending order, an empty row made for a record never synced), so no
two batches sync one record at once; it then reads and stores their projections, which
concern those records alone. Only then does it take PostgreSQL advisory locks on the
partitions of the entities it touches, in ascending order (so two batches cannot
deadlock), and hold them while it moves the viewer counts, writes Neo4j and commits. A
node is thus never in two concurrent batches, and each relationship's endpoints are
locked by the one batch writing it, so Neo4j sees no lock cycles between sync batches
either. Batches overlap in everything up to the entity locks, and entirely when their
entities fall in disjoint partitions.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from neo4j.exceptions import ServiceUnavailable, SessionExpired

from graph.models import OutboxEntry, RecordProjection
from graph.writer import GraphChanges, write
from intel.access import access_policy
from intel.models import Link, Mention, Record
from intel.querysets import among

logger = logging.getLogger(__name__)

# The advisory lock key space (the first int4 of pg_advisory_xact_lock(int4, int4)).
ENTITY_LOCK_SPACE = 0x6772_0002
ENTITY_PARTITIONS = 256

Triple = tuple[int, int, str]

MAX_BACKOFF_SECONDS = 300
# Failures of the services themselves: no row is at fault, so none is deferred.
UNAVAILABLE = (ServiceUnavailable, SessionExpired, OperationalError, InterfaceError)


@dataclass
class BatchResult:
    records: int = 0
    failed: int = 0
    outbox_rows: int = 0
    nodes: int = 0
    relationships: int = 0
    removed: int = 0

    @property
    def elements(self) -> int:
        return self.nodes + self.relationships + self.removed


def _lock(space: int, keys: Iterable[int], shared: bool = False) -> None:
    # unnest yields the sorted array in order, so the locks are taken in that order.
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count({function}(%s, k)) FROM unnest(%s::int[]) AS k",  # noqa: S608 - a constant
            [space, sorted(set(keys))],
        )


def bulk_cursor(name: str | None = None) -> psycopg.Cursor | psycopg.ServerCursor:
    """A cursor in Django's connection and transaction that sends parameters apart from the
    statement: Django's own quotes every array element into the SQL text in Python, which
    for a batch's tens of thousands of ids cost more than running the statements. Named,
    a server-side cursor, whose rows arrive as they are read."""
    connection.ensure_connection()
    if name:
        return psycopg.ServerCursor(connection.connection, name)
    return psycopg.Cursor(connection.connection)


def lock_records(record_ids: Iterable[int]) -> None:
    """Row locks on the records' projections, held to the end of the transaction. Not
    advisory locks on partitions of records: a batch's 2,000 records cover most of any
    small number of partitions, so every two batches would wait for each other. A record
    never synced gets an empty projection to lock (inserted in ascending order too, so two
    batches making the same rows wait rather than deadlock); the batch stores its real
    projection, or deletes the row, before committing."""
    ids = sorted(set(record_ids))
    with bulk_cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO graph_recordprojection (record_id, agencies, entities, links, synced_at)
            SELECT pk, '[]', '{}', '[]', clock_timestamp() FROM unnest(%s::bigint[]) AS pk
            ON CONFLICT (record_id) DO NOTHING
            """,
            [ids],
        )
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM graph_recordprojection WHERE record_id = ANY(%s) "
            "ORDER BY record_id FOR UPDATE) AS locked",
            [ids],
        )


def lock_entities(entity_ids: Iterable[int]) -> None:
    _lock(ENTITY_LOCK_SPACE, (pk % ENTITY_PARTITIONS for pk in entity_ids))


def lock_all_entities(shared: bool = False) -> None:
    """For work whose relationships may reach any node. A resync's ranges take them
    shared: their elements are disjoint, so they may run side by side, but no batch may
    run beside any of them."""
    _lock(ENTITY_LOCK_SPACE, range(ENTITY_PARTITIONS), shared)


def next_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('graph_sync_version')")
        return cursor.fetchone()[0]


# --- reading the state of elements ---------------------------------------------------

# Each wanted entity's counts sought by index (joined as sets, the planner read and
# sorted the whole count table for a batch's few thousand entities).
NODES_SQL = """
    SELECT e.id, e.type, e.key, viewers.agencies
    FROM intel_entity e CROSS JOIN LATERAL (
        SELECT array_agg(v.agency_id ORDER BY v.agency_id) AS agencies
        FROM graph_nodeviewers v WHERE v.entity_id = e.id AND v.records > 0
    ) AS viewers
    WHERE {condition} AND viewers.agencies IS NOT NULL
    ORDER BY e.id
"""

# The full state, for a resync: `records` lists the synced records asserting the
# relationship, read from the links themselves (both tables narrowed to the range, or the
# planner scans every link for each range).
RELATIONSHIPS_BY_SOURCE_RANGE = """
    WITH viewers AS (
        SELECT v.source_id, v.target_id, v.type, array_agg(v.agency_id ORDER BY v.agency_id) AS agencies
        FROM graph_relationshipviewers v
        WHERE v.source_id >= %(lo)s AND v.source_id < %(hi)s AND v.records > 0
        GROUP BY v.source_id, v.target_id, v.type
    )
    SELECT v.source_id, v.target_id, v.type, array_agg(l.record_id ORDER BY l.record_id), v.agencies
    FROM viewers v
    JOIN intel_link l ON l.source_id = v.source_id AND l.target_id = v.target_id AND l.type = v.type
    JOIN graph_recordprojection p ON p.record_id = l.record_id
    WHERE l.source_id >= %(lo)s AND l.source_id < %(hi)s
    GROUP BY v.source_id, v.target_id, v.type, v.agencies
    ORDER BY v.source_id, v.target_id, v.type
"""

# For a batch: only `visible_to`; `records` travels as the batch's own additions and
# removals (see `record_changes`), so a relationship asserted by thousands of records
# costs the batch no more than one asserted by a few.
RELATIONSHIP_VIEWERS_BY_TRIPLE = """
    SELECT w.s, w.t, w.type, viewers.agencies
    FROM unnest(%(sources)s::bigint[], %(targets)s::bigint[], %(types)s::text[]) AS w(s, t, type)
    CROSS JOIN LATERAL (
        SELECT array_agg(v.agency_id ORDER BY v.agency_id) AS agencies
        FROM graph_relationshipviewers v
        WHERE v.source_id = w.s AND v.target_id = w.t AND v.type = w.type AND v.records > 0
    ) AS viewers
    WHERE viewers.agencies IS NOT NULL
"""

NODES_BY_ID = NODES_SQL.format(condition="e.id = ANY(%(ids)s)")
NODES_BY_RANGE = NODES_SQL.format(condition="e.id >= %(lo)s AND e.id < %(hi)s")


def _nodes(sql: str, params: dict) -> list[dict]:
    with bulk_cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"id": pk, "type": type_, "key": key, "visible_to": agencies}
            for pk, type_, key, agencies in cursor.fetchall()
        ]


def node_states(entity_ids: Iterable[int]) -> list[dict]:
    """The state of each given entity that some synced record asserts."""
    ids = sorted(set(entity_ids))
    return _nodes(NODES_BY_ID, {"ids": ids}) if ids else []


def node_states_in_range(lo: int, hi: int) -> list[dict]:
    return _nodes(NODES_BY_RANGE, {"lo": lo, "hi": hi})


def relationship_viewers(triples: Iterable[Triple]) -> dict[Triple, list[int]]:
    """`visible_to` of each given (source, target, type) that some synced record asserts."""
    wanted = sorted(set(triples))
    if not wanted:
        return {}
    sources, targets, types = (list(column) for column in zip(*wanted, strict=True))
    with bulk_cursor() as cursor:
        cursor.execute(
            RELATIONSHIP_VIEWERS_BY_TRIPLE, {"sources": sources, "targets": targets, "types": types}
        )
        return {(s, t, type_): agencies for s, t, type_, agencies in cursor.fetchall()}


# A chunk of relationship states ends at this many rows or this many record ids in their
# `records` lists, whichever comes first: a range holding a busy broker's relationships
# carries millions of record ids, which would otherwise all be in memory at once.
CHUNK_ROWS = 5000
CHUNK_RECORD_IDS = 200_000


def relationship_states_from_sources(lo: int, hi: int) -> Iterator[list[dict]]:
    """The relationships whose source entity id is in [lo, hi), in chunks, streamed from
    a server-side cursor (inside the caller's transaction)."""
    with bulk_cursor(name=f"relationships_{lo}_{hi}") as cursor:
        cursor.itersize = 1000
        cursor.execute(RELATIONSHIPS_BY_SOURCE_RANGE, {"lo": lo, "hi": hi})
        chunk: list[dict] = []
        record_ids = 0
        for s, t, type_, records, agencies in cursor:
            chunk.append({"s": s, "t": t, "type": type_, "records": records, "visible_to": agencies})
            record_ids += len(records)
            if len(chunk) >= CHUNK_ROWS or record_ids >= CHUNK_RECORD_IDS:
                yield chunk
                chunk, record_ids = [], 0
        if chunk:
            yield chunk


# --- projections and viewer counts -----------------------------------------------------


@dataclass
class Projection:
    """What one record asserts, each element with the agencies that may see it there (a
    record's phone may be hidden from a partner whose agreement redacts phones): as
    stored at the last sync, or as read now."""

    entities: dict[int, set[int]]
    links: dict[Triple, set[int]]

    @property
    def agencies(self) -> set[int]:
        return set().union(*self.entities.values(), *self.links.values())


def current_projections(record_ids: list[int]) -> dict[int, Projection]:
    """What each existing record asserts now, each mention and link with who may see it
    now (`viewer_agencies()` of the mentions and links: the visibility rule, redaction
    included). A link's agencies also see its two ends. Deleted records are absent."""
    existing = Record.objects.filter(pk__in=among(record_ids)).values_list("pk", flat=True)
    projections = {pk: Projection({}, {}) for pk in existing}
    # One moment's access of every agency, and the answers mentions and links share.
    context = access_policy().viewers_context()
    mentions = Mention.objects.filter(record_id__in=among(projections))
    viewers = mentions.viewer_agencies(context)
    for pk, record_id, entity_id in mentions.values_list("pk", "record_id", "entity_id"):
        projections[record_id].entities.setdefault(entity_id, set()).update(viewers[pk])
    links = Link.objects.filter(record_id__in=among(projections))
    viewers = links.viewer_agencies(context)
    for pk, record_id, source, target, type_ in links.values_list(
        "pk", "record_id", "source_id", "target_id", "type"
    ):
        projection = projections[record_id]
        projection.links.setdefault((source, target, type_), set()).update(viewers[pk])
        for end in (source, target):
            projection.entities.setdefault(end, set()).update(viewers[pk])
    return projections


def stored_projections(record_ids: list[int]) -> dict[int, Projection]:
    return {
        pk: Projection(
            {int(entity): set(agencies) for entity, agencies in entities.items()},
            {(s, t, type_): set(agencies) for s, t, type_, agencies in links},
        )
        for pk, entities, links in RecordProjection.objects.filter(record_id__in=record_ids).values_list(
            "record_id", "entities", "links"
        )
    }


def touched(*projection_maps: dict[int, Projection]) -> tuple[set[int], set[Triple]]:
    entities: set[int] = set()
    triples: set[Triple] = set()
    for projections in projection_maps:
        for projection in projections.values():
            entities.update(projection.entities)
            triples.update(projection.links)
    return entities, triples


def store_projections(current: dict[int, Projection], removed: Iterable[int]) -> None:
    ids = sorted(current)
    with bulk_cursor() as cursor:
        if ids:
            # One statement for the whole batch, the rows as parallel arrays.
            cursor.execute(
                """
                INSERT INTO graph_recordprojection (record_id, agencies, entities, links, synced_at)
                SELECT pk, agencies::jsonb, entities::jsonb, links::jsonb, %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])
                    AS r(pk, agencies, entities, links)
                ON CONFLICT (record_id) DO UPDATE SET agencies = EXCLUDED.agencies,
                    entities = EXCLUDED.entities, links = EXCLUDED.links, synced_at = EXCLUDED.synced_at
                """,
                [
                    timezone.now(),
                    ids,
                    [json.dumps(sorted(current[pk].agencies)) for pk in ids],
                    [
                        json.dumps({str(e): sorted(a) for e, a in sorted(current[pk].entities.items())})
                        for pk in ids
                    ],
                    [
                        json.dumps([[*link, sorted(a)] for link, a in sorted(current[pk].links.items())])
                        for pk in ids
                    ],
                ],
            )
        removed = sorted(removed)
        if removed:
            cursor.execute("DELETE FROM graph_recordprojection WHERE record_id = ANY(%s)", [removed])


def move_counts(
    previous: dict[int, Projection], current: dict[int, Projection]
) -> tuple[set[int], set[Triple]]:
    """Moves the viewer counts by the difference between the projections: each record's
    old (entity, agency) and (link, agency) pairs out, its new ones in. Returns the
    entities and links whose set of agencies changed (a count that left or reached zero):
    only those need `visible_to` written. The caller holds the locks of every record and
    entity involved, so no other batch moves these counts meanwhile."""
    node_delta: Counter[tuple[int, int]] = Counter()
    rel_delta: Counter[tuple[int, int, str, int]] = Counter()
    for projections, sign in ((previous, -1), (current, 1)):
        for projection in projections.values():
            for entity, agencies in projection.entities.items():
                for agency in agencies:
                    node_delta[(entity, agency)] += sign
            for (s, t, type_), agencies in projection.links.items():
                for agency in agencies:
                    rel_delta[(s, t, type_, agency)] += sign
    nodes = sorted(key for key, value in node_delta.items() if value)
    rels = sorted(key for key, value in rel_delta.items() if value)
    changed_entities: set[int] = set()
    changed_triples: set[Triple] = set()
    with bulk_cursor() as cursor:
        if nodes:
            cursor.execute(
                """
                INSERT INTO graph_nodeviewers (entity_id, agency_id, records)
                SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[])
                ON CONFLICT (entity_id, agency_id) DO UPDATE
                    SET records = graph_nodeviewers.records + EXCLUDED.records
                RETURNING id, entity_id, agency_id, records
                """,
                [[e for e, _ in nodes], [a for _, a in nodes], [node_delta[key] for key in nodes]],
            )
            counts = cursor.fetchall()
            changed_entities = {
                entity
                for _, entity, agency, records in counts
                if crossed_zero(records, node_delta[(entity, agency)])
            }
            delete_emptied(cursor, "graph_nodeviewers", counts)
        if rels:
            cursor.execute(
                """
                INSERT INTO graph_relationshipviewers (source_id, target_id, type, agency_id, records)
                SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::int[], %s::int[])
                ON CONFLICT (source_id, target_id, type, agency_id) DO UPDATE
                    SET records = graph_relationshipviewers.records + EXCLUDED.records
                RETURNING id, source_id, target_id, type, agency_id, records
                """,
                [[key[index] for key in rels] for index in range(4)] + [[rel_delta[key] for key in rels]],
            )
            counts = cursor.fetchall()
            changed_triples = {
                (s, t, type_)
                for _, s, t, type_, agency, records in counts
                if crossed_zero(records, rel_delta[(s, t, type_, agency)])
            }
            delete_emptied(cursor, "graph_relationshipviewers", counts)
    return changed_entities, changed_triples


def delete_emptied(cursor: psycopg.Cursor, table: str, counts: list[tuple]) -> None:
    """Deletes the count rows (id first, count last) that reached zero, by their ids (by
    their keys, the planner joined the batch's keys against the whole table)."""
    emptied = [row[0] for row in counts if row[-1] <= 0]
    if emptied:
        cursor.execute(f"DELETE FROM {table} WHERE id = ANY(%s)", [emptied])  # noqa: S608 - a constant


def crossed_zero(count: int, delta: int) -> bool:
    """Whether a viewer count moved by `delta` to `count` gained or lost its agency."""
    return (count > 0) != (count - delta > 0)


# Each viewer-count table recomputed from the stored projections.
COUNTS_FROM_PROJECTIONS = {
    "graph_nodeviewers": """
        INSERT INTO graph_nodeviewers (entity_id, agency_id, records)
        SELECT e.key::bigint, a::int, count(*)
        FROM graph_recordprojection p,
             jsonb_each(p.entities) AS e, jsonb_array_elements_text(e.value) AS a
        GROUP BY 1, 2
    """,
    "graph_relationshipviewers": """
        INSERT INTO graph_relationshipviewers (source_id, target_id, type, agency_id, records)
        SELECT (l ->> 0)::bigint, (l ->> 1)::bigint, l ->> 2, a::int, count(*)
        FROM graph_recordprojection p,
             jsonb_array_elements(p.links) AS l, jsonb_array_elements_text(l -> 3) AS a
        GROUP BY 1, 2, 3, 4
    """,
}


def rebuild_counts(table: str) -> None:
    """Recomputes one table of viewer counts (a key of `COUNTS_FROM_PROJECTIONS`) from the
    stored projections, holding every entity lock, shared (so a resync rebuilds both
    tables side by side, and no batch moves counts meanwhile): what a full resync does
    once it has rewritten the projections. A batch that has stored a projection but waits
    for the entity locks will move the counts from its previous projection, which is what
    this counted (its own is not committed yet). A batch running between the two rebuilds
    moves the other table's counts from a stale base, which that rebuild then replaces
    (the batch's projection committed), and the resync's node and relationship passes
    rewrite every element after both."""
    lock_all_entities(shared=True)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {table}")
        cursor.execute(COUNTS_FROM_PROJECTIONS[table])
        cursor.execute(f"ANALYZE {table}")


def record_changes(
    previous: dict[int, Projection], current: dict[int, Projection]
) -> tuple[defaultdict[Triple, list[int]], defaultdict[Triple, list[int]]]:
    """Per link, the batch's records that assert it now but did not (added) and that did
    but no longer do (dropped)."""
    added: defaultdict[Triple, list[int]] = defaultdict(list)
    dropped: defaultdict[Triple, list[int]] = defaultdict(list)
    empty = Projection({}, {})
    for pk in sorted(set(previous) | set(current)):
        old, new = set(previous.get(pk, empty).links), set(current.get(pk, empty).links)
        for triple in new - old:
            added[triple].append(pk)
        for triple in old - new:
            dropped[triple].append(pk)
    return added, dropped


# --- one batch -----------------------------------------------------------------------


def sync_records(record_ids: Iterable[int]) -> BatchResult:
    """Brings the graph up to date for these records. Must run inside a transaction,
    which holds the locks until it commits; Neo4j is written before that commit, so a
    failure anywhere leaves the projections (and the caller's outbox rows) as they were."""
    ids = sorted(set(record_ids))
    result = BatchResult(records=len(ids))
    if not ids:
        return result
    lock_records(ids)
    previous = stored_projections(ids)
    current = current_projections(ids)
    store_projections(current, removed=set(previous) - set(current))
    added, dropped = record_changes(previous, current)
    entities, _ = touched(previous, current)
    lock_entities(entities)
    version = next_version()

    changed_entities, changed_triples = move_counts(previous, current)
    # What the graph already shows stays as it is: only elements whose agencies or
    # records changed are written (after the first batch of an agreement's records, a busy
    # broker's node and most of its relationships are not).
    triples = changed_triples | added.keys() | dropped.keys()
    nodes = node_states(changed_entities)
    viewers = relationship_viewers(triples)
    relationships = [
        {"s": s, "t": t, "type": type_, "visible_to": agencies, "add": added[triple], "drop": dropped[triple]}
        for triple, agencies in viewers.items()
        for s, t, type_ in [triple]
    ]
    kept_nodes = {node["id"] for node in nodes}
    changes = GraphChanges(
        nodes=nodes,
        relationship_changes=relationships,
        removed_relationships=[
            {"s": s, "t": t, "type": type_} for s, t, type_ in sorted(triples - set(viewers))
        ],
        removed_nodes=sorted(changed_entities - kept_nodes),
    )
    write(changes, version)
    result.nodes, result.relationships = len(nodes), len(relationships)
    result.removed = len(changes.removed_nodes) + len(changes.removed_relationships)
    return result


# --- the outbox ----------------------------------------------------------------------


def expand_entity_entries(limit: int = 1000) -> int:
    """Turns outbox rows about entities (a merge or its undo moved their mentions and
    links) into rows about the records that now assert them; the records' previous
    projections cover what they asserted before. Keeps the oldest row's time, so the
    sync lag still counts from the change."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, object_id, created_at FROM graph_outboxentry
            WHERE kind = %s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.ENTITY, limit],
        )
        rows = cursor.fetchall()
        if not rows:
            return 0
        entity_ids = sorted({object_id for _, object_id, _ in rows})
        oldest = min(created_at for _, _, created_at in rows)
        cursor.execute(
            """
            INSERT INTO graph_outboxentry (kind, object_id, created_at)
            SELECT %(kind)s, record_id, %(created_at)s FROM (
                SELECT record_id FROM intel_mention WHERE entity_id = ANY(%(ids)s)
                UNION SELECT record_id FROM intel_link WHERE source_id = ANY(%(ids)s)
                UNION SELECT record_id FROM intel_link WHERE target_id = ANY(%(ids)s)
            ) AS asserting
            """,
            {"kind": OutboxEntry.Kind.RECORD, "ids": entity_ids, "created_at": oldest},
        )
        cursor.execute("DELETE FROM graph_outboxentry WHERE id = ANY(%s)", [[pk for pk, _, _ in rows]])
        return len(rows)


def claim_records(batch_size: int) -> tuple[list[int], list[int]]:
    """Locks the oldest due record rows (another drain skips them) and the other rows
    naming the same records; returns (row ids, record ids). Every claimed row was
    committed before the batch reads anything, so the batch's state covers its change.
    A row that failed before is claimed alone, so one bad record fails only itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT id, object_id, attempts FROM graph_outboxentry
            WHERE kind = %s AND (not_before IS NULL OR not_before <= clock_timestamp())
            ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.RECORD, batch_size],
        )
        rows = cursor.fetchall()
        if not rows:
            return [], []
        if rows[0][2]:
            rows = [row for row in rows if row[1] == rows[0][1]]
        else:
            retried = next((index for index, row in enumerate(rows) if row[2]), len(rows))
            rows = rows[:retried]
        row_ids = [pk for pk, _, _ in rows]
        record_ids = sorted({object_id for _, object_id, _ in rows})
        cursor.execute(
            """
            SELECT id FROM graph_outboxentry
            WHERE kind = %s AND object_id = ANY(%s) AND NOT id = ANY(%s)
            FOR UPDATE SKIP LOCKED
            """,
            [OutboxEntry.Kind.RECORD, record_ids, row_ids],
        )
        row_ids += [pk for (pk,) in cursor.fetchall()]
        return row_ids, record_ids


def defer(row_ids: list[int]) -> None:
    """Puts failed rows back with an exponential back-off (2 s, 4 s, ... up to 5 minutes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE graph_outboxentry SET attempts = attempts + 1,
                not_before = clock_timestamp() + make_interval(secs => least(%s, power(2, attempts + 1)))
            WHERE id = ANY(%s)
            """,
            [MAX_BACKOFF_SECONDS, row_ids],
        )


def drain_batch(batch_size: int) -> BatchResult | None:
    """Syncs one batch from the outbox; None when there was nothing due. A batch that fails
    because Neo4j or PostgreSQL is unreachable raises, leaving its rows as they were; one
    that fails for any other reason has its rows deferred and is reported as failed."""
    row_ids: list[int] = []
    record_ids: list[int] = []
    try:
        with transaction.atomic():
            row_ids, record_ids = claim_records(batch_size)
            if not row_ids:
                return None
            result = sync_records(record_ids)
            result.outbox_rows = len(row_ids)
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM graph_outboxentry WHERE id = ANY(%s)", [row_ids])
        return result
    except UNAVAILABLE:
        raise
    except Exception:
        logger.exception(
            "graph sync: batch of %d records failed (first %s); deferred", len(record_ids), record_ids[:10]
        )
        defer(row_ids)
        return BatchResult(failed=len(record_ids))


def drain(
    batch_size: int | None = None,
    max_seconds: float | None = None,
    on_backlog: Callable[[], None] | None = None,
) -> tuple[BatchResult, bool]:
    """Drains the outbox batch by batch until it is empty or `max_seconds` have passed;
    returns the totals and whether it stopped with work left. `on_backlog` is called after
    each full batch (more is probably waiting)."""
    batch_size = batch_size or settings.GRAPH_SYNC_BATCH_SIZE
    started = time.monotonic()
    total = BatchResult()
    while True:
        expand_entity_entries()
        batch = drain_batch(batch_size)
        if batch is None:
            return total, False
        for name in ("records", "failed", "outbox_rows", "nodes", "relationships", "removed"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        if on_backlog is not None and batch.outbox_rows >= batch_size:
            on_backlog()
        if not batch.failed:
            logger.info(
                "graph sync: %d records (%d outbox rows), %d nodes, %d relationships, %d removed",
                batch.records,
                batch.outbox_rows,
                batch.nodes,
                batch.relationships,
                batch.removed,
            )
        if max_seconds is not None and time.monotonic() - started > max_seconds:
            return total, True
