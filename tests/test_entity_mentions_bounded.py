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


@override_settings(ENTITY_MENTIONS_SHOWN=10)
def test_a_list_names_from_the_latest_mentions_counts_the_rest_and_audits_only_those_shown(
    tmp_path, cus, pol, monkeypatch
):
    """A registered company named five ways by five of pol's records, read by cus through a
    grant on each: the list and the search name it from the two latest (LABEL_MENTIONS set
    to two) and count all five; only the two records named are audited as read."""
    from guardian.shortcuts import assign_perm

    from audit.models import AuditEvent
    from intel import selectors

    monkeypatch.setattr(selectors, "LABEL_MENTIONS", 2)
    header = HEADER.replace("\n", ",importer_reg_no\n")
    rows = "".join(
        f"NM-{n},shipment,restricted,2026-02-0{n},s,Named Five {n} GmbH,DE,HRB 55501\n" for n in range(1, 6)
    )
    path = tmp_path / "named.csv"
    path.write_text(header + rows)
    import_file(path, pol.agency)
    for record in Record.objects.filter(external_ref__startswith="NM-"):
        assign_perm("intel.view_record", cus.agency.group, record)
    entity = Entity.objects.get(type="company", mentions__record__external_ref="NM-1")
    latest = {
        str(pk)
        for pk in Record.objects.filter(external_ref__in=["NM-4", "NM-5"]).values_list("pk", flat=True)
    }
    for path, params in (("/api/entities/", {"type": "company"}), ("/api/search/", {"q": "named five"})):
        last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        listed = cus.client().get(path, params).json()["results"]
        row = next(row for row in listed if row["id"] == str(entity.public_id))
        assert row["names"] == ["Named Five 4 GmbH", "Named Five 5 GmbH"], path
        assert (row["mention_count"], row["mention_count_exact"]) == (5, True), path
        reads = AuditEvent.objects.filter(id__gt=last, action="record.read", actor_id=cus.analyst.pk)
        assert {event.object_id for event in reads} == latest, path
