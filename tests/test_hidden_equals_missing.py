"""No filter, form, field or error tells "hidden" from "does not exist" (issue 11, class 7,
the filters and fields half).

Every filter and every body field that names an object, and every path that names one, is
asked about an object the caller may not see and about one that does not exist: the two
answers must be the same, byte for byte once the id asked about is taken out. Ids of the
caller's own and of partner-visible objects, and values that are no public id (integer keys,
malformed UUIDs), are asked too: the first are answered, the last refused as bad input,
never with a 500."""

import uuid
from datetime import date

import pytest
from django.test import Client

from intel.models import Entity, Link, Mention, Record
from sharing.requests import request_consent
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, staff
from tests.test_agreements import shipments  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

NOT_PUBLIC_IDS = [
    1,
    10**19,
    -1,
    "0",
    "12345678-1234-1234-1234-1234567890",
    "12345678123412341234123456789012345",
    "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    "00000000-0000-0000-0000-000000000000x",
]


@pytest.fixture
def world(cus, shipments):  # noqa: F811
    """CUS shares shipments with POL; a record, its entities and link, an agreement with TAX
    and a request between CUS and TAX are hidden from POL."""
    cus_staff, cus = cus, cus.agency
    pol, tax = staff("pol", kind="police"), staff("tax", kind="tax")
    shared_agreement = in_force((cus_staff, True, False), (pol, False, True), purposes=("investigation",))
    hidden_agreement = in_force(
        (cus_staff, True, False), (tax, False, True), reference="MOU-TAX", purposes=("investigation",)
    )
    hidden = Record.objects.create(
        owner=cus, external_ref="HID-1", category="shipment", classification=1, releasability="none"
    )
    hidden_a = Entity.objects.create(type="company", key="company:hidden-a")
    hidden_b = Entity.objects.create(type="vessel", key="vessel:hidden-b")
    for entity in (hidden_a, hidden_b):
        Mention.objects.create(record=hidden, entity=entity, role="importer", properties={"name": entity.key})
    hidden_link = Link.objects.create(record=hidden, source=hidden_a, target=hidden_b, type="OWNS")
    own = Record.objects.create(
        owner=pol.agency, external_ref="POL-1", category="seizure", occurred_on=date.today()
    )
    own_entity = Entity.objects.create(type="company", key="company:pol-own")
    Mention.objects.create(record=own, entity=own_entity, role="importer", properties={"name": "Pol Own"})
    hidden_request = request_consent(
        tax.analyst,
        record=Record.objects.get(external_ref="SHP-0002"),
        caveat="no_onward_sharing",
        purpose="investigation",
        justification="why",
        urgency="routine",
    )
    visible = shipments[0]
    return {
        "pol": pol,
        "cus": cus_staff,
        "record": public(own=own, visible=visible, hidden=hidden),
        "entity": public(own=own_entity, visible=visible.mentions.first().entity, hidden=hidden_a),
        "link": public(visible=visible.links.first(), hidden=hidden_link),
        "agreement": public(visible=shared_agreement, hidden=hidden_agreement),
        "reference": {"visible": shared_agreement.reference, "hidden": "MOU-TAX", "missing": "MOU-NONE"},
        "request": public(hidden=hidden_request),
    }


def public(**objects) -> dict[str, str]:
    """The objects' public ids, and a fresh UUID no row has."""
    return {**{name: str(obj.public_id) for name, obj in objects.items()}, "missing": str(uuid.uuid4())}


def logged_in(user) -> Client:
    client = Client(HTTP_X_INTERLINK_PURPOSE="investigation")
    signed_in(client, user)
    return client


def answer(response, asked) -> tuple[int, str]:
    """The response with the value asked about taken out."""
    return response.status_code, response.content.decode().replace(str(asked), "ASKED")


def assert_same(ask, ids: dict) -> None:
    """`ask(id)` answers alike for the hidden and the missing object, never 5xx for any."""
    hidden, missing = ask(ids["hidden"]), ask(ids["missing"])
    assert answer(hidden, ids["hidden"]) == answer(missing, ids["missing"])
    assert hidden.status_code < 500
    for name, value in ids.items():
        assert ask(value).status_code < 500, name
    for value in NOT_PUBLIC_IDS:
        assert 400 <= ask(value).status_code < 500, value


