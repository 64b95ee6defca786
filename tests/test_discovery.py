"""Hit/no-hit discovery reveals only counts from agencies that provide to the asker under a
discovery agreement in force, only of records their owner made releasable under it; and
anything about an entity the asker may not see answers exactly as a nonexistent one does.

Expected counts are written out by hand from the scenario each test builds."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import releases, requests
from tests.sharing_helpers import draft, in_force
from tests.test_import import EXAMPLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def vessel(cus, pol):
    """IMO 9074729, named by both rows of docs/examples/shipments.csv, imported by cus and by
    pol: pol's SHP-0001 is restricted (level 1), its SHP-0002 confidential (level 2)."""
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    import_file(EXAMPLES / "shipments.csv", pol.agency)
    return Entity.objects.get(type="vessel", key="imo:9074729")


def hits(member, entity) -> list[dict]:
    response = member.client().get(f"/api/entities/{entity.public_id}/discovery/")
    assert response.status_code == 200, response.content
    return response.json()


def pol_record(pol, ref: str) -> Record:
    return Record.objects.get(owner=pol.agency, external_ref=ref)


def release(pol, ref: str, mode: str, agreements=()) -> None:
    releases.set_releasability(pol_record(pol, ref), pol.analyst, mode, agreements)


POL_HIT = [
    {"agency": "pol", "agency_name": "POL", "count": 1, "purposes": ["investigation", "risk_assessment"]}
]


def test_a_record_beyond_the_ceiling_is_a_hit_of_agency_and_count_only(cus, pol, vessel):
    release(pol, "SHP-0001", "covering")
    release(pol, "SHP-0002", "covering")
    in_force((cus, True, True), (pol, True, True), reference="MOU-D", discovery_allowed=True, ceiling=1)
    # SHP-0001 is visible to cus under MOU-D; SHP-0002 is above its ceiling: one hit.
    assert hits(cus, vessel) == POL_HIT
    response = cus.client().get(f"/api/entities/{vessel.public_id}/discovery/")
    assert "SHP" not in response.content.decode()


@pytest.mark.parametrize(
    "parties",
    [
        pytest.param(((True, False), (False, True)), id="the partner only receives from the asker"),
        pytest.param(((True, True), (False, True)), id="the partner receives but provides nothing"),
    ],
)
def test_a_partner_that_provides_nothing_to_the_asker_says_nothing(cus, pol, vessel, parties):
    release(pol, "SHP-0001", "covering")
    release(pol, "SHP-0002", "covering")
    (cus_provides, cus_receives), (pol_provides, pol_receives) = parties
    in_force(
        (cus, cus_provides, cus_receives),
        (pol, pol_provides, pol_receives),
        reference="MOU-D",
        discovery_allowed=True,
        ceiling=1,
    )
    assert hits(cus, vessel) == []


def test_discovery_needs_an_agreement_in_force_that_allows_it(cus, pol, vessel):
    release(pol, "SHP-0002", "covering")
    in_force((cus, True, True), (pol, True, True), reference="MOU-N", discovery_allowed=False, ceiling=1)
    assert hits(cus, vessel) == []
    # A draft that would allow it is not in force.
    draft((cus, True, True), (pol, True, True), reference="MOU-DRAFT", discovery_allowed=True, ceiling=1)
    assert hits(cus, vessel) == []


@pytest.mark.parametrize(
    ("mode", "named_to", "expected"),
    [
        pytest.param("none", (), [], id="released to no one"),
        pytest.param("named", ("MOU-O",), [], id="named to another agreement only"),
        pytest.param("named", ("MOU-D",), POL_HIT, id="named to the discovery agreement"),
        pytest.param("named", ("MOU-O", "MOU-D"), POL_HIT, id="named to both"),
        pytest.param("covering", (), POL_HIT, id="released to every covering agreement"),
    ],
)
def test_only_records_their_owner_made_releasable_under_the_agreement_count(
    cus, pol, vessel, mode, named_to, expected
):
    agreements = {
        "MOU-D": in_force(
            (cus, True, True), (pol, True, True), reference="MOU-D", discovery_allowed=True, ceiling=1
        ),
        "MOU-O": in_force((cus, True, True), (pol, True, True), reference="MOU-O", ceiling=1),
    }
    release(pol, "SHP-0002", mode, [agreements[name] for name in named_to])
    assert hits(cus, vessel) == expected


