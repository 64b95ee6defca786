"""List endpoints count exactly up to a limit, or as deep as the page asked for."""

import itertools
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel.import_writing import import_file
from intel.models import Entity, Record
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


def test_a_page_that_does_not_exist_is_not_found_past_the_limit_too(analyst, settings):
    settings.PAGINATION_COUNT_LIMIT = 1
    assert analyst.get("/api/records/", {"page_size": 1, "page": "9999"}).status_code == 404


@pytest.mark.parametrize("page", ["0", "-1", "two", "1.5", "10001", "9" * 40, "9" * 5000, "\u0661"])
def test_a_page_number_that_is_none_is_refused_naming_the_parameter(analyst, settings, page):
    settings.PAGINATION_MAX_PAGE = 10_000
    response = analyst.get("/api/records/", {"page_size": 1, "page": page})
    assert response.status_code == 400
    assert response.json() == {"page": ["a whole number from 1 to 10000"]}


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


# --- pages that continue the page before (`after`) ------------------------------------

# (reference, date) in the order they are imported: ties on a date, and a record without one.
DATED = [
    ("D-01", "2026-03-05"),
    ("D-02", "2026-03-01"),
    ("D-03", "2026-03-05"),
    ("D-04", ""),
    ("D-05", "2026-02-28"),
    ("D-06", "2026-03-05"),
    ("D-07", "2026-03-01"),
    ("D-08", ""),
    ("D-09", "2026-04-10"),
]


def dated_order() -> list[str]:
    """The list's order worked out here: latest date first, the later import first on a tie;
    records without a date first on PostgreSQL (nulls sort above every date), last on SQLite."""
    from django.db import connection

    position = {ref: index for index, (ref, _) in enumerate(DATED)}
    dated = sorted((ref for ref, day in DATED if day), key=lambda ref: (dict(DATED)[ref], position[ref]))
    undated = sorted((ref for ref, day in DATED if not day), key=position.get)
    dated, undated = dated[::-1], undated[::-1]
    return undated + dated if connection.vendor == "postgresql" else dated + undated


@pytest.fixture
def dated(cus, tmp_path, settings):
    from tests.test_import import csv_file, row

    settings.PAGINATION_COUNT_LIMIT = 1
    for ref, day in DATED:
        # One file per record: each import is a later one. An import needs a date: records
        # without one (the API may clear it) lose theirs after.
        cells = row(
            external_ref=ref,
            occurred_on=day or "2026-01-01",
            importer_name=f"Firm {ref}",
            importer_country="NL",
        )
        import_file(csv_file(tmp_path, cells), cus.agency)
    Record.objects.filter(external_ref__in=[ref for ref, day in DATED if not day]).update(occurred_on=None)
    return cus.client("analyst")


def walk(client, url: str, params: dict) -> tuple[list[str], list[dict]]:
    refs, bodies = [], []
    while url:
        body = client.get(url, params).json()
        bodies.append(body)
        refs += [row["external_ref"] for row in body["results"]]
        url, params = body["next"], None
    return refs, bodies


@pytest.mark.parametrize("size", [1, 2, 4])
def test_next_continues_after_the_last_row_through_ties_and_missing_dates(dated, size):
    refs, bodies = walk(dated, "/api/records/", {"page_size": size})
    assert refs == dated_order()
    for before, body in itertools.pairwise(bodies):
        query = parse_qs(urlsplit(before["next"]).query)
        assert query["after"] == [before["results"][-1]["id"]]
        assert "after" not in parse_qs(urlsplit(body["previous"] or "").query)


def test_a_page_reached_by_next_is_the_page_of_its_number(dated):
    for number in range(2, len(DATED) + 1):
        before = dated.get("/api/records/", {"page_size": 1, "page": number - 1}).json()
        by_next = dated.get(before["next"]).json()
        by_number = dated.get("/api/records/", {"page_size": 1, "page": number}).json()
        assert by_next["results"] == by_number["results"]
        assert by_next["count"] == by_number["count"]


def test_after_a_row_the_list_does_not_hold_reads_the_page_by_its_number(dated, pol, tmp_path):
    from tests.test_import import csv_file, row

    hidden_row = row(
        external_ref="P-1", occurred_on="2026-03-03", importer_name="Firm P", importer_country="NL"
    )
    import_file(csv_file(tmp_path, hidden_row), pol.agency)
    hidden = Record.objects.get(external_ref="P-1").public_id
    seizure = dated.get("/api/records/", {"page_size": 1}).json()["results"][0]["id"]
    page = {"page_size": 2, "page": 3}
    expected = dated.get("/api/records/", page).json()
    assert [row["external_ref"] for row in expected["results"]] == dated_order()[4:6]
    for after in (hidden, uuid.uuid4()):
        assert dated.get("/api/records/", {**page, "after": str(after)}).json() == expected
    # A row of the records' list, but not of this filtered one.
    filtered = {**page, "page": 1, "category": "seizure"}
    assert (
        dated.get("/api/records/", {**filtered, "after": seizure}).json()
        == dated.get("/api/records/", filtered).json()
    )


