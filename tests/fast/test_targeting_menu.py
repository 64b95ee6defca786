"""Targeting ranks an agency's own shipment declarations: customs' work. The menu offers it
to customs; an agency holding no declarations that opens it is told why the queue is empty
(police and tax saw an empty table)."""

import json

import pytest
from django.test import Client

from intel.import_writing import import_file
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

MENU_LINK = 'href="/targeting/">Targeting</a>'
WHY_EMPTY = "Targeting ranks your agency's own shipment declarations (customs' work), and {} holds none."


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("code", "kind", "offered"), [("cus", "customs", True), ("pol", "police", False), ("tax", "tax", False)]
)
def test_the_menu_offers_targeting_to_customs_and_an_empty_queue_says_why(
    django_capture_on_commit_callbacks, code, kind, offered
):
    analyst = staff(code, kind=kind).analyst
    client = signed_in(analyst)
    assert (MENU_LINK in client.get("/").content.decode()) is offered
    with django_capture_on_commit_callbacks(execute=True):
        client.get("/targeting/")  # scores the agency's declarations, in process here
    queue = client.get("/targeting/")
    assert queue.status_code == 200
    assert WHY_EMPTY.format(code) in queue.content.decode()


def test_a_queue_with_declarations_does_not_say_so(django_capture_on_commit_callbacks, tmp_path):
    cus = staff("cus")
    upload = tmp_path / "one.jsonl"
    upload.write_text(
        json.dumps({"external_ref": "D-1", "category": "shipment", "occurred_on": "2026-01-05"}) + "\n"
    )
    import_file(upload, cus.agency)
    client = signed_in(cus.analyst)
    with django_capture_on_commit_callbacks(execute=True):
        client.get("/targeting/")
    page = client.get("/targeting/").content.decode()
    assert "D-1" in page
    assert WHY_EMPTY.format("cus") not in page
