"""Agreements: lifecycle, live visibility, purpose, redaction, onward sharing, discovery and
the disclosure and consent workflow."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from intel.import_writing import import_file
from intel.models import Record
from sharing import agreements, releases, requests
from sharing.models import Agreement, DisclosureRequest, Notification
from tests.sharing_helpers import NO_SEIZURES, draft, in_force, platform_admin, seizures_beyond_scope, staff
from tests.test_import import EXAMPLES
from tests.test_import_format import RELEASE_EXAMPLES

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipments(cus):
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    records = list(Record.objects.filter(owner=cus.agency).order_by("external_ref"))
    for record in records:
        releases.set_releasability(record, cus.analyst, "covering")
    return records


def visible_refs(staff_member, purpose="investigation") -> set[str]:
    response = staff_member.client(purpose=purpose).get("/api/records/", {"page_size": 100})
    assert response.status_code == 200
    return {row["external_ref"] for row in response.json()["results"]}


# --- lifecycle -----------------------------------------------------------------------


def test_every_party_signs_before_it_comes_into_force(cus, pol, shipments):
    agreement = draft((cus, True, False), (pol, False, True))
    assert agreement.status == "draft"
    agreements.propose(agreement, cus.admin)
    agreements.sign(agreement, cus.admin)
    assert Agreement.objects.get(pk=agreement.pk).status == "proposed"
    assert visible_refs(pol) == set()
    agreements.sign(agreement, pol.admin)
    assert Agreement.objects.get(pk=agreement.pk).status == "active"
    assert visible_refs(pol) == {"SHP-0001", "SHP-0002"}
    actions = list(
        AuditEvent.objects.filter(object_type="sharing.agreement", object_id=str(agreement.pk)).values_list(
            "action", flat=True
        )
    )
    assert actions == [
        "agreement.draft",
        "agreement.proposed",
        "agreement.signed",
        "agreement.signed",
        "agreement.active",
    ]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda a, cus, pol: agreements.sign(a, cus.admin), "only a proposed agreement can be signed"),
        (lambda a, cus, pol: agreements.activate(a), "only a proposed agreement can be activated"),
        (
            lambda a, cus, pol: agreements.suspend(a, platform_admin(), "x"),
            "only an active agreement can be suspended",
        ),
        (
            lambda a, cus, pol: agreements.resume(a, platform_admin(), "x"),
            "only a suspended agreement can be resumed",
        ),
    ],
)
def test_illegal_transitions_from_draft_are_refused_with_a_clear_message(cus, pol, step, message):
    agreement = draft((cus, True, True), (pol, True, True))
    with pytest.raises(ValidationError, match=message):
        step(agreement, cus, pol)
    assert Agreement.objects.get(pk=agreement.pk).status == "draft"


def test_only_admins_of_parties_sign_and_only_platform_admins_suspend(cus, pol):
    outsider = staff("tax", kind="tax")
    agreement = draft((cus, True, True), (pol, True, True))
    agreements.propose(agreement, cus.admin)
    with pytest.raises(PermissionDenied):
        agreements.sign(agreement, outsider.admin)
    with pytest.raises(PermissionDenied):
        agreements.sign(agreement, cus.analyst)
    agreements.sign(agreement, cus.admin)
    with pytest.raises(ValidationError, match="already signed"):
        agreements.sign(agreement, cus.admin)
    agreements.sign(agreement, pol.admin)
    with pytest.raises(PermissionDenied):
        agreements.suspend(agreement, cus.admin, "not mine to do")
    with pytest.raises(ValidationError, match="reason is required"):
        agreements.suspend(agreement, platform_admin(), "  ")


def test_activation_waits_for_the_start_date_without_anyone_acting(cus, pol, shipments):
    start = timezone.now() + timedelta(days=2)
    agreement = in_force((cus, True, False), (pol, False, True), starts_at=start)
    assert agreement.status == "proposed" and agreement.fully_signed_at
    with pytest.raises(ValidationError, match="before its start date"):
        agreements.activate(agreement)
    assert visible_refs(pol) == set()
    with time_machine.travel(start + timedelta(seconds=1), tick=False):
        # Access starts at the start date, before the beat task has run.
        assert visible_refs(pol) == {"SHP-0001", "SHP-0002"}
        assert agreements.refresh_statuses() == 1
        assert Agreement.objects.get(pk=agreement.pk).status == "active"


def test_expiry_at_the_end_date_with_no_one_acting(cus, pol, shipments):
    agreement = in_force((cus, True, False), (pol, False, True), days=10)
    assert visible_refs(pol) == {"SHP-0001", "SHP-0002"}
    with time_machine.travel(agreement.ends_at - timedelta(seconds=1), tick=False):
        assert visible_refs(pol) == {"SHP-0001", "SHP-0002"}
    with time_machine.travel(agreement.ends_at, tick=False):
        assert visible_refs(pol) == set()
        assert (
            pol.client(purpose="investigation").get(f"/api/records/{shipments[0].public_id}/").status_code
            == 404
        )
        agreements.refresh_statuses()
        assert Agreement.objects.get(pk=agreement.pk).status == "expired"
        with pytest.raises(ValidationError, match="only an active agreement can be suspended"):
            agreements.suspend(agreement, platform_admin(), "too late")


def test_suspension_and_termination_revoke_at_once_and_are_audited_with_reason(cus, pol, shipments):
    agreement = in_force((cus, True, False), (pol, False, True))
    admin = platform_admin()
    agreements.suspend(agreement, admin, "breach of handling rules")
    assert visible_refs(pol) == set()
    agreements.resume(agreement, admin, "remedied")
    assert visible_refs(pol) == {"SHP-0001", "SHP-0002"}
    agreements.terminate(agreement, admin, "partnership ended")
    assert visible_refs(pol) == set()
    with pytest.raises(ValidationError, match="it is terminated"):
        agreements.resume(agreement, admin, "again")
    event = AuditEvent.objects.get(action="agreement.terminated")
    assert event.details["reason"] == "partnership ended" and event.actor_id == admin.pk


def test_scope_category_ceiling_and_releasability(cus, pol, shipments):
    in_force((cus, True, False), (pol, False, True), categories=("seizure",))
    assert visible_refs(pol) == set()
    other = in_force((cus, True, False), (pol, False, True), reference="MOU-2", ceiling=1)
    # SHP-0002 is confidential (2), above the ceiling of MOU-2.
    assert visible_refs(pol) == {"SHP-0001"}
    releases.set_releasability(shipments[0], cus.analyst, "named", [other])
    assert visible_refs(pol) == {"SHP-0001"}
    releases.set_releasability(shipments[0], cus.analyst, "none")
    assert visible_refs(pol) == set()


def test_receive_only_parties_share_nothing(cus, pol):
    import_file(EXAMPLES / "seizures.jsonl", pol.agency)
    releases.set_releasability(Record.objects.get(owner=pol.agency), pol.analyst, "covering")
    in_force((cus, True, False), (pol, False, True))
    assert visible_refs(cus) == set()


# --- purpose, redaction, handling codes ----------------------------------------------


def test_reading_shared_records_needs_a_permitted_purpose(cus, pol, shipments):
    agreement = in_force((cus, True, False), (pol, False, True), purposes=("risk_assessment",))
    record = shipments[0]
    for purpose in (None, "prosecution"):
        response = pol.client(purpose=purpose).get(f"/api/records/{record.public_id}/")
        assert response.status_code == 403
        assert response.json()["allowed_purposes"] == ["risk_assessment"]
    assert visible_refs(pol, purpose=None) == set()
    response = pol.client(purpose="risk_assessment").get(f"/api/records/{record.public_id}/")
    assert response.status_code == 200
    # The answer names the agreement by its reference; the audit trail keeps its key.
    assert response.json()["shared_under"] == {"agreement": agreement.reference}
    event = AuditEvent.objects.filter(action="record.read", object_id=str(record.pk)).last()
    assert event.details["purpose"] == "risk_assessment" and event.details["agreement"] == agreement.pk
    # A purpose chosen for the session works like one stated per request.
    client = pol.client()
    client.force_login(pol.analyst)
    client.post("/api/session/purpose/", {"purpose": "risk_assessment"}, format="json")
    assert client.get(f"/api/records/{record.public_id}/").status_code == 200


def test_redacted_fields_are_absent_for_recipients_under_that_agreement(cus, pol, shipments):
    in_force(
        (cus, True, False),
        (pol, False, True),
        redacted_fields=["phone", "email", "summary", "details.declared_value"],
    )
    record = shipments[0]
    body = pol.client(purpose="investigation").get(f"/api/records/{record.public_id}/").json()
    assert "summary" not in body and "declared_value" not in body["details"]
    assert body["details"]["currency"] == "EUR"
    types = {m["entity_type"] for m in body["mentions"]}
    assert "phone" not in types and "email" not in types and "company" in types
    entity_types = {
        row["type"]
        for row in pol.client(purpose="investigation")
        .get("/api/entities/", {"page_size": 100})
        .json()["results"]
    }
    assert entity_types.isdisjoint({"phone", "email"})
    assert pol.client(purpose="investigation").get("/api/search/", {"q": "+31105550101"}).json()["count"] == 0
    links = pol.client(purpose="investigation").get("/api/links/", {"page_size": 100}).json()["results"]
    assert all(link["type"] != "CONTACT" for link in links)
    # The owner still sees everything.
    own = cus.client().get(f"/api/records/{record.public_id}/").json()
    assert "summary" in own and {"phone", "email"} <= {m["entity_type"] for m in own["mentions"]}


def export_rows(staff_member, purpose="investigation", **filters) -> list[dict]:
    response = staff_member.client(purpose=purpose).get("/api/records/export/", filters)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_exports_are_redacted_like_the_api_and_audited(cus, pol, shipments):
    agreement = in_force(
        (cus, True, False),
        (pol, False, True),
        redacted_fields=["phone", "email", "summary", "details.declared_value"],
    )
    rows = export_rows(pol)
    assert {row["external_ref"] for row in rows} == {r.external_ref for r in shipments}
    for row in rows:
        assert row["summary"] == "" and row["shared_under"] == f"agreement {agreement.reference}"
        details = json.loads(row["details"])
        assert "declared_value" not in details and details["currency"] == "EUR"
        assert {m["entity_type"] for m in json.loads(row["mentions"])}.isdisjoint({"phone", "email"})
    exported = AuditEvent.objects.filter(action="record.read", details__via="export")
    assert sorted(int(e.object_id) for e in exported) == sorted(r.pk for r in shipments)
    assert {e.details["agreement"] for e in exported} == {agreement.pk}

    own = export_rows(cus)
    assert all(row["summary"] for row in own)
    assert any({"phone", "email"} <= {m["entity_type"] for m in json.loads(row["mentions"])} for row in own)
    # Without a purpose the partner exports nothing of the owner's; past the limit it is told to filter.
    assert export_rows(pol, purpose=None) == []


def test_an_export_past_its_limit_asks_for_filters(cus, shipments, settings):
    settings.EXPORT_MAX_RECORDS = 1
    response = cus.client().get("/api/records/export/")
    assert response.status_code == 400
    assert "narrow the export with filters" in response.json()["filters"]
    assert len(export_rows(cus, external_ref=shipments[0].external_ref)) == 1


def test_not_for_evidence_needs_the_owners_consent(cus, pol, shipments):
    in_force((cus, True, False), (pol, False, True), purposes=("investigation", "prosecution"))
    record = shipments[0]
    record.caveats = ["not_for_evidence"]
    record.save()
    response = pol.client(purpose="prosecution").get(f"/api/records/{record.public_id}/")
    assert response.status_code == 403 and "evidence" in response.json()["detail"]
    request = requests.request_consent(
        pol.analyst,
        record=record,
        caveat="not_for_evidence",
        purpose="prosecution",
        justification="charging the importer",
        urgency="urgent",
    )
    requests.approve(request, cus.liaison)
    assert pol.client(purpose="prosecution").get(f"/api/records/{record.public_id}/").status_code == 200


def test_onward_sharing_is_refused_unless_the_agreement_and_the_handling_code_allow_it(cus, pol, shipments):
    tax = staff("tax", kind="tax")
    first = in_force((cus, True, False), (pol, False, True))
    onward = in_force((pol, True, False), (tax, False, True), reference="MOU-ONWARD")
    record = shipments[0]
    with pytest.raises(ValidationError, match="under an agreement in force that allows onward sharing"):
        releases.release_onward(record, pol.liaison, onward)
    # Signed terms do not change: the parties sign an amendment allowing onward sharing.
    amendment = agreements.amend(first, cus.admin, onward_sharing_allowed=True)
    agreements.propose(amendment, cus.admin)
    agreements.sign(amendment, cus.admin)
    agreements.sign(amendment, pol.admin)
    record.caveats = ["no_onward_sharing"]
    record.save()
    with pytest.raises(ValidationError, match="handling code forbids onward sharing"):
        releases.release_onward(record, pol.liaison, onward)
    consent = requests.request_consent(
        pol.analyst,
        record=record,
        caveat="no_onward_sharing",
        purpose="investigation",
        justification="tax fraud angle",
        urgency="routine",
    )
    requests.approve(consent, cus.liaison)
    assert visible_refs(tax) == set()
    releases.release_onward(record, pol.liaison, onward)
    assert visible_refs(tax) == {record.external_ref}


# --- discovery and disclosure ------------------------------------------------------------


def test_discovery_reveals_only_agency_and_count_and_only_when_allowed(cus, pol, shipments):
    importer = shipments[0].mentions.get(role="importer").entity.public_id
    seizures_beyond_scope(pol)
    in_force((cus, True, True), (pol, True, True), discovery_allowed=False, categories=NO_SEIZURES)
    assert cus.client().get(f"/api/entities/{importer}/discovery/").json() == []
    in_force(
        (cus, True, True),
        (pol, True, True),
        reference="MOU-DISC",
        discovery_allowed=True,
        categories=NO_SEIZURES,
    )
    hits = cus.client().get(f"/api/entities/{importer}/discovery/").json()
    assert hits == [
        {"agency": "pol", "agency_name": "POL", "count": 1, "purposes": ["investigation", "risk_assessment"]}
    ]
    # An entity the caller cannot see at all is not found, so discovery says nothing of it.
    police_only = Record.objects.get(owner=pol.agency).mentions.get(role="vessel").entity.public_id
    assert staff("tax", kind="tax").client().get(f"/api/entities/{police_only}/discovery/").status_code == 404


def test_disclosure_request_approved_gives_a_time_limited_grant(cus, pol, shipments):
    importer = shipments[0].mentions.get(role="importer").entity
    seizures_beyond_scope(pol)
    in_force((cus, True, True), (pol, True, True), discovery_allowed=True, categories=NO_SEIZURES)
    seizure = Record.objects.get(owner=pol.agency)
    response = cus.client().post(
        "/api/requests/",
        {
            "owner": "pol",
            "entity": str(importer.public_id),
            "purpose": "investigation",
            "justification": "same importer",
            "urgency": "urgent",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    request_id = str(DisclosureRequest.objects.get(requester=cus.analyst, entity=importer).public_id)
    assert response.json()["id"] == request_id
    assert (
        timedelta(hours=7)
        < (timezone.datetime.fromisoformat(response.json()["due_at"]) - timezone.now())
        <= timedelta(hours=8)
    )
    assert Notification.objects.filter(user=pol.liaison).exists()
    queue = pol.client("liaison").get("/api/requests/", {"box": "incoming"}).json()["results"]
    assert [row["id"] for row in queue] == [request_id]
    assert pol.client("analyst").post(f"/api/requests/{request_id}/approve/").status_code == 403
    assert cus.client().get(f"/api/records/{seizure.public_id}/").status_code == 404
    approved = pol.client("liaison").post(
        f"/api/requests/{request_id}/approve/", {"grant_days": 2}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert cus.client().get(f"/api/records/{seizure.public_id}/").status_code == 200
    assert Notification.objects.filter(user=cus.analyst, message__contains="approved").exists()
    with time_machine.travel(timezone.now() + timedelta(days=2, minutes=1), tick=False):
        assert cus.client().get(f"/api/records/{seizure.public_id}/").status_code == 404
    assert (
        pol.client("liaison")
        .post(f"/api/requests/{request_id}/refuse/", {"reason": "late"}, format="json")
        .status_code
        == 400
    )


def test_refusal_needs_a_reason_and_notifies(cus, pol, shipments):
    importer = shipments[0].mentions.get(role="importer").entity_id
    seizures_beyond_scope(pol)
    in_force((cus, True, True), (pol, True, True), discovery_allowed=True, categories=NO_SEIZURES)
    request = requests.request_disclosure(
        cus.analyst,
        entity_id=importer,
        owner=pol.agency,
        purpose="investigation",
        justification="x",
        urgency="routine",
    )
    with pytest.raises(ValidationError, match="say why"):
        requests.refuse(request, pol.liaison, "")
    requests.refuse(request, pol.liaison, "ongoing covert operation")
    assert Notification.objects.get(user=cus.analyst).message.endswith("ongoing covert operation")
    assert AuditEvent.objects.filter(action="disclosure.refused").count() == 1


def test_overdue_requests_come_first_in_the_liaison_queue(cus, pol, shipments):
    importer = shipments[0].mentions.get(role="importer").entity_id
    seizures_beyond_scope(pol)
    in_force(
        (cus, True, True),
        (pol, True, True),
        discovery_allowed=True,
        categories=NO_SEIZURES,
        starts_at=timezone.now() - timedelta(days=3),
    )
    routine = requests.request_disclosure(
        cus.analyst,
        entity_id=importer,
        owner=pol.agency,
        purpose="investigation",
        justification="a",
        urgency="routine",
    )
    with time_machine.travel(timezone.now() - timedelta(days=1), tick=False):
        overdue = requests.request_disclosure(
            cus.analyst,
            entity_id=importer,
            owner=pol.agency,
            purpose="investigation",
            justification="b",
            urgency="urgent",
        )
    queue = pol.client("liaison").get("/api/requests/", {"box": "incoming"}).json()["results"]
    assert [row["id"] for row in queue] == [str(overdue.public_id), str(routine.public_id)]
    assert queue[0]["overdue"] is True


def test_the_graphs_visibility_lists_leave_out_redacted_mentions_and_links(cus, pol, shipments):
    from intel.models import Link, Mention

    in_force((cus, True, False), (pol, False, True), redacted_fields=["phone"])
    mentions = Mention.objects.filter(record=shipments[0])
    viewers = mentions.viewer_agencies()
    by_type = {m.entity.type: viewers[m.pk] for m in mentions.select_related("entity")}
    assert by_type["company"] == {cus.agency.pk, pol.agency.pk}
    assert by_type["phone"] == {cus.agency.pk}
    links = Link.objects.filter(record=shipments[0]).select_related("target")
    link_viewers = links.viewer_agencies()
    for link in links:
        expected = {cus.agency.pk} if link.target.type == "phone" else {cus.agency.pk, pol.agency.pk}
        assert link_viewers[link.pk] == expected


# --- redactions name what records have ------------------------------------------------


def agreement_body(title: str = "Customs to police", **terms) -> dict:
    """A draft's body for POST /api/agreements/: customs provides, the police receive."""
    return {
        "title": title,
        "starts_at": "2026-01-01T00:00:00Z",
        "ends_at": "2099-06-01T00:00:00Z",
        "categories": ["shipment"],
        "classification_ceiling": 1,
        "purposes": ["investigation"],
        "parties": [
            {"agency": "cus", "provides": True, "receives": False},
            {"agency": "pol", "provides": False, "receives": True},
        ],
        **terms,
    }


