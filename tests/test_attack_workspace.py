"""Attacks on the analyst's workspace (its pages, cases, the chart's holdings question), on
real PostgreSQL. The world is tests/workspace_scene.py, written out there; what each attack
expects is read off it by hand, not from the code under test:

    cus sees its own WS-1..3 and none of pol's; MOU-1 (cus <-> pol, discovery allowed)
    permits risk assessment and investigation only, so pol's seizure PZ-1 naming the broker
    is a hit for cus, which cus may ask to see for those purposes and no other.
"""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from cases.models import Case
from sharing.models import DisclosureRequest
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force
from tests.workspace_scene import build

pytestmark = pytest.mark.django_db

DISCLOSURE_FORM = {
    "owner": "pol",
    "urgency": "urgent",
    "justification": "same broker as our fish",
    "purpose": "investigation",
}


@pytest.fixture
def scene(tmp_path):
    return build(tmp_path)


def page_client(user, *, csrf: bool = False) -> Client:
    return signed_in(Client(enforce_csrf_checks=csrf), user)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def json_text(client, method: str, url: str, text: str):
    """A JSON body sent as written: escapes such as a lone surrogate pass as they are."""
    return getattr(client, method)(url, data=text.encode(), content_type="application/json")


# --- hostile input on the page forms -------------------------------------------------------


@pytest.mark.parametrize("field", sorted(DISCLOSURE_FORM))
def test_a_nul_character_in_the_disclosure_form_is_a_400_naming_the_field(scene, field):
    client = page_client(scene.cus.analyst)
    response = client.post(
        f"/entities/{scene.broker.public_id}/disclosure/", {**DISCLOSURE_FORM, field: "in\x00vestigation"}
    )
    assert response.status_code == 400
    assert f"{field}: " in response.content.decode()
    assert not DisclosureRequest.objects.exists()


# --- hostile input in a chart ---------------------------------------------------------------


@pytest.mark.parametrize(
    "chart",
    [
        '{"filters": {"types": "\\ud800"}}',
        '{"filters": {"\\udfff": 1}}',
        '{"layout": "fcose\\ud800"}',
        '{"layout": {"options": [{"name": "\\udc00"}]}}',
    ],
    ids=["a filter's value", "a filter's name", "a layout's name", "deep in a layout"],
)
def test_a_lone_surrogate_in_a_chart_is_a_400_naming_the_chart(scene, chart):
    client = api(scene.cus.analyst)
    created = json_text(client, "post", "/api/cases/", f'{{"name": "ring", "chart": {chart}}}')
    assert created.status_code == 400, created.content
    assert list(created.json()) == ["chart"] and "surrogate" in created.json()["chart"][0]
    assert not Case.objects.exists()

    saved = client.post("/api/cases/", {"name": "ring"}, format="json").json()
    changed = json_text(client, "patch", f"/api/cases/{saved['id']}/", f'{{"chart": {chart}}}')
    assert changed.status_code == 400 and list(changed.json()) == ["chart"]
    assert Case.objects.get().chart["filters"] == {}


def test_a_surrogate_pair_in_a_chart_is_a_character_like_any_other(scene):
    client = api(scene.cus.analyst)
    created = json_text(
        client, "post", "/api/cases/", '{"name": "ring", "chart": {"layout": "\\ud83d\\udea2"}}'
    )
    assert created.status_code == 201, created.content
    assert Case.objects.get().chart["layout"] == "\N{SHIP}"


# --- purpose forgery --------------------------------------------------------------------------


def test_a_disclosure_is_requested_only_for_a_purpose_the_discovery_agreement_permits(scene):
    # An agreement that permits prosecution but allows no discovery lends no purpose to one that does.
    in_force(
        (scene.cus, True, True),
        (scene.pol, True, True),
        reference="MOU-3",
        purposes=("prosecution",),
        categories=("inspection",),
    )
    client = page_client(scene.cus.analyst)
    url = f"/entities/{scene.broker.public_id}/disclosure/"
    for forged in ("prosecution", "intelligence"):
        page = client.post(url, {**DISCLOSURE_FORM, "purpose": forged})
        assert page.status_code == 400 and "purpose: " in page.content.decode(), forged
        answer = api(scene.cus.analyst).post(
            "/api/requests/",
            {
                **DISCLOSURE_FORM,
                "purpose": forged,
                "entity": str(scene.broker.public_id),
                "kind": "disclosure",
            },
            format="json",
        )
        assert answer.status_code == 400 and list(answer.json()) == ["purpose"], answer.content
    assert not DisclosureRequest.objects.exists()

    for permitted in ("investigation", "risk_assessment"):
        assert client.post(url, {**DISCLOSURE_FORM, "purpose": permitted}).status_code == 302
    assert sorted(DisclosureRequest.objects.values_list("purpose", flat=True)) == [
        "investigation",
        "risk_assessment",
    ]
