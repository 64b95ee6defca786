"""The reference implementation: networkx over the links the viewer may see between entities
the viewer may see, read through the choke point (`Link.objects.visible_to`,
`Entity.objects.visible_to`) with the scope's filters. It reads the whole of
the viewer's filtered graph for each question: the embedded default is small, and on the
full stack Neo4j answers instead (this side stays the reference the tests hold it to)."""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import Future

import networkx as nx

from graph.analytics import EXPAND_LIMIT, Neighbours, NeighboursPage, Scope, TooLarge, Triple
from graph.analytics.algorithms import crossed_relationships, depth_for, distances
from intel.models import Entity, Link


def visible_triples(scope: Scope) -> list[tuple[Triple, str, str]]:
    """Each relationship of the scope (one row per (source, target, type), however many
    records assert it) whose two ends the viewer may see (through a mention: a visible record
    may link an entity it does not name), with their entity types."""
    reader = scope.reader
    links = Link.objects.visible_to(reader.user, reader.purpose, reader.access).filter(
        **scope.records.lookups()
    )
    if scope.link_types is not None:
        links = links.filter(type__in=scope.link_types)
    rows = links.values_list("source_id", "target_id", "type", "source_type", "target_type").distinct()
    seen = set(
        Entity.objects.visible_to(reader.user, reader.purpose, reader.access).values_list("pk", flat=True)
    )
    return [
        ((s, t, type_), s_type, t_type) for s, t, type_, s_type, t_type in rows if s in seen and t in seen
    ]


def scope_graph(scope: Scope, keep: Collection[int] = ()) -> tuple[nx.MultiGraph, set[Triple]]:
    """The viewer's graph, undirected (a walk follows a relationship either way), with the
    relationships it holds; nodes outside the scope's entity types are left out, except
    those in `keep`."""
    kept = set(keep)

    def admitted(entity: int, entity_type: str) -> bool:
        return scope.entity_types is None or entity_type in scope.entity_types or entity in kept

    graph = nx.MultiGraph()
    triples = set()
    for triple, s_type, t_type in visible_triples(scope):
        s, t, _ = triple
        if admitted(s, s_type) and admitted(t, t_type):
            graph.add_edge(s, t, key=triple)
            triples.add(triple)
    return graph, triples


class ReferenceBackend:
    def __init__(self) -> None:
        # A question asks a backend several things of one graph (a walk, then its left-out
        # neighbours page by page): the graph is built once, for the last scope asked.
        self._built: tuple[Scope, frozenset[int], nx.MultiGraph, set[Triple]] | None = None

    def _scope_graph(self, scope: Scope, keep: Collection[int]) -> tuple[nx.MultiGraph, set[Triple]]:
        """`scope_graph`, kept for the next call with the same scope: not to be changed."""
        # With no entity types to narrow by, what is kept changes nothing.
        kept = frozenset(keep) if scope.entity_types is not None else frozenset()
        if self._built is None or self._built[0] is not scope or self._built[1] != kept:
            self._built = (scope, kept, *scope_graph(scope, keep=kept))
        return self._built[2], self._built[3]

    def expand(
        self,
        scope: Scope,
        *,
        seeds: Collection[int],
        hops: int,
        limit: int | None = None,
        at_most: int = EXPAND_LIMIT,
    ) -> set[Triple]:
        _, triples = self._scope_graph(scope, seeds)
        depth = depth_for(triples, seeds, hops, limit)
        crossed = crossed_relationships(triples, distances(triples, seeds, depth), depth)
        if len(crossed) > min(at_most, EXPAND_LIMIT):
            raise TooLarge
        return crossed

    def relationships(self, scope: Scope) -> set[Triple]:
        _, triples = self._scope_graph(scope, ())
        return triples

    def neighbours(self, scope: Scope, page: NeighboursPage) -> Neighbours:
        graph, _ = self._scope_graph(scope, page.seeds)
        outside = set(page.outside)
        found: Neighbours = {}
        for node, earlier in page.read.items():
            if node not in graph:
                continue
            pairs = sorted(
                (other, triple)
                for other in graph[node]
                if other not in outside
                for triple in graph[node][other]
                if triple not in earlier
            )
            if pairs:
                found[node] = pairs[: page.limit]
        return found

    def ask_neighbours(self, scope: Scope, page: NeighboursPage) -> Future[Neighbours]:
        # Answered at once, on this thread: the graph is built through this thread's
        # database connection, which another thread would not share (nor a test's
        # transaction).
        answered: Future[Neighbours] = Future()
        answered.set_result(self.neighbours(scope, page))
        return answered