def post_json(client, path: str, body: dict):
    return client.post(path, json.dumps(body), content_type="application/json")


# The detail keys docs/import.md lists: what a record's details can hold.
DOCUMENTED_DETAILS = (
    "port_of_loading",
    "port_of_discharge",
    "hs_codes",
    "declared_value",
    "currency",
    "goods_description",
    "quantity",
    "unit",
    "findings",
    "inspection_result",
    "case_reference",
    "offences",
    "source_reliability",
    "information_credibility",
)
NO_SUCH_FIELD = [
    "details.declared_valeu",  # a typo
    "details.Declared_Value",  # another case
    "details.",  # nothing
    "details. summary",
    "details.declared_value.amount",
    "details.external_ref",  # a column, not a detail
    "Summary",
    "phones",
    "details",
]


@pytest.mark.parametrize("field", NO_SUCH_FIELD)
def test_drafting_cannot_redact_a_field_no_record_has(cus, pol, field):
    response = post_json(cus.client("admin"), "/api/agreements/", agreement_body(redacted_fields=[field]))
    assert response.status_code == 400
    assert "redacted_fields" in response.json()
    assert not Agreement.objects.exists()


@pytest.mark.parametrize("field", NO_SUCH_FIELD[:4])
def test_amending_or_revising_cannot_redact_a_field_no_record_has(cus, pol, field):
    signed = in_force((cus, True, False), (pol, False, True))
    response = post_json(
        cus.client("admin"), f"/api/agreements/{signed.public_id}/amend/", {"redacted_fields": [field]}
    )
    assert response.status_code == 400
    assert "redacted_fields" in response.json()
    assert not Agreement.objects.filter(amends=signed).exists()
    unsigned = draft((cus, True, False), (pol, False, True), reference="MOU-DRAFT")
    with pytest.raises(ValidationError) as refusal:
        agreements.revise_draft(unsigned, cus.admin, redacted_fields=["summary", field])
    assert "redacted_fields" in refusal.value.message_dict
    assert Agreement.objects.get(pk=unsigned.pk).redacted_fields == []


