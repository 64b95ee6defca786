"""An entity named by many records shows its most recent mentions only, and counts the
rest no further than the pagination's limit (a list, no further than it shows): a company
at the centre of a trade is named by thousands of records, and a page of entities must
not read (and audit) them all.
Records of another agency that the reader may not see are neither shown nor counted.

The expectations are the rows this file imports, by their own references."""

import pytest
from django.test import override_settings

from intel.import_writing import import_file
from intel.models import Entity, Record

pytestmark = pytest.mark.django_db

HEADER = "external_ref,category,classification,occurred_on,summary,importer_name,importer_country\n"


def imported(tmp_path, agency, refs: list[str]) -> None:
    path = tmp_path / f"{agency.code}-{refs[0]}.csv"
    rows = "".join(
        f"{ref},shipment,restricted,2026-01-0{day},s,Hub Trading BV,NL\n" for day, ref in enumerate(refs, 1)
    )
    path.write_text(HEADER + rows)
    import_file(path, agency)


@pytest.fixture
def hub(tmp_path, cus, pol) -> Entity:
    imported(tmp_path, cus.agency, [f"HUB-{n}" for n in range(1, 6)])
    imported(tmp_path, pol.agency, [f"POL-{n}" for n in range(1, 4)])  # never released
    entity = Entity.objects.get(type="company", mentions__record__external_ref="HUB-1")
    assert set(Record.objects.filter(mentions__entity=entity).values_list("external_ref", flat=True)) >= {
        "POL-1"
    }, "the test needs both agencies' records to name one entity"
    return entity


def listed_count(member, entity: Entity) -> tuple[int, bool]:
    listed = member.client().get("/api/entities/", {"type": "company"}).json()["results"]
    row = next(row for row in listed if row["id"] == str(entity.public_id))
    return row["mention_count"], row["mention_count_exact"]


def shown_refs(detail: dict) -> set[str]:
    ids = {mention["record"] for mention in detail["mentions"]}
    return set(Record.objects.filter(public_id__in=ids).values_list("external_ref", flat=True))


@override_settings(ENTITY_MENTIONS_SHOWN=3)
def test_the_most_recent_mentions_are_shown_and_every_visible_one_counted(cus, hub):
    detail = cus.client().get(f"/api/entities/{hub.public_id}/").json()
    assert shown_refs(detail) == {"HUB-3", "HUB-4", "HUB-5"}
    assert (detail["mention_count"], detail["mention_count_exact"]) == (5, True)
    # A list counts no further than it shows: three, and there may be more.
    assert listed_count(cus, hub) == (3, False)


@override_settings(ENTITY_MENTIONS_SHOWN=3, PAGINATION_COUNT_LIMIT=4)
def test_counting_stops_at_the_limit_and_says_so(cus, hub):
    detail = cus.client().get(f"/api/entities/{hub.public_id}/").json()
    assert (detail["mention_count"], detail["mention_count_exact"]) == (4, False)


@override_settings(ENTITY_MENTIONS_SHOWN=10)
def test_fewer_mentions_than_shown_are_all_shown(cus, pol, hub):
    detail = cus.client().get(f"/api/entities/{hub.public_id}/").json()
    assert shown_refs(detail) == {f"HUB-{n}" for n in range(1, 6)}
    assert (detail["mention_count"], detail["mention_count_exact"]) == (5, True)
    theirs = pol.client().get(f"/api/entities/{hub.public_id}/").json()
    assert shown_refs(theirs) == {"POL-1", "POL-2", "POL-3"}
    assert theirs["mention_count"] == 3
    assert listed_count(cus, hub) == (5, True)
    assert listed_count(pol, hub) == (3, True)


@override_settings(ENTITY_MENTIONS_SHOWN=5)
def test_a_list_that_shows_every_mention_may_not_know_it(cus, hub):
    assert listed_count(cus, hub) == (5, False)
