"""The pure parts of the analytics, over relationships given as triples: what both backends
and the confirmation step share, so that an answer computed over confirmed relationships
is the same whichever backend found them."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping

import networkx as nx

from graph.analytics import Triple


def undirected(triples: Iterable[Triple], nodes: Collection[int] = ()) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from((s, t) for s, t, _ in triples)
    return graph


def distances(triples: Iterable[Triple], seeds: Collection[int], hops: int) -> dict[int, int]:
    """Each node within `hops` of a seed, with its distance to the nearest seed."""
    graph = undirected(triples, seeds)
    found: dict[int, int] = {}
    for depth, layer in enumerate(nx.bfs_layers(graph, list(seeds))):
        if depth > hops:
            break
        found.update((node, depth) for node in layer)
    return found


def depth_for(triples: Iterable[Triple], seeds: Collection[int], hops: int, limit: int | None) -> int:
    """How far a walk of `hops` steps limited to `limit` nodes goes: the first depth at
    which more than `limit` nodes are reached (nodes further out cannot be among the
    nearest `limit`), else `hops`."""
    if limit is None:
        return hops
    reached = 0
    for depth, layer in enumerate(nx.bfs_layers(undirected(triples, seeds), list(seeds))):
        reached += len(layer)
        if depth >= hops or reached > limit:
            return min(depth, hops)
    return hops


def crossed_relationships(triples: Iterable[Triple], distance: Mapping[int, int], hops: int) -> set[Triple]:
    """The relationships a walk of `hops` steps crosses: both ends reached, one of them
    before the last step (two nodes both at the edge are not walked between)."""
    return {
        (s, t, type_)
        for s, t, type_ in triples
        if s in distance and t in distance and min(distance[s], distance[t]) < hops
    }


def nearest_first(distance: Mapping[int, int], order: Callable[[int], str], limit: int) -> list[int]:
    """At most `limit` nodes, the nearest first, ties broken by `order` (a public id: the
    same on every run, and telling nothing of when a row was made)."""
    return sorted(distance, key=lambda node: (distance[node], order(node)))[:limit]


def all_shortest_paths(
    triples: Iterable[Triple],
    source: int,
    target: int,
    limit: int,
    order: Callable[[Collection[int]], Mapping[int, str]],
) -> list[tuple[int, ...]]:
    """The shortest paths between two nodes joined by the relationships (entity ids, ends
    included), the first `limit` of them by the `order` (a public id) of their nodes, step
    by step. `order` is asked only of the nodes on a shortest path; one it does not know (an
    entity gone while the graph still holds it) comes after those it knows, for the
    confirmation to drop. Paths are taken in that order, not as a search finds them: between
    hubs there are more than `limit`, and which ones a search finds first follows how the
    relationships were handed to it."""
    graph = undirected(triples, (source, target))
    from_source = nx.single_source_shortest_path_length(graph, source)
    if target not in from_source:
        return []
    length = from_source[target]
    to_target = nx.single_source_shortest_path_length(graph, target, cutoff=length)
    on_a_path = {node for node, d in from_source.items() if d + to_target.get(node, length + 1) == length}
    known = order(on_a_path)
    onward = {
        node: sorted(
            (n for n in graph[node] if n in on_a_path and from_source[n] == from_source[node] + 1),
            key=lambda n: (n not in known, known.get(n, ""), n),
            reverse=True,
        )
        for node in on_a_path
    }
    # Depth first, the lowest next node on top of the stack: paths come out in order, and
    # every node on the stack leads to the target, so `limit` paths cost `limit` walks.
    paths: list[tuple[int, ...]] = []
    stack = [(source,)]
    while stack and len(paths) < limit:
        path = stack.pop()
        if path[-1] == target:
            paths.append(path)
        else:
            stack.extend((*path, node) for node in onward[path[-1]])
    return paths


def relationships_by_pair(triples: Iterable[Triple]) -> dict[frozenset, list[Triple]]:
    """The relationships joining each pair of nodes (either direction), in order: read once
    for all the paths `steps_of` is asked of."""
    between: dict[frozenset, list[Triple]] = defaultdict(list)
    for triple in sorted(triples):
        between[frozenset(triple[:2])].append(triple)
    return between


def steps_of(path: tuple[int, ...], between: Mapping[frozenset, list[Triple]]) -> list[list[Triple]] | None:
    """The relationships behind each step of a path (`relationships_by_pair`), or None when
    a step has none: a path through a dropped relationship is dropped whole."""
    steps = [between.get(frozenset((a, b)), []) for a, b in itertools.pairwise(path)]
    return steps if all(steps) else None


def shared_identifier_clusters(
    triples: Iterable[Triple], types: Mapping[int, str], parties: Collection[str]
) -> list[tuple[set[int], set[int]]]:
    """Connected components of parties joined through what they share (an identifier node,
    or one party owning another): each as (its parties, the non-party nodes two or more of
    them are linked to), only those with two parties or more."""
    graph = undirected(triples)
    clusters = []
    for component in nx.connected_components(graph):
        members = {node for node in component if types.get(node) in parties}
        if len(members) < 2:
            continue
        shared = {
            node
            for node in component
            if node not in members and sum(1 for n in graph[node] if n in members) >= 2
        }
        clusters.append((members, shared))
    return clusters