@pytest.mark.parametrize("field", NO_SUCH_FIELD[:4])
def test_the_admin_cannot_redact_a_field_no_record_has(cus, pol, field):
    from django.urls import reverse

    from tests.test_admin_writes import browser, form_data

    agreement = draft((cus, True, False), (pol, False, True))
    cus.admin.is_staff = True
    cus.admin.save(update_fields=["is_staff"])
    client = browser(cus.admin)
    url = reverse("admin:sharing_agreement_change", args=[agreement.pk])
    data = form_data(client.get(url).content.decode())
    data["redacted_fields"] = [f"summary, {field}"]
    response = client.post(url, data)
    assert response.status_code == 200
    assert "unknown" in response.content.decode()
    assert Agreement.objects.get(pk=agreement.pk).redacted_fields == []


def test_every_detail_a_record_can_hold_can_be_redacted(cus, pol):
    """The documented keys, and every key the example files give records, are accepted (the
    releases' example needs agreements of its own and states no detail of its own)."""
    for example in sorted(EXAMPLES.iterdir()):
        if example.name not in RELEASE_EXAMPLES:
            import_file(example, cus.agency)
    held = {key for details in Record.objects.values_list("details", flat=True) for key in details}
    assert held <= set(DOCUMENTED_DETAILS)
    fields = ["summary", "phone", "email", "person", "address"] + [f"details.{k}" for k in DOCUMENTED_DETAILS]
    response = post_json(cus.client("admin"), "/api/agreements/", agreement_body(redacted_fields=fields))
    assert response.status_code == 201, response.content
    assert sorted(response.json()["redacted_fields"]) == sorted(fields)


