"""A purpose cannot be forged (issue 11, class 2), and a refused purpose leaves a trace
(class 12, purpose refusals).

Purposes are a closed vocabulary. Whatever a user sends, on whichever path (query string,
header, session, pages, export, request bodies), is checked against it: an unknown value
(the internal "any purpose" wildcard among them) is answered 400 naming `purpose` and the
purposes there are, nothing is read, nothing is stored in the session."""

from types import SimpleNamespace

import pytest
from django.test import Client

from audit.models import AuditEvent
from intel.models import Record
from tests.auth_helpers import signed_in
from tests.fast.test_inputs import FORGED, VOCABULARY
from tests.sharing_helpers import in_force, staff
from tests.test_agreements import shipments  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared(cus, shipments):  # noqa: F811
    """CUS shares shipments with POL for risk assessment only."""
    pol = staff("pol", kind="police")
    in_force((cus, True, False), (pol, False, True), purposes=("risk_assessment",))
    return SimpleNamespace(pol=pol, record=shipments[0])


def logged_in(user) -> Client:
    client = Client()
    signed_in(client, user)
    return client


def reads() -> int:
    return AuditEvent.objects.filter(action="record.read").count()


def assert_refused(response) -> None:
    """400, naming the field and listing the purposes there are."""
    assert response.status_code == 400, (response.status_code, response.content[:300])
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert "purpose" in body
        assert set(body["allowed_purposes"]) == VOCABULARY
        for purpose in VOCABULARY:
            assert purpose in body["purpose"][0]
    else:
        html = response.content.decode()
        assert "purpose" in html
        assert all(purpose in html for purpose in VOCABULARY)


def api_paths(record: Record) -> list[str]:
    return [
        "/api/records/",
        f"/api/records/{record.public_id}/",
        "/api/records/export/",
        "/api/entities/",
        "/api/links/",
        "/api/search/?q=acme",
        "/api/candidates/",
        "/api/merges/",
        "/api/session/purpose/",
    ]


def page_paths(record: Record) -> list[str]:
    entity = record.mentions.values_list("entity__public_id", flat=True).first()
    return [f"/records/{record.public_id}/", f"/entities/{entity}/", "/search/?q=acme"]


def with_query(path: str, purpose: str) -> tuple[str, dict]:
    path, _, query = path.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&") if part)
    return path, {**params, "purpose": purpose}


@pytest.mark.parametrize("purpose", FORGED)
def test_a_forged_purpose_in_the_query_string_is_refused_everywhere(shared, purpose):
    client = logged_in(shared.pol.analyst)
    before = reads()
    for path in [*api_paths(shared.record), *page_paths(shared.record)]:
        url, params = with_query(path, purpose)
        assert_refused(client.get(url, params))
    assert reads() == before


@pytest.mark.parametrize("purpose", ["*", "any", "INVESTIGATION", "investigation,prosecution", "x" * 500])
def test_a_forged_purpose_in_the_header_is_refused_everywhere(shared, purpose):
    client = logged_in(shared.pol.analyst)
    before = reads()
    for path in [*api_paths(shared.record), *page_paths(shared.record)]:
        assert_refused(client.get(path, HTTP_X_INTERLINK_PURPOSE=purpose))
    # A permitted purpose stated first does not let a forged one through beside it.
    assert_refused(
        client.get(
            f"/api/records/{shared.record.public_id}/",
            {"purpose": "risk_assessment"},
            HTTP_X_INTERLINK_PURPOSE=purpose,
        )
    )
    assert reads() == before


@pytest.mark.parametrize(
    "purpose", ["*", "any", "", "INVESTIGATION", "\x00", 7, ["risk_assessment"], {"a": 1}]
)
def test_a_forged_purpose_is_never_stored_in_the_session(shared, purpose):
    client = logged_in(shared.pol.analyst)
    assert client.post(
        "/api/session/purpose/", {"purpose": "risk_assessment"}, content_type="application/json"
    ).json() == {"purpose": "risk_assessment"}
    response = client.post("/api/session/purpose/", {"purpose": purpose}, content_type="application/json")
    assert response.status_code == 400
    assert "purpose" in response.json()
    # The session keeps the purpose chosen before.
    assert client.session["purpose"] == "risk_assessment"
    assert client.get("/api/session/purpose/").json() == {"purpose": "risk_assessment"}


@pytest.mark.parametrize("purpose", ["*", "any"])
def test_a_forged_purpose_already_in_a_session_reads_nothing(shared, purpose):
    """A session that holds a value from before the vocabulary was enforced is refused, not trusted."""
    client = logged_in(shared.pol.analyst)
    session = client.session
    session["purpose"] = purpose
    session.save()
    before = reads()
    for path in [*api_paths(shared.record)[:-1], *page_paths(shared.record)]:
        assert_refused(client.get(path))
    assert reads() == before


def test_the_wildcard_never_widens_what_a_partner_reads(shared):
    """Under an agreement for risk assessment only, a partner reading for "*" (the internal
    any-purpose value) or for a purpose the agreement does not permit sees none of it."""
    client = logged_in(shared.pol.analyst)
    assert client.get("/api/records/", {"purpose": "*"}).status_code == 400
    assert client.get("/api/records/", {"purpose": "investigation"}).json()["count"] == 0
    assert client.get("/api/records/", {"purpose": "risk_assessment"}).json()["count"] == 2


