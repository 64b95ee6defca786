"""What the request pages read: the requester's list reads records only for the consent
requests it shows one for (it read every listed request's records, a disclosure request's
possibly hundreds, to show none), and the liaison's page reads a request's records once (it
read them for the entity's label and again for the list)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing.models import DisclosureRequest
from tests.auth_helpers import signed_in
from tests.sharing_helpers import Staff, staff

pytestmark = pytest.mark.django_db

# The table that says which records a request asks for: any read of a request's records joins it.
REQUESTED = '"sharing_disclosurerequest_records"'
HEADER = "external_ref,category,occurred_on,summary,importer_name,importer_country\n"


@pytest.fixture
def scene(tmp_path) -> tuple[Staff, Staff, list[Record], Entity]:
    """cus holds six records naming one importer; pol asks for them."""
    cus, pol = staff("cus"), staff("pol")
    path = tmp_path / "records.csv"
    path.write_text(
        HEADER + "".join(f"R-{n},shipment,2026-02-0{n + 1},row {n},Alpha Trading BV,NL\n" for n in range(6))
    )
    import_file(path, cus.agency)
    records = list(Record.objects.filter(owner=cus.agency).order_by("external_ref"))
    assert len(records) == 6
    return cus, pol, records, Entity.objects.get(type="company")


def asked(owner: Staff, requester: Staff, records: list[Record], entity: Entity | None) -> DisclosureRequest:
    """A disclosure request (about `entity`) or, without one, a consent request, as the
    services store them."""
    request = DisclosureRequest.objects.create(
        kind=DisclosureRequest.Kind.DISCLOSURE if entity else DisclosureRequest.Kind.ONWARD_SHARING,
        requester=requester.analyst,
        requesting_agency=requester.agency,
        owner=owner.agency,
        entity=entity,
        purpose="risk_assessment",
        justification="a case",
        due_at=timezone.now() + timedelta(days=3),
    )
    request.records.set(records)
    return request


def read(client: Client, url: str) -> tuple[str, int, int]:
    """The page, the queries it took, and how many of them read requests' records."""
    with CaptureQueriesContext(connection) as captured:
        answer = client.get(url)
    assert answer.status_code == 200, answer.content[:300]
    return answer.content.decode(), len(captured), sum(REQUESTED in query["sql"] for query in captured)


def test_the_requesters_list_reads_records_only_for_the_consent_requests_it_shows(scene):
    cus, pol, records, company = scene
    for _ in range(3):
        asked(cus, pol, records, company)
    client = Client()
    client.force_login(pol.analyst)

    page, queries, record_reads = read(client, "/requests/")
    assert page.count("the company") == 3
    # Session, user, agency, two kinds of device, notifications read and marked, the page's
    # count and its rows: no records.
    assert (queries, record_reads) == (9, 0)

    for record in records[:2]:
        asked(cus, pol, [record], None)
    page, queries, record_reads = read(client, "/requests/")
    assert ">R-0</a>" in page and ">R-1</a>" in page
    assert (queries, record_reads) == (10, 1)

    # More of both kinds: the same queries.
    for _ in range(3):
        asked(cus, pol, records, company)
    for record in records[2:5]:
        asked(cus, pol, [record], None)
    page, queries, record_reads = read(client, "/requests/")
    assert page.count("the company") == 6 and ">R-4</a>" in page
    assert (queries, record_reads) == (10, 1)


@pytest.mark.parametrize("about_an_entity", [True, False])
def test_the_liaisons_page_reads_the_requested_records_once(scene, about_an_entity):
    cus, pol, records, company = scene
    request = asked(cus, pol, records, company if about_an_entity else None)
    asked(cus, pol, records, company)
    client = signed_in(Client(), cus.liaison)

    page, queries, record_reads = read(client, f"/liaison/requests/{request.public_id}/")

    assert all(f">{record.external_ref}</a>" in page for record in records)
    assert ("<strong>Alpha Trading BV</strong>" in page) == about_an_entity
    assert record_reads == 1
    # Session, user, agency, the device the session names, the request, its records, and,
    # about an entity, the entity and its mentions in those records.
    assert queries == (8 if about_an_entity else 6)