# --- references are the platform's: a taken one cannot be told from a free one ----------

REFERENCE_SHAPE = r"AGR-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}"


def same_answer(first, second) -> None:
    """Two answers alike but for what differs between any two agreements."""
    assert first.status_code == second.status_code, (first.content, second.content)
    differing = {"id", "reference", "created_at", "versions", "title", "starts_at", "ends_at"}
    assert {k: v for k, v in first.json().items() if k not in differing} == {
        k: v for k, v in second.json().items() if k not in differing
    }


@pytest.mark.parametrize("taken", ["MOU-POL-TAX", "MOU-POL-TAX/v2", "mou-pol-tax"])
def test_drafting_under_a_hidden_agreements_reference_answers_as_under_an_unused_one(cus, pol, tax, taken):
    """POL and TAX share under MOU-POL-TAX (and its amendment), which CUS is no party to."""
    hidden = in_force((pol, True, False), (tax, False, True), reference="MOU-POL-TAX")
    agreements.amend(hidden, pol.admin, classification_ceiling=1)
    client = cus.client("admin")
    on_taken = post_json(client, "/api/agreements/", agreement_body(reference=taken))
    on_unused = post_json(client, "/api/agreements/", agreement_body(reference="MOU-NEVER-USED"))
    # The platform names agreements: a reference sent is refused, taken or not, alike.
    same_answer(on_taken, on_unused)
    assert on_taken.status_code == 400 and on_taken.json() == {"reference": ["not a field of this request"]}
    assert on_unused.json() == on_taken.json()
    assert Agreement.objects.filter(reference__in=["MOU-POL-TAX", "MOU-POL-TAX/v2"]).count() == 2
    drafted = post_json(client, "/api/agreements/", agreement_body())
    assert drafted.status_code == 201
    assert re.fullmatch(REFERENCE_SHAPE, drafted.json()["reference"]), drafted.json()["reference"]