@pytest.mark.parametrize("name", ["record", "source", "target", "entity"])
def test_link_filters_answer_hidden_as_missing(world, name):
    client = logged_in(world["pol"].analyst)
    ids = world["record"] if name == "record" else world["entity"]
    if name in ("source", "target"):
        link = Link.objects.get(public_id=world["link"]["visible"])
        ids = {**ids, "visible": str(getattr(link, name).public_id)}
    assert_same(lambda pk: client.get("/api/links/", {name: pk}), ids)
    assert client.get("/api/links/", {name: ids["hidden"]}).json()["count"] == 0
    assert client.get("/api/links/", {name: ids["visible"]}).json()["count"] > 0
    for value in ("abc", "1.5", "", "1e3"):
        assert client.get("/api/links/", {name: value}).status_code in (200, 400)
    assert "uuid" in client.get("/api/links/", {name: "1"}).json()[name][0].lower()


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("record", "/api/records/{}/"),
        ("entity", "/api/entities/{}/"),
        ("link", "/api/links/{}/"),
        ("entity", "/api/entities/{}/discovery/"),
        ("agreement", "/api/agreements/{}/"),
        ("request", "/api/requests/{}/"),
        ("record", "/records/{}/"),
        ("entity", "/entities/{}/"),
    ],
)
def test_paths_answer_hidden_as_missing(world, kind, path):
    client = logged_in(world["pol"].analyst)
    assert_same(lambda pk: client.get(path.format(pk)), world[kind])
    if "visible" in world[kind]:
        assert client.get(path.format(world[kind]["visible"])).status_code == 200


@pytest.mark.parametrize(
    "path", ["/liaison/requests/{}/", "/api/requests/{}/approve/", "/api/requests/{}/refuse/"]
)
def test_request_decisions_answer_hidden_as_missing(world, path):
    client = logged_in(world["pol"].liaison)
    if path.startswith("/liaison"):
        assert_same(lambda pk: client.get(path.format(pk)), world["request"])
    else:
        assert_same(
            lambda pk: client.post(path.format(pk), {}, content_type="application/json"), world["request"]
        )


@pytest.mark.parametrize("path", ["/api/records/{}/release/", "/api/records/{}/release-onward/"])
def test_release_paths_answer_hidden_as_missing(world, path):
    client = logged_in(world["pol"].analyst)
    body = {"releasability": "covering", "agreement": world["reference"]["visible"]}
    assert_same(
        lambda pk: client.post(path.format(pk), body, content_type="application/json"), world["record"]
    )


def test_release_agreements_answer_hidden_as_missing(world):
    client = logged_in(world["pol"].analyst)
    own = world["record"]["own"]
    visible = world["record"]["visible"]

    def named(reference):
        return client.post(
            f"/api/records/{own}/release/",
            {"releasability": "named", "agreements": [reference]},
            content_type="application/json",
        )

    def onward(reference):
        return client.post(
            f"/api/records/{visible}/release-onward/",
            {"agreement": reference},
            content_type="application/json",
        )

    for ask in (named, onward):
        hidden, missing = ask(world["reference"]["hidden"]), ask(world["reference"]["missing"])
        assert hidden.status_code == 400
        assert answer(hidden, world["reference"]["hidden"]) == answer(missing, world["reference"]["missing"])


def test_disclosure_request_entity_answers_hidden_as_missing(world):
    client = logged_in(world["pol"].analyst)

    def ask(pk):
        return client.post(
            "/api/requests/",
            {"owner": "cus", "entity": pk, "purpose": "investigation", "justification": "why"},
            content_type="application/json",
        )

    assert_same(ask, world["entity"])
    assert ask(world["entity"]["hidden"]).status_code == 400


def test_consent_request_record_answers_hidden_as_missing(world):
    client = logged_in(world["pol"].analyst)

    def ask(pk):
        return client.post(
            "/api/requests/consent/",
            {"record": pk, "caveat": "no_onward_sharing", "purpose": "investigation", "justification": "why"},
            content_type="application/json",
        )

    assert_same(ask, world["record"])
