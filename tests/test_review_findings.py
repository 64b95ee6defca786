"""Holes found by the adversarial review of issue 11 (hardening), one failing test each.

Each test takes the part of another agency's analyst or liaison and shows a fact derived
from a record its agency may not see reaching it (or a write it should not be able to do).
Expectations come from the data each test builds, never from the system's own rule."""

import pytest
from django.test import Client

from intel.importing import import_file
from intel.models import Entity, Mention
from tests.auth_helpers import signed_in

pytestmark = pytest.mark.django_db


def logged_in(user, purpose: str | None = None) -> Client:
    client = Client(HTTP_X_INTERLINK_PURPOSE=purpose) if purpose else Client()
    signed_in(client, user)
    return client


# Findings 1 and 2 (candidates and merges across agencies) are tests/test_derived_data.py.


# --- hostile imports: characters PostgreSQL cannot store ----------------------------

NOT_STORABLE = {
    # A NUL character (PostgreSQL text never holds one) in a summary, a reference, a detail
    # and a company name; a lone UTF-16 surrogate (no UTF-8 encoding) from a JSON escape.
    "nul-summary.csv": (b"external_ref,category,occurred_on,summary\nA-1,shipment,2026-01-02,ab\x00cd\n", 2),
    "nul-ref.csv": (
        b"external_ref,category,occurred_on\nA-1,shipment,2026-01-02\nA\x00-2,shipment,2026-01-02\n",
        3,
    ),
    "nul-name.csv": (
        b"external_ref,category,occurred_on,importer_name,importer_country\nA-1,shipment,2026-01-02,Ac\x00me,NL\n",
        2,
    ),
    "nul-detail.jsonl": (
        b'{"external_ref":"A-1","category":"shipment","occurred_on":"2026-01-02","goods_description":"x\\u0000"}\n',
        1,
    ),
    "surrogate-summary.json": (
        b'[{"external_ref":"A-1","category":"shipment","occurred_on":"2026-01-02"},'
        b'{"external_ref":"A-2","category":"shipment","occurred_on":"2026-01-02","summary":"a\\ud800b"}]',
        2,
    ),
    "surrogate-name.jsonl": (
        b'{"external_ref":"A-1","category":"shipment","occurred_on":"2026-01-02",'
        b'"importer_name":"a\\udfffb","importer_country":"NL"}\n',
        1,
    ),
}


@pytest.mark.parametrize("name", sorted(NOT_STORABLE))
def test_an_import_with_characters_the_database_cannot_store_fails_by_row(cus, tmp_path, name):
    """Refused as bad input naming the row, nothing written; not a database error (a 500
    for the command, and a batch failed with no row named)."""
    from intel.importing import ImportFailed
    from intel.models import Record

    content, row = NOT_STORABLE[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImportFailed) as failure:
        import_file(path, cus.agency)
    assert row in [error["row"] for error in failure.value.errors]
    assert not Record.objects.filter(owner=cus.agency).exists()


def test_an_uploaded_import_with_a_nul_character_names_the_row(cus, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from intel.models import ImportBatch
    from intel.services import run_import_batch

    content, row = NOT_STORABLE["nul-summary.csv"]
    client = logged_in(cus.analyst)
    response = client.post("/api/imports/", {"file": SimpleUploadedFile("bad.csv", content)})
    assert response.status_code == 202
    batch = ImportBatch.objects.get(agency=cus.agency)
    run_import_batch(batch.pk)
    batch.refresh_from_db()
    assert batch.status == "failed"
    assert row in [error["row"] for error in batch.errors], batch.errors


# --- "not for evidence" holds on one path only ---------------------------------------


@pytest.fixture
def not_for_evidence(cus, pol):
    """CUS shares with POL for investigation and prosecution a record it marked "not for
    use as evidence without the owner's consent"; POL has no consent."""
    from intel.models import Record
    from tests.sharing_helpers import in_force

    in_force((cus, True, False), (pol, False, True), purposes=("investigation", "prosecution"))
    record = Record.objects.create(
        owner=cus.agency,
        external_ref="NFE-1",
        category="shipment",
        classification=1,
        caveats=["not_for_evidence"],
        releasability="covering",
        summary="informant says the container is loaded in Rotterdam",
    )
    informant = Entity.objects.create(type="company", key="NL:name:informant says trading")
    Mention.objects.create(
        record=record,
        entity=informant,
        role="importer",
        properties={"name": "Informant Says Trading"},
        search_text="informant says trading",
    )
    return record


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/",
        "/api/records/export/",
        "/api/entities/",
        "/api/search/?q=informant",
        "/search/?q=informant",
    ],
)
def test_not_for_evidence_content_is_not_listed_or_exported_for_prosecution(pol, not_for_evidence, path):
    """GET /api/records/{id}/ for prosecution answers 403 (selectors.evidence_use_refused);
    the list, the export, the entities and the search show the same record's content (its
    summary, the names it states) for the same purpose."""
    client = logged_in(pol.analyst, "prosecution")
    response = client.get(path)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code < 500
    assert b"informant says" not in body.lower()


# --- what an outsider learns without signing in -------------------------------------


def test_the_public_health_page_does_not_count_other_agencies_changes(cus):
    """/health/ answers anyone, signed in or not. Its graph_sync part counts the changes to
    records not yet in the graph and when the oldest was made: polled by an outsider, it
    tells when and how much an agency imports, releases or edits."""
    from tests.test_import import EXAMPLES

    import_file(EXAMPLES / "shipments.csv", cus.agency)
    sync = Client().get("/health/").json().get("graph_sync", {})
    assert sync.get("backlog") in (None, 0)
    assert sync.get("oldest_unsynced") is None


