"""`Link.objects.of_triples` and `between`: the links of exactly the (source, target, type)
triples or (source, target) pairs asked, never the cross product of their sources, targets
and types (what the graph's confirmation asked for before), on PostgreSQL; the fast tier's
graph tests run the same on SQLite."""

import pytest

from agencies.models import Agency
from intel.models import Category, Entity, Link, Record

pytestmark = pytest.mark.django_db


@pytest.fixture
def links():
    agency = Agency.objects.create(code="trp", name="Triples", country="NL", kind=Agency.Kind.CUSTOMS)
    entities = {name: Entity.objects.create(type="company", key=f"name:{name}") for name in "abcd"}
    asserted = [
        ("a", "b", "OWNS"),
        ("a", "c", "CONTACT"),
        ("d", "b", "CONTACT"),
        ("d", "c", "OWNS"),
        ("a", "b", "CONTACT"),
    ]
    made = {}
    for index, (source, target, type_) in enumerate(asserted * 2):
        record = Record.objects.create(owner=agency, category=Category.SHIPMENT, external_ref=f"T-{index}")
        link = Link.objects.create(
            record=record, source=entities[source], target=entities[target], type=type_
        )
        made.setdefault((source, target, type_), set()).add(link.pk)
    return entities, made


@pytest.mark.parametrize(
    "asked",
    [
        [("a", "b", "OWNS")],
        [("a", "b", "OWNS"), ("d", "c", "OWNS")],  # its cross product holds (a, c, OWNS): not asked
        [("a", "c", "CONTACT"), ("d", "b", "CONTACT")],  # and (a, b, CONTACT), (d, c, CONTACT)
        [("b", "a", "OWNS")],  # reversed: no such link
        [("a", "b", "SEIZED_IN"), ("a", "b", "CONTACT")],
    ],
)
def test_only_the_triples_asked(links, asked):
    entities, made = links
    triples = [(entities[s].pk, entities[t].pk, type_) for s, t, type_ in asked]
    expected = set().union(*(made.get(triple, set()) for triple in asked))
    assert set(Link.objects.of_triples(triples).values_list("pk", flat=True)) == expected


def test_no_triples_no_links(links):
    assert not Link.objects.of_triples([]).exists()


@pytest.mark.parametrize(
    "asked",
    [
        [("a", "b")],  # both types between them
        [("a", "b"), ("d", "c")],  # its cross product holds (a, c) and (d, b): not asked
        [("b", "a")],  # reversed: no such link
        [("c", "a"), ("d", "b")],
    ],
)
def test_between_only_the_pairs_asked(links, asked):
    entities, made = links
    pairs = [(entities[s].pk, entities[t].pk) for s, t in asked]
    expected = set().union(*(ids for (s, t, _), ids in made.items() if (s, t) in asked))
    assert set(Link.objects.between(pairs).values_list("pk", flat=True)) == expected


def test_no_pairs_no_links(links):
    assert not Link.objects.between([]).exists()