@pytest.mark.parametrize("purpose", ["*", "any", "INVESTIGATION"])
def test_request_bodies_take_the_same_vocabulary(shared, purpose):
    client = logged_in(shared.pol.analyst)
    entity = str(shared.record.mentions.values_list("entity__public_id", flat=True).first())
    disclosure = client.post(
        "/api/requests/",
        {"owner": "cus", "entity": entity, "purpose": purpose, "justification": "why"},
        content_type="application/json",
    )
    consent = client.post(
        "/api/requests/consent/",
        {
            "record": str(shared.record.public_id),
            "caveat": "no_onward_sharing",
            "purpose": purpose,
            "justification": "why",
        },
        content_type="application/json",
    )
    for response in (disclosure, consent):
        assert response.status_code == 400
        # The ids are well formed and visible: the purpose alone is refused.
        assert not {"entity", "record"} & set(response.json()), response.json()
        message = " ".join(response.json()["purpose"])
        assert all(p in message for p in VOCABULARY)


@pytest.mark.parametrize(
    ("stated", "headers"),
    [
        (None, {}),
        ("prosecution", {}),
        ("investigation", {}),
        ("intelligence", {"HTTP_X_INTERLINK_PURPOSE": "intelligence"}),
    ],
)
def test_a_purpose_the_agreement_does_not_permit_is_403_and_audited(shared, stated, headers):
    client = logged_in(shared.pol.analyst)
    params = {"purpose": stated} if stated and not headers else {}
    for path, via in (
        (f"/api/records/{shared.record.public_id}/", "api"),
        (f"/records/{shared.record.public_id}/", "page"),
    ):
        before = AuditEvent.objects.filter(action="record.purpose_refused").count()
        response = client.get(path, params, **headers)
        assert response.status_code == 403, via
        if via == "api":
            assert response.json()["allowed_purposes"] == ["risk_assessment"]
        else:
            assert "risk_assessment" in response.content.decode()
        refusals = AuditEvent.objects.filter(action="record.purpose_refused").order_by("id")
        assert refusals.count() == before + 1
        event = refusals.last()
        assert event.actor_id == shared.pol.analyst.pk and event.agency_id == shared.pol.agency.pk
        assert event.object_type == "intel.record" and event.object_id == str(shared.record.pk)
        assert event.details["purpose"] == stated
    assert not AuditEvent.objects.filter(action="record.read", object_id=str(shared.record.pk)).exists()


def test_a_permitted_purpose_reads_and_is_audited_as_stated(shared):
    client = logged_in(shared.pol.analyst)
    assert (
        client.get(f"/api/records/{shared.record.public_id}/", {"purpose": "risk_assessment"}).status_code
        == 200
    )
    assert (
        client.get(
            f"/records/{shared.record.public_id}/", HTTP_X_INTERLINK_PURPOSE="risk_assessment"
        ).status_code
        == 200
    )
    events = AuditEvent.objects.filter(action="record.read", object_id=str(shared.record.pk))
    assert [e.details["purpose"] for e in events] == ["risk_assessment", "risk_assessment"]
    assert not AuditEvent.objects.filter(action="record.purpose_refused").exists()


# --- "not for evidence": every read for use as evidence, not only the record detail --------


@pytest.fixture
def not_for_evidence(cus, pol):
    """CUS shares with POL, for investigation and prosecution, a record it marked "not for
    use as evidence without the owner's consent", with a mention and a link; POL has no
    consent yet."""
    from intel.models import Entity, Link, Mention

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
    company = Entity.objects.create(type="company", key="NL:name:informant says trading")
    vessel = Entity.objects.create(type="vessel", key="IMO:9074729")
    for entity, role, name in (
        (company, "importer", "Informant Says Trading"),
        (vessel, "vessel", "Informant Star"),
    ):
        Mention.objects.create(
            record=record, entity=entity, role=role, properties={"name": name}, search_text=name.lower()
        )
    Link.objects.create(record=record, source=company, target=vessel, type="SHIPPED_ON")
    return SimpleNamespace(record=record, company=company)


EVIDENCE_PATHS = [
    "/api/records/",
    "/api/records/export/",
    "/api/entities/",
    "/api/links/",
    "/api/search/?q=says+trading",
    "/search/?q=says+trading",
    "/records/{record}/",
    "/entities/{company}/",
    "/api/entities/{company}/",
]


def read(client, path: str, scene) -> tuple[int, bytes]:
    response = client.get(path.format(record=scene.record.public_id, company=scene.company.public_id))
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, body.lower()


def shows(body: bytes, scene) -> bool:
    return b"informant" in body or str(scene.record.public_id).encode() in body


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
def test_a_record_not_for_evidence_is_read_on_no_path_for_prosecution(pol, not_for_evidence, path):
    client = Client(HTTP_X_INTERLINK_PURPOSE="prosecution")
    signed_in(client, pol.analyst)
    status, body = read(client, path, not_for_evidence)
    assert status < 500 and not shows(body, not_for_evidence), status


@pytest.mark.parametrize("path", EVIDENCE_PATHS)
def test_the_same_record_is_read_on_every_path_for_investigation_and_with_consent(
    cus, pol, not_for_evidence, path
):
    from sharing.requests import approve, request_consent

    investigating = Client(HTTP_X_INTERLINK_PURPOSE="investigation")
    signed_in(investigating, pol.analyst)
    status, body = read(investigating, path, not_for_evidence)
    assert status == 200 and shows(body, not_for_evidence)
    request = request_consent(
        pol.analyst,
        record=not_for_evidence.record,
        caveat="not_for_evidence",
        purpose="prosecution",
        justification="trial",
        urgency="routine",
    )
    approve(request, cus.liaison)
    prosecuting = Client(HTTP_X_INTERLINK_PURPOSE="prosecution")
    signed_in(prosecuting, pol.analyst)
    status, body = read(prosecuting, path, not_for_evidence)
    assert status == 200 and shows(body, not_for_evidence)
