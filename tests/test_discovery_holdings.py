"""What partners hold on a link chart's entities (POST /api/discovery/holdings/), and what
they disclosed since: agency and count only, per entity the asker may see; an entity it may
not see is left out exactly as one that does not exist; the queries do not grow with the
entities; a badge's request, once approved, lists the disclosed records and the entities
they name, which the asker can then read.

The world is written out below; every expected count is written by hand from it.

    cus (the asker) holds C-1 (vessel A, phone P), C-2 (vessel B), C-3 (vessel C)
    pol holds P-1 (A, P), P-2 (A), P-3 (B), P-4 (H), all released to every covering
        agreement, and P-5 (B) released to no one
    tax holds T-1 (A), released to every covering agreement
    port holds R-1 (A), released to every covering agreement
    MOU-P  cus <-> pol, discovery allowed, covers inspections only, redacts phones
    MOU-T  cus <-> tax, discovery allowed, covers inspections only
    MOU-R  cus <-> port, no discovery, covers inspections only

So no record of a partner is visible to cus (they are shipments), and H is named by pol
alone: cus may not see it. Hits: A: pol 2 (P-1, P-2), tax 1 (T-1), port none (no
discovery); B: pol 1 (P-3; P-5 is released to no one); C: none; P: none (P-1 names it,
but MOU-P redacts phones).
"""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import releases
from sharing.access import terms_in_force
from tests.sharing_helpers import in_force, platform_admin

pytestmark = pytest.mark.django_db

HEADER = (
    "external_ref,category,occurred_on,summary,importer_name,importer_country,importer_phone,"
    "vessel_imo,vessel_name\n"
)
IMO = {"A": "9074729", "B": "9176187", "C": "9321483", "H": "9241061"}
PHONE = "+31 10 555 0101"
URL = "/api/discovery/holdings/"


def rows(member, tmp_path, lines: list[tuple[str, str, str, bool]]) -> None:
    """(reference, vessel, importer, names the phone) rows, imported by the member's agency."""
    text = HEADER + "".join(
        f"{ref},shipment,2026-03-0{n + 1},secret summary {ref},{importer},NL,{PHONE if phone else ''},"
        f"{IMO[vessel]},Vessel {vessel}\n"
        for n, (ref, vessel, importer, phone) in enumerate(lines)
    )
    path = tmp_path / f"{member.agency.code}.csv"
    path.write_text(text)
    import_file(path, member.agency)


def release_all(member, except_refs=()) -> None:
    for record in Record.objects.filter(owner=member.agency).exclude(external_ref__in=except_refs):
        releases.set_releasability(record, member.analyst, "covering")


@pytest.fixture
def world(tmp_path, cus, pol, tax, port):
    rows(cus, tmp_path, [("C-1", "A", "Cus Own BV", True), ("C-2", "B", "Cus Own BV", False)])
    rows(cus, tmp_path, [("C-3", "C", "Cus Third BV", False)])
    rows(
        pol,
        tmp_path,
        [
            ("P-1", "A", "Pol Secret One BV", True),
            ("P-2", "A", "Pol Secret Two BV", False),
            ("P-3", "B", "Pol Secret Three BV", False),
            ("P-4", "H", "Pol Secret Four BV", False),
            ("P-5", "B", "Pol Secret Five BV", False),
        ],
    )
    rows(tax, tmp_path, [("T-1", "A", "Tax Secret BV", False)])
    rows(port, tmp_path, [("R-1", "A", "Port Secret BV", False)])
    release_all(pol, except_refs=["P-5"])
    release_all(tax)
    release_all(port)
    only_inspections = {"categories": ("inspection",), "ceiling": 3}
    agreements = {
        "MOU-P": in_force(
            (cus, True, True),
            (pol, True, True),
            reference="MOU-P",
            discovery_allowed=True,
            redacted_fields=["phone"],
            **only_inspections,
        ),
        "MOU-T": in_force(
            (cus, True, True),
            (tax, True, True),
            reference="MOU-T",
            discovery_allowed=True,
            **only_inspections,
        ),
        "MOU-R": in_force((cus, True, True), (port, True, True), reference="MOU-R", **only_inspections),
    }
    entities = {label: Entity.objects.get(type="vessel", key=f"imo:{imo}") for label, imo in IMO.items()}
    entities["P"] = Entity.objects.get(type="phone", mentions__record__external_ref="C-1")
    return {"entities": entities, "agreements": agreements}


def ask(member, entities, **body):
    return member.client().post(URL, {"entities": [str(e) for e in entities], **body}, format="json")


def ids(world, *labels) -> list[uuid.UUID]:
    return [world["entities"][label].public_id for label in labels]


