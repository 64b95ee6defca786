"""An entity's internal id grows with its age, and an entity another agency named first is
older than those the viewer's own records made. Communities of equal size numbered by their
smallest id, members and ranks listed by id, and the seeded algorithms reading nodes in id
order told the viewer which of its entities records it may not see name. The analytics rank
entities by their public id (random) instead: given the same public ids, an answer is the
same whatever ids the entities have.

The first tests are pure (hand-made graphs, each entity's `order` standing for its public
id); the last runs communities over the API on the embedded default, with and without
another agency having named one of the viewer's entities first."""

import random
from dataclasses import replace
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from graph.algorithms import (
    EntityRow,
    LinkRow,
    betweenness,
    build_graph,
    build_network,
    communities,
    companies_at_seized_addresses,
    containers_across_unrelated_importers,
    network_risk,
    new_importers_with_seized_brokers,
    vessels_carrying_for_seized_importers,
)
from intel.import_writing import import_file
from intel.models import Entity
from targeting.network import seized_neighbours
from tests.fast.test_graph_algorithms import rows
from tests.sharing_helpers import staff


def graph_of(edges, orders, **stated):
    """`rows(edges, ...)`'s graph, each entity's public id standing in `orders`."""
    entities, links = rows(edges, **stated)
    return build_graph([replace(entity, order=orders[entity.id]) for entity in entities], links)


TRIANGLES = [(1, 2), (2, 3), (1, 3), (4, 5), (5, 6), (4, 6)]


def test_equal_communities_are_numbered_and_listed_by_public_id_not_by_age():
    # 4, 5 and 6 are the younger entities, and their public ids come first.
    orders = {1: "e", 2: "f", 3: "d", 4: "b", 5: "c", 6: "a"}
    graph = graph_of(TRIANGLES, orders)
    for engine in ("networkx", "igraph"):
        found = communities(graph, engine=engine)
        assert [c.members for c in found] == [(6, 4, 5), (3, 1, 2)], engine
        assert [c.id for c in found] == [0, 1]


def test_equal_brokers_are_ranked_by_public_id():
    # Two paths of three: 2 and 5 lie between the same number of pairs.
    graph = graph_of([(1, 2), (2, 3), (4, 5), (5, 6)], {1: "a", 2: "z", 3: "b", 4: "c", 5: "y", 6: "d"})
    ranking = [row.entity_id for row in betweenness(graph).ranking]
    assert ranking[:2] == [5, 2]


def test_equal_network_risk_and_its_paths_follow_public_ids():
    # A diamond from the seizure at 1: 2 and 3 are alike, as are the paths to 4 through them.
    graph = graph_of([(1, 2), (1, 3), (2, 4), (3, 4)], {1: "m", 2: "z", 3: "a", 4: "n"}, seized={1})
    risk = network_risk(graph, paths_per_entity=2)
    ranked = [row.entity_id for row in risk.ranking]
    assert ranked.index(3) == ranked.index(2) - 1
    four = next(row for row in risk.ranking if row.entity_id == 4)
    assert [path.entities for path in four.paths] == [(1, 3, 4), (1, 2, 4)]


def test_the_patterns_list_equal_matches_by_public_id():
    types = {10: "vessel", 11: "vessel", 20: "company", 21: "company", 30: "shipment", 31: "shipment"}
    edges = [
        (30, 10, "CARRIED_BY"),
        (31, 11, "CARRIED_BY"),
        (30, 20, "IMPORTED_BY"),
        (30, 21, "IMPORTED_BY"),
        (31, 20, "IMPORTED_BY"),
        (31, 21, "IMPORTED_BY"),
    ]
    orders = {10: "z", 11: "a", 20: "y", 21: "b", 30: "c", 31: "d"}
    graph = graph_of(edges, orders, seized={20, 21}, types=types)
    assert vessels_carrying_for_seized_importers(graph) == [
        {"vessel": 11, "importers": [21, 20]},
        {"vessel": 10, "importers": [21, 20]},
    ]


def test_seized_neighbours_are_named_by_public_id():
    # Trader 1 shares address 5 with the seized 3 and 2; 3's public id comes first.
    types = {1: "company", 2: "company", 3: "company", 5: "address"}
    edges = [(1, 5, "REGISTERED_AT"), (2, 5, "REGISTERED_AT"), (3, 5, "REGISTERED_AT")]
    graph = graph_of(edges, {1: "m", 2: "z", 3: "a", 5: "n"}, seized={2, 3}, types=types)
    assert seized_neighbours(graph, frozenset({2, 3}))[1] == ((5, 3), (5, 2))


# --- the same public ids, other ids: the same answer -------------------------------------

KINDS = {"shipment": 60, "company": 24, "address": 10, "vessel": 5, "container": 8}