def test_a_disclosure_request_takes_exactly_the_records_discovery_counted(cus, pol, vessel):
    release(pol, "SHP-0002", "covering")
    in_force((cus, True, True), (pol, True, True), reference="MOU-D", discovery_allowed=True, ceiling=1)
    request = requests.request_disclosure(
        cus.analyst,
        entity_id=vessel.pk,
        owner=pol.agency,
        purpose="investigation",
        justification="j",
        urgency="routine",
    )
    assert {r.external_ref for r in request.records.all()} == {"SHP-0002"}
    # With nothing releasable, there is nothing to request.
    release(pol, "SHP-0002", "none")
    with pytest.raises(ValidationError):
        requests.request_disclosure(
            cus.analyst,
            entity_id=vessel.pk,
            owner=pol.agency,
            purpose="investigation",
            justification="j",
            urgency="routine",
        )


def hidden_and_missing(pol, cus):
    """An entity only pol's records name (cus may not see it), and a public id no entity has."""
    import_file(EXAMPLES / "seizures.jsonl", pol.agency)
    hidden = (
        Record.objects.filter(owner=pol.agency, category="seizure").first().mentions.get(role="vessel").entity
    )
    assert not Entity.objects.visible_to(cus.analyst).filter(pk=hidden.pk).exists()
    missing = uuid.uuid4()
    assert not Entity.objects.filter(public_id=missing).exists()
    return hidden, missing


def test_discovery_of_a_hidden_entity_answers_as_a_missing_one(cus, pol):
    in_force((cus, True, True), (pol, True, True), reference="MOU-D", discovery_allowed=True)
    hidden, missing = hidden_and_missing(pol, cus)
    client = cus.client()
    on_hidden = client.get(f"/api/entities/{hidden.public_id}/discovery/")
    on_missing = client.get(f"/api/entities/{missing}/discovery/")
    assert on_hidden.status_code == on_missing.status_code == 404
    assert on_hidden.json() == on_missing.json()


def test_a_disclosure_request_about_a_hidden_entity_answers_as_a_missing_one(cus, pol):
    in_force((cus, True, True), (pol, True, True), reference="MOU-D", discovery_allowed=True)
    hidden, missing = hidden_and_missing(pol, cus)
    client = cus.client()
    answers = []
    for entity in (str(hidden.public_id), str(missing)):
        response = client.post(
            "/api/requests/",
            {"entity": entity, "owner": "pol", "purpose": "investigation", "justification": "j"},
            format="json",
        )
        answers.append((response.status_code, response.json()["entity"][0].replace(entity, "ID")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    with pytest.raises(ValidationError) as refused:
        requests.request_disclosure(
            cus.analyst,
            entity_id=hidden.pk,
            owner=pol.agency,
            purpose="investigation",
            justification="j",
            urgency="routine",
        )
    assert "entity" in refused.value.message_dict


@pytest.mark.parametrize("redacted", [["phone"], ["summary"], []])
def test_discovery_does_not_count_mentions_of_a_type_the_agreement_redacts(cus, pol, tmp_path, redacted):
    """POL provides to CUS under an agreement that allows discovery and redacts phone
    numbers: even a record POL shares in full would never show CUS a phone in it. CUS knows
    a phone from its own record; a hit on it from POL's record (released to every covering
    agreement, classified above the ceiling) tells CUS that POL's record names that phone,
    which the agreement keeps from CUS even for the records it shares."""
    in_force(
        (pol, True, False),
        (cus, False, True),
        reference="MOU-PHONES",
        discovery_allowed=True,
        redacted_fields=redacted,
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
    response = cus.client().get(f"/api/entities/{phone.public_id}/discovery/")
    assert response.status_code == 200
    expected = (
        []
        if "phone" in redacted
        else [
            {
                "agency": "pol",
                "agency_name": pol.agency.name,
                "count": 1,
                "purposes": ["investigation", "risk_assessment"],
            }
        ]
    )
    assert response.json() == expected
