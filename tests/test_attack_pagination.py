"""Hostile page numbers and page sizes on every list endpoint of the API, with the count
limit set low so that both paths of the paginator (counted pages, and pages past the
limit read with one row more) are taken. Each answer is a 200, 400 or 404, never a 5xx,
and a 200 shows no row the caller may not see: POL holds nothing of CUS's, is party to none
of CUS's agreements with TAX and has no rows of its own, so every list it reads is empty."""

from urllib.parse import parse_qsl

import pytest

from intel.import_writing import import_file
from tests.sharing_helpers import in_force
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/records/",
    "/api/entities/",
    "/api/links/",
    "/api/search/?q=north",
    "/api/candidates/",
    "/api/merges/",
    "/api/requests/",
    "/api/notifications/",
    "/api/agreements/",
    "/api/imports/",
    "/api/auth/tokens/",
]

PAGES = [
    "0",
    "-1",
    "1",
    "2",
    "3",
    "4",
    "9999",
    "10001",
    "99999999999999999999999",
    "last",
    "abc",
    "1.5",
    "1e3",
    "",
    " 2",
    "\u0662",
    "0x10",
    "%00",
    "\x00",
    "2" * 500,
]
PAGE_SIZES = ["0", "-5", "1", "2", "1000", "1001", "99999999999999999999", "abc", "", "\x00"]


@pytest.fixture
def world(cus, pol, tax, settings):
    """CUS's records, and agreements of CUS's with TAX, none of which POL is party to."""
    settings.PAGINATION_COUNT_LIMIT = 2
    for name in ("shipments.csv", "seizures.jsonl", "inspections.json"):
        import_file(EXAMPLES / name, cus.agency)
    for n in range(4):
        in_force((cus, True, False), (tax, False, True), reference=f"AGR-HIDDN-0000{n}")
    return cus, pol


def answers(client, url: str, **params):
    response = client.get(url, params)
    assert response.status_code in (200, 400, 404), (
        url,
        params,
        response.status_code,
        response.content[:300],
    )
    return response


@pytest.mark.parametrize("url", LISTS)
def test_hostile_pages_are_never_a_server_error_nor_show_what_is_hidden(world, url):
    cus, pol = world
    for member, role in ((cus, "analyst"), (pol, "analyst"), (pol, "liaison")):
        client = member.client(role, purpose="investigation")
        for page in PAGES:
            for size in ("1", "2", "1000", None):
                params = {"page": page} if size is None else {"page": page, "page_size": size}
                response = answers(client, url, **params)
                if (
                    response.status_code == 200
                    and member is pol
                    and url.split("?")[0]
                    in (
                        "/api/records/",
                        "/api/entities/",
                        "/api/links/",
                        "/api/search/",
                        "/api/candidates/",
                    )
                ):
                    assert response.json()["results"] == [], (url, params)
        for size in PAGE_SIZES:
            answers(client, url, page_size=size)


def test_last_is_not_a_page_number_once_counting_stops(world):
    """`page=last` would need the count the paginator no longer makes past the limit: it is
    answered as any page that is not a number, rather than with a page that is not the last."""
    cus, _ = world
    client = cus.client("analyst")
    assert client.get("/api/records/", {"page_size": 1}).json()["count_exact"] is False
    response = client.get("/api/records/", {"page": "last", "page_size": 1})
    # It was page 3 of 4 (the count stopped at 3), with a `next`.
    assert response.status_code == 400 and "page" in response.json(), response.json()


def test_pages_past_the_limit_walk_to_the_end_without_repeating_a_row(world):
    cus, _ = world
    client = cus.client("analyst")
    refs, page = [], 1
    while True:
        response = client.get("/api/records/", {"page": page, "page_size": 1})
        assert response.status_code == 200
        body = response.json()
        refs += [row["external_ref"] for row in body["results"]]
        if body["next"] is None:
            break
        page += 1
    # shipments.csv holds two declarations, seizures.jsonl a seizure, inspections.json an inspection.
    assert len(refs) == len(set(refs)) == 4
    assert client.get("/api/records/", {"page": page + 1, "page_size": 1}).status_code == 404


FILTERS = {
    "/api/records/": [
        "owner",
        "category",
        "classification",
        "occurred_after",
        "occurred_before",
        "external_ref",
    ],
    "/api/entities/": ["type"],
    "/api/links/": ["type", "record", "source", "target", "entity"],
    "/api/candidates/": ["status"],
    "/api/agreements/": ["status"],
    "/api/search/": ["q"],
}
VALUES = [
    "\x00",
    "a\x00b",
    "x" * 10_000,
    "99999999999999999999999",
    "-1",
    "0001-01-01",
    "10000-01-01",
    "%",
    "\ud7ff",
]


@pytest.mark.parametrize("url", sorted(FILTERS))
def test_hostile_filter_values_are_never_a_server_error(world, url):
    cus, pol = world
    for member in (cus, pol):
        client = member.client("analyst", purpose="investigation")
        for name in FILTERS[url]:
            for value in VALUES:
                params = {name: value, **({"q": "north"} if name != "q" and url == "/api/search/" else {})}
                response = answers(client, url, **params)
                if response.status_code == 200 and member is pol:
                    assert response.json()["results"] == [], (url, params)


AFTERS = ["abc", "", "\x00", "1", "00000000-0000-0000-0000-000000000000", "x" * 10_000]


@pytest.mark.parametrize("url", LISTS)
def test_hostile_or_hidden_afters_are_never_a_server_error_nor_show_what_is_hidden(world, url):
    """`after` names the row a page continues from; one of another agency's, of no list, or
    no id at all continues nothing for POL, and shows nothing."""
    cus, pol = world
    from intel.models import Entity, Record

    hidden = [str(Record.objects.first().public_id), str(Entity.objects.first().public_id)]
    client = pol.client("analyst", purpose="investigation")
    for after in AFTERS + hidden:
        for page in ("1", "2", "5"):
            response = answers(client, url, page=page, page_size="1", after=after)
            if response.status_code == 200 and url.split("?")[0] in (
                "/api/records/",
                "/api/entities/",
                "/api/links/",
                "/api/search/",
            ):
                assert response.json()["results"] == [], (url, page, after)
    # CUS reads on from one of its rows, or answers as without it.
    client = cus.client("analyst", purpose="investigation")
    for after in AFTERS:
        answers(client, url, page="3", page_size="1", after=after)


@pytest.mark.parametrize("url", LISTS)
def test_a_page_size_out_of_range_or_not_a_number_is_refused_naming_it(world, url):
    cus, _ = world
    client = cus.client("analyst", purpose="investigation")
    path, _, query = url.partition("?")
    asked = dict(parse_qsl(query))
    for size in ("0", "-5", "1001", "99999999999999999999", "abc", "1e9", "2.5", " 3", "\x00", "\u0663"):
        response = client.get(path, {**asked, "page_size": size})
        assert response.status_code == 400, (url, size, response.status_code)
        assert list(response.json()) == ["page_size"], (url, size, response.json())
    for size, rows in (("", 50), ("1", 1), ("1000", 1000)):
        response = client.get(path, {**asked, "page_size": size})
        assert response.status_code == 200, (url, size, response.status_code)
        assert len(response.json()["results"]) <= rows
