"""The links list filtered by their ends together with other filters: `source` and `target`
at once, an end with a type, an end with its record. The walk that finds a page reads an
end's links by their ids (`LinkQuerySet.narrowed_by_key`); each filter must still hold.

The oracle filters every stored link in Python, by its own columns: the owner sees all of
them (one agency owns every record here)."""

import itertools
from unittest import mock

import pytest
from django.db.models import Q
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel import querysets
from intel.import_writing import import_file
from intel.models import Entity, Link
from tests.test_import import EXAMPLES
from tests.test_visibility import page_by_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst() -> APIClient:
    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    for name in ("customs-declarations.csv", "shipments.csv", "seizures.jsonl", "inspections.json"):
        import_file(EXAMPLES / name, customs)
    client = APIClient()
    client.force_authenticate(User.objects.create(username="cus-a", agency=customs, role="analyst"))
    return client


def expected(*, source=None, target=None, either=None, type=None, record=None) -> list[str]:
    return [
        str(public_id)
        for public_id, source_id, target_id, link_type, record_id in Link.objects.values_list(
            "public_id", "source_id", "target_id", "type", "record_id"
        )
        if (source is None or source_id == source.pk)
        and (target is None or target_id == target.pk)
        and (either is None or either.pk in (source_id, target_id))
        and (type is None or link_type == type)
        and (record is None or record_id == record)
    ]


def busiest(count: int) -> list[Entity]:
    ends = itertools.chain.from_iterable(Link.objects.values_list("source_id", "target_id"))
    tally: dict[int, int] = {}
    for entity_id in ends:
        tally[entity_id] = tally.get(entity_id, 0) + 1
    top = sorted(tally, key=lambda entity_id: (-tally[entity_id], entity_id))[:count]
    return list(Entity.objects.filter(pk__in=top))


@pytest.mark.parametrize("listed", [100_000, 1], ids=["ends-listed-by-id", "ends-past-the-listing"])
def test_an_end_and_other_filters_all_hold_on_every_page(analyst, settings, listed):
    settings.PAGINATION_COUNT_LIMIT = 2
    entities = busiest(4)
    assert len(entities) == 4 and Link.objects.count() > 10, "the examples hold busy entities"
    with mock.patch.object(querysets, "LINKS_ENDING_LISTED", listed):
        cases = 0
        for one, other in itertools.permutations(entities, 2):
            for end, key in (("source", "source"), ("entity", "either")):
                wanted = expected(**{key: one, "target": other})
                params = {end: str(one.public_id), "target": str(other.public_id)}
                page_by_page(analyst, "/api/links/", 1, wanted, counted_to=2, **params)
                cases += 1
        for entity in entities:
            types = {t for (t,) in Link.objects.filter(source=entity).values_list("type")} | {"OWNS"}
            for link_type in sorted(types):
                for end, key in (("entity", "either"), ("source", "source"), ("target", "target")):
                    page_by_page(
                        analyst,
                        "/api/links/",
                        2,
                        expected(**{key: entity, "type": link_type}),
                        counted_to=2,
                        **{end: str(entity.public_id), "type": link_type},
                    )
                    cases += 1
        some = Link.objects.filter(source=entities[0]).select_related("record").first()
        page_by_page(
            analyst,
            "/api/links/",
            1,
            expected(either=entities[0], record=some.record_id),
            counted_to=2,
            entity=str(entities[0].public_id),
            record=str(some.record.public_id),
        )
    assert cases > 20


@pytest.mark.parametrize("listed", [100_000, 1], ids=["ends-listed-by-id", "ends-past-the-listing"])
def test_a_link_from_an_entity_to_itself_is_listed_once(analyst, settings, listed):
    """Its ids are read an end at a time (`LinkQuerySet.ending_at`): the link is found at
    both ends of the entity and must still be one row of the list and of its count."""
    settings.PAGINATION_COUNT_LIMIT = 3
    entity = busiest(1)[0]
    record = Link.objects.filter(Q(source=entity) | Q(target=entity)).first().record
    Link.objects.create(record=record, source=entity, target=entity, type="OWNS")
    with mock.patch.object(querysets, "LINKS_ENDING_LISTED", listed):
        for end, key in (("entity", "either"), ("source", "source"), ("target", "target")):
            wanted = expected(**{key: entity})
            assert len(wanted) == len(set(wanted)) > 1
            page_by_page(analyst, "/api/links/", 2, wanted, counted_to=3, **{end: str(entity.public_id)})