def test_an_amendment_cannot_name_itself_after_a_hidden_agreement(cus, pol, tax):
    in_force((pol, True, False), (tax, False, True), reference="MOU-POL-TAX")
    first = in_force((cus, True, False), (pol, False, True), reference="MOU-1")
    second = in_force((cus, True, False), (pol, False, True), reference="MOU-2")
    client = cus.client("admin")
    on_taken = post_json(
        client,
        f"/api/agreements/{first.public_id}/amend/",
        {"reference": "MOU-POL-TAX", "classification_ceiling": 1},
    )
    on_unused = post_json(
        client,
        f"/api/agreements/{second.public_id}/amend/",
        {"reference": "MOU-FREE", "classification_ceiling": 1},
    )
    same_answer(on_taken, on_unused)
    assert on_taken.status_code == 400 and on_taken.json() == {"reference": ["not a field of this request"]}
    assert on_unused.json() == on_taken.json()
    assert not Agreement.objects.filter(reference__in=["MOU-1/v2", "MOU-2/v2"]).exists()


def test_no_agreement_can_take_an_amendments_name(cus, pol):
    """Code that names its own agreements (the demo, tests) cannot name one like a version,
    so an amendment's reference never depends on another agreement."""
    with pytest.raises(ValueError, match="amendment"):
        draft((cus, True, False), (pol, False, True), reference="MOU-1/v2")
    assert not Agreement.objects.exists()
    first = in_force((cus, True, False), (pol, False, True), reference="MOU-1")
    for version, ceiling in ((2, 1), (3, 2)):
        path = f"/api/agreements/{first.public_id}/amend/"
        response = post_json(cus.client("admin"), path, {"classification_ceiling": ceiling})
        assert response.status_code == 201, response.content
        assert response.json()["reference"] == f"MOU-1/v{version}"
        amendment = Agreement.objects.get(reference=f"MOU-1/v{version}")
        agreements.propose(amendment, cus.admin)
        agreements.sign(amendment, cus.admin)
        agreements.sign(amendment, pol.admin)
        first = amendment


