"""Attacks on the analyst's workspace (its pages, cases, the chart's holdings question), on
real PostgreSQL. The world is tests/workspace_scene.py, written out there; what each attack
expects is read off it by hand, not from the code under test:

    cus sees its own WS-1..3 and none of pol's; MOU-1 (cus <-> pol, discovery allowed)
    permits risk assessment and investigation only, so pol's seizure PZ-1 naming the broker
    is a hit for cus, which cus may ask to see for those purposes and no other.
"""

import pytest
from django.test import Client

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
