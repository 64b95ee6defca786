"""The network analytics on small hand-made graphs whose answers were worked out by hand:
two cliques joined through one broker, a path and a diamond around a seizure, and for each
named pattern one case it must find and one it must not."""

import random
from datetime import date
from fractions import Fraction

import networkx as nx
import pytest

from graph.algorithms import (
    SEED,
    EntityRow,
    LinkRow,
    betweenness,
    build_graph,
    build_network,
    communities,
    community_of,
    companies_at_seized_addresses,
    containers_across_unrelated_importers,
    network_risk,
    new_importers_with_seized_brokers,
    undirected,
    vessels_carrying_for_seized_importers,
)


def rows(edges, *, seized=(), types=None, first_seen=None, link_type="CONTACT"):
    """Entities for every end of `edges` ((source, target) or (source, target, type)), each
    edge asserted by a record of its own."""
    types, first_seen = types or {}, first_seen or {}
    ids = sorted({end for edge in edges for end in edge[:2]})
    entities = [EntityRow(i, types.get(i, "company"), i in seized, first_seen.get(i)) for i in ids]
    links = [
        LinkRow(edge[0], edge[1], edge[2] if len(edge) > 2 else link_type, 1000 + n)
        for n, edge in enumerate(edges)
    ]
    return entities, links


def clique(members):
    return [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]


# Two cliques of four, {1,2,3,4} and {6,7,8,9}, joined only through broker 5 (4-5-6);
# 8 appears in a seizure.
BRIDGED = clique([1, 2, 3, 4]) + clique([6, 7, 8, 9]) + [(4, 5), (5, 6)]


def bridged_graph(shuffle_with=None):
    entities, links = rows(BRIDGED, seized={8})
    if shuffle_with is not None:
        random.Random(shuffle_with).shuffle(entities)
        random.Random(shuffle_with).shuffle(links)
    return build_graph(entities, links)


def test_the_two_cliques_are_two_communities_with_their_seizures():
    found = communities(bridged_graph())
    assert len(found) == 2
    memberships = [set(c.members) for c in found]
    assert any({1, 2, 3, 4} <= m for m in memberships) and any({6, 7, 8, 9} <= m for m in memberships)
    assert not any({1, 6} <= m for m in memberships)
    by_first = {c.members[0] if c.members[0] != 5 else c.members[1]: c for c in found}
    assert by_first[6].seizures == 1 and by_first[1].seizures == 0
    assert sorted(c.size for c in found) == [4, 5]
    assert [c.id for c in found] == [0, 1]
    assert found[0].size == 5, "the larger community is numbered first"
    assert community_of(found, 8).members == by_first[6].members
    assert community_of(found, 42) is None


def test_communities_are_the_same_whatever_order_the_rows_came_in():
    first = communities(bridged_graph())
    assert all(communities(bridged_graph(shuffle_with=n)) == first for n in range(5))


def test_the_bridging_broker_has_the_highest_betweenness():
    result = betweenness(bridged_graph())
    assert result.exact and result.nodes == 9
    # Normalized by the 28 pairs of the 8 other nodes: 5 lies on every path between the
    # cliques (16 pairs); 4 on those from 1, 2, 3 to the other side (15), 6 likewise.
    scores = {c.entity_id: c.score for c in result.ranking}
    assert result.ranking[0].entity_id == 5
    assert scores[5] == pytest.approx(16 / 28)
    assert scores[4] == scores[6] == pytest.approx(15 / 28)
    assert [c.entity_id for c in result.ranking[1:3]] == [4, 6], "ties in id order"
    assert scores[1] == 0


def test_betweenness_within_a_community_ignores_the_rest():
    result = betweenness(bridged_graph(), members=[1, 2, 3, 4, 5])
    scores = {c.entity_id: c.score for c in result.ranking}
    # Within {1..5} only 4 is between: pairs (1,5), (2,5), (3,5) of the 6 pairs of 4 others.
    assert result.nodes == 5
    assert scores == pytest.approx({4: 3 / 6, 1: 0, 2: 0, 3: 0, 5: 0})


