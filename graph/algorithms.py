"""Network analytics over one viewer's graph: communities, brokers and bridges, network risk
and the named patterns. Pure functions of a networkx graph (no database, no Neo4j), so the
Celery jobs (`graph.jobs`) and any caller holding a viewer's graph share them, and the fast
tier tests them on hand-made graphs.

The graph is the one `build_graph` makes: a `MultiDiGraph` whose nodes are entity ids with
`type` (the entity type), `seized` (the entity is mentioned in a seizure record the viewer
may see) and `first_seen` (the earliest date of a visible record mentioning it, or None),
and whose edges run from a link's source to its target, keyed by link type, with `records`
(the ids of the visible records asserting it). Direction matters only to the patterns;
communities, betweenness and risk read the undirected simple graph (`undirected`), since
whether two entities are related, not by how many records, is what a network is; they also
take the network `build_network` makes (that simple graph with `seized` on its nodes), which
the jobs build for them instead.

Communities and risk weigh each link down by the degree of the entities at its ends
(`community_ties`, `walk_ties`): a vessel, a carrier or a broker linked to hundreds of
shipments says little about which of them belong together, and unweighted, such hubs pull
every ring that uses them into one community with their other clients, and a walk from the
seizures spends itself on them and on whatever is busiest. Betweenness stays unweighted: the
count of shortest paths through an entity is what the operation promises.

Every answer is deterministic, and its order tells nothing of when an entity was made: the
builders rank the nodes by their `order` (the jobs give each entity's public id, random) and
lay them out by a breadth-first walk of the graph in rank order (`_layout`); nodes and edges
enter every graph in layout order (the seeded algorithms draw from that order), and every
list is sorted with ties broken by rank (`ranked`). An entity's internal id grows with its
age, and an entity another agency named first is older than those the viewer's own records
made: ordered by id, equal communities, ranks and paths told the viewer which of its entities
records it may not see name, and the seeded algorithms' answers could hang on it.
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import combinations, islice, pairwise

import igraph as ig
import networkx as nx

SEED = 20260101
# Above this many nodes betweenness is estimated from BETWEENNESS_SAMPLES sources drawn with
# the seed: exact Brandes costs one traversal per node.
EXACT_BETWEENNESS_MAX_NODES = 10_000
BETWEENNESS_SAMPLES = 500
PAGERANK_ALPHA = 0.85
PAGERANK_TOLERANCE = 1e-10
PAGERANK_MAX_ITERATIONS = 200
# A risk path is one of the shortest paths from a seed; how many are weighed per entity
# before the most contributing are kept (a hub can have thousands of equal paths).
PATHS_WEIGHED = 100

IMPORTER_LINKS = ("IMPORTED_BY",)
CONTAINER_LINKS = ("SHIPPED_IN", "SEIZED_IN")


@dataclass(frozen=True)
class EntityRow:
    id: int
    type: str
    seized: bool = False
    first_seen: date | None = None
    # What ties between entities are broken by (with the id after it): the public id.
    order: str = ""


@dataclass(frozen=True)
class LinkRow:
    source: int
    target: int
    type: str
    record: int


def _ranks(keyed: Iterable[tuple[str, int]]) -> dict[int, int]:
    """Each entity's place among (order, id) pairs sorted."""
    return {entity: place for place, (_, entity) in enumerate(sorted(keyed))}


def ranked(graph: nx.Graph, nodes: Iterable[int]) -> list[int]:
    """`nodes` of a graph the builders made in rank order: the order of every list and the
    tie-break of every ranking."""
    return sorted(nodes, key=graph.graph["rank"].__getitem__)


def _layout(rank: dict[int, int], pairs: Collection[tuple[int, int]]) -> dict[int, int]:
    """Each node's place in a breadth-first walk of the graph of these pairs, each component
    from its first node by rank, each node's neighbours taken in rank order: the order nodes
    enter a graph in. Neighbours get nearby places, as entities made together got nearby ids;
    entered in rank order (random), the algorithms that walk a viewer's whole network, igraph's
    Leiden above all, took several times as long. Like the ranks, the layout rests on nothing
    but the viewer's graph and the public ids."""
    neighbours: dict[int, list[int]] = {node: [] for node in rank}
    for source, target in pairs:
        neighbours[source].append(target)
        neighbours[target].append(source)
    place: dict[int, int] = {}
    for start in sorted(rank, key=rank.__getitem__):
        if start in place:
            continue
        place[start] = len(place)
        queue = deque([start])
        while queue:
            for other in sorted(neighbours[queue.popleft()], key=rank.__getitem__):
                if other not in place:
                    place[other] = len(place)
                    queue.append(other)
    return place