# --- agreement references tell hidden agreements from none ---------------------------


def agreement_body(reference: str) -> dict:
    return {
        "reference": reference,
        "title": "t",
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2027-06-01T00:00:00Z",
        "categories": ["shipment"],
        "classification_ceiling": 1,
        "purposes": ["investigation"],
        "parties": [
            {"agency": "cus", "provides": True, "receives": False},
            {"agency": "pol", "provides": False, "receives": True},
        ],
    }


def test_drafting_with_a_hidden_agreements_reference_answers_as_with_an_unused_one(cus, pol, tax):
    """POL and TAX have an agreement CUS is no party to (404 for CUS everywhere else). A CUS
    admin drafting under its reference is refused "already exists", under an unused one
    accepted: guessing references finds which agencies share with which."""
    import json

    from tests.sharing_helpers import in_force

    in_force((pol, True, False), (tax, False, True), reference="MOU-POL-TAX")
    client = logged_in(cus.admin)
    hidden, unused = (
        client.post("/api/agreements/", json.dumps(agreement_body(ref)), content_type="application/json")
        for ref in ("MOU-POL-TAX", "MOU-UNUSED")
    )
    assert hidden.status_code == unused.status_code, hidden.content


# --- request bodies nested deeper than the parser recurses ----------------------------

DEEP_BODIES = {
    "array": "[" * 5000 + "]" * 5000,
    "object": '{"a":' * 5000 + "1" + "}" * 5000,
    # A deep value inside an otherwise well-formed body.
    "field": '{"purpose": ' + "[" * 5000 + "]" * 5000 + "}",
}


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize(
    ("path", "signed"),
    [
        ("/api/auth/token/", False),  # open to anyone: an outsider's 500
        ("/api/session/purpose/", True),
        ("/api/agreements/", True),
        ("/api/requests/", True),
        ("/api/requests/consent/", True),
    ],
)
def test_deeply_nested_json_bodies_are_bad_input_not_500(cus, path, signed, shape):
    client = Client(raise_request_exception=False)
    if signed:
        signed_in(client, cus.admin)
    response = client.post(path, DEEP_BODIES[shape], content_type="application/json")
    assert response.status_code == 400, response.status_code


# --- a long export outlives the agreement it reads under ------------------------------


def test_an_export_stops_at_the_instant_its_agreement_is_terminated(cus, pol):
    """The export reads each chunk of 500 again "through the choke point, so a record that
    stopped being visible while the export ran is left out" (intel/exports.py). The
    agreements in force are taken once, when the request starts (Reader.access): POL's
    export goes on writing CUS's records after the agreement was terminated."""
    from intel.models import Record
    from sharing import services
    from sharing.models import Agreement
    from tests.sharing_helpers import in_force, platform_admin

    agreement = in_force((cus, True, False), (pol, False, True), purposes=("investigation",))
    Record.objects.bulk_create(
        Record(
            owner=cus.agency,
            external_ref=f"EXP-{n:04d}",
            category="shipment",
            classification=1,
            releasability="covering",
            summary=f"summary {n:04d}",
        )
        for n in range(700)
    )
    response = logged_in(pol.analyst, "investigation").get("/api/records/export/")
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert first.count(b"EXP-") == 500
    services.terminate(Agreement.objects.get(pk=agreement.pk), platform_admin(), "breach")
    rest = b"".join(chunks)
    assert b"EXP-" not in rest


# --- discovery counts mentions of a type the agreement redacts -----------------------


def test_discovery_does_not_count_mentions_of_a_type_the_agreement_redacts(cus, pol, tmp_path):
    """POL provides to CUS under an agreement that allows discovery and redacts phone
    numbers: even a record POL shares in full would never show CUS a phone in it. CUS knows
    a phone from its own record; a hit on it from POL's record (released to every covering
    agreement, classified above the ceiling) tells CUS that POL's record names that phone,
    which the agreement keeps from CUS even for the records it shares."""
    from intel.models import Record
    from sharing import services
    from tests.sharing_helpers import in_force

    in_force(
        (pol, True, False),
        (cus, False, True),
        reference="MOU-PHONES",
        discovery_allowed=True,
        redacted_fields=["phone"],
        ceiling=1,
    )
    header = (
        "external_ref,category,classification,occurred_on,importer_name,importer_country,importer_phone\n"
    )
    own = tmp_path / "cus.csv"
    own.write_text(header + "CUS-1,shipment,restricted,2026-03-01,Acme Co,NL,+31 10 555 0101\n")
    import_file(own, cus.agency)
    theirs = tmp_path / "pol.csv"
    theirs.write_text(header + "POL-1,shipment,confidential,2026-03-02,Other Co,NL,+31 10 555 0101\n")
    import_file(theirs, pol.agency)
    for record in Record.objects.filter(owner=pol.agency):
        services.set_releasability(record, pol.analyst, "covering")
    phone = Entity.objects.get(type="phone")
    response = logged_in(cus.analyst).get(f"/api/entities/{phone.public_id}/discovery/")
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize(
    "field", ["details.declared_valeu", "details.Declared_Value", "details.", "details. summary"]
)
def test_an_agreement_cannot_redact_a_detail_no_record_has(cus, pol, field):
    """A redaction that names no detail any record carries (a typo, another case, nothing)
    is accepted, signed and redacts nothing: the parties believe a field hidden that every
    recipient sees."""
    import json

    client = logged_in(cus.admin)
    body = {**agreement_body("MOU-TYPO"), "redacted_fields": [field]}
    response = client.post("/api/agreements/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert "redacted_fields" in response.json()
