"""What one agency's graph says of each entity, for the network indicators: computed once per
scoring run from the graph `graph.visible_graph` builds through the choke point, with the
algorithms of `graph.algorithms` (the same risk walk and communities the analysts see)."""

from __future__ import annotations

import networkx as nx

from graph import algorithms
from targeting.indicators import SEIZURE_DISTANCE_MAX, NetworkFacts

TRADER_TYPES = frozenset({"company", "person"})
IDENTIFIER_LINKS = frozenset({"REGISTERED_AT", "CONTACT"})


def network_facts(graph: nx.MultiDiGraph, *, community_engine: str = "networkx") -> NetworkFacts:
    seized = frozenset(algorithms.seeds(graph))
    facts = NetworkFacts(seized=seized)
    walk = algorithms.risk_walk(graph)
    if walk is not None:
        facts.risk = dict(walk.scores)
        total = sum(walk.strength.values())
        for seed in walk.seeds:
            # A seed's own visits begin with the walk restarting there; what counts is how
            # often the walk comes back to it from the other seizures, over its share.
            if walk.strength[seed]:
                visits = walk.scores.get(seed, 0.0) * walk.strength[seed] / total
                returning = max(0.0, visits - (1 - algorithms.PAGERANK_ALPHA) * walk.restart[seed])
                facts.risk[seed] = returning * total / walk.strength[seed]
        predecessors, distance = algorithms.shortest_path_dag(walk.simple, list(walk.seeds))
        facts.distance = {node: hops for node, hops in distance.items() if hops <= SEIZURE_DISTANCE_MAX}

        def risk_path(node: int) -> tuple[int, ...] | None:
            if not distance.get(node):
                return None
            best = algorithms.contributing_paths(walk, predecessors, node, limit=1)
            return best[0].entities if best else None

        def distance_path(node: int) -> tuple[int, ...] | None:
            return next(algorithms.paths_back(predecessors, node)) if node in distance else None

        facts.risk_path, facts.distance_path = risk_path, distance_path
    facts.seized_neighbours = seized_neighbours(graph, seized)
    for community in algorithms.communities(graph, engine=community_engine):
        for member in community.members:
            facts.community[member] = (community.id, community.size, community.seizures)
    return facts


def seized_neighbours(
    graph: nx.MultiDiGraph, seized: frozenset[int]
) -> dict[int, tuple[tuple[int, int], ...]]:
    """For each company or person, the (identifier, party) pairs where another company or
    person registered at the same address, or with the same phone or e-mail, is named in a
    seizure, in rank order (`algorithms.ranked`: by public id, never by age)."""
    rank = graph.graph["rank"]
    holders: dict[int, set[int]] = {}
    for source, target, link_type in graph.edges(keys=True):
        if link_type in IDENTIFIER_LINKS and graph.nodes[source].get("type") in TRADER_TYPES:
            holders.setdefault(target, set()).add(source)
    found: dict[int, list[tuple[int, int]]] = {}
    for identifier, parties in holders.items():
        named = algorithms.ranked(graph, parties & seized)
        if not named:
            continue
        for party in parties:
            found.setdefault(party, []).extend((identifier, other) for other in named if other != party)
    return {
        party: tuple(sorted(pairs, key=lambda pair: (rank[pair[0]], rank[pair[1]])))
        for party, pairs in found.items()
        if pairs
    }
