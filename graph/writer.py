"""Writes computed graph state to Neo4j: `UNWIND $rows ... MERGE`, in one managed
transaction per batch, which the driver retries on transient errors (deadlocks,
leader switches, a connection dropped mid-way).

Every row carries an element's full current state, except a relationship's `records`
list, which a batch changes by set operations (its own records in or out): so writing a
row twice changes nothing. Each write carries a version drawn, under the sync's locks, from a
PostgreSQL sequence; an element already written at a higher version is left alone, so
a late write of older state (a batch redelivered after a newer one ran) cannot undo a
newer one.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from neo4j import Driver, ManagedTransaction

from graph.driver import get_driver
from graph.schema import ENTITY_LABEL, LABELS, ensure_schema

# Rows per statement: large enough to amortize a round trip, small enough that one
# parameter map stays a few megabytes.
ROWS_PER_STATEMENT = 5000

_schema_lock = threading.Lock()
_schema_ready = False


@dataclass
class GraphChanges:
    """The new state of the elements one batch touched.

    nodes: {"id", "key", "type", "visible_to"}; relationships (full state, as a resync
    writes them): {"s", "t", "type", "records", "visible_to"}; relationship_changes (as a
    batch writes them): {"s", "t", "type", "visible_to", "add", "drop"}, where `add` and
    `drop` are the batch's records that now assert, or no longer assert, the relationship;
    removed_relationships: {"s", "t", "type"}; removed_nodes: entity ids.
    """

    nodes: list[dict] = field(default_factory=list)
    relationships: list[dict] = field(default_factory=list)
    relationship_changes: list[dict] = field(default_factory=list)
    removed_relationships: list[dict] = field(default_factory=list)
    removed_nodes: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return (
            len(self.nodes)
            + len(self.relationships)
            + len(self.relationship_changes)
            + len(self.removed_relationships)
            + len(self.removed_nodes)
        )


def node_upsert(label: str) -> str:
    return f"""
        UNWIND $rows AS row
        MERGE (n:{label} {{key: row.key}})
        WITH n, row WHERE coalesce(n.sync_version, -1) <= $version
        SET n:{ENTITY_LABEL}, n.entity_id = row.id, n.type = row.type,
            n.visible_to = row.visible_to, n.sync_version = $version
    """


def between_ends(rel_type: str) -> str:
    # Left to itself the planner seeks one end and expands all its relationships of the
    # type: from a busy broker, tens of thousands per row. Seeking both ends lets it
    # check the pair from the end with fewer.
    return f"""MATCH (a:{ENTITY_LABEL} {{entity_id: row.s}})-[r:{rel_type}]->
              (b:{ENTITY_LABEL} {{entity_id: row.t}})
        USING INDEX a:{ENTITY_LABEL}(entity_id) USING INDEX b:{ENTITY_LABEL}(entity_id)"""


def relationship_upsert(rel_type: str) -> str:
    return f"""
        UNWIND $rows AS row
        MATCH (a:{ENTITY_LABEL} {{entity_id: row.s}})
        MATCH (b:{ENTITY_LABEL} {{entity_id: row.t}})
        MERGE (a)-[r:{rel_type}]->(b)
        WITH r, row WHERE coalesce(r.sync_version, -1) <= $version
        SET r.records = row.records, r.visible_to = row.visible_to, r.sync_version = $version
    """


def relationship_change(rel_type: str) -> str:
    # Set operations on `records`: applying the same change twice leaves the same list.
    return f"""
        UNWIND $rows AS row
        MATCH (a:{ENTITY_LABEL} {{entity_id: row.s}})
        MATCH (b:{ENTITY_LABEL} {{entity_id: row.t}})
        MERGE (a)-[r:{rel_type}]->(b)
        WITH r, row WHERE coalesce(r.sync_version, -1) <= $version
        SET r.records = [x IN coalesce(r.records, []) WHERE NOT x IN row.drop AND NOT x IN row.add] + row.add,
            r.visible_to = row.visible_to, r.sync_version = $version
    """


def relationship_visibility(rel_type: str) -> str:
    # A relationship whose records did not change: its `records` list (thousands long on a
    # busy broker's) is neither read nor rewritten. It exists, since a batch that made it
    # had records to add, and committed only once Neo4j had it.
    return f"""
        UNWIND $rows AS row
        {between_ends(rel_type)}
        WHERE coalesce(r.sync_version, -1) <= $version
        SET r.visible_to = row.visible_to, r.sync_version = $version
    """


def relationship_delete(rel_type: str) -> str:
    return f"""
        UNWIND $rows AS row
        {between_ends(rel_type)}
        WHERE coalesce(r.sync_version, -1) <= $version
        DELETE r
    """


NODE_DELETE = f"""
    UNWIND $ids AS id
    MATCH (n:{ENTITY_LABEL} {{entity_id: id}})
    WHERE coalesce(n.sync_version, -1) <= $version
    DETACH DELETE n