def test_sampled_betweenness_is_reproducible():
    sampled = [betweenness(bridged_graph(shuffle_with=n), exact_max_nodes=3, samples=4) for n in range(4)]
    assert not sampled[0].exact and sampled[0].samples == 4
    assert all(s == sampled[0] for s in sampled)


def test_network_risk_on_a_path_matches_the_hand_solved_pagerank():
    # 1 (seized) - 2 - 3, alpha 0.85, restarting at 1; each end of 2 has degree 1, so the walk
    # is the plain one (from 2 to 1 or 3 evenly):
    #   r1 = 0.15 + 0.85 r2/2,  r2 = 0.85 (r1 + r3),  r3 = 0.85 r2/2
    #   so r2 = 0.1275 / 0.2775, r3 = 0.425 r2.
    # The link weights 1/(1*2) make the strengths 1/2, 1, 1/2 (total 2): the score is the
    # visits over that share, 2 r2 for 2 and 0.425 r2 * 4 = 1.7 r2 for 3.
    risk = network_risk(build_graph(*rows([(1, 2), (2, 3)], seized={1})))
    r2 = float(Fraction(1275, 2775))
    assert risk.seeds == (1,)
    assert [(r.entity_id, r.score) for r in risk.ranking] == [
        (2, pytest.approx(2 * r2)),
        (3, pytest.approx(1.7 * r2)),
    ]
    assert risk.ranking[1].paths[0].entities == (1, 2, 3)


def test_network_risk_falls_with_distance_from_the_seizure():
    risk = network_risk(build_graph(*rows([(1, 2), (2, 3), (3, 4), (4, 5)], seized={1})))
    assert [r.entity_id for r in risk.ranking] == [2, 3, 4, 5]
    scores = [r.score for r in risk.ranking]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 4


def test_the_path_through_the_quieter_entity_contributes_most():
    # Diamond 1-2-4, 1-3-4 with 3 also linked to 5 (degrees 1:2, 2:2, 3:3, 4:2, 5:1). The walk
    # steps to a neighbour in inverse proportion to its degree: leaving 1 to 2 with (1/2) /
    # (1/2 + 1/3) = 3/5 and to 3 with 2/5; leaving 2 to 4 with 1/2; leaving 3 (to 1, 4, 5:
    # 1/2, 1/2, 1) to 4 with 1/4. So 1-2-4 carries 0.85^2 * 3/10 and 1-3-4 0.85^2 / 10.
    graph = build_graph(*rows([(1, 2), (1, 3), (2, 4), (3, 4), (3, 5)], seized={1}))
    risk = {r.entity_id: r for r in network_risk(graph).ranking}
    paths = risk[4].paths
    assert [p.entities for p in paths] == [(1, 2, 4), (1, 3, 4)]
    assert paths[0].contribution == pytest.approx(0.85**2 * 3 / 10)
    assert paths[1].contribution == pytest.approx(0.85**2 / 10)
    one = {r.entity_id: r for r in network_risk(graph, paths_per_entity=1).ranking}
    assert [p.entities for p in one[4].paths] == [(1, 2, 4)]


def test_no_seizure_no_risk():
    risk = network_risk(build_graph(*rows([(1, 2)])))
    assert risk.seeds == () and risk.ranking == []


def test_companies_at_a_seized_companys_address():
    types = {20: "address", 21: "address"}
    graph = build_graph(
        *rows(
            [(10, 20), (11, 20), (12, 21)],
            seized={10},
            types=types,
            link_type="REGISTERED_AT",
        )
    )
    # 11 shares seized 10's address; 12's address holds no seized company; 10 itself is
    # the only seized company at its address.
    assert companies_at_seized_addresses(graph) == [{"company": 11, "address": 20, "seized_companies": [10]}]