@pytest.mark.parametrize("after", ["abc", "1", "", "00000000-0000-0000-0000-00000000000g", "\x00"])
def test_an_after_that_is_no_id_is_refused_naming_it(dated, after):
    response = dated.get("/api/records/", {"page": 2, "page_size": 1, "after": after})
    assert response.status_code == 400
    assert set(response.json()) == {"after"}


# --- a page's rows, read by key after its keys were chosen ------------------------------

ROWS_HEADER = "external_ref,category,classification,occurred_on,summary,importer_name,importer_country\n"


@pytest.mark.parametrize("filtered", [False, True], ids=["whole-list", "companies"])
def test_an_entity_hidden_between_its_key_and_its_row_is_left_out(db, tmp_path, filtered):
    from core.pagination import LimitedCountPaginator
    from intel import selectors
    from intel.presentation import entity_names

    customs = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    reader = selectors.Reader(User.objects.create(username="cus-a", agency=customs, role="analyst"))
    path = tmp_path / "three.csv"
    path.write_text(
        ROWS_HEADER
        + "".join(f"K-{n},shipment,restricted,2026-01-0{n},s,Keyed Trading {n} BV,NL\n" for n in (1, 2, 3))
    )
    import_file(path, customs)
    listed = selectors.listed_entities(reader)
    if filtered:
        listed = listed.filter(type="company")
    paginator = LimitedCountPaginator(listed.order_by("id"), 50, 1000)
    chosen = paginator.leading_keys
    Record.objects.filter(external_ref="K-2").delete()
    shown = paginator.page(1).object_list
    names = [name for entity in shown for name in entity_names(entity)]
    assert sorted(name for name in names if name.startswith("Keyed")) == [
        "Keyed Trading 1 BV",
        "Keyed Trading 3 BV",
    ]
    assert all(entity.mentions_counted for entity in shown), "no row is shown that nothing visible names"
    assert len(chosen) > len(shown), "the deleted record's company was chosen before it went"


@pytest.mark.parametrize(
    "path", ["/api/records/", "/api/records/?occurred_after=2000-01-01", "/api/links/", "/api/entities/"]
)
def test_a_pages_rows_are_read_by_one_statement_whatever_its_size(analyst, path):
    """The statement that reads a page's rows by key is the same text, with as many
    parameters, for a page of two keys as for a page of one, so that a connection's prepared
    statement serves every page."""
    from django.db import connection

    count = analyst.get(path).json()["count"]
    assert count >= 3, f"{path} lists {count} rows"
    size = count - 1

    def rows_statement(page: int) -> tuple[str, int]:
        statements = []

        def keep(execute, sql, params, many, context):
            statements.append((sql, len(params or ())))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(keep):
            body = analyst.get(path, {"page_size": size, "page": page}).json()
        assert len(body["results"]) == (size if page == 1 else 1), body
        return [statement for statement in statements if "= ANY(%s::bigint[])" in statement[0]][-1]

    assert rows_statement(1) == rows_statement(2)


@pytest.mark.parametrize("path", ["/api/records/", "/api/links/", "/api/entities/"])
def test_a_page_by_its_number_past_the_limit_is_planned_for_its_offset(analyst, settings, path):
    """Past the counted limit, a page by its number walks every row before it: its statement
    is never prepared, so PostgreSQL plans it for its offset rather than keep a generic plan
    for it. The first page's statements are prepared as any other."""
    from django.db import connection

    settings.PAGINATION_COUNT_LIMIT = settings.ENTITY_COUNT_LIMIT = 1
    connection.ensure_connection()
    configured = connection.connection.prepare_threshold
    assert configured is not None, "the server prepares repeated statements (config/settings.py)"

    def thresholds(params: dict) -> list:
        seen = []

        def keep(execute, sql, sql_params, many, context):
            # The third row's page of one skips two; `EachRowExists` writes OFFSET 0.
            seen.append((connection.connection.prepare_threshold, "OFFSET 2" in sql))
            return execute(sql, sql_params, many, context)

        with connection.execute_wrapper(keep):
            assert analyst.get(path, params).status_code == 200
        return seen

    deep = thresholds({"page_size": 1, "page": 3})
    assert [threshold for threshold, offset in deep if offset] == [None]
    assert {threshold for threshold, _ in thresholds({"page_size": 1})} == {configured}
