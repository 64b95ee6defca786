"""One presentation of a record for a viewer (issue 11, class 3): no page, API answer or
export shows a partner what the agreement redacts for it.

The oracle is independent of the code under test: distinctive values are planted in the
redacted fields and entities, and the raw HTML, JSON and CSV are searched for them."""

import csv
import re

import pytest
from django.test import Client

from intel.import_writing import import_file
from intel.models import Entity, Mention, Record
from sharing import releases
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, staff
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db

REDACTIONS = ["summary", "details.declared_value", "phone", "email", "person", "address"]
# What each redaction hides, as the test spells it: searched for in the lower-cased text
# with spaces, dashes and brackets removed (so "+31 10 555 7319" is found as typed or normalized).
PLANTED = {
    "summary": "redacted-summary-7f3a",
    "details.declared_value": "7731994",
    "phone": "5557319",
    "email": "redacted-email-7f3a",
    "address": "redacted-address-7f3a",
    "person": "redacted-person-7f3a",
}
VISIBLE_NAME = "visible-company-7f3a"


def flat(text: str) -> str:
    return re.sub(r"[\s\-()]", "", text.lower())


def leaked(text: str) -> list[str]:
    return [field for field, value in PLANTED.items() if flat(value) in flat(text)]


@pytest.fixture
def planted(tmp_path):
    """CUS owns a shipment full of planted values, released to POL under an agreement that
    redacts them; POL reads for investigation."""
    cus, pol = staff("cus"), staff("pol", kind="police")
    header = (EXAMPLES / "shipments.csv").read_text().splitlines()[0].split(",")
    values = {
        "external_ref": "SHP-7F3A",
        "category": "shipment",
        "classification": "restricted",
        "occurred_on": "2026-03-02",
        "summary": "REDACTED-SUMMARY-7f3a about the cargo",
        "importer_name": "VISIBLE-COMPANY-7f3a Ltd.",
        "importer_country": "NL",
        "importer_address": "REDACTED-ADDRESS-7f3a Street 12",
        "importer_postcode": "3011 AB",
        "importer_phone": "+31 10 555 7319",
        "importer_email": "redacted-email-7f3a@example.org",
        "exporter_name": "Golden Sea Export Co.",
        "exporter_country": "VN",
        "declared_value": "7731994.00",
        "currency": "EUR",
    }
    path = tmp_path / "planted.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerow({name: values.get(name, "") for name in header})
    import_file(path, cus.agency)
    record = Record.objects.get(owner=cus.agency, external_ref="SHP-7F3A")
    person = Entity.objects.create(type="person", key="person:redacted-person-7f3a")
    Mention.objects.create(
        record=record,
        entity=person,
        role="importer",
        properties={"name": "REDACTED-PERSON-7f3a"},
        search_text="redacted-person-7f3a",
    )
    releases.set_releasability(record, cus.analyst, "covering")
    in_force(
        (cus, True, False),
        (pol, False, True),
        redacted_fields=REDACTIONS,
        purposes=("investigation", "risk_assessment"),
    )
    return cus, pol, record


def page_client(user, purpose: str | None = "investigation") -> Client:
    client = Client()
    signed_in(client, user)
    if purpose:
        session = client.session
        session["purpose"] = purpose
        session.save()
    return client


def pages_of(record: Record) -> list[str]:
    """Every page there is, with the record's and each of its entities' own pages (also
    those the viewer may not see: their 404 must not leak either)."""
    entity_ids = sorted(record.mentions.values_list("entity__public_id", flat=True))
    return [
        "/",
        f"/records/{record.public_id}/",
        f"/records/{record.public_id}/?purpose=investigation",
        *(f"/entities/{pk}/" for pk in entity_ids),
        *(f"/search/?q={q}" for q in ("visible-company", "7f3a", "redacted", "555 73", "example.org")),
        "/search/",
        "/requests/",
        "/liaison/requests/",
        "/liaison/shared/",
        "/liaison/access/",
    ]


def api_of(record: Record) -> list[str]:
    entity_ids = sorted(record.mentions.values_list("entity__public_id", flat=True))
    return [
        "/api/records/?page_size=1000",
        f"/api/records/{record.public_id}/",
        "/api/entities/?page_size=1000",
        *(f"/api/entities/{pk}/" for pk in entity_ids),
        "/api/links/?page_size=1000",
        *(f"/api/search/?q={q}" for q in ("visible-company", "7f3a", "redacted", "55573")),
        "/api/records/export/",
        "/api/requests/",
    ]


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def test_the_planted_values_are_there_for_the_owner(planted):
    """The oracle's own check: the owner's record page and API show every planted value,
    so their absence for the partner is the redaction, not a planting mistake."""
    cus, _, record = planted
    client = page_client(cus.analyst, purpose=None)
    page = body_of(client.get(f"/records/{record.public_id}/"))
    api = body_of(client.get(f"/api/records/{record.public_id}/"))
    export = body_of(client.get("/api/records/export/"))
    for text in (page, api, export):
        assert set(leaked(text)) == set(PLANTED), text


@pytest.mark.parametrize("role", ["analyst", "liaison", "admin"])
def test_no_page_shows_a_partner_what_its_agreement_redacts(planted, role):
    _, pol, record = planted
    client = page_client(getattr(pol, role))
    shown_record = False
    for url in pages_of(record):
        response = client.get(url)
        assert response.status_code < 500, url
        html = body_of(response)
        assert leaked(html) == [], f"{url} shows {leaked(html)}"
        shown_record |= url.startswith("/records/") and response.status_code == 200
    # The record page was really shown, with what the agreement does not redact.
    assert shown_record
    html = body_of(client.get(f"/records/{record.public_id}/"))
    assert VISIBLE_NAME in html.lower() and "SHP-7F3A" in html and "EUR" in html


@pytest.mark.parametrize("role", ["analyst", "liaison"])
def test_no_api_answer_or_export_shows_a_partner_what_its_agreement_redacts(planted, role):
    _, pol, record = planted
    client = page_client(getattr(pol, role))
    for url in api_of(record):
        response = client.get(url)
        assert response.status_code < 500, url
        text = body_of(response)
        assert leaked(text) == [], f"{url} shows {leaked(text)}"
    export = body_of(client.get("/api/records/export/"))
    assert "SHP-7F3A" in export and VISIBLE_NAME in export.lower()


def test_a_record_updated_by_its_owner_is_answered_through_the_same_presentation(planted):
    cus, _, record = planted
    response = page_client(cus.analyst, purpose=None).patch(
        f"/api/records/{record.public_id}/", {"summary": "changed"}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["summary"] == "changed"
    assert {m["entity_type"] for m in body["mentions"]} >= {"phone", "email", "person", "address"}