def _laid_out(layout: dict[int, int], pairs: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each undirected pair once, the end laid out first first, in layout order: loops and
    repeats dropped."""
    oriented = {(s, t) if layout[s] < layout[t] else (t, s) for s, t in pairs if s != t}
    return sorted(oriented, key=lambda pair: (layout[pair[0]], layout[pair[1]]))


def build_graph(entities: Iterable[EntityRow], links: Iterable[LinkRow]) -> nx.MultiDiGraph:
    """The viewer's graph from the rows of what it may see. A link whose ends are not among
    the entities is left out: an entity the viewer may not see brings no edge with it."""
    entities = list(entities)
    rank = _ranks((entity.order, entity.id) for entity in entities)
    records: defaultdict[tuple[int, int, str], set[int]] = defaultdict(set)
    for link in links:
        if link.source in rank and link.target in rank:
            records[(link.source, link.target, link.type)].add(link.record)
    layout = _layout(rank, {(s, t) for s, t, _ in records if s != t})
    graph = nx.MultiDiGraph(rank=rank, layout=layout)
    for entity in sorted(entities, key=lambda e: layout[e.id]):
        graph.add_node(entity.id, type=entity.type, seized=entity.seized, first_seen=entity.first_seen)
    for (source, target, type_), ids in sorted(
        records.items(), key=lambda item: (layout[item[0][0]], layout[item[0][1]], item[0][2])
    ):
        graph.add_edge(source, target, key=type_, records=tuple(sorted(ids)))
    return graph


def build_network(entities: Iterable[tuple[int, bool, str]], links: Iterable[tuple[int, int]]) -> nx.Graph:
    """The viewer's network from (entity, seized, order) rows and the (source, target) ends of
    the links it may see: `undirected(build_graph(...))`, each node with its `seized`, and
    nothing of the links' direction, types or records: all that communities, betweenness and
    network risk read, without the time and memory of gathering each link's records into a
    directed graph only to fold it again. A link whose ends are not both among the entities
    is left out, as `build_graph` leaves it out."""
    seized, keyed = {}, []
    for entity, is_seized, order in entities:
        seized[entity] = is_seized
        keyed.append((order, entity))
    rank = _ranks(keyed)
    pairs = {(min(s, t), max(s, t)) for s, t in links if s != t and s in rank and t in rank}
    layout = _layout(rank, pairs)
    network = nx.Graph(rank=rank, layout=layout)
    network.add_nodes_from((node, {"seized": seized[node]}) for node in sorted(rank, key=layout.__getitem__))
    network.add_edges_from(_laid_out(layout, pairs))
    return network


def undirected(graph: nx.Graph, members: Iterable[int] | None = None) -> nx.Graph:
    """The simple undirected graph of `graph` (a `build_graph` graph or a `build_network`
    network; or of the subgraph on `members`), nodes and edges added in layout order so that
    seeded algorithms give the same answer every run. A new graph, which the weights of
    `community_ties` and `walk_ties` may be written to."""
    layout = graph.graph["layout"]
    nodes = sorted(graph if members is None else set(members) & set(graph), key=layout.__getitem__)
    keep = set(nodes)
    simple = nx.Graph(rank=graph.graph["rank"], layout=layout)
    simple.add_nodes_from(nodes)
    simple.add_edges_from(_laid_out(layout, ((s, t) for s, t in graph.edges() if s in keep and t in keep)))
    return simple


def community_ties(simple: nx.Graph) -> nx.Graph:
    """`simple` with each link weighted 1 / the degree of its busier end: every entity lends
    each of its links an equal share of one tie, and a link is as strong as the smaller share
    (a broker of 200 shipments gives each 1/200, so its clients are tied through it, together,
    about as strongly as a link between two quiet entities ties those two)."""
    degree = dict(simple.degree())
    for source, target in simple.edges():
        simple[source][target]["weight"] = 1 / max(degree[source], degree[target])
    return simple


def walk_ties(simple: nx.Graph) -> nx.Graph:
    """`simple` with each link weighted 1 / (the product of its ends' degrees), the weights of
    the risk walk: from any entity, the walk steps to a neighbour in inverse proportion to that
    neighbour's degree, so it goes on to a front's own shipment, container or exporter rather
    than into a carrier that every other shipment names too."""
    degree = dict(simple.degree())
    for source, target in simple.edges():
        simple[source][target]["weight"] = 1 / (degree[source] * degree[target])
    return simple


def _strengths(simple: nx.Graph) -> dict[int, float]:
    """Each node's total link weight, summed in the graph's (layout) order."""
    return {node: sum(simple[node][neighbour]["weight"] for neighbour in simple[node]) for node in simple}


def seeds(graph: nx.Graph) -> list[int]:
    return ranked(graph, (node for node, seized in graph.nodes(data="seized") if seized))


# --- communities ------------------------------------------------------------------------


@dataclass(frozen=True)
class Community:
    id: int
    size: int
    seizures: int
    members: tuple[int, ...]


def communities(
    graph: nx.Graph, *, seed: int = SEED, resolution: float = 1.0, engine: str = "networkx"
) -> list[Community]:
    """Communities maximizing the modularity of the graph weighted by `community_ties`,
    seeded: networkx's Louvain (the reference), or igraph's Leiden (`engine="igraph"`: as good
    a partition or better, in a fraction of the time on a large graph, but not the same
    partition). Numbered from 0 by size, then by how many members appear in seizures, both
    descending, then by the rank of its first member; members in rank order. An isolated
    entity is a community of its own."""
    simple = community_ties(undirected(graph))
    if not simple:
        return []
    if engine == "igraph":
        found = _leiden(simple, seed=seed, resolution=resolution)
    elif engine == "networkx":
        found = nx.community.louvain_communities(simple, weight="weight", seed=seed, resolution=resolution)
    else:
        raise ValueError(f"unknown engine {engine!r}")
    seized = set(seeds(graph))
    rank = graph.graph["rank"]
    ordered = sorted(
        (tuple(ranked(graph, members)) for members in found),
        key=lambda members: (-len(members), -len(seized.intersection(members)), rank[members[0]]),
    )
    return [
        Community(id=index, size=len(members), seizures=len(seized.intersection(members)), members=members)
        for index, members in enumerate(ordered)
    ]


def _as_igraph(simple: nx.Graph) -> tuple[ig.Graph, list[int]]:
    """`simple` as igraph numbers it, with the `weight` of each edge where there is one."""
    nodes = list(simple)
    index = {node: position for position, node in enumerate(nodes)}
    edges = list(simple.edges(data="weight"))
    converted = ig.Graph(n=len(nodes), edges=[(index[s], index[t]) for s, t, _ in edges])
    if edges and edges[0][2] is not None:
        converted.es["weight"] = [weight for _, _, weight in edges]
    return converted, nodes


def _leiden(simple: nx.Graph, *, seed: int, resolution: float) -> list[set[int]]:
    converted, nodes = _as_igraph(simple)
    # igraph draws from one process-wide generator: seeded for this call, then given back.
    ig.set_random_number_generator(random.Random(seed))  # noqa: S311 - reproducible, not secret
    try:
        partition = converted.community_leiden(
            objective_function="modularity", weights="weight", resolution=resolution, n_iterations=-1
        )
    finally:
        ig.set_random_number_generator(random)
    return [{nodes[position] for position in members} for members in partition]


def community_of(found: list[Community], entity_id: int) -> Community | None:
    return next((community for community in found if entity_id in community.members), None)


# --- brokers and bridges ----------------------------------------------------------------


@dataclass(frozen=True)
class Centrality:
    entity_id: int
    score: float


@dataclass(frozen=True)
class Betweenness:
    exact: bool
    samples: int | None
    nodes: int
    ranking: list[Centrality] = field(default_factory=list)


def betweenness(
    graph: nx.Graph,
    *,
    members: Iterable[int] | None = None,
    limit: int = 100,
    seed: int = SEED,
    exact_max_nodes: int = EXACT_BETWEENNESS_MAX_NODES,
    samples: int = BETWEENNESS_SAMPLES,
) -> Betweenness:
    """Normalized betweenness centrality over the whole graph or the subgraph of `members`
    (a community): exact up to `exact_max_nodes` nodes, else estimated from `samples` source
    nodes drawn with the seed. The `limit` highest, score descending, ties by rank."""
    simple = undirected(graph, members)
    exact = simple.number_of_nodes() <= exact_max_nodes
    k = None if exact else max(2, min(samples, simple.number_of_nodes()))
    scores = _normalized_betweenness(simple, k=k, seed=seed)
    rank = graph.graph["rank"]
    ranking = sorted(scores.items(), key=lambda item: (-item[1], rank[item[0]]))[:limit]
    return Betweenness(
        exact=exact,
        samples=k,
        nodes=simple.number_of_nodes(),
        ranking=[Centrality(entity_id=node, score=score) for node, score in ranking],
    )


def _normalized_betweenness(simple: nx.Graph, *, k: int | None, seed: int) -> dict[int, float]:
    """networkx's `betweenness_centrality(simple, k, normalized=True, seed=seed)`, the same
    sources drawn and the same scaling, with the shortest paths counted by igraph (networkx
    counts them in Python, far slower on an agency's whole graph)."""
    nodes = list(simple)
    pairs_through = len(nodes) - 1  # a node lies between a source and another target
    if pairs_through < 2:
        return dict.fromkeys(nodes, 0.0)
    sources = None if k is None else random.Random(seed).sample(nodes, k)  # noqa: S311 - reproducible
    converted, _ = _as_igraph(simple)
    index = {node: position for position, node in enumerate(nodes)}
    # igraph counts each unordered pair once; networkx's sums count (source, target) pairs.
    counted = converted.betweenness(
        directed=False, sources=None if sources is None else [index[s] for s in sources]
    )
    if sources is None:
        scale = 1 / (pairs_through * (pairs_through - 1))
        return {node: 2 * counted[position] * scale for position, node in enumerate(nodes)}
    # A sampled source is never a pair's source for itself: networkx scales it by one source fewer.
    drawn = set(sources)
    as_source = 1 / ((k - 1) * (pairs_through - 1))
    as_other = 1 / (k * (pairs_through - 1))
    return {
        node: 2 * counted[position] * (as_source if node in drawn else as_other)
        for position, node in enumerate(nodes)
    }


# --- network risk -----------------------------------------------------------------------


@dataclass(frozen=True)
class RiskPath:
    entities: tuple[int, ...]
    contribution: float


@dataclass(frozen=True)
class Risk:
    entity_id: int
    score: float
    paths: tuple[RiskPath, ...]


@dataclass(frozen=True)
class NetworkRisk:
    seeds: tuple[int, ...]
    scored: int
    ranking: list[Risk] = field(default_factory=list)


def personalized_pagerank(
    simple: nx.Graph, restart: dict[int, float], *, alpha: float = PAGERANK_ALPHA
) -> dict[int, float]:
    """PageRank whose random walk restarts at `restart` (weights summing to 1) and steps along
    a link with probability its `weight` over the weights of the links it could take. Written
    out rather than networkx's, which needs SciPy; a walk at an entity with no neighbour
    restarts, so the scores sum to 1."""
    nodes = list(simple)
    rank = {node: restart.get(node, 0.0) for node in nodes}
    strength = _strengths(simple)
    for _ in range(PAGERANK_MAX_ITERATIONS):
        stranded = sum(rank[node] for node in nodes if not strength[node])
        following = {node: (1 - alpha + alpha * stranded) * restart.get(node, 0.0) for node in nodes}
        for node in nodes:
            if strength[node]:
                share = alpha * rank[node] / strength[node]
                for neighbour, link in simple[node].items():
                    following[neighbour] += share * link["weight"]
        change = sum(abs(following[node] - rank[node]) for node in nodes)
        rank = following
        if change < PAGERANK_TOLERANCE * max(len(nodes), 1):
            break
    return rank


@dataclass(frozen=True)
class RiskWalk:
    """The risk walk over one viewer's graph: `scores` maps every entity the walk reaches,
    the seeds included, to its visits over its stationary share."""

    simple: nx.Graph
    seeds: tuple[int, ...]
    restart: dict[int, float]
    strength: dict[int, float]
    scores: dict[int, float]


def risk_walk(graph: nx.Graph, *, alpha: float = PAGERANK_ALPHA) -> RiskWalk | None:
    """Personalized PageRank over the graph weighted by `walk_ties`, seeded evenly from the
    entities in seizure records (None without any): how often a walk from the seizures that
    keeps following links stops at each entity, as a multiple of how often the same walk
    started anywhere would (its stationary share, the entity's total link weight over
    everyone's), so that an entity scores high for being near the seizures, not for being big."""
    simple = walk_ties(undirected(graph))
    seeded = seeds(graph)
    if not seeded:
        return None
    restart = {node: 1 / len(seeded) for node in seeded}
    visits = personalized_pagerank(simple, restart, alpha=alpha)
    strength = _strengths(simple)
    total = sum(strength.values())
    scores = {
        node: visited * total / strength[node]
        for node, visited in visits.items()
        if visited > 0 and strength[node]
    }
    return RiskWalk(simple, tuple(seeded), restart, strength, scores)


def network_risk(
    graph: nx.Graph,
    *,
    limit: int = 100,
    paths_per_entity: int = 3,
    alpha: float = PAGERANK_ALPHA,
) -> NetworkRisk:
    """The `risk_walk`'s ranking of the entities reached other than the seeds (score
    descending, ties by rank), each of the `limit` highest with the `paths_per_entity`
    shortest paths from a seed that contribute most: a path's share of the walk is the
    seed's weight times, for every step, alpha times the probability that the walk takes
    that step."""
    walk = risk_walk(graph, alpha=alpha)
    if walk is None:
        return NetworkRisk(seeds=(), scored=0)
    seed_set = set(walk.seeds)
    rank = graph.graph["rank"]
    scored = sorted(
        ((node, score) for node, score in walk.scores.items() if node not in seed_set),
        key=lambda item: (-item[1], rank[item[0]]),
    )
    predecessors, _ = shortest_path_dag(walk.simple, list(walk.seeds))
    ranking = [
        Risk(
            entity_id=node,
            score=score,
            paths=contributing_paths(walk, predecessors, node, limit=paths_per_entity, alpha=alpha),
        )
        for node, score in scored[:limit]
    ]
    return NetworkRisk(seeds=walk.seeds, scored=len(scored), ranking=ranking)


def contributing_paths(
    walk: RiskWalk,
    predecessors: dict[int, list[int]],
    node: int,
    *,
    limit: int,
    alpha: float = PAGERANK_ALPHA,
) -> tuple[RiskPath, ...]:
    """The `limit` shortest paths from a seed to `node` that carry most of the walk."""
    candidates = []
    for path in islice(paths_back(predecessors, node), PATHS_WEIGHED):
        contribution = walk.restart[path[0]]
        for step, following in pairwise(path):
            contribution *= alpha * walk.simple[step][following]["weight"] / walk.strength[step]
        candidates.append(RiskPath(entities=path, contribution=contribution))
    rank = walk.simple.graph["rank"]
    candidates.sort(key=lambda p: (-p.contribution, [rank[node] for node in p.entities]))
    return tuple(candidates[:limit])


def shortest_path_dag(simple: nx.Graph, sources: list[int]) -> tuple[dict[int, list[int]], dict[int, int]]:
    """Breadth-first from every source at once: each node's distance to the nearest source
    and its predecessors on shortest paths from one (in rank order)."""
    distance = dict.fromkeys(sources, 0)
    predecessors: dict[int, list[int]] = {node: [] for node in sources}
    frontier = ranked(simple, sources)
    while frontier:
        following: set[int] = set()
        for node in frontier:
            for neighbour in simple[node]:
                if neighbour not in distance or distance[neighbour] == distance[node] + 1:
                    if neighbour not in distance:
                        distance[neighbour] = distance[node] + 1
                        predecessors[neighbour] = []
                        following.add(neighbour)
                    predecessors[neighbour].append(node)
        frontier = ranked(simple, following)
    for listed in predecessors.values():
        listed.sort(key=simple.graph["rank"].__getitem__)
    return predecessors, distance


def paths_back(predecessors: dict[int, list[int]], node: int) -> Iterable[tuple[int, ...]]:
    """The shortest paths from a source to `node`, source first, in rank order of the steps
    back from `node`, lazily (there may be very many)."""
    stack: list[tuple[int, tuple[int, ...]]] = [(node, (node,))]
    while stack:
        current, suffix = stack.pop()
        before = predecessors.get(current, [])
        if not before:
            yield suffix
            continue
        for previous in reversed(before):
            stack.append((previous, (previous, *suffix)))


# --- named patterns ---------------------------------------------------------------------


def _ends(graph: nx.MultiDiGraph, node: int, types: tuple[str, ...], *, outgoing: bool) -> set[int]:
    edges = graph.out_edges(node, keys=True) if outgoing else graph.in_edges(node, keys=True)
    return {(t if outgoing else s) for s, t, key in edges if key in types}


def _importers_of(graph: nx.MultiDiGraph, shipments: Iterable[int]) -> set[int]:
    return set().union(*(_ends(graph, s, IMPORTER_LINKS, outgoing=True) for s in shipments))


def _nodes_of_type(graph: nx.MultiDiGraph, type_: str) -> list[int]:
    return ranked(graph, (node for node, kind in graph.nodes(data="type") if kind == type_))


def companies_at_seized_addresses(graph: nx.MultiDiGraph) -> list[dict]:
    """Companies registered at an address where a company in a seizure is registered (other
    than itself): per company and address, with the seized companies there."""
    found = []
    for address in _nodes_of_type(graph, "address"):
        registered = {
            c
            for c in _ends(graph, address, ("REGISTERED_AT",), outgoing=False)
            if graph.nodes[c]["type"] == "company"
        }
        seized = {c for c in registered if graph.nodes[c]["seized"]}
        for company in ranked(graph, registered):
            others = ranked(graph, seized - {company})
            if others:
                found.append({"company": company, "address": address, "seized_companies": others})
    rank = graph.graph["rank"]
    return sorted(found, key=lambda row: (rank[row["company"]], rank[row["address"]]))


def vessels_carrying_for_seized_importers(graph: nx.MultiDiGraph, *, min_importers: int = 2) -> list[dict]:
    """Vessels that carried shipments of at least `min_importers` distinct importers named
    in seizures: most such importers first, ties by the vessel's rank."""
    found = []
    for vessel in _nodes_of_type(graph, "vessel"):
        shipments = _ends(graph, vessel, ("CARRIED_BY",), outgoing=False)
        importers = ranked(graph, (i for i in _importers_of(graph, shipments) if graph.nodes[i]["seized"]))
        if len(importers) >= min_importers:
            found.append({"vessel": vessel, "importers": importers})
    # Sorted in rank order already: the stable sort keeps it among equals.
    return sorted(found, key=lambda row: -len(row["importers"]))


def new_importers_with_seized_brokers(graph: nx.MultiDiGraph, *, today: date, days: int = 90) -> list[dict]:
    """Importers first seen (their earliest visible record) in the `days` up to `today` that
    used, on some shipment, a broker named in a seizure."""
    since = today - timedelta(days=days)
    found = []
    for node in ranked(graph, graph):
        shipments = _ends(graph, node, IMPORTER_LINKS, outgoing=False)
        first_seen = graph.nodes[node]["first_seen"]
        if not shipments or first_seen is None or not since <= first_seen <= today:
            continue
        brokers = set().union(*(_ends(graph, s, ("BROKERED_BY",), outgoing=True) for s in shipments))
        seized = ranked(graph, (b for b in brokers if graph.nodes[b]["seized"]))
        if seized:
            found.append({"importer": node, "first_seen": first_seen.isoformat(), "brokers": seized})
    return found


def containers_across_unrelated_importers(graph: nx.MultiDiGraph) -> list[dict]:
    """Containers that shipments of two or more importers used, where some two of those
    importers have no registered address in common: each with its importers and those
    pairs. Most importers first, ties by the container's rank."""
    found = []
    for container in _nodes_of_type(graph, "container"):
        shipments = _ends(graph, container, CONTAINER_LINKS, outgoing=False)
        importers = ranked(graph, _importers_of(graph, shipments))
        addresses = {i: _ends(graph, i, ("REGISTERED_AT",), outgoing=True) for i in importers}
        unrelated = [[a, b] for a, b in combinations(importers, 2) if not addresses[a] & addresses[b]]
        if unrelated:
            found.append({"container": container, "importers": importers, "unrelated_pairs": unrelated})
    return sorted(found, key=lambda row: -len(row["importers"]))
