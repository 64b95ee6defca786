"""Bringing Neo4j up to date with PostgreSQL for one batch of records.

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

The locks a batch takes, and why two batches never compute the same element at once, are
in `graph.locks`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from graph.element_states import Triple, node_states, relationship_viewers
from graph.jobs import note_visibility_changes
from graph.locks import lock_entities, lock_records, next_version
from graph.projections import (
    Projection,
    current_projections,
    store_projections,
    stored_projections,
    touched,
)
from graph.viewer_counts import move_counts
from graph.writer import GraphChanges, write


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
    # Whoever could see any of these records before or can now may see another graph: its
    # stored analytics are no longer current (graph.jobs).
    note_visibility_changes(
        set().union(*(p.agencies for p in previous.values()), *(p.agencies for p in current.values())),
        version,
    )
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
