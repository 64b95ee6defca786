"""Viewer counts (`graph.NodeViewers`, `graph.RelationshipViewers`): per element and agency,
how many synced records let the agency see it. A batch moves them by its records'
difference of projections instead of recomputing, so its cost follows its own records; a
resync rebuilds them from the stored projections."""

from __future__ import annotations

from collections import Counter

import psycopg
from django.db import connection

from graph.bulk_sql import bulk_cursor
from graph.element_states import ASSERTED, Triple
from graph.locks import lock_all_entities
from graph.projections import Projection


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
                for agency in (ASSERTED, *agencies):
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
    "graph_nodeviewers": f"""
        INSERT INTO graph_nodeviewers (entity_id, agency_id, records)
        SELECT e.key::bigint, a::int, count(*)
        FROM graph_recordprojection p,
             jsonb_each(p.entities) AS e, jsonb_array_elements_text(e.value) AS a
        GROUP BY 1, 2
        UNION ALL
        SELECT e.key::bigint, {ASSERTED}, count(*)
        FROM graph_recordprojection p, jsonb_each(p.entities) AS e
        GROUP BY 1
    """,  # noqa: S608 - a constant
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