def test_assigned_references_are_unique_and_not_a_sequence(cus, pol):
    client = cus.client("admin")
    references = [
        post_json(client, "/api/agreements/", agreement_body(title=f"draft {n}")).json()["reference"]
        for n in range(12)
    ]
    assert len(set(references)) == 12
    assert all(re.fullmatch(REFERENCE_SHAPE, reference) for reference in references)
    assert references != sorted(references) and references != sorted(references, reverse=True)
    # The caller's own words are the title; the reference is not taken from them.
    assert Agreement.objects.get(reference=references[3]).title == "draft 3"


def test_the_admin_offers_no_reference_to_choose(cus, pol, tax):
    from django.urls import reverse

    from tests.test_admin_writes import browser, form_data

    in_force((pol, True, False), (tax, False, True), reference="MOU-POL-TAX")
    cus.admin.is_staff = True
    cus.admin.save(update_fields=["is_staff"])
    client = browser(cus.admin)
    assert 'name="reference"' not in client.get(reverse("admin:sharing_agreement_add")).content.decode()
    agreement = draft((cus, True, False), (pol, False, True), reference="MOU-CUS")
    url = reverse("admin:sharing_agreement_change", args=[agreement.pk])
    data = form_data(client.get(url).content.decode())
    assert "reference" not in data
    data |= {"reference": ["MOU-POL-TAX"], "title": ["renamed"]}
    assert client.post(url, data).status_code == 302
    assert Agreement.objects.get(pk=agreement.pk).reference == "MOU-CUS"


def test_an_export_stops_at_the_instant_its_agreement_is_terminated(cus, pol):
    """A long export reads each chunk with the access of that moment: once the agreement is
    terminated mid-way, not one more of CUS's records is written (the request's access,
    worked out when it started, must not carry on)."""

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
    response = pol.client(purpose="investigation").get("/api/records/export/")
    chunks = iter(response.streaming_content)
    first = next(chunks)
    assert first.count(b"EXP-") == 500
    agreements.terminate(Agreement.objects.get(pk=agreement.pk), platform_admin(), "breach")
    rest = b"".join(chunks)
    assert b"EXP-" not in rest
