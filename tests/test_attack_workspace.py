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