def test_vessels_that_carried_for_several_seized_importers():
    types = {30: "shipment", 31: "shipment", 32: "shipment", 33: "shipment", 50: "vessel", 51: "vessel"}
    edges = [
        (30, 40, "IMPORTED_BY"),
        (31, 41, "IMPORTED_BY"),
        (32, 42, "IMPORTED_BY"),
        (33, 43, "IMPORTED_BY"),
        (30, 50, "CARRIED_BY"),
        (31, 50, "CARRIED_BY"),
        (32, 51, "CARRIED_BY"),
        (33, 51, "CARRIED_BY"),
    ]
    graph = build_graph(*rows(edges, seized={40, 41, 42}, types=types))
    # 50 carried for seized 40 and 41; 51 for seized 42 and 43, who is in no seizure.
    assert vessels_carrying_for_seized_importers(graph, min_importers=2) == [
        {"vessel": 50, "importers": [40, 41]}
    ]
    assert [row["vessel"] for row in vessels_carrying_for_seized_importers(graph, min_importers=1)] == [
        50,
        51,
    ]


def test_new_importers_using_a_broker_in_a_seizure():
    types = {70: "shipment", 71: "shipment", 72: "shipment", 80: "company", 81: "company"}
    first_seen = {60: date(2026, 5, 1), 61: date(2026, 1, 1), 62: date(2026, 6, 1)}
    edges = [
        (70, 60, "IMPORTED_BY"),
        (70, 80, "BROKERED_BY"),
        (71, 61, "IMPORTED_BY"),
        (71, 80, "BROKERED_BY"),
        (72, 62, "IMPORTED_BY"),
        (72, 81, "BROKERED_BY"),
    ]
    graph = build_graph(*rows(edges, seized={80}, types=types, first_seen=first_seen))
    # 60 is new and used seized broker 80; 61 used it too but was first seen 180 days
    # earlier; 62 is new but its broker 81 is in no seizure.
    assert new_importers_with_seized_brokers(graph, today=date(2026, 6, 30)) == [
        {"importer": 60, "first_seen": "2026-05-01", "brokers": [80]}
    ]


def test_containers_reused_across_importers_sharing_no_address():
    types = {
        90: "container",
        93: "container",
        110: "address",
        111: "address",
        112: "address",
        **dict.fromkeys([91, 92, 94, 95], "shipment"),
    }
    edges = [
        (91, 90, "SHIPPED_IN"),
        (92, 90, "SEIZED_IN"),
        (91, 100, "IMPORTED_BY"),
        (92, 101, "IMPORTED_BY"),
        (100, 110, "REGISTERED_AT"),
        (101, 111, "REGISTERED_AT"),
        (94, 93, "SHIPPED_IN"),
        (95, 93, "SHIPPED_IN"),
        (94, 102, "IMPORTED_BY"),
        (95, 103, "IMPORTED_BY"),
        (102, 112, "REGISTERED_AT"),
        (103, 112, "REGISTERED_AT"),
    ]
    graph = build_graph(*rows(edges, types=types))
    # Container 90 served 100 and 101, registered apart; 93 served 102 and 103, who share 112.
    assert containers_across_unrelated_importers(graph) == [
        {"container": 90, "importers": [100, 101], "unrelated_pairs": [[100, 101]]}
    ]


def test_a_link_to_an_entity_the_viewer_may_not_see_is_left_out():
    graph = build_graph([EntityRow(1, "company"), EntityRow(2, "company")], [LinkRow(1, 3, "CONTACT", 7)])
    assert graph.number_of_edges() == 0 and sorted(graph) == [1, 2]


def test_the_network_is_each_pair_of_visible_entities_linked_once_with_the_seizures():
    network = build_network(
        [(4, False, ""), (2, True, ""), (1, False, ""), (5, False, "")],
        # Both ways, twice by two records, a loop, and a link to entity 3, which is not visible.
        [(2, 1), (1, 2), (1, 2), (4, 1), (2, 2), (2, 3), (3, 4)],
    )
    assert list(network) == [1, 2, 4, 5]
    assert list(network.edges()) == [(1, 2), (1, 4)]
    assert dict(network.nodes(data="seized")) == {1: False, 2: True, 4: False, 5: False}