"""


def _chunks(rows: list, size: int = ROWS_PER_STATEMENT) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _by(rows: list[dict], key: str) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


def _apply(tx: ManagedTransaction, changes: GraphChanges, version: int) -> None:
    # Nodes first, so the relationships' endpoints exist; removals last, so a node is
    # detached only from what no batch row still asserts.
    for entity_type, rows in _by(changes.nodes, "type").items():
        for chunk in _chunks(rows):
            tx.run(node_upsert(LABELS[entity_type]), rows=chunk, version=version).consume()
    for rel_type, rows in _by(changes.relationships, "type").items():
        for chunk in _chunks(rows):
            tx.run(relationship_upsert(rel_type), rows=chunk, version=version).consume()
    for rel_type, rows in _by(changes.relationship_changes, "type").items():
        changed = [row for row in rows if row["add"] or row["drop"]]
        visibility_only = [row for row in rows if not (row["add"] or row["drop"])]
        for statement, selected in (
            (relationship_change(rel_type), changed),
            (relationship_visibility(rel_type), visibility_only),
        ):
            for chunk in _chunks(selected):
                tx.run(statement, rows=chunk, version=version).consume()
    for rel_type, rows in _by(changes.removed_relationships, "type").items():
        for chunk in _chunks(rows):
            tx.run(relationship_delete(rel_type), rows=chunk, version=version).consume()
    for chunk in _chunks(changes.removed_nodes):
        tx.run(NODE_DELETE, ids=chunk, version=version).consume()


def ensure_schema_once(driver: Driver) -> None:
    """The constraints, once per process: without them a MERGE scans and can duplicate."""
    global _schema_ready
    with _schema_lock:
        if not _schema_ready:
            ensure_schema(driver)
            _schema_ready = True


def write(changes: GraphChanges, version: int, driver: Driver | None = None) -> None:
    if not changes:
        return
    driver = driver or get_driver()
    ensure_schema_once(driver)
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        session.execute_write(_apply, changes, version)


NODE_SWEEP = f"""
    MATCH (n:{ENTITY_LABEL})
    WHERE n.entity_id >= $lo AND n.entity_id < $hi
      AND NOT (toString(n.entity_id) + '>' + coalesce(n.key, '')) IN $keep
      AND coalesce(n.sync_version, -1) <= $version
    DETACH DELETE n
"""

# Read only: finding nothing to remove (the usual case) then takes no lock.
STRAY_RELATIONSHIPS = f"""
    MATCH (a:{ENTITY_LABEL})-[r]->(b:{ENTITY_LABEL})
    WHERE a.entity_id >= $lo AND a.entity_id < $hi
      AND NOT (toString(a.entity_id) + '>' + toString(b.entity_id) + '>' + type(r)) IN $keep
    RETURN a.entity_id AS s, b.entity_id AS t, type(r) AS type
"""


def node_key(entity_id: int, key: str) -> str:
    return f"{entity_id}>{key}"


def relationship_key(source: int, target: int, rel_type: str) -> str:
    return f"{source}>{target}>{rel_type}"


def sweep_nodes(lo: int, hi: int, keep: list[str], version: int) -> None:
    """Removes, among the nodes with entity id in [lo, hi), those not kept (`node_key`):
    what a full resync found no record asserting any more, and a node holding an entity
    id under another key."""
    driver = get_driver()
    ensure_schema_once(driver)
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        session.execute_write(
            lambda tx: tx.run(NODE_SWEEP, lo=lo, hi=hi, keep=keep, version=version).consume()
        )


def stray_relationships(lo: int, hi: int, keep: list[str]) -> list[dict]:
    """The relationships leaving nodes with entity id in [lo, hi) that are not kept
    (`relationship_key`), as rows for `GraphChanges.removed_relationships`."""
    driver = get_driver()
    with driver.session(database=settings.NEO4J_DATABASE) as session:
        return session.execute_read(
            lambda tx: [record.data() for record in tx.run(STRAY_RELATIONSHIPS, lo=lo, hi=hi, keep=keep)]
        )
