"""The pure parts of the graph analytics (`graph.analytics.algorithms`), and the embedded
default answering through networkx (`ReferenceBackend`) on SQLite, over part of the network
of tests/test_graph_analytics.py. Expectations are written by hand."""

import random
import uuid
from pathlib import Path

import pytest

from graph import selectors
from graph.analytics import Scope, algorithms, backend
from graph.analytics.reference import ReferenceBackend
from intel.import_writing import import_file
from intel.models import Entity
from intel.selectors import Reader
from tests.sharing_helpers import staff
from tests.test_graph_analytics import (
    PURPOSE,
    SHIPMENT_HEADER,
    entity_of,
    nodes_of,
    paths_of,
    shipment_row,
)

# a - b - c - d, and b - e; f alone
LINE = [(1, 2, "CONTACT"), (3, 2, "CONTACT"), (3, 4, "OWNS"), (2, 5, "REGISTERED_AT")]


def test_distances_stop_at_the_hops_and_start_from_every_seed():
    assert algorithms.distances(LINE, [1], 1) == {1: 0, 2: 1}
    assert algorithms.distances(LINE, [1], 2) == {1: 0, 2: 1, 3: 2, 5: 2}
    assert algorithms.distances(LINE, [1, 4], 1) == {1: 0, 4: 0, 2: 1, 3: 1}
    assert algorithms.distances(LINE, [6], 3) == {6: 0}


def test_a_limited_walk_stops_at_the_first_depth_that_reaches_more_nodes_than_its_limit():
    # From 1: {1} at depth 0, {2} at 1, {3, 5} at 2, {4} at 3.
    assert algorithms.depth_for(LINE, [1], 3, None) == 3
    assert algorithms.depth_for(LINE, [1], 3, 1) == 1
    assert algorithms.depth_for(LINE, [1], 3, 2) == 2
    assert algorithms.depth_for(LINE, [1], 3, 4) == 3
    assert algorithms.depth_for(LINE, [1], 3, 5) == 3
    assert algorithms.depth_for(LINE, [1, 4], 3, 1) == 0
    assert algorithms.depth_for(LINE, [6], 2, 0) == 0


def test_a_walk_crosses_no_relationship_between_two_nodes_at_its_edge():
    triangle = [(1, 2, "CONTACT"), (1, 3, "CONTACT"), (2, 3, "OWNS")]
    distance = algorithms.distances(triangle, [1], 1)
    assert algorithms.crossed_relationships(triangle, distance, 1) == {(1, 2, "CONTACT"), (1, 3, "CONTACT")}
    assert algorithms.crossed_relationships(triangle, algorithms.distances(triangle, [1], 2), 2) == set(
        triangle
    )


def test_the_node_limit_keeps_the_nearest():
    distance = {1: 0, 2: 1, 3: 2, 5: 2}
    order = {1: "d", 2: "c", 3: "b", 5: "a"}
    assert algorithms.nearest_first(distance, order.__getitem__, 3) == [1, 2, 5]


def test_a_path_needs_a_relationship_behind_every_step_either_way():
    between = algorithms.relationships_by_pair(LINE)
    assert algorithms.steps_of((1, 2, 3), between) == [[(1, 2, "CONTACT")], [(3, 2, "CONTACT")]]
    assert algorithms.steps_of((1, 2, 3, 9), between) is None


def by_number(nodes):
    return {node: f"{node:04d}" for node in nodes}


