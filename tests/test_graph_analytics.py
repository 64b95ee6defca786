"""Graph analytics on the full stack (PostgreSQL, Neo4j over Bolt), over a small network
made by hand and imported through the real import path, then synced into Neo4j by the
sync's own drain (in process).

The network: customs (cus) declares eight shipments; police (pol) seizes two; tax sees
cus's shipments, cus sees pol's seizures (for investigation), pol sees only its own.

    s1: alpha (quay, p1), broker rapid, container c1     s5: echo (p9), broker rapid, c5
    s2: beta (quay),      broker rapid, container c2     s6: foxtrot (p9), broker rapid, c6
    s3: gamma (p1),       broker swift, container c3     s7: golf (mail), broker swift, c7
    s4: delta (dyke),     broker swift, container c4     s8: hotel (mail), broker swift, c8
    z1 (pol): gamma, container c3 seized                 z2 (pol): golf, container c7 seized

Every expectation below is written from that picture, by hand (labels, not ids), never
from what the code under test computes. The graph is one per machine: these tests are marked
`shared_services` (the full tier runs them with the sync's, one at a time) and empty it first.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import hypothesis
import pytest
from django.db import transaction
from django.db.utils import ConnectionHandler
from rest_framework.test import APIClient
from stdnum import iso6346

from audit.models import AuditEvent
from graph import selectors
from graph.analytics import RecordFilter, Scope, TooLarge, cypher, reference
from graph.analytics.cypher import CypherBackend
from graph.analytics.reference import ReferenceBackend
from graph.drain import drain
from graph.driver import get_driver
from graph.models import OutboxEntry
from graph.outbox import enqueue_records
from graph.schema import ensure_schema
from intel.import_writing import import_file
from intel.models import Entity, Link, Mention, Record, RecordGroupObjectPermission
from intel.selectors import Reader
from sharing import agreements
from sharing.models import Agreement
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_visibility import Oracle, Scenario, build, scenarios

pytestmark = [pytest.mark.django_db, pytest.mark.shared_services]

PURPOSE = "investigation"
SHIPMENT_HEADER = (
    "external_ref,category,occurred_on,releasability,importer_name,importer_country,importer_address,"
    "importer_postcode,importer_phone,importer_email,broker_name,broker_country,container_numbers"
)


def container(index: int) -> str:
    stem = f"GRCU{index:06d}"
    return stem + iso6346.calc_check_digit(stem)


QUAY = ("1 Quay Street", "1011 AA")
DYKE = ("9 Dyke Road", "2022 BB")
P1, P9 = "+31 10 555 0101", "+31 10 555 0109"
MAIL = "office@golf-hotel.example"
SHIPMENTS = {
    # ref: (month, importer, address, phone, email, broker)
    "S1": (1, "Alpha Trading", QUAY, P1, "", "Rapid Brokers"),
    "S2": (2, "Beta Imports", QUAY, "", "", "Rapid Brokers"),
    "S3": (3, "Gamma Goods", None, P1, "", "Swift Brokers"),
    "S4": (4, "Delta Company", DYKE, "", "", "Swift Brokers"),
    "S5": (5, "Echo Wholesale", None, P9, "", "Rapid Brokers"),
    "S6": (6, "Foxtrot Supplies", None, P9, "", "Rapid Brokers"),
    "S7": (7, "Golf Produce", None, "", MAIL, "Swift Brokers"),
    "S8": (8, "Hotel Foods", None, "", MAIL, "Swift Brokers"),
}
SEIZURES = {"Z1": ("Gamma Goods", 3), "Z2": ("Golf Produce", 7)}


def empty_graph_now() -> None:
    driver = get_driver()
    with driver.session() as session:
        session.run("MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS").consume()
    ensure_schema(driver)


@pytest.fixture(autouse=True)
def empty_graph(db) -> None:
    empty_graph_now()


def shipment_row(ref: str) -> str:
    month, importer, address, phone, email, broker = SHIPMENTS[ref]
    street, postcode = address or ("", "")
    number = int(ref[1:])
    return ",".join(
        [
            ref,
            "shipment",
            f"2026-{month:02d}-10",
            "covering",
            importer,
            "NL",
            street,
            postcode,
            phone,
            email,
            broker,
            "NL",
            container(number),
        ]
    )


@pytest.fixture
def world(tmp_path: Path):
    cus, pol, tax = staff("cus"), staff("pol", kind="police"), staff("tax", kind="tax")
    in_force((pol, True, False), (cus, False, True), reference="MOU-POL", categories=("seizure",))
    cus_to_tax = in_force(
        (cus, True, False), (tax, False, True), reference="MOU-TAX", categories=("shipment",)
    )
    shipments = tmp_path / "shipments.csv"
    shipments.write_text("\n".join([SHIPMENT_HEADER, *(shipment_row(ref) for ref in SHIPMENTS)]) + "\n")
    import_file(shipments, cus.agency, user=cus.liaison)
    seizures = tmp_path / "seizures.jsonl"
    seizures.write_text(
        "\n".join(
            json.dumps(
                {
                    "external_ref": ref,
                    "category": "seizure",
                    "occurred_on": "2026-09-01",
                    "releasability": "covering",
                    "importer_name": importer,
                    "importer_country": "NL",
                    "container_numbers": [container(number)],
                    "goods_description": "cocaine",
                }
            )
            for ref, (importer, number) in SEIZURES.items()
        )
        + "\n"
    )
    import_file(seizures, pol.agency, user=pol.liaison)
    drain()
    return {"cus": cus, "pol": pol, "tax": tax, "cus_to_tax": cus_to_tax}


def entity_of(ref: str, role: str) -> Entity:
    return Mention.objects.get(record__external_ref=ref, role=role).entity


@pytest.fixture
def labels(world) -> dict[str, str]:
    """Public id to the label the picture above gives each entity."""
    named = {}
    for ref in SHIPMENTS:
        number = ref[1:]
        named[entity_of(ref, "shipment")] = ref.lower()
        named[entity_of(ref, "importer")] = SHIPMENTS[ref][1].split()[0].lower()
        named[entity_of(ref, "broker")] = SHIPMENTS[ref][5].split()[0].lower()
        named[entity_of(ref, "container")] = f"c{number}"
    for ref in SEIZURES:
        named[entity_of(ref, "shipment")] = ref.lower()
    named[entity_of("S1", "address")] = "quay"
    named[entity_of("S4", "address")] = "dyke"
    named[entity_of("S1", "phone")] = "p1"
    named[entity_of("S5", "phone")] = "p9"
    named[entity_of("S7", "email")] = "mail"
    # Resolution made one entity of each party and identifier the picture shares.
    assert len(named) == 8 + 2 + 8 + 2 + 8 + 5, named
    return {str(entity.public_id): label for entity, label in named.items()}


def public(label: str, labels: dict[str, str]) -> str:
    return next(public_id for public_id, name in labels.items() if name == label)


def nodes_of(answer: dict, labels: dict[str, str]) -> dict[str, int]:
    return {labels[node["id"]]: node["distance"] for node in answer["nodes"]}


def relationships_of(answer: dict, labels: dict[str, str]) -> set[tuple[str, str, str]]:
    return {(labels[r["source"]], labels[r["target"]], r["type"]) for r in answer["relationships"]}


def paths_of(answer: dict, labels: dict[str, str]) -> set[tuple[str, ...]]:
    return {tuple(labels[node["id"]] for node in path["nodes"]) for path in answer["paths"]}


def get(client, url: str, **params):
    return client.get(url, params, HTTP_X_INTERLINK_PURPOSE=PURPOSE)


def neighbourhood_url(label: str, labels: dict[str, str]) -> str:
    return f"/api/graph/entities/{public(label, labels)}/neighbourhood/"


# --- the hand-made network, through the API (Cypher on Neo4j) ----------------------------


def test_neighbourhood_of_one_and_two_hops_with_left_out_neighbours(world, labels):
    client = world["cus"].client()
    one = get(client, neighbourhood_url("alpha", labels), hops=1)
    assert one.status_code == 200, one.content
    assert nodes_of(one.json(), labels) == {"alpha": 0, "s1": 1, "quay": 1, "p1": 1}
    assert relationships_of(one.json(), labels) == {
        ("s1", "alpha", "IMPORTED_BY"),
        ("alpha", "quay", "REGISTERED_AT"),
        ("alpha", "p1", "CONTACT"),
    }
    left = {labels[node["id"]]: node["left_out"] for node in one.json()["nodes"]}
    assert left == {"alpha": 0, "s1": 2, "quay": 1, "p1": 1}

    two = get(client, neighbourhood_url("alpha", labels), hops=2).json()
    assert nodes_of(two, labels) == {
        "alpha": 0,
        "s1": 1,
        "quay": 1,
        "p1": 1,
        "rapid": 2,
        "c1": 2,
        "beta": 2,
        "gamma": 2,
    }
    # gamma is also in z1, which cus sees for investigation.
    left = {labels[node["id"]]: node["left_out"] for node in two["nodes"]}
    assert left["rapid"] == 3 and left["beta"] == 1 and left["gamma"] == 2 and left["c1"] == 0
    assert not two["truncated"]
    names = {labels[node["id"]]: node["names"] for node in two["nodes"]}
    assert names["beta"] == ["Beta Imports"]


def test_a_walk_uses_the_database_on_the_requests_thread_only(world, labels, monkeypatch):
    """Neo4j's first page of left-out neighbours is read on a thread of its own while the
    walk names its nodes (graph.analytics.cypher): that thread must not use a database
    connection, which would be a connection of its own, outside the request's (and a test's)
    transaction."""
    askers = set()
    handed_out = ConnectionHandler.__getitem__

    def recorded(handler, alias):
        askers.add(threading.current_thread().name)
        return handed_out(handler, alias)

    monkeypatch.setattr(ConnectionHandler, "__getitem__", recorded)
    answer = get(world["cus"].client(), neighbourhood_url("alpha", labels), hops=2)
    assert answer.status_code == 200, answer.content
    assert len(answer.json()["nodes"]) == 8
    assert askers == {threading.current_thread().name}
    assert any(thread.name.startswith("cypher") for thread in threading.enumerate()), "no walk asked aside"


def test_neighbourhood_filters_and_node_limit(world, labels):
    client = world["cus"].client()
    url = neighbourhood_url("alpha", labels)
    typed = get(client, url, hops=2, entity_types=["company", "address", "phone"]).json()
    assert nodes_of(typed, labels) == {"alpha": 0, "quay": 1, "p1": 1, "beta": 2, "gamma": 2}
    linked = get(client, url, hops=3, link_types=["REGISTERED_AT"]).json()
    assert nodes_of(linked, labels) == {"alpha": 0, "quay": 1, "beta": 2}

    rapid = neighbourhood_url("rapid", labels)
    january = get(client, rapid, hops=1, date_to="2026-01-31").json()
    assert nodes_of(january, labels) == {"rapid": 0, "s1": 1}
    gamma = neighbourhood_url("gamma", labels)
    police_only = get(client, gamma, hops=1, owner="pol").json()
    assert nodes_of(police_only, labels) == {"gamma": 0, "z1": 1}

    limited = get(client, url, hops=2, limit=4).json()
    assert nodes_of(limited, labels) == {"alpha": 0, "s1": 1, "quay": 1, "p1": 1}
    assert limited["truncated"]
    left = {labels[node["id"]]: node["left_out"] for node in limited["nodes"]}
    assert left == {"alpha": 0, "s1": 2, "quay": 1, "p1": 1}


def test_shortest_paths_with_the_records_behind_each_step(world, labels):
    client = world["cus"].client()
    answer = get(client, "/api/graph/paths/", source=public("alpha", labels), target=public("delta", labels))
    assert answer.status_code == 200, answer.content
    assert paths_of(answer.json(), labels) == {("alpha", "p1", "gamma", "s3", "swift", "s4", "delta")}
    assert answer.json()["length"] == 6
    step = answer.json()["paths"][0]["steps"][0]
    s1 = str(Record.objects.get(external_ref="S1").public_id)
    assert step == [
        {
            "source": public("alpha", labels),
            "target": public("p1", labels),
            "type": "CONTACT",
            "records": [s1],
            "record_count": 1,
            "first_date": "2026-01-10",
            "last_date": "2026-01-10",
        }
    ]
    two = get(client, "/api/graph/paths/", source=public("gamma", labels), target=public("c3", labels)).json()
    assert paths_of(two, labels) == {("gamma", "s3", "c3"), ("gamma", "z1", "c3")}


def test_shared_identifier_clusters_ranked_by_size_then_seized_members(world, labels):
    answer = get(world["cus"].client(), "/api/graph/clusters/").json()
    clusters = [
        ({labels[m["id"]] for m in c["members"]}, {labels[s["id"]] for s in c["shared"]}, c["seized_members"])
        for c in answer["clusters"]
    ]
    assert clusters == [
        ({"alpha", "beta", "gamma"}, {"quay", "p1"}, 1),
        ({"golf", "hotel"}, {"mail"}, 1),
        ({"echo", "foxtrot"}, {"p9"}, 0),
    ]
    seized = {labels[m["id"]] for c in answer["clusters"] for m in c["members"] if m["seized"]}
    assert seized == {"gamma", "golf"}


def test_the_network_around_seizures(world, labels):
    answer = get(world["cus"].client(), "/api/graph/seizure-network/", hops=1).json()
    assert nodes_of(answer, labels) == {
        "z1": 0,
        "gamma": 0,
        "c3": 0,
        "z2": 0,
        "golf": 0,
        "c7": 0,
        "s3": 1,
        "p1": 1,
        "s7": 1,
        "mail": 1,
    }


# --- each agency its own graph ----------------------------------------------------------


def test_an_entity_type_an_agreement_redacts_is_neither_shown_nor_counted_left_out(world, labels):
    """Tax reads cus's shipments under an agreement that redacts phones: p1 is no node of a
    walk and no left-out neighbour (alpha's only one outside the walk of one hop is p1), and
    gamma, reached from alpha only through p1, is not reached."""
    agreements.suspend(world["cus_to_tax"], platform_admin(), "replaced")
    cus, tax = world["cus"], world["tax"]
    in_force(
        (cus, True, False),
        (tax, False, True),
        reference="MOU-TAX-2",
        categories=("shipment",),
        redacted_fields=["phone"],
    )
    drain()
    client = tax.client()
    alpha = neighbourhood_url("alpha", labels)
    one = get(client, alpha, hops=1).json()
    left = {labels[node["id"]]: (node["distance"], node["left_out"]) for node in one["nodes"]}
    assert left == {"alpha": (0, 0), "s1": (1, 2), "quay": (1, 1)}
    two = get(client, alpha, hops=2).json()
    left = {labels[node["id"]]: (node["distance"], node["left_out"]) for node in two["nodes"]}
    assert left == {
        "alpha": (0, 0),
        "s1": (1, 0),
        "quay": (1, 0),
        "rapid": (2, 3),
        "c1": (2, 0),
        "beta": (2, 1),
    }
    # The control: cus, the owner, sees p1 and gamma through it.
    owned = get(cus.client(), alpha, hops=2).json()
    assert {"p1", "gamma"} <= set(nodes_of(owned, labels))


def test_agencies_with_different_agreements_get_different_correct_answers(world, labels):
    """The oracle: tax sees cus's shipments and no seizure; pol only its own seizures."""
    tax, pol = world["tax"].client(), world["pol"].client()
    gamma = neighbourhood_url("gamma", labels)
    assert nodes_of(get(tax, gamma, hops=1).json(), labels) == {"gamma": 0, "s3": 1, "p1": 1}
    assert nodes_of(get(pol, gamma, hops=1).json(), labels) == {"gamma": 0, "z1": 1}
    paths = {"source": public("gamma", labels), "target": public("c3", labels)}
    assert paths_of(get(tax, "/api/graph/paths/", **paths).json(), labels) == {("gamma", "s3", "c3")}
    assert paths_of(get(pol, "/api/graph/paths/", **paths).json(), labels) == {("gamma", "z1", "c3")}
    assert get(tax, "/api/graph/seizure-network/").json()["nodes"] == []
    around = get(pol, "/api/graph/seizure-network/", hops=2).json()
    assert nodes_of(around, labels) == {"z1": 0, "gamma": 0, "c3": 0, "z2": 0, "golf": 0, "c7": 0}
    clusters = get(tax, "/api/graph/clusters/").json()["clusters"]
    assert [c["seized_members"] for c in clusters] == [0, 0, 0]
    assert get(pol, "/api/graph/clusters/").json()["clusters"] == []
    # Without a purpose, cus reads only its own records: z1 is not in its graph then.
    plain = world["cus"].client().get(gamma, {"hops": 1})
    assert nodes_of(plain.json(), labels) == {"gamma": 0, "s3": 1, "p1": 1}


def test_reads_of_other_agencies_records_and_the_query_are_audited(world, labels):
    get(world["cus"].client(), neighbourhood_url("gamma", labels), hops=1)
    query = AuditEvent.objects.get(action="graph.query")
    assert query.object_id == "neighbourhood"
    assert query.details == {"entities": [public("gamma", labels)], "purpose": PURPOSE, "outcome": "answered"}
    read = {
        e.object_id
        for e in AuditEvent.objects.filter(action="record.read", details__via="graph.neighbourhood")
    }
    assert read == {str(Record.objects.get(external_ref="Z1").pk)}


# --- parity: the same answers from Cypher and networkx ----------------------------------


def answers(world, labels, backend) -> list[dict]:
    results = []
    for code in ("cus", "pol", "tax"):
        reader = Reader(world[code].analyst, PURPOSE)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(selectors, "backend", lambda: backend)
            # A limit of 3 stops most walks early: the nearest then depend on the public ids.
            asked = itertools.product(("alpha", "gamma", "rapid", "c3"), (1, 2, 3), (3, 500))
            for label, hops, limit in asked:
                try:
                    answer = selectors.neighbourhood(
                        scope=Scope(reader=reader), entity=public(label, labels), hops=hops, limit=limit
                    )
                except selectors.EntityNotFound:
                    results.append({"hidden": label})
                    continue
                results.append(answer.data)
            filtered = Scope(reader=reader, records=RecordFilter(date_to=date(2026, 6, 30)))
            for limit in (3, 500):
                around = selectors.seizure_network(scope=Scope(reader=reader), hops=2, limit=limit)
                results.append(around.data)
            results.append(selectors.shared_identifier_clusters(scope=filtered, limit=50).data)
            results.append(selectors.shared_identifier_clusters(scope=Scope(reader=reader), limit=50).data)
            for source, target in (("alpha", "delta"), ("gamma", "c3"), ("beta", "c7"), ("echo", "hotel")):
                try:
                    results.append(
                        selectors.shortest_paths(
                            scope=Scope(reader=reader),
                            source=public(source, labels),
                            target=public(target, labels),
                        ).data
                    )
                except selectors.EntityNotFound:
                    results.append({"hidden": (source, target)})
            # Counts past the cap: both sides say "more than 1" of the same nodes.
            patch.setattr(selectors, "LEFT_OUT_CAP", 1)
            for label in ("alpha", "rapid"):
                try:
                    answer = selectors.neighbourhood(
                        scope=Scope(reader=reader), entity=public(label, labels), hops=1, limit=500
                    )
                except selectors.EntityNotFound:
                    results.append({"hidden": label})
                    continue
                results.append(answer.data)
    return results


def test_cypher_and_networkx_give_identical_answers(world, labels):
    cypher, reference = answers(world, labels, CypherBackend()), answers(world, labels, ReferenceBackend())
    assert len(cypher) == len(reference)
    for index, (a, b) in enumerate(zip(cypher, reference, strict=True)):
        assert a == b, index
    # Not vacuous: the answers hold nodes and paths, and counts past the cap.
    assert any(answer.get("nodes") for answer in cypher) and any(answer.get("paths") for answer in cypher)
    assert any(node.get("left_out_capped") for answer in cypher for node in answer.get("nodes", []))


# --- a lagging graph never shows too much -----------------------------------------------


def test_an_agreement_suspended_before_the_sync_follows_is_not_shown(world, labels):
    agreement = Agreement.objects.get(reference="MOU-POL")
    agreements.suspend(agreement, platform_admin(), "review")
    assert OutboxEntry.objects.exists()  # the graph has not followed
    cus_id = world["cus"].agency.pk
    z1 = entity_of("Z1", "shipment").pk
    rows, _, _ = get_driver().execute_query(
        "MATCH (n:Entity {entity_id: $id}) RETURN n.visible_to AS v", {"id": z1}
    )
    assert cus_id in rows[0]["v"]

    client = world["cus"].client()
    gamma = neighbourhood_url("gamma", labels)
    walked = get(client, gamma, hops=1).json()
    assert nodes_of(walked, labels) == {"gamma": 0, "s3": 1, "p1": 1}
    # Neo4j still offers z1 as gamma's neighbour: it is not counted as left out. s3 leaves
    # out swift and c3; p1, alpha.
    left = {labels[node["id"]]: (node["left_out"], node["left_out_capped"]) for node in walked["nodes"]}
    assert left == {"gamma": (0, False), "s3": (2, False), "p1": (1, False)}
    with pytest.MonkeyPatch.context() as patch:
        # Pages of one: past a refused page the next is asked, and one confirmed is "more".
        patch.setattr(selectors, "LEFT_OUT_CAP", 0)
        walked = get(client, gamma, hops=1).json()
    left = {labels[node["id"]]: (node["left_out"], node["left_out_capped"]) for node in walked["nodes"]}
    assert left == {"gamma": (0, False), "s3": (0, True), "p1": (0, True)}
    paths = get(
        client, "/api/graph/paths/", source=public("gamma", labels), target=public("c3", labels)
    ).json()
    assert paths_of(paths, labels) == {("gamma", "s3", "c3")}
    assert get(client, "/api/graph/seizure-network/").json()["nodes"] == []
    assert [c["seized_members"] for c in get(client, "/api/graph/clusters/").json()["clusters"]] == [0, 0, 0]


def test_a_walk_over_a_lagging_graph_takes_its_nearest_again_without_what_was_refused(
    world, labels, monkeypatch
):
    """The graph still offers z1 to cus as gamma's neighbour after MOU-POL's suspension. With
    z1 first by public id, a walk limited to fewer nodes than gamma's neighbours takes it
    among its nearest; confirming refuses it, and the nearest are taken again without it,
    not by confirming the whole walk. When what is left is shorter than the limit, nodes the
    walk did not reach might come next: then the whole walk is confirmed."""
    agreements.suspend(Agreement.objects.get(reference="MOU-POL"), platform_admin(), "review")
    assert OutboxEntry.objects.exists()  # the graph has not followed
    Entity.objects.filter(pk=entity_of("Z1", "shipment").pk).update(public_id=uuid.UUID(int=1))
    expanded: list[int | None] = []
    expand = CypherBackend.expand

    def counted(self, scope, *, seeds, hops, limit=None):
        expanded.append(limit)
        return expand(self, scope, seeds=seeds, hops=hops, limit=limit)

    monkeypatch.setattr(CypherBackend, "expand", counted)
    client = world["cus"].client()
    gamma = neighbourhood_url("gamma", labels)
    nearest = min(public("s3", labels), public("p1", labels))

    walked = get(client, gamma, hops=2, limit=2).json()
    assert nodes_of(walked, labels) == {"gamma": 0, labels[nearest]: 1}
    assert walked["truncated"]
    assert expanded == [2]

    expanded.clear()
    walked = get(client, gamma, hops=2, limit=3).json()
    assert nodes_of(walked, labels) == {"gamma": 0, "s3": 1, "p1": 1}
    assert walked["truncated"]
    assert expanded == [3, None]


def test_a_stale_relationship_in_neo4j_is_dropped_with_every_path_through_it(world, labels):
    alpha, delta = entity_of("S1", "importer").pk, entity_of("S4", "importer").pk
    s1 = Record.objects.get(external_ref="S1").pk
    get_driver().execute_query(
        "MATCH (a:Entity {entity_id: $a}), (b:Entity {entity_id: $b}) "
        "CREATE (a)-[:OWNS {records: [$r], visible_to: [$cus], sync_version: 0}]->(b)",
        {"a": alpha, "b": delta, "r": s1, "cus": world["cus"].agency.pk},
    )
    client = world["cus"].client()
    one = get(client, neighbourhood_url("alpha", labels), hops=1).json()
    assert nodes_of(one, labels) == {"alpha": 0, "s1": 1, "quay": 1, "p1": 1}
    # Neo4j's only shortest path runs through the stale relationship: it is dropped whole,
    # and the search asked again without it finds the reader's true, longer one.
    paths = get(
        client, "/api/graph/paths/", source=public("alpha", labels), target=public("delta", labels)
    ).json()
    assert paths_of(paths, labels) == {("alpha", "p1", "gamma", "s3", "swift", "s4", "delta")}
    assert (paths["length"], paths["search_complete"]) == (6, True)
    assert all(step["type"] != "OWNS" for path in paths["paths"] for steps in path["steps"] for step in steps)


def test_a_link_to_an_entity_its_record_does_not_name_confirms_neither_end(world, labels):
    """No write path makes one: a link in S1 (which cus sees) from alpha to an entity no
    record names, which no one may see. The graph offers both to cus (as a lagging or
    corrupted projection would); the walk neither shows that entity nor counts it among
    alpha's left-out neighbours."""
    alpha = entity_of("S1", "importer")
    orphan = Entity.objects.create(type="company", key="company:name:nl:orphan holdings")
    s1 = Record.objects.get(external_ref="S1")
    Link.objects.create(record=s1, source=alpha, target=orphan, type="OWNS")
    get_driver().execute_query(
        "MATCH (a:Entity {entity_id: $a}) "
        "CREATE (a)-[:OWNS {records: [], visible_to: [$cus], sync_version: 0}]->"
        "(:Entity {entity_id: $b, type: 'company', visible_to: [$cus], sync_version: 0})",
        {"a": alpha.pk, "b": orphan.pk, "cus": world["cus"].agency.pk},
    )
    client = world["cus"].client()
    for hops in (1, 2):
        walked = get(client, neighbourhood_url("alpha", labels), hops=hops).json()
        assert "orphan" not in json.dumps(walked).lower()
        assert str(orphan.public_id) not in json.dumps(walked)
        assert {node["id"]: node["left_out"] for node in walked["nodes"]}[public("alpha", labels)] == 0
    one = get(client, neighbourhood_url("s1", labels), hops=1).json()
    # s1's own neighbours, as the picture has them: alpha leaves out quay and p1, nothing else.
    assert {labels[node["id"]]: node["left_out"] for node in one["nodes"]}["alpha"] == 2


# --- hidden equals missing --------------------------------------------------------------


def test_hidden_and_missing_entities_answer_the_same_on_every_endpoint(world, labels):
    tax = world["tax"].client()
    hidden, missing, seen = public("z1", labels), str(uuid.uuid4()), public("gamma", labels)
    asked = [
        (f"/api/graph/entities/{hidden}/neighbourhood/", f"/api/graph/entities/{missing}/neighbourhood/", {}),
        ("/api/graph/paths/", "/api/graph/paths/", {"source": hidden, "target": seen}),
        ("/api/graph/paths/", "/api/graph/paths/", {"source": seen, "target": hidden}),
    ]
    for hidden_url, missing_url, params in asked:
        swapped = {k: (missing if v == hidden else v) for k, v in params.items()}
        a, b = get(tax, hidden_url, **params), get(tax, missing_url, **swapped)
        assert a.status_code == b.status_code == 404
        assert a.content == b.content
    bad = get(tax, "/api/graph/paths/", source="12", target=seen)
    assert bad.status_code == 400 and "source" in bad.json()
    too_far = get(tax, f"/api/graph/entities/{seen}/neighbourhood/", hops=4)
    assert too_far.status_code == 400 and "hops" in too_far.json()


def test_queries_refused_or_not_found_are_audited_too(world, labels):
    """Probing for entities one may not see leaves a trace: a query answered 404 (hidden
    and missing alike) or refused as too large or ill-posed is logged as one answered is."""
    tax = world["tax"].client()
    hidden, missing, seen = public("z1", labels), str(uuid.uuid4()), public("gamma", labels)
    get(tax, f"/api/graph/entities/{hidden}/neighbourhood/")
    get(tax, f"/api/graph/entities/{missing}/neighbourhood/")
    get(tax, "/api/graph/paths/", source=seen, target=hidden)
    assert get(tax, "/api/graph/paths/", source=seen, target=seen).status_code == 400
    assert get(tax, f"/api/graph/entities/{seen}/neighbourhood/", hops=1).status_code == 200
    logged = [
        (e.object_id, e.details["entities"], e.details["outcome"], e.details["purpose"], e.agency_id)
        for e in AuditEvent.objects.filter(action="graph.query").order_by("id")
    ]
    agency = world["tax"].agency.pk
    assert logged == [
        ("neighbourhood", [hidden], "not found", PURPOSE, agency),
        ("neighbourhood", [missing], "not found", PURPOSE, agency),
        ("paths", [seen, hidden], "not found", PURPOSE, agency),
        ("paths", [seen, seen], "refused: target", PURPOSE, agency),
        ("neighbourhood", [seen], "answered", PURPOSE, agency),
    ]


# --- against the independent oracle of tests/test_visibility.py -------------------------


def oracle_edges(oracle: Oracle, agency: int) -> set[tuple[int, int, str]]:
    """The relationships an agency may see: a link of a record it sees, both ends named by
    records it sees (an entity is shown only through its visible mentions)."""
    seen = oracle.entities(agency)
    return {
        (source, target, link_type)
        for i, (_, source, target, link_type) in enumerate(oracle.scenario.links)
        if i in oracle.links(agency) and source in seen and target in seen
    }


def oracle_distances(edges: set, start: set[int], hops: int) -> dict[int, int]:
    distance = dict.fromkeys(start, 0)
    frontier = set(start)
    for depth in range(1, hops + 1):
        frontier = {
            b
            for a in frontier
            for s, t, _ in edges
            for x, b in ((s, t), (t, s))
            if x == a and b not in distance
        }
        distance.update(dict.fromkeys(frontier, depth))
    return distance


def oracle_shortest_paths(edges: set, source: int, target: int) -> set[tuple[int, ...]]:
    paths = [(source,)]
    for _ in range(6):
        paths = [
            (*path, b)
            for path in paths
            for s, t, _ in edges
            for x, b in ((s, t), (t, s))
            if x == path[-1] and b not in path
        ]
        paths = list(dict.fromkeys(paths))
        found = {path for path in paths if path[-1] == target}
        if found:
            return found
    return set()


def oracle_clusters(oracle: Oracle, edges: set) -> set[frozenset[int]]:
    """Companies and persons joined through CONTACT (the scenario's only identifier link),
    by repeated merging of groups: those of two parties or more."""
    kinds = {i: entity_type for i, (entity_type, _) in enumerate(oracle.scenario.entities)}
    joining = [
        (s, t)
        for s, t, type_ in edges
        if type_ == "CONTACT" and {kinds[s], kinds[t]} <= {"company", "person", "phone"}
    ]
    groups: list[set[int]] = []
    for s, t in joining:
        touching = [group for group in groups if s in group or t in group]
        merged = {s, t}.union(*touching)
        groups = [group for group in groups if group not in touching] + [merged]
    members = ({e for e in group if kinds[e] in ("company", "person")} for group in groups)
    return {frozenset(group) for group in members if len(group) >= 2}


@contextmanager
def synced(scenario: Scenario, backend) -> Iterator[tuple[list, list]]:
    """The scenario built (its users and entities) and synced to Neo4j, walked on `backend`
    with left-out counts capped at 1 (two neighbours left out or more are "more than 1"),
    and rolled back after."""
    empty_graph_now()
    with transaction.atomic(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(selectors, "backend", backend)
        patch.setattr(selectors, "LEFT_OUT_CAP", 1)
        users, records, entities, _, _ = build(scenario)
        enqueue_records([record.pk for record in records])
        drain()
        yield users, entities
        transaction.set_rollback(True)


@pytest.mark.parametrize("backend", [CypherBackend, ReferenceBackend], ids=["cypher", "networkx"])
@hypothesis.settings(max_examples=12, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(scenario=scenarios())
# Company 4 is linked by the record but named by none: the reader never sees it, so its
# shortest path from 0 to 1 is the longer one through 2 and 3, not the one through 4.
@hypothesis.example(
    scenario=Scenario(
        agencies=2,
        records=[(0, "shipment")],
        entities=[("company", n) for n in range(5)],
        mentions=[(0, entity, "importer", entity, False) for entity in range(4)],
        links=[(0, s, t, "CONTACT") for s, t in ((0, 4), (4, 1), (0, 2), (2, 3), (3, 1))],
        grants=[],
        candidates=[],
    )
)
def test_walks_and_paths_are_what_the_oracle_allows_each_agency(backend, scenario):
    with synced(scenario, backend) as (users, entities):
        oracle = Oracle(scenario)
        public_id = {i: str(entity.public_id) for i, entity in enumerate(entities)}
        for agency, user in enumerate(users):
            client = APIClient()
            client.force_authenticate(user)
            edges, seen = oracle_edges(oracle, agency), oracle.entities(agency)
            for i in range(len(entities)):
                url = f"/api/graph/entities/{public_id[i]}/neighbourhood/"
                for hops in (1, 2):
                    response = client.get(url, {"hops": hops, "limit": 500})
                    if i not in seen:
                        assert response.status_code == 404
                        continue
                    distance = oracle_distances(edges, {i}, hops)
                    answer = response.json()
                    assert {n["id"]: n["distance"] for n in answer["nodes"]} == {
                        public_id[e]: d for e, d in distance.items()
                    }
                    assert {(r["source"], r["target"], r["type"]) for r in answer["relationships"]} == {
                        (public_id[s], public_id[t], type_)
                        for s, t, type_ in edges
                        if s in distance and t in distance and min(distance[s], distance[t]) < hops
                    }
                    assert {n["id"]: set(n["names"]) for n in answer["nodes"]} == {
                        public_id[e]: oracle.listed_names(agency, e) for e in distance
                    }
                    beyond = {
                        e: {
                            b
                            for s, t, _ in edges
                            for x, b in ((s, t), (t, s))
                            if x == e and b not in distance
                        }
                        for e in distance
                    }
                    assert {n["id"]: (n["left_out"], n["left_out_capped"]) for n in answer["nodes"]} == {
                        public_id[e]: (min(len(others), 1), len(others) > 1) for e, others in beyond.items()
                    }
            for a in sorted(seen):
                for b in sorted(seen - {a}):
                    answer = client.get("/api/graph/paths/", {"source": public_id[a], "target": public_id[b]})
                    expected = oracle_shortest_paths(edges, a, b)
                    shown = {tuple(n["id"] for n in path["nodes"]) for path in answer.json()["paths"]}
                    assert shown == {tuple(public_id[e] for e in path) for path in expected}
            seized = {m[1] for m in oracle.mentions(agency) if oracle.scenario.records[m[0]][1] == "seizure"}
            around = client.get("/api/graph/seizure-network/", {"hops": 1, "limit": 500}).json()
            assert {n["id"] for n in around["nodes"]} == {
                public_id[e] for e in oracle_distances(edges, seized, 1)
            }


@hypothesis.settings(max_examples=8, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(scenario=scenarios())
# Record 0 links company 0 to company 1 but names only company 0; the grant of record 1, which
# names company 1, is withdrawn. The link stays visible to agency 0 and the graph still shows
# company 1: a left-out count confirmed by the link alone counted it.
@hypothesis.example(
    scenario=Scenario(
        agencies=2,
        records=[(0, "shipment"), (1, "shipment")],
        entities=[("company", 0), ("company", 1)],
        mentions=[(0, 0, "importer", 0, False), (1, 1, "importer", 1, False)],
        links=[(0, 0, 1, "IMPORTED_BY")],
        grants=[(1, 0, "none")],
        candidates=[],
    )
)
def test_limited_walks_over_a_graph_that_lags_are_what_the_oracle_allows_now(scenario):
    """The graph synced with every grant, then the grants withdrawn with the sync not
    following: Neo4j offers what the grants showed, and each limited walk (nearest first,
    ties by public id), from one entity or from every seized one, must be what the oracle
    allows without them."""
    with synced(scenario, CypherBackend) as (users, entities):
        RecordGroupObjectPermission.objects.all().delete()
        oracle = Oracle(dataclasses.replace(scenario, grants=[]))
        public_id = {i: str(entity.public_id) for i, entity in enumerate(entities)}
        for agency, user in enumerate(users):
            client = APIClient()
            client.force_authenticate(user)
            edges = oracle_edges(oracle, agency)
            for i in sorted(oracle.entities(agency)):
                url = f"/api/graph/entities/{public_id[i]}/neighbourhood/"
                for hops, limit in itertools.product((1, 2), (1, 2, 3)):
                    answer = client.get(url, {"hops": hops, "limit": limit}).json()
                    distance = oracle_distances(edges, {i}, hops)
                    kept = sorted(distance, key=lambda e: (distance[e], public_id[e]))[:limit]
                    assert [(n["id"], n["distance"]) for n in answer["nodes"]] == [
                        (public_id[e], distance[e]) for e in kept
                    ]
                    assert answer["truncated"] == (len(distance) > limit)
                    beyond = {
                        e: {b for s, t, _ in edges for x, b in ((s, t), (t, s)) if x == e and b not in kept}
                        for e in kept
                    }
                    assert [(n["left_out"], n["left_out_capped"]) for n in answer["nodes"]] == [
                        (min(len(beyond[e]), 1), len(beyond[e]) > 1) for e in kept
                    ]
            # Many seeds at once: the walk from every entity of the agency's seizure records.
            seized = {m[1] for m in oracle.mentions(agency) if scenario.records[m[0]][1] == "seizure"}
            for hops, limit in itertools.product((1, 3), (1, 2, 4)):
                around = client.get("/api/graph/seizure-network/", {"hops": hops, "limit": limit}).json()
                distance = oracle_distances(edges, seized, hops)
                kept = sorted(distance, key=lambda e: (distance[e], public_id[e]))[:limit]
                assert [(n["id"], n["distance"]) for n in around["nodes"]] == [
                    (public_id[e], distance[e]) for e in kept
                ]


@pytest.mark.parametrize("backend", [CypherBackend, ReferenceBackend], ids=["cypher", "networkx"])
def test_a_path_search_past_its_budget_says_so_instead_of_no_path(world, labels, backend, monkeypatch):
    monkeypatch.setattr(selectors, "backend", backend)
    client = world["cus"].client()
    ends = {"source": public("alpha", labels), "target": public("delta", labels)}
    found = get(client, "/api/graph/paths/", **ends).json()
    assert found["length"] == 6 and found["search_complete"]
    # alpha's first step alone crosses 3 relationships (s1, quay, p1): past a budget of 2 the
    # search stops with nothing found, and says it did not finish.
    monkeypatch.setattr(selectors, "PATH_SEARCH_BUDGET", 2)
    stopped = get(client, "/api/graph/paths/", **ends)
    assert stopped.status_code == 200
    assert stopped.json() == {"paths": [], "length": None, "more_paths": False, "search_complete": False}


@pytest.mark.parametrize("backend", [CypherBackend, ReferenceBackend], ids=["cypher", "networkx"])
def test_an_expansion_stops_at_the_relationships_it_may_read(world, labels, backend):
    # What a path search has left of its budget: alpha's 1-hop walk crosses 3 relationships,
    # its 2-hop walk 7; past `at_most` the backend refuses instead of answering in part.
    scope = Scope(reader=Reader(world["cus"].analyst, PURPOSE))
    (alpha,) = Entity.objects.filter(public_id=public("alpha", labels)).values_list("pk", flat=True)
    assert len(backend().expand(scope, seeds=[alpha], hops=1, at_most=3)) == 3
    assert len(backend().expand(scope, seeds=[alpha], hops=2, at_most=7)) == 7
    for hops, at_most in ((1, 2), (2, 6), (2, 0)):
        with pytest.raises(TooLarge):
            backend().expand(scope, seeds=[alpha], hops=hops, at_most=at_most)


@pytest.mark.parametrize("backend", [CypherBackend, ReferenceBackend], ids=["cypher", "networkx"])
def test_a_walk_past_the_relationship_limit_is_refused_naming_hops(world, labels, backend, monkeypatch):
    monkeypatch.setattr(selectors, "backend", backend)
    for module in (cypher, reference, selectors):
        # alpha's 1-hop walk crosses 3 relationships, its 2-hop walk 7.
        monkeypatch.setattr(module, "EXPAND_LIMIT", 5)
    client = world["cus"].client()
    assert get(client, neighbourhood_url("alpha", labels), hops=1).status_code == 200
    refused = get(client, neighbourhood_url("alpha", labels), hops=2)
    assert refused.status_code == 400 and "hops" in refused.json()
    # With 3 nodes at most, the walk stops after its first step (alpha and its 3 neighbours):
    # its nearest are known without the second step's relationships.
    limited = get(client, neighbourhood_url("alpha", labels), hops=2, limit=3)
    assert limited.status_code == 200
    assert sorted(nodes_of(limited.json(), labels).values()) == [0, 1, 1]
    assert limited.json()["truncated"]
