"""What each node and relationship should be in Neo4j, read from PostgreSQL: its
`visible_to` (the agencies whose viewer count is above zero) and, for a resync, the synced
records asserting a relationship. Only elements some synced record asserts are returned;
one missing is to be removed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from graph.bulk_sql import bulk_cursor

# A relationship: (source entity id, target entity id, link type).
Triple = tuple[int, int, str]

# The count of synced records asserting an entity at all, kept in `graph.NodeViewers` under
# this agency id (none is 0): a node exists while it is above zero, though no agency may see
# the entity (an end of a link that no record it sees names), since its relationships need
# both ends.
ASSERTED = 0

# Each wanted entity's counts sought by index (joined as sets, the planner read and
# sorted the whole count table for a batch's few thousand entities). A node exists while
# some synced record asserts the entity (`ASSERTED`), seen by the agencies counted beside.
NODES_SQL = """
    SELECT e.id, e.type, e.key, viewers.agencies
    FROM intel_entity e CROSS JOIN LATERAL (
        SELECT coalesce(
                   array_agg(v.agency_id ORDER BY v.agency_id) FILTER (WHERE v.agency_id <> {asserted}),
                   '{{}}'
               ) AS agencies,
               bool_or(v.agency_id = {asserted}) AS asserted
        FROM graph_nodeviewers v WHERE v.entity_id = e.id AND v.records > 0
    ) AS viewers
    WHERE {condition} AND viewers.asserted
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
# removals (see `batch.record_changes`), so a relationship asserted by thousands of records
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

NODES_BY_ID = NODES_SQL.format(condition="e.id = ANY(%(ids)s)", asserted=ASSERTED)
NODES_BY_RANGE = NODES_SQL.format(condition="e.id >= %(lo)s AND e.id < %(hi)s", asserted=ASSERTED)


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