def test_every_shortest_path_either_way_and_none_longer_up_to_the_limit():
    # Two ways of two steps from 1 to 4 (through 2, through 3, one of them against the
    # relationships' direction), one of three steps (through 5 and 6), two links 1-2.
    triples = {
        (1, 2, "CONTACT"),
        (2, 1, "OWNS"),
        (2, 4, "CONTACT"),
        (3, 1, "CONTACT"),
        (4, 3, "CONTACT"),
        (1, 5, "CONTACT"),
        (5, 6, "CONTACT"),
        (6, 4, "CONTACT"),
    }
    assert algorithms.all_shortest_paths(triples, 1, 4, 10, by_number) == [(1, 2, 4), (1, 3, 4)]
    assert algorithms.all_shortest_paths(triples, 4, 1, 10, by_number) == [(4, 2, 1), (4, 3, 1)]
    assert algorithms.all_shortest_paths(triples, 5, 4, 10, by_number) == [(5, 6, 4)]
    assert algorithms.all_shortest_paths(triples, 1, 4, 1, by_number) == [(1, 2, 4)]
    backwards = {node: f"{9999 - node:04d}" for node in range(10)}
    assert algorithms.all_shortest_paths(triples, 1, 4, 1, lambda nodes: backwards) == [(1, 3, 4)]
    assert algorithms.all_shortest_paths(triples, 1, 9, 10, by_number) == []
    # An entity gone while the graph holds it has no public id: its paths come last.
    without_2 = {node: f"{node:04d}" for node in (1, 3, 4)}
    assert algorithms.all_shortest_paths(triples, 1, 4, 10, lambda nodes: without_2) == [(1, 3, 4), (1, 2, 4)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_past_the_limit_the_first_paths_by_public_id_are_taken_however_the_graph_was_read(seed):
    # 0 to 999 through any of 30 nodes then any of 40 (1,200 ways of three steps), beside a
    # longer way through 500, 501 and 502; each node's public id drawn at random.
    rnd = random.Random(seed)
    firsts, seconds = range(1, 31), range(101, 141)
    triples = [(0, a, "CONTACT") for a in firsts] + [(b, 999, "CONTACT") for b in seconds]
    triples += [(a, b, "CONTACT") for a in firsts for b in seconds]
    triples += [(0, 500, "CONTACT"), (500, 501, "CONTACT"), (501, 502, "CONTACT"), (502, 999, "CONTACT")]
    public = {node: str(uuid.UUID(int=rnd.getrandbits(128))) for node in range(1000)}
    every_way = sorted(
        ((0, a, b, 999) for a in firsts for b in seconds), key=lambda p: [public[n] for n in p]
    )
    asked = []

    def order(nodes):
        asked.append(set(nodes))
        return public

    for handed in (triples, triples[::-1], rnd.sample(triples, len(triples))):
        assert algorithms.all_shortest_paths(handed, 0, 999, 100, order) == every_way[:100]
        assert algorithms.all_shortest_paths(handed, 0, 999, 1_000, order) == every_way[:1_000]
    assert all(nodes == {0, 999, *firsts, *seconds} for nodes in asked)


def two_importers(tmp_path: Path):
    """cus, and two importers it imported sharing an address, a phone and an e-mail (three
    ways of two steps between them), with those three's public ids in order."""
    cus = staff("cus")
    shipments = tmp_path / "shipments.csv"
    rows = [
        f"{ref},shipment,2026-01-10,covering,{name},NL,1 Quay Street,1011 AA,+31 10 555 0101,"
        "office@golf-hotel.example,,,"
        for ref, name in (("T1", "Alpha Trading"), ("T2", "Omega Trading"))
    ]
    shipments.write_text("\n".join([SHIPMENT_HEADER, *rows]) + "\n")
    import_file(shipments, cus.agency, user=cus.liaison)
    middles = sorted(str(entity_of("T1", role).public_id) for role in ("address", "phone", "email"))
    return cus, entity_of("T1", "importer"), entity_of("T2", "importer"), middles


@pytest.mark.django_db
def test_the_paths_answered_past_the_limit_are_the_first_by_public_id(tmp_path: Path):
    cus, alpha, omega, middles = two_importers(tmp_path)
    alpha, omega = str(alpha.public_id), str(omega.public_id)
    client = cus.client(purpose=PURPOSE)
    for paths_limit, max_paths in ((3, 3), (2, 2), (2, 1), (1, 100)):
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(selectors, "PATHS_LIMIT", paths_limit)
            patch.setattr(selectors, "MAX_PATHS", max_paths)
            answer = client.get("/api/graph/paths/", {"source": alpha, "target": omega}).json()
        shown = [[node["id"] for node in path["nodes"]] for path in answer["paths"]]
        expected = [[alpha, middle, omega] for middle in middles[: min(paths_limit, max_paths)]]
        assert shown == expected, (paths_limit, max_paths)
        # More than those shown only from paths confirmed: the limit's, past the most shown.
        assert answer["more_paths"] == (min(paths_limit, 3) > max_paths)


@pytest.mark.django_db
def test_paths_the_choke_point_refuses_give_way_to_the_next_shortest_ones(tmp_path: Path, monkeypatch):
    """The graph offers paths the choke point refuses (as a graph lagging PostgreSQL would):
    through an entity no record names, first by public id, and along a relationship
    PostgreSQL does not hold. Refused paths cut at PATHS_LIMIT give way to the next ones,
    and a refused shortest path to the reader's true shortest ones."""
    cus, alpha, omega, middles = two_importers(tmp_path)
    ghost = Entity.objects.create(type="company", key="company:name:nl:ghost", public_id=uuid.UUID(int=0))
    stale = {(alpha.pk, ghost.pk, "OWNS"), (ghost.pk, omega.pk, "OWNS")}
    expand = ReferenceBackend.expand

    def lagging(self, scope, *, seeds, **kwargs):
        found = expand(self, scope, seeds=seeds, **kwargs)
        return found | {triple for triple in stale if {triple[0], triple[1]} & set(seeds)}

    monkeypatch.setattr(ReferenceBackend, "expand", lagging)
    client = cus.client(purpose=PURPOSE)
    ends = {"source": str(alpha.public_id), "target": str(omega.public_id)}
    for paths_limit, max_paths in ((2, 2), (3, 3), (1, 100), (2, 1), (3, 100)):
        monkeypatch.setattr(selectors, "PATHS_LIMIT", paths_limit)
        monkeypatch.setattr(selectors, "MAX_PATHS", max_paths)
        answer = client.get("/api/graph/paths/", ends).json()
        shown = [[node["id"] for node in path["nodes"]] for path in answer["paths"]]
        expected = [
            [ends["source"], middle, ends["target"]] for middle in middles[: min(paths_limit, max_paths)]
        ]
        assert shown == expected, (paths_limit, max_paths)
    # Past PATH_ROUNDS, no more: with no path found, the search says it is not complete.
    monkeypatch.setattr(selectors, "PATH_ROUNDS", 1)
    for paths_limit, max_paths, shown in ((1, 100, []), (2, 2, middles[:1])):
        monkeypatch.setattr(selectors, "PATHS_LIMIT", paths_limit)
        monkeypatch.setattr(selectors, "MAX_PATHS", max_paths)
        answer = client.get("/api/graph/paths/", ends).json()
        assert [[node["id"] for node in path["nodes"]][1] for path in answer["paths"]] == shown
        assert answer["search_complete"] == bool(shown)
    monkeypatch.setattr(selectors, "PATH_ROUNDS", 4)
    monkeypatch.setattr(selectors, "PATHS_LIMIT", 3)
    monkeypatch.setattr(selectors, "MAX_PATHS", 100)
    # The ghost's path last: the limit cuts it alone, and the reader has no more than shown.
    Entity.objects.filter(pk=ghost.pk).update(public_id=uuid.UUID(int=2**128 - 1))
    answer = client.get("/api/graph/paths/", ends).json()
    assert [[node["id"] for node in path["nodes"]][1] for path in answer["paths"]] == middles
    assert answer["more_paths"] is False
    # One step along a relationship PostgreSQL does not hold: the three of two steps instead.
    stale = {(alpha.pk, omega.pk, "OWNS")}
    answer = client.get("/api/graph/paths/", ends).json()
    assert [[node["id"] for node in path["nodes"]][1] for path in answer["paths"]] == middles
    assert answer["length"] == 2


@pytest.mark.django_db
def test_confirming_paths_refuses_hidden_entities_and_unconfirmed_relationships_only(
    tmp_path: Path, monkeypatch
):
    """An entity the reader may see whose relationships on the paths taken were all refused
    is not refused itself: past PATHS_LIMIT it may be on a path the reader has."""
    cus = staff("cus")
    shipments = tmp_path / "shipments.csv"
    rows = [
        f"{ref},shipment,2026-01-10,covering,{name},NL,{street},1011 AA,{phone},,,,"
        for ref, name, street, phone in (
            ("T1", "Alpha Trading", "1 Quay Street", "+31 10 555 0101"),
            ("T2", "Omega Trading", "1 Quay Street", "+31 10 555 0101"),
            ("T3", "Gamma Trading", "9 Dyke Lane", "+31 10 555 0909"),
        )
    ]
    shipments.write_text("\n".join([SHIPMENT_HEADER, *rows]) + "\n")
    import_file(shipments, cus.agency, user=cus.liaison)
    alpha, omega, gamma = (entity_of(ref, "importer").pk for ref in ("T1", "T2", "T3"))
    quay, phone = entity_of("T1", "address").pk, entity_of("T1", "phone").pk
    ghost = Entity.objects.create(type="company", key="company:name:nl:ghost", public_id=uuid.UUID(int=0))
    Entity.objects.filter(pk=gamma).update(public_id=uuid.UUID(int=1))
    real = {(alpha, quay, "REGISTERED_AT"), (omega, quay, "REGISTERED_AT"), (alpha, phone, "CONTACT")}
    real |= {(omega, phone, "CONTACT")}
    stale = {
        (alpha, ghost.pk, "OWNS"),
        (ghost.pk, omega, "OWNS"),
        (alpha, gamma, "OWNS"),
        (gamma, omega, "OWNS"),
    }
    monkeypatch.setattr(selectors, "PATHS_LIMIT", 3)
    scope = Scope(reader=Reader(cus.analyst, PURPOSE))
    found = selectors.confirmed_paths(scope, real | stale, alpha, omega)
    # By public id: through ghost, gamma, then the first of quay and phone.
    assert [path for path, _ in found.kept] == [(alpha, min((quay, phone), key=public_id_of), omega)]
    assert (found.refused, found.refused_relationships, found.cut) == ({ghost.pk}, stale, True)
    found = selectors.confirmed_paths(scope, real, alpha, omega)
    assert len(found.kept) == 2
    assert (found.refused, found.refused_relationships, found.cut) == (set(), set(), False)


def public_id_of(pk: int) -> str:
    return str(Entity.objects.get(pk=pk).public_id)


def test_clusters_join_parties_through_what_they_share_and_leave_lone_parties_out():
    types = {1: "company", 2: "address", 3: "company", 4: "person", 5: "phone", 6: "company", 7: "phone"}
    shared = [
        (1, 2, "REGISTERED_AT"),
        (3, 2, "REGISTERED_AT"),
        (4, 3, "OWNS"),
        (1, 5, "CONTACT"),
        (6, 7, "CONTACT"),
    ]
    clusters = algorithms.shared_identifier_clusters(shared, types, ("company", "person"))
    assert clusters == [({1, 3, 4}, {2})]


@pytest.mark.django_db
def test_the_embedded_default_answers_on_networkx(tmp_path: Path):
    assert isinstance(backend(), ReferenceBackend)
    cus = staff("cus")
    shipments = tmp_path / "shipments.csv"
    shipments.write_text(
        "\n".join([SHIPMENT_HEADER, *(shipment_row(ref) for ref in ("S1", "S2", "S3"))]) + "\n"
    )
    import_file(shipments, cus.agency, user=cus.liaison)
    labels = {
        str(entity_of(ref, role).public_id): label
        for ref, role, label in [
            ("S1", "importer", "alpha"),
            ("S2", "importer", "beta"),
            ("S3", "importer", "gamma"),
            ("S1", "shipment", "s1"),
            ("S1", "address", "quay"),
            ("S1", "phone", "p1"),
        ]
    }
    alpha = entity_of("S1", "importer").public_id
    client = cus.client(purpose=PURPOSE)
    answer = client.get(f"/api/graph/entities/{alpha}/neighbourhood/", {"hops": 1}).json()
    assert nodes_of(answer, labels) == {"alpha": 0, "s1": 1, "quay": 1, "p1": 1}
    # s1 names its broker and container too; quay is beta's address as well, p1 gamma's phone.
    left = {labels[node["id"]]: (node["left_out"], node["left_out_capped"]) for node in answer["nodes"]}
    assert left == {"alpha": (0, False), "s1": (2, False), "quay": (1, False), "p1": (1, False)}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(selectors, "LEFT_OUT_CAP", 1)
        capped = client.get(f"/api/graph/entities/{alpha}/neighbourhood/", {"hops": 1}).json()
    left = {labels[node["id"]]: (node["left_out"], node["left_out_capped"]) for node in capped["nodes"]}
    assert left == {"alpha": (0, False), "s1": (1, True), "quay": (1, False), "p1": (1, False)}
    beta = entity_of("S2", "importer").public_id
    gamma = entity_of("S3", "importer").public_id
    paths = client.get("/api/graph/paths/", {"source": str(beta), "target": str(gamma)}).json()
    assert paths_of(paths, labels) == {("beta", "quay", "alpha", "p1", "gamma")}
    assert paths["search_complete"]
    with pytest.MonkeyPatch.context() as patch:
        # beta's first step crosses 2 relationships (s2, quay): past a budget of 1 it stops.
        patch.setattr(selectors, "PATH_SEARCH_BUDGET", 1)
        stopped = client.get("/api/graph/paths/", {"source": str(beta), "target": str(gamma)}).json()
    assert stopped == {"paths": [], "length": None, "more_paths": False, "search_complete": False}


@pytest.mark.django_db
def test_an_entity_hidden_after_it_was_confirmed_is_shown_unnamed(tmp_path: Path):
    # Naming does not ask again whether an entity is visible (it was confirmed a moment
    # before): one hidden since has no visible mention left to name it or to show.
    cus, pol = staff("cus"), staff("pol", kind="police")
    shipments = tmp_path / "shipments.csv"
    shipments.write_text("\n".join([SHIPMENT_HEADER, shipment_row("S1")]) + "\n")
    import_file(shipments, cus.agency, user=cus.liaison)
    alpha = entity_of("S1", "importer")
    for reader, names, shown in [
        (Reader(cus.analyst, PURPOSE), ["Alpha Trading"], 1),
        (Reader(pol.analyst, PURPOSE), [], 0),
    ]:
        confirmed = selectors.Confirmed(reader, {}, {alpha.pk: Entity.objects.get(pk=alpha.pk)})
        assert confirmed.shown(alpha.pk)["names"] == names
        assert len(confirmed.records_shown([], [alpha.pk])) == shown


class LaggingWalk:
    """`nearest_confirmed` with a graph that lags and a choke point that knows better, both
    stood in for by hand: `found` is what the graph's limited walk returns, `seen` what the
    reader may see now (relationships; entities are those at their ends), `order` the public
    ids. Counts the confirmations and the expansions asked for."""

    def __init__(self, monkeypatch, *, found: set, seen: set, order: dict):
        self.found, self.seen, self.asked, self.confirmed = found, seen, [], 0
        monkeypatch.setattr(selectors, "public_ids", lambda pks: {pk: order[pk] for pk in pks})
        # The links walked stand in as their relationships, which `confirm` here takes.
        monkeypatch.setattr(
            selectors,
            "links_walked",
            lambda scope, nodes, inner: {
                t for t in self.found | self.seen if {t[0], t[1]} <= set(nodes) and {t[0], t[1]} & set(inner)
            },
        )
        monkeypatch.setattr(selectors, "confirm", self.confirm)
        monkeypatch.setattr(selectors, "confirmed_from", self.confirm)

    def confirm(self, scope, triples, seeds=()):
        self.confirmed += 1
        kept = {triple: [1] for triple in triples if triple in self.seen}
        ends = {end for s, t, _ in self.seen for end in (s, t)} | set(seeds)
        return selectors.Confirmed(None, kept, {pk: pk for pk in ends})

    def expand(self, scope, *, seeds, hops, limit=None):
        self.asked.append(limit)
        return set(self.found)

    def nearest(self, *, limit: int, hops: int = 2):
        answer = selectors.nearest_confirmed(None, {0}, hops, limit, self)
        return None if answer is None else answer[1]


def test_a_walk_the_graph_offers_too_much_is_taken_again_without_what_was_refused(monkeypatch):
    # The graph still joins 0 and 2, which the reader no longer sees; 2 comes first by public
    # id. Limit 1: the walk stopped at depth 1 ({1, 2}); 2 is refused, and 0 and 1 are left.
    walk = LaggingWalk(
        monkeypatch,
        found={(0, 1, "CONTACT"), (0, 2, "CONTACT")},
        seen={(0, 1, "CONTACT"), (1, 3, "CONTACT")},
        order={0: "a", 1: "c", 2: "b"},
    )
    assert walk.nearest(limit=1) == {0: 0, 1: 1}
    assert (walk.confirmed, walk.asked) == (2, [1])
    # Limit 2: only two nodes are left within depth 1, and 3, not reached, might come next.
    walk.confirmed, walk.asked = 0, []
    assert walk.nearest(limit=2) is None
    assert (walk.confirmed, walk.asked) == (1, [2])


def test_a_walk_the_graph_offers_too_little_is_not_taken_again(monkeypatch):
    # The reader now sees 0 - 2, which the graph does not have yet: 2 is nearer than the graph
    # says, and taking elements out of the walk cannot bring it nearer.
    walk = LaggingWalk(
        monkeypatch,
        found={(0, 1, "CONTACT"), (1, 2, "CONTACT"), (1, 3, "CONTACT")},
        seen={(0, 1, "CONTACT"), (1, 2, "CONTACT"), (1, 3, "CONTACT"), (0, 2, "CONTACT")},
        order={0: "a", 1: "b", 2: "c", 3: "d"},
    )
    assert walk.nearest(limit=2) is None
    assert (walk.confirmed, walk.asked) == (1, [2])


def test_a_walk_taken_again_is_not_answered_past_the_depth_the_graph_walked(monkeypatch):
    # The limited walk stopped at depth 2. Without 0 - 1, which the reader no longer sees, 1 is
    # at 2 and 3 and 7 at 3; so is 5, beyond 4, which the walk did not expand, and 5 comes
    # first by public id: the fifth nearest cannot be told from what was walked.
    walk = LaggingWalk(
        monkeypatch,
        found={
            (0, 1, "OWNS"),
            (0, 2, "OWNS"),
            (1, 2, "OWNS"),
            (2, 4, "OWNS"),
            (1, 3, "OWNS"),
            (1, 7, "OWNS"),
        },
        seen={(0, 2, "OWNS"), (1, 2, "OWNS"), (2, 4, "OWNS"), (1, 3, "OWNS"), (1, 7, "OWNS"), (4, 5, "OWNS")},
        order={0: "b", 1: "c", 2: "d", 3: "e", 4: "f", 5: "a", 7: "g"},
    )
    assert walk.nearest(limit=5, hops=3) is None
    assert (walk.confirmed, walk.asked) == (1, [5])