def pol_hits(count):
    return {
        "agency": "pol",
        "agency_name": "POL",
        "count": count,
        "purposes": ["investigation", "risk_assessment"],
    }


TAX_HIT = {
    "agency": "tax",
    "agency_name": "TAX",
    "count": 1,
    "purposes": ["investigation", "risk_assessment"],
}


def test_partners_and_counts_per_entity_the_asker_may_see(world, cus):
    response = ask(cus, ids(world, "A", "B", "C", "P"))
    assert response.status_code == 200, response.content
    e = {label: str(entity.public_id) for label, entity in world["entities"].items()}
    assert response.json()["holdings"] == [
        {"entity": e["A"], "partners": [pol_hits(2), TAX_HIT]},
        {"entity": e["B"], "partners": [pol_hits(1)]},
        {"entity": e["C"], "partners": []},
        {"entity": e["P"], "partners": []},
    ]
    assert response.json()["disclosures"] == []


def test_the_answer_follows_the_order_asked_and_names_each_entity_once(world, cus):
    e = {label: str(entity.public_id) for label, entity in world["entities"].items()}
    response = ask(cus, ids(world, "C", "A", "C", "B"))
    assert [row["entity"] for row in response.json()["holdings"]] == [e["C"], e["A"], e["B"]]


def test_a_hidden_entity_is_left_out_exactly_as_a_missing_one(world, cus):
    hidden = world["entities"]["H"]
    assert not Entity.objects.visible_to(cus.analyst).filter(pk=hidden.pk).exists()
    missing = uuid.uuid4()
    assert not Entity.objects.filter(public_id=missing).exists()
    answers = []
    for stranger in (hidden.public_id, missing):
        response = ask(cus, [*ids(world, "A"), stranger])
        assert response.status_code == 200
        body = response.json()
        body.pop("checked_at")
        answers.append(body)
        alone = ask(cus, [stranger]).json()
        assert (alone["holdings"], alone["disclosures"]) == ([], [])
    assert answers[0] == answers[1]
    assert [row["entity"] for row in answers[0]["holdings"]] == [str(world["entities"]["A"].public_id)]


def test_nothing_of_the_partners_records_is_in_the_answer(world, cus, pol, tax, port):
    text = ask(cus, ids(world, "A", "B", "C", "P", "H")).content.decode()
    partner_records = Record.objects.exclude(owner=cus.agency)
    assert partner_records.count() == 7
    for record in partner_records:
        assert str(record.public_id) not in text
        assert record.external_ref not in text
        assert record.summary not in text
        for mention in record.mentions.exclude(entity__in=[world["entities"][label] for label in "ABCP"]):
            assert str(mention.entity.public_id) not in text
    for name in ("Pol Secret", "Tax Secret", "Port Secret", "9241061", "port"):
        assert name.lower() not in text.lower()


def test_too_many_entities_is_a_400_naming_the_field(world, cus):
    response = ask(cus, [uuid.uuid4() for _ in range(201)])
    assert response.status_code == 400
    assert "entities" in response.json()
    assert ask(cus, [uuid.uuid4() for _ in range(200)]).status_code == 200
    bad = cus.client().post(URL, {"entities": ["not-a-uuid"]}, format="json")
    assert bad.status_code == 400 and "entities" in bad.json()
    assert cus.client().post(URL, {}, format="json").json().keys() == {"entities"}


def test_a_platform_admin_of_no_agency_is_refused(world):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(platform_admin())
    response = client.post(URL, {"entities": [str(world["entities"]["A"].public_id)]}, format="json")
    assert response.status_code == 403


def test_one_audit_event_per_question(world, cus):
    last = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ask(cus, ids(world, "A", "B", "H"))
    events = list(AuditEvent.objects.filter(id__gt=last).order_by("id"))
    assert [(event.action, event.actor_id) for event in events] == [("discovery.holdings", cus.analyst.pk)]
    a, b = world["entities"]["A"], world["entities"]["B"]
    assert events[0].details["entities"] == [a.pk, b.pk]
    assert events[0].details["hits"] == [
        {"entity": a.pk, "agency": "pol", "count": 2},
        {"entity": a.pk, "agency": "tax", "count": 1},
        {"entity": b.pk, "agency": "pol", "count": 1},
    ]


def queries(member, entities, **body) -> int:
    # Counted as a served process answers: with the terms in force it keeps already read
    # (the first request after an agreement changes reads them again, whatever it lists).
    terms_in_force()
    with CaptureQueriesContext(connection) as captured:
        response = ask(member, entities, **body)
        assert response.status_code == 200, response.content
    return len(captured)


