"""Bad numbers and other hostile input never give a 500 (issue 11, class 9).

The API is fuzzed with schemathesis from its own OpenAPI schema (/api/schema/), as each
role, on a bounded budget (FUZZ_EXAMPLES cases per operation and role, valid and invalid
ones, the same on every run): no answer is a 5xx, and every answer conforms to the schema
(status codes the schema does not list are allowed: they are 4xx refusals). The
pages' query parameters and forms get a few hypothesis-generated hostile values."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from agencies.tokens import issue_token
from intel.models import Record
from sharing import requests
from sharing.models import DisclosureRequest
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin, staff
from tests.test_agreements import shipments  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db

FUZZ_EXAMPLES = 4
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
ROLES = ["analyst", "liaison", "admin", "platform admin"]
HOSTILE_NUMBERS = st.one_of(
    st.sampled_from(["99999999", "99999999999999999999999", "-1", "0", "abc", "1e9", "36500", " 1", "1\x00"]),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
)
HOSTILE_TEXT = st.one_of(
    HOSTILE_NUMBERS,
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        ["\x00", "*", "%00", "\N{LEFT-POINTING MAGNIFYING GLASS}" * 50, "<script>", "' OR 1=1 --", "x" * 3000]
    ),
    # Ids are public UUIDs: one that names nothing, and the forms the canonical one is not.
    st.sampled_from(
        [
            "00000000-0000-4000-8000-000000000000",
            "00000000-0000-4000-8000-00000000000G",
            "{00000000-0000-4000-8000-000000000000}",
            "00000000000040008000000000000000",
            "00000000-0000-4000-8000-000000000000\x00",
        ]
    ),
)


@contextmanager
def in_test_transaction() -> Iterator[None]:
    """Requests served by the WSGI app in this thread share the test's transaction; Django
    would close the connection at each request's start and end (as its test client, this
    turns that off)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def world(cus, shipments):  # noqa: F811 (the fixture imported above)
    """Two agencies sharing under an agreement in force, with a pending disclosure request."""
    pol = staff("pol", kind="police")
    in_force((cus, True, False), (pol, False, True), purposes=("investigation",), discovery_allowed=True)
    # Releasable under the agreement but above its ceiling: what discovery counts.
    hidden = Record.objects.create(
        owner=cus.agency, external_ref="HID", category="shipment", classification=3, releasability="covering"
    )
    hidden.mentions.create(entity=shipments[0].mentions.first().entity, role="importer", properties={})
    requests.request_disclosure(
        pol.analyst,
        entity_id=hidden.mentions.first().entity_id,
        owner=cus.agency,
        purpose="investigation",
        justification="fuzz",
        urgency="routine",
    )
    assert DisclosureRequest.objects.exists()
    return cus, pol


def user_of(role: str, agency_staff) -> object:
    return platform_admin() if role == "platform admin" else getattr(agency_staff, role)


@pytest.mark.parametrize("role", ROLES)
def test_the_api_answers_no_5xx_and_only_what_its_schema_says(world, role):
    owner, _ = world
    _, token = issue_token(user=user_of(role, owner), mfa_verified=True, where={})
    headers = {"Authorization": f"Token {token}", "X-Interlink-Purpose": "investigation"}
    app = get_wsgi_application()
    failures: dict[str, str] = {}
    with in_test_transaction():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app, headers=headers)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) > 20
        for operation in operations:

            @given(case=st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode)))
            @settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                derandomize=True,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case):
                response = case.call(headers=headers)
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                fuzz()
            except (Exception, BaseExceptionGroup) as failure:  # noqa: BLE001 (every operation is fuzzed; all failures are reported)
                failures[operation.label] = str(failure)[:2000]
    assert failures == {}, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def page_urls(world) -> list[str]:
    owner, _ = world
    record = Record.objects.filter(owner=owner.agency).first()
    entity = record.mentions.first().entity.public_id
    request = DisclosureRequest.objects.first()
    return [
        "/",
        "/search/",
        f"/records/{record.public_id}/",
        f"/entities/{entity}/",
        "/requests/",
        "/liaison/requests/",
        "/liaison/shared/",
        "/liaison/access/",
        f"/liaison/requests/{request.public_id}/",
        "/chart/",
        f"/chart/?entity={entity}",
    ]


@pytest.mark.parametrize("role", ["analyst", "liaison"])
def test_pages_take_hostile_query_parameters(world, role):
    owner, _ = world
    client = Client()
    signed_in(client, getattr(owner, role))
    urls = page_urls(world)

    @given(
        url=st.sampled_from(urls),
        name=st.sampled_from(["page", "q", "purpose", "entity", "pk", "id"]),
        value=HOSTILE_TEXT,
    )
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(url, name, value):
        response = client.get(url, {name: value})
        assert response.status_code < 500, (url, name, value)

    fuzz()


@given(days=HOSTILE_NUMBERS, reason=HOSTILE_TEXT)
@settings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
def test_the_liaison_decision_form_refuses_what_the_api_refuses(world, days, reason):
    owner, _ = world
    request = DisclosureRequest.objects.get()
    page = Client()
    signed_in(page, owner.liaison)
    api = Client()
    signed_in(api, owner.liaison)
    before = DisclosureRequest.objects.values_list("status", flat=True).get()
    url = f"/liaison/requests/{request.public_id}/"
    response = page.post(url, {"decision": "approve", "grant_days": days, "reason": reason})
    assert response.status_code < 500
    try:
        valid = 1 <= int(days) <= 365
    except ValueError:
        valid = False
    if not valid:
        # The page refuses it as the API does, and nothing changes.
        assert response.status_code == 400
        assert "grant_days" in response.content.decode()
        approve = f"/api/requests/{request.public_id}/approve/"
        api_answer = api.post(approve, {"grant_days": days}, content_type="application/json")
        assert api_answer.status_code == 400 and "grant_days" in api_answer.json()
        assert DisclosureRequest.objects.values_list("status", flat=True).get() == before


@pytest.mark.parametrize("days", ["abc", "99999999", "36500", "-5", "0", "366", "1.5", "1\x00"])
def test_grant_days_out_of_bounds_are_refused_alike_by_page_and_api(world, days):
    owner, _ = world
    request = DisclosureRequest.objects.get()
    client = Client()
    signed_in(client, owner.liaison)
    url = f"/liaison/requests/{request.public_id}/"
    page = client.post(url, {"decision": "approve", "grant_days": days})
    api = client.post(
        f"/api/requests/{request.public_id}/approve/", {"grant_days": days}, content_type="application/json"
    )
    assert page.status_code == 400 and "grant_days" in page.content.decode()
    assert api.status_code == 400 and "grant_days" in api.json()
    assert DisclosureRequest.objects.get().status == "pending"
    approved = client.post(url, {"decision": "approve", "grant_days": "365"})
    assert approved.status_code == 302
    assert DisclosureRequest.objects.get().status == "approved"
