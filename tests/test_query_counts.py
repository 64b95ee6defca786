"""Query-count guards: a list, an export or a page of entities costs the same number of
queries whatever the number of rows it shows, for the owner and for a partner reading under
an agreement (whose rows are redacted and audited). A query per row (a link's two entities
fetched one by one, say) fails here; the counts themselves are not pinned, only that they
do not grow with the rows."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from intel.import_writing import import_file
from intel.models import Record
from sharing import releases
from sharing.access import terms_in_force
from tests.sharing_helpers import in_force

pytestmark = pytest.mark.django_db

HEADER = (
    "external_ref,category,occurred_on,summary,importer_name,importer_country,importer_phone,"
    "broker_name,broker_country,vessel_imo,vessel_name\n"
)
IMOS = ["9074729", "9176187", "9321483", "9241061", "9395044", "9304679"]


def import_records(tmp_path, member, first: int, count: int) -> None:
    rows = "".join(
        f"QC-{n},shipment,2026-02-{1 + n % 27:02d},row {n},Importer {n} BV,NL,+31 10 555 {n:04d},"
        f"Broker {n % 3} BV,NL,{IMOS[n % len(IMOS)]},Vessel {n}\n"
        for n in range(first, first + count)
    )
    path = tmp_path / f"qc-{first}.csv"
    path.write_text(HEADER + rows)
    import_file(path, member.agency)
    for record in Record.objects.filter(owner=member.agency, external_ref__startswith="QC-"):
        releases.set_releasability(record, member.analyst, "covering")


def queries(client, url: str) -> int:
    # Counted as a served process answers: with the terms in force it keeps already read
    # (the first request after an agreement changes reads them again, whatever it lists).
    terms_in_force()
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, response.content
        if response.streaming:
            b"".join(response.streaming_content)
    return len(captured)


URLS = ["/api/records/", "/api/records/export/", "/api/entities/", "/api/links/", "/api/search/?q=importer"]


@pytest.mark.parametrize("url", URLS)
def test_a_list_costs_the_same_queries_for_few_rows_as_for_many(tmp_path, cus, pol, url):
    in_force((cus, True, False), (pol, False, True))
    import_records(tmp_path, cus, 0, 2)
    owner, partner = cus.client(), pol.client(purpose="risk_assessment")
    few = queries(owner, url), queries(partner, url)
    import_records(tmp_path, cus, 2, 10)
    many = queries(owner, url), queries(partner, url)
    assert many == few


def test_a_record_costs_the_same_queries_whatever_it_names(tmp_path, cus, pol):
    in_force((cus, True, False), (pol, False, True))
    import_records(tmp_path, cus, 0, 1)
    small = Record.objects.get(external_ref="QC-0")
    path = tmp_path / "wide.jsonl"
    row = {
        "external_ref": "QC-W",
        "category": "shipment",
        "occurred_on": "2026-02-03",
        "importer": {"name": "Wide BV", "country": "NL", "phone": "+31 10 555 0001"},
        "broker": [{"name": f"B{n} BV", "country": "NL"} for n in range(1, 4)],
        "container_numbers": ["CSQU3054383", "MSKU9070323"],
    }
    path.write_text(json.dumps(row) + "\n")
    import_file(path, cus.agency)
    wide = Record.objects.get(external_ref="QC-W")
    releases.set_releasability(wide, cus.analyst, "covering")
    assert wide.links.count() >= small.links.count() + 3, "the wide record must name more"
    for client in (cus.client(), pol.client(purpose="risk_assessment")):
        assert queries(client, f"/api/records/{wide.public_id}/") == queries(
            client, f"/api/records/{small.public_id}/"
        )


@pytest.mark.parametrize("url", ["/api/records/", "/api/entities/", "/api/links/", "/api/search/?q=importer"])
def test_a_page_costs_the_same_queries_whatever_its_size(tmp_path, cus, pol, url):
    in_force((cus, True, False), (pol, False, True))
    import_records(tmp_path, cus, 0, 12)
    joiner = "&" if "?" in url else "?"
    for client in (cus.client(), pol.client(purpose="risk_assessment")):
        small, large = (queries(client, f"{url}{joiner}page_size={size}") for size in (2, 10))
        # The second page too: past the first, rows are read by key (core.pagination).
        assert small == large == queries(client, f"{url}{joiner}page_size=2&page=2")


def test_an_entity_costs_the_same_queries_whatever_the_records_naming_it(tmp_path, cus, pol):
    in_force((cus, True, False), (pol, False, True))
    import_records(tmp_path, cus, 0, 1)
    one = Record.objects.get(external_ref="QC-0").mentions.get(role="importer").entity
    import_records(tmp_path, cus, 1, 12)
    # Every record names one of three brokers: each named by four records.
    broker = Record.objects.get(external_ref="QC-1").mentions.get(role="broker").entity
    assert broker.mentions.count() >= 4 > one.mentions.count()
    for client in (cus.client(), pol.client(purpose="risk_assessment")):
        assert queries(client, f"/api/entities/{broker.public_id}/") == queries(
            client, f"/api/entities/{one.public_id}/"
        )
