"""Holes found by the adversarial review of issue 11 (hardening), one failing test each.

Each test takes the part of another agency's analyst or liaison and shows a fact derived
from a record its agency may not see reaching it (or a write it should not be able to do).
Expectations come from the data each test builds, never from the system's own rule."""

from pathlib import Path

import pytest
from django.test import Client

from intel.import_writing import import_file
from intel.models import Entity, Mention
from tests.auth_helpers import signed_in

pytestmark = pytest.mark.django_db

HEADER = (
    "external_ref,category,classification,occurred_on,summary,"
    "importer_name,importer_country,importer_reg_no\n"
)


def csv_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def logged_in(user, purpose: str | None = None) -> Client:
    client = Client(HTTP_X_INTERLINK_PURPOSE=purpose) if purpose else Client()
    signed_in(client, user)
    return client


def test_candidates_do_not_pair_entities_by_names_only_hidden_records_state(cus, tax, tmp_path):
    """TAX's record (released to no one) names company NL 12345678 "Alpha Zebrafish".
    CUS knows that company only as "Acme Co" and, separately, an "Alpha Zebrafisch" with no
    number. Nothing CUS may see makes the two alike, so CUS must be offered no candidate
    pairing them: such a pair (and its score) tells CUS what TAX's hidden record calls it."""
    import_file(
        csv_file(tmp_path, "tax.csv", ["TAX-1,shipment,restricted,2026-03-01,x,Alpha Zebrafish,NL,12345678"]),
        tax.agency,
    )
    import_file(
        csv_file(
            tmp_path,
            "cus.csv",
            [
                "CUS-1,shipment,restricted,2026-03-02,x,Acme Co,NL,12345678",
                "CUS-2,shipment,restricted,2026-03-03,x,Alpha Zebrafisch,NL,",
            ],
        ),
        cus.agency,
    )
    numbered = Entity.objects.get(key="NL:reg:12345678")
    answer = logged_in(cus.analyst).get("/api/candidates/").json()
    paired = [
        (c["entity_a"]["id"], c["entity_b"]["id"], c["score"])
        for c in answer["results"]
        if str(numbered.public_id) in (c["entity_a"]["id"], c["entity_b"]["id"])
    ]
    assert paired == []


@pytest.fixture
def tax_merge(cus, tax, tmp_path):
    """TAX merges its own company "Alpha Zebrafish" (NL 111, named by no record but TAX's,
    released to no one) into "Alpha Zebrafisch", a company CUS's record also names."""
    from intel.candidates import merge_entities

    import_file(
        csv_file(
            tmp_path,
            "tax.csv",
            [
                "TAX-1,shipment,restricted,2026-03-01,x,Alpha Zebrafish,NL,111",
                "TAX-2,shipment,restricted,2026-03-01,x,Alpha Zebrafisch,NL,",
            ],
        ),
        tax.agency,
    )
    import_file(
        csv_file(tmp_path, "cus.csv", ["CUS-1,shipment,restricted,2026-03-02,x,Alpha Zebrafisch,NL,"]),
        cus.agency,
    )
    hidden = Entity.objects.get(key="NL:reg:111")
    shared = Entity.objects.get(key="NL:name:alpha zebrafisch")
    return merge_entities(shared, hidden, tax.analyst), hidden


def test_merges_do_not_name_an_entity_only_hidden_records_stated(cus, tax_merge):
    _merge, hidden = tax_merge
    answer = logged_in(cus.analyst).get("/api/merges/").json()
    assert [m for m in answer["results"] if m["merged"] == str(hidden.public_id)] == []


def test_another_agency_cannot_undo_a_merge_it_cannot_see_the_reason_for(cus, tax_merge):
    """Undoing TAX's merge moves TAX's mentions back: CUS has no right over them."""
    merge, _hidden = tax_merge
    response = logged_in(cus.analyst).post(f"/api/merges/{merge.public_id}/undo/")
    merge.refresh_from_db()
    assert merge.undone_at is None
    assert response.status_code in (403, 404)


def test_another_agencys_merge_does_not_join_two_of_our_own_entities(cus, tax_merge, tmp_path):
    """After TAX merged NL 111 into "Alpha Zebrafisch", CUS imports a record naming NL 111.
    Nothing CUS may see says NL 111 is "Alpha Zebrafisch": shown as one entity (one id, both
    names), CUS learns the conclusion TAX drew from records CUS may not see."""
    import_file(
        csv_file(tmp_path, "cus2.csv", ["CUS-2,shipment,restricted,2026-03-04,x,Alpha Zebrafish,NL,111"]),
        cus.agency,
    )
    entities = logged_in(cus.analyst).get("/api/entities/", {"type": "company"}).json()["results"]
    assert sorted(name for e in entities for name in e["names"]) == ["Alpha Zebrafisch", "Alpha Zebrafish"]
    assert len(entities) == 2


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


# --- a long export outlives the agreement it reads under ------------------------------


def test_an_export_stops_at_the_instant_its_agreement_is_terminated(cus, pol):
    """The export reads each chunk of 500 again "through the choke point, so a record that
    stopped being visible while the export ran is left out" (intel/exports.py). The
    agreements in force are taken once, when the request starts (Reader.access): POL's
    export goes on writing CUS's records after the agreement was terminated."""
    from intel.models import Record
    from sharing import agreements
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
    agreements.terminate(Agreement.objects.get(pk=agreement.pk), platform_admin(), "breach")
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
    from sharing import releases
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
        releases.set_releasability(record, pol.analyst, "covering")
    phone = Entity.objects.get(type="phone")
    response = logged_in(cus.analyst).get(f"/api/entities/{phone.public_id}/discovery/")
    assert response.status_code == 200
    assert response.json() == []
