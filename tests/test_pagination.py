"""List endpoints count exactly up to a limit, or as deep as the page asked for."""

import pytest
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel.import_writing import import_file
from intel.models import Entity
from tests.test_import import EXAMPLES


@pytest.fixture
def analyst(db):
    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    for name in ("shipments.csv", "seizures.jsonl", "inspections.json"):
        import_file(EXAMPLES / name, customs)
    client = APIClient()
    client.force_authenticate(User.objects.create(username="cus-a", agency=customs, role="analyst"))
    return client


def test_count_is_exact_below_the_limit(analyst, settings):
    settings.PAGINATION_COUNT_LIMIT = 100
    body = analyst.get("/api/records/").json()
    assert body["count"] == len(body["results"]) >= 3
    assert body["count_exact"] is True


def test_past_the_limit_count_says_so_and_next_leads_on(analyst, settings):
    total = analyst.get("/api/records/").json()["count"]
    settings.PAGINATION_COUNT_LIMIT = 1
    first = analyst.get("/api/records/", {"page_size": 1}).json()
    assert (first["count"], first["count_exact"]) == (1, False)
    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        page = analyst.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert page["count"] == total and page["count_exact"] is True
    assert len(seen) == len(set(seen)) == total


def test_the_schema_describes_count_exact(analyst):
    schema = analyst.get("/api/schema/", {"format": "json"}).json()
    page = schema["components"]["schemas"]["PaginatedRecordList"]
    assert page["properties"]["count_exact"]["type"] == "boolean"


def refs_in_pages(client, **query) -> list[str]:
    refs, url = [], "/api/records/"
    params = {**query}
    while url:
        body = client.get(url, params).json()
        refs += [row["external_ref"] for row in body["results"]]
        url, params = body["next"], None
    return refs


def test_pages_past_the_limit_are_the_same_rows_as_pages_within_it(analyst, settings):
    settings.PAGINATION_COUNT_LIMIT = 1000
    counted = refs_in_pages(analyst, page_size=2)
    settings.PAGINATION_COUNT_LIMIT = 1
    uncounted = refs_in_pages(analyst, page_size=2)
    assert uncounted == counted and len(counted) == len(set(counted)) >= 3


def test_a_page_past_the_limit_counts_to_its_own_end(analyst, settings):
    total = analyst.get("/api/records/").json()["count"]
    assert total >= 3, "the examples hold at least three records"
    settings.PAGINATION_COUNT_LIMIT = 1
    second = analyst.get("/api/records/", {"page_size": 1, "page": 2}).json()
    assert (second["count"], second["count_exact"], len(second["results"])) == (2, False, 1)
    last = analyst.get("/api/records/", {"page_size": 1, "page": total}).json()
    assert (last["count"], last["count_exact"], last["next"]) == (total, True, None)


@pytest.mark.parametrize("page", ["9999", "0", "-1", "two", "10001"])
def test_a_page_that_does_not_exist_is_not_found_past_the_limit_too(analyst, settings, page):
    settings.PAGINATION_COUNT_LIMIT = 1
    assert analyst.get("/api/records/", {"page_size": 1, "page": page}).status_code == 404


def test_lists_of_entities_count_to_their_own_limit_and_lead_on_past_it(analyst, settings):
    # The analyst's agency owns every record: each entity standing is one it may see.
    standing = Entity.objects.filter(merged_into=None).count()
    assert standing > 3, "the examples name more than three entities"
    settings.PAGINATION_COUNT_LIMIT = 1000
    settings.ENTITY_COUNT_LIMIT = 2
    records = analyst.get("/api/records/").json()
    assert records["count_exact"] is True
    first = analyst.get("/api/entities/", {"page_size": 1}).json()
    assert (first["count"], first["count_exact"]) == (2, False)
    seen, url = [row["id"] for row in first["results"]], first["next"]
    while url:
        page = analyst.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert (page["count"], page["count_exact"]) == (standing, True)
    assert len(seen) == len(set(seen)) == standing
    settings.ENTITY_COUNT_LIMIT = 1000
    whole = analyst.get("/api/entities/", {"page_size": 1000}).json()
    assert (whole["count"], whole["count_exact"]) == (standing, True)