def scenario(seed):
    """Shipments of companies (importers and brokers) registered at shared addresses, carried
    by vessels in containers, some companies seized, each entity with a public id; and the
    ids those entities have if the oldest of them had been made last."""
    rnd = random.Random(seed)
    kinds, node = {}, 0
    for kind, count in KINDS.items():
        kinds[kind] = list(range(node, node + count))
        node += count
    companies = kinds["company"]
    links = [LinkRow(c, rnd.choice(kinds["address"]), "REGISTERED_AT", 0) for c in companies]
    for shipment in kinds["shipment"]:
        for target, type_ in (
            (rnd.choice(companies[:16]), "IMPORTED_BY"),
            (rnd.choice(companies[16:]), "BROKERED_BY"),
            (rnd.choice(kinds["vessel"]), "CARRIED_BY"),
            (rnd.choice(kinds["container"]), "SHIPPED_IN"),
        ):
            links.append(LinkRow(shipment, target, type_, shipment))
    rows = {
        node: EntityRow(
            node,
            kind,
            kind == "company" and rnd.random() < 0.3,
            date(2025, 6, 1 + rnd.randrange(28))
            if rnd.random() < 0.5
            else date(2026, 1, 1 + rnd.randrange(28)),
            f"{rnd.getrandbits(128):032x}",
        )
        for kind, nodes in kinds.items()
        for node in nodes
    }
    older = {node: 1000 - node for node in rows}
    return rows, links, older


def renamed(value, to):
    """`value` (an answer) with every entity id in it replaced by `to[id]`."""
    if isinstance(value, dict):
        return {
            key: renamed(item, to)
            if key not in ("id", "size", "seizures", "nodes", "samples", "scored", "score")
            else item
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(renamed(item, to) for item in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return to[value]
    return value


def as_dicts(value):
    if isinstance(value, list | tuple):
        return type(value)(as_dicts(item) for item in value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: as_dicts(getattr(value, name)) for name in value.__dataclass_fields__}
    return value


ANALYSES = {
    "communities networkx": lambda graph: communities(graph),
    "communities igraph": lambda graph: communities(graph, engine="igraph"),
    "betweenness exact": lambda graph: betweenness(graph),
    "betweenness sampled": lambda graph: betweenness(graph, exact_max_nodes=10, samples=15),
    "network risk": lambda graph: network_risk(graph, paths_per_entity=3),
    "companies at seized addresses": companies_at_seized_addresses,
    "vessels": vessels_carrying_for_seized_importers,
    "new importers": lambda graph: new_importers_with_seized_brokers(graph, today=date(2026, 2, 1), days=90),
    "containers": containers_across_unrelated_importers,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("analysis", sorted(ANALYSES))
def test_an_answer_depends_on_public_ids_not_on_internal_ids(analysis, seed):
    rows, links, older = scenario(seed)
    run = ANALYSES[analysis]
    young = build_graph(rows.values(), links)
    old = build_graph(
        [replace(row, id=older[row.id]) for row in rows.values()],
        [replace(link, source=older[link.source], target=older[link.target]) for link in links],
    )
    back = {renamed_id: node for node, renamed_id in older.items()}
    answer = as_dicts(run(young))
    assert answer, "a scenario that finds nothing tests nothing"
    assert renamed(as_dicts(run(old)), back) == answer


@pytest.mark.parametrize("seed", [1, 2])
def test_the_network_answers_as_the_graph_whatever_the_ids(seed):
    rows, links, older = scenario(seed)
    network = build_network(
        ((older[row.id], row.seized, row.order) for row in rows.values()),
        ((older[link.source], older[link.target]) for link in links),
    )
    back = {renamed_id: node for node, renamed_id in older.items()}
    graph = build_graph(rows.values(), links)
    for engine in ("networkx", "igraph"):
        assert renamed(as_dicts(communities(network, engine=engine)), back) == as_dicts(
            communities(graph, engine=engine)
        )
    assert renamed(as_dicts(network_risk(network)), back) == as_dicts(network_risk(graph))


# --- on the embedded default, over the API ------------------------------------------------

HEADER = "external_ref,category,occurred_on,importer_name,importer_country,importer_phone\n"


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["+31 10 555 0101", "+31 10 555 0102", None])
def test_bbbs_communities_are_numbered_by_public_id_whoever_named_a_member_first(
    tmp_path, first, django_capture_on_commit_callbacks
):
    """bbb's file makes two rings of three (a shipment, its importer, the importer's phone),
    alike but for their public ids; aaa (no agreement with bbb) may have named one phone
    first."""
    aaa, bbb = staff("aaa"), staff("bbb", kind="police")
    if first is not None:
        path = tmp_path / "aaa.csv"
        path.write_text(HEADER + f"A-1,shipment,2026-03-01,Other Co,DE,{first}\n")
        import_file(path, aaa.agency, user=aaa.analyst)
    rows = (
        "B-1,shipment,2026-03-02,Zeta Co,DE,+31 10 555 0101\n"
        "B-2,shipment,2026-03-03,Yotta Co,DE,+31 10 555 0102\n"
    )
    client = bbb.client(purpose="investigation")
    upload = SimpleUploadedFile("b.csv", (HEADER + rows).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/imports/", {"file": upload}, format="multipart").status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/api/graph/analytics/communities/", {}, format="json")
    answer = client.post("/api/graph/analytics/communities/", {}, format="json")
    assert answer.status_code == 200

    rings = []
    for ref in ("B-1", "B-2"):
        members = Entity.objects.filter(mentions__record__external_ref=ref).distinct()
        rings.append(sorted(str(entity.public_id) for entity in members))
    assert all(len(ring) == 3 for ring in rings)
    shown = [[member["id"] for member in c["members"]] for c in answer.json()["result"]["communities"]]
    assert shown == sorted(rings)