def test_the_queries_do_not_grow_with_the_entities(world, cus, pol):
    few = queries(cus, ids(world, "A"))
    many = queries(cus, [*ids(world, "A", "B", "C", "P", "H"), *(uuid.uuid4() for _ in range(50))])
    assert many == few
    # With disclosures listed too: one granted on A, asked about alone and among many.
    request = file_request(cus, world["entities"]["A"])
    approve(pol, request)
    few = queries(cus, ids(world, "A"))
    many = queries(cus, ids(world, "A", "B", "C", "P", "H"))
    assert many == few


def file_request(member, entity) -> str:
    response = member.client().post(
        "/api/requests/",
        {
            "entity": str(entity.public_id),
            "owner": "pol",
            "purpose": "investigation",
            "justification": "the vessel is on our chart",
            "urgency": "routine",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"]


def approve(owner, request_id: str) -> None:
    response = owner.client("liaison").post(f"/api/requests/{request_id}/approve/", {}, format="json")
    assert response.status_code == 200, response.content


def test_a_badge_request_once_approved_lists_the_disclosed_records_and_their_entities(world, cus, pol):
    a = world["entities"]["A"]
    first = ask(cus, ids(world, "A", "B")).json()
    disclosed = {ref: Record.objects.get(owner=pol.agency, external_ref=ref) for ref in ("P-1", "P-2")}
    reader = cus.client(purpose="investigation")
    for record in disclosed.values():
        assert reader.get(f"/api/records/{record.public_id}/").status_code == 404

    request_id = file_request(cus, a)
    # The liaison officer of the owner sees it in their queue.
    queue = pol.client("liaison").get("/api/requests/", {"box": "incoming"}).json()["results"]
    assert [row["id"] for row in queue] == [request_id]
    approve(pol, request_id)

    second = ask(cus, ids(world, "A", "B"), disclosed_since=first["checked_at"]).json()
    # pol's records on A are now cus's to see: pol no longer counts there.
    assert second["holdings"] == [
        {"entity": str(a.public_id), "partners": [TAX_HIT]},
        {"entity": str(world["entities"]["B"].public_id), "partners": [pol_hits(1)]},
    ]
    [disclosure] = second["disclosures"]
    # Every entity P-1 and P-2 name (a grant redacts nothing): vessel A, phone P, the two
    # importers and the shipment each record is.
    named = {str(e.public_id) for e in Entity.objects.filter(mentions__record__in=disclosed.values())}
    assert {a.public_id, world["entities"]["P"].public_id} < {uuid.UUID(n) for n in named}
    assert len(named) == 6
    assert {
        "request": disclosure["request"],
        "entity": disclosure["entity"],
        "owner": disclosure["owner"],
        "records": set(disclosure["records"]),
        "entities": set(disclosure["entities"]),
    } == {
        "request": request_id,
        "entity": str(a.public_id),
        "owner": "pol",
        "records": {str(record.public_id) for record in disclosed.values()},
        "entities": named,
    }
    for record in disclosed.values():
        assert reader.get(f"/api/records/{record.public_id}/").status_code == 200
    # Each disclosed record listed is audited as read.
    reads = AuditEvent.objects.filter(action="record.read", details__via="discovery.holdings")
    assert sorted(int(event.object_id) for event in reads) == sorted(r.pk for r in disclosed.values())

    # Asked again since the second answer: nothing new.
    third = ask(cus, ids(world, "A"), disclosed_since=second["checked_at"]).json()
    assert third["disclosures"] == []
    # Without a time: every disclosure whose grant still runs.
    assert [d["request"] for d in ask(cus, ids(world, "A")).json()["disclosures"]] == [request_id]
    # Not listed for an entity the question does not name.
    assert ask(cus, ids(world, "B")).json()["disclosures"] == []


def test_a_disclosure_of_another_agency_is_not_listed(world, cus, pol, tax):
    in_force(
        (tax, True, True),
        (pol, True, True),
        reference="MOU-TP",
        discovery_allowed=True,
        categories=("inspection",),
    )
    rows_before = ask(tax, ids(world, "A")).json()
    assert rows_before["holdings"] == [
        {"entity": str(world["entities"]["A"].public_id), "partners": [pol_hits(2)]}
    ]
    approve(pol, file_request(cus, world["entities"]["A"]))
    assert ask(tax, ids(world, "A")).json()["disclosures"] == []


def test_the_schema_documents_the_endpoint(world, cus):
    schema = cus.client().get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"][URL]["post"]
    assert operation["operationId"] == "discovery_holdings"
    assert "disclosed_since" in str(schema["components"]["schemas"]["HoldingsQuery"])