def network_of(entities, links):
    return build_network(
        ((e.id, e.seized, e.order) for e in entities), ((link.source, link.target) for link in links)
    )


def messy(edges, *, seed):
    """`rows(edges)` as a database gives them: each relationship also asserted by a second
    record and the other way round, a link of another type, loops, links to entities the
    viewer may not see, an entity linked to nothing, all in a shuffled order."""
    entities, links = rows(edges, seized={8, 20, 33})
    hidden = max(e.id for e in entities) + 1
    more = [LinkRow(link.target, link.source, "OWNS", link.record + 5000) for link in links[::3]]
    more += [LinkRow(link.source, link.target, link.type, link.record + 9000) for link in links[1::4]]
    more += [LinkRow(e.id, e.id, "CONTACT", 1) for e in entities[::7]]
    more += [LinkRow(e.id, hidden, "CONTACT", 2) for e in entities[::5]]
    entities.append(EntityRow(hidden + 1, "phone"))
    links += more
    random.Random(seed).shuffle(entities)
    random.Random(seed).shuffle(links)
    return entities, links


@pytest.mark.parametrize(
    "edges",
    [
        BRIDGED,
        list(nx.gnm_random_graph(60, 150, seed=3).edges()),
        list(nx.gnm_random_graph(300, 500, seed=5).edges()),
    ],
    ids=["bridged", "random-60", "random-300"],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_the_undirected_algorithms_answer_the_same_over_the_network_as_over_the_graph(edges, seed):
    entities, links = messy(edges, seed=seed)
    graph, network = build_graph(entities, links), network_of(entities, links)
    for engine in ("networkx", "igraph"):
        assert communities(network, engine=engine) == communities(graph, engine=engine)
    assert betweenness(network, samples=9, exact_max_nodes=50) == betweenness(
        graph, samples=9, exact_max_nodes=50
    )
    members = communities(graph)[0].members
    assert betweenness(network, members=members) == betweenness(graph, members=members)
    assert network_risk(network) == network_risk(graph)


def test_the_igraph_communities_split_the_cliques_too_whatever_the_row_order():
    found = communities(bridged_graph(), engine="igraph")
    memberships = [set(c.members) for c in found]
    assert len(found) == 2
    assert any({1, 2, 3, 4} <= m for m in memberships) and any({6, 7, 8, 9} <= m for m in memberships)
    assert all(communities(bridged_graph(shuffle_with=n), engine="igraph") == found for n in range(5))


@pytest.mark.parametrize("exact_max_nodes", [10_000, 3])
def test_betweenness_equals_networkx_exact_and_sampled(exact_max_nodes):
    # networkx computing it alone is the reference: same sources drawn, same scaling.
    graph = build_graph(*rows(list(nx.gnm_random_graph(40, 90, seed=7).edges())))
    ours = betweenness(graph, limit=100, exact_max_nodes=exact_max_nodes, samples=9)
    simple = undirected(graph)
    k = None if ours.exact else 9
    reference = nx.betweenness_centrality(simple, k=k, normalized=True, seed=SEED if k else None)
    assert ours.exact == (exact_max_nodes > 40)
    assert len(ours.ranking) == simple.number_of_nodes(), "the limit leaves every node"
    assert {c.entity_id: c.score for c in ours.ranking} == pytest.approx(reference)


@pytest.mark.parametrize(
    "operation",
    [
        "companies_at_seized_addresses",
        "vessels_carrying_for_seized_importers",
        "new_importers_with_seized_brokers",
        "containers_across_unrelated_importers",
    ],
)
def test_a_pattern_given_a_network_refuses_it_rather_than_find_nothing(operation):
    from graph.jobs import OPERATIONS

    entities, links = rows(BRIDGED, seized={8})
    spec = OPERATIONS[operation]
    parameters = {"today": "2026-01-01", "days": 90} if "days" in spec.takes else {}
    with pytest.raises(TypeError, match="reads the whole graph"):
        spec.run(network_of(entities, links), parameters)
    assert spec.run(build_graph(entities, links), parameters) == {"matches": []}
