"""An entity node's `visible_to` comes from the records that name it (its mentions), never
from a record that only links it: the choke point shows an entity only through a visible
mention, and the graph must not claim more. The node still exists while any record asserts
it, by a mention or a link, so that its relationships have both ends.

Records, mentions and links are made by hand; the expected graph is written by hand."""

from __future__ import annotations

import pytest

from graph import element_states
from graph.drain import drain
from graph.driver import get_driver
from graph.outbox import enqueue_records
from graph.verify import verify
from graph.viewer_counts import rebuild_counts
from intel.models import Category, Entity, Link, Mention, Record
from tests.sharing_helpers import staff
from tests.test_graph_analytics import empty_graph_now

pytestmark = [pytest.mark.django_db, pytest.mark.shared_services]


@pytest.fixture(autouse=True)
def empty_graph(db) -> None:
    empty_graph_now()


def record(owner, ref: str) -> Record:
    return Record.objects.create(owner=owner.agency, category=Category.SHIPMENT, external_ref=ref)


def sync(*records: Record | int) -> None:
    enqueue_records([r if isinstance(r, int) else r.pk for r in records])
    drain()


def graph_state() -> tuple[dict[int, list[int]], dict[tuple[int, int, str], list[int]]]:
    driver = get_driver()
    nodes, _, _ = driver.execute_query("MATCH (n:Entity) RETURN n.entity_id AS id, n.visible_to AS v")
    relationships, _, _ = driver.execute_query(
        "MATCH (a:Entity)-[r]->(b:Entity) RETURN a.entity_id AS s, b.entity_id AS t, type(r) AS type, "
        "r.visible_to AS v"
    )
    return (
        {row["id"]: sorted(row["v"]) for row in nodes},
        {(row["s"], row["t"], row["type"]): sorted(row["v"]) for row in relationships},
    )


def test_an_entity_only_linked_by_a_record_is_not_visible_to_its_owner():
    cus, pol = staff("cus"), staff("pol", kind="police")
    broker = Entity.objects.create(type="company", key="name:broker")
    importer = Entity.objects.create(type="company", key="name:importer")
    unnamed = Entity.objects.create(type="company", key="name:unnamed")
    # cus's record names the broker and links it to the importer and to a company it does
    # not name; pol's record names the importer; no record names the third company.
    linking = record(cus, "C-1")
    Mention.objects.create(record=linking, entity=broker, role="broker")
    Link.objects.create(record=linking, source=broker, target=importer, type="CONTACT")
    Link.objects.create(record=linking, source=broker, target=unnamed, type="OWNS")
    naming = record(pol, "P-1")
    Mention.objects.create(record=naming, entity=importer, role="importer")
    sync(linking, naming)

    a, b = cus.agency.pk, pol.agency.pk
    nodes, relationships = graph_state()
    assert nodes == {broker.pk: [a], importer.pk: [b], unnamed.pk: []}
    assert relationships == {
        (broker.pk, importer.pk, "CONTACT"): [a],
        (broker.pk, unnamed.pk, "OWNS"): [a],
    }
    # The graph is what verify, from the records themselves, says it must be (once a test:
    # its temporary tables last until the test's transaction ends).
    assert verify(batch_size=500).clean

    # cus names the importer in a record of its own: now cus sees it; then the record goes.
    own = record(cus, "C-2")
    Mention.objects.create(record=own, entity=importer, role="importer")
    sync(own)
    assert graph_state()[0][importer.pk] == sorted([a, b])
    own_pk = own.pk
    own.delete()
    sync(own_pk)
    assert graph_state()[0] == {broker.pk: [a], importer.pk: [b], unnamed.pk: []}

    # The counts a resync rebuilds from the stored projections give the same nodes.
    before = element_states.node_states([broker.pk, importer.pk, unnamed.pk])
    rebuild_counts("graph_nodeviewers")
    assert element_states.node_states([broker.pk, importer.pk, unnamed.pk]) == before
    assert {node["id"]: node["visible_to"] for node in before} == {
        broker.pk: [a],
        importer.pk: [b],
        unnamed.pk: [],
    }

    # The link's record goes: the unnamed company, asserted by nothing now, goes with it.
    linking_pk = linking.pk
    linking.delete()
    sync(linking_pk)
    assert graph_state() == ({importer.pk: [b]}, {})
