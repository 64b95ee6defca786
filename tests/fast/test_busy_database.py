"""A request that waited past SQLite's busy timeout for the embedded default's one write lock
(an import held it) is a 503 with Retry-After, JSON under /api/ and a page elsewhere; it was
Django's HTML 500, to API clients too. Any other database error stays an error."""

import pytest
from django.db import OperationalError
from django.test import Client

from intel import selectors
from intel.views import RecordViewSet
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db


def raising(message: str):
    def locked(*args, **kwargs):
        raise OperationalError(message)

    return locked


def test_a_busy_database_is_a_503_saying_so_json_for_the_api_and_a_page_elsewhere(monkeypatch):
    cus = staff("cus")
    monkeypatch.setattr(RecordViewSet, "selector_by_action", {})
    monkeypatch.setattr(RecordViewSet, "selector", staticmethod(raising("database is locked")))
    api = cus.client().get("/api/records/")
    assert (api.status_code, api["Retry-After"]) == (503, "5")
    assert api.json() == {
        "detail": "the database is busy with another agency's or user's write; try again in a few seconds"
    }


def test_the_page_is_a_503_page(monkeypatch):
    cus = staff("cus")
    client = Client()
    client.force_login(cus.analyst)
    monkeypatch.setattr(selectors, "import_batches_of", raising("database is locked"))
    page = client.get("/imports/")
    assert (page.status_code, page["Retry-After"]) == (503, "5")
    assert "Busy for a moment" in page.content.decode()


def test_another_database_error_is_still_a_server_error(monkeypatch):
    cus = staff("cus")
    monkeypatch.setattr(RecordViewSet, "selector_by_action", {})
    monkeypatch.setattr(RecordViewSet, "selector", staticmethod(raising("no such table: intel_record")))
    client = cus.client()
    client.raise_request_exception = False
    answer = client.get("/api/records/")
    assert answer.status_code == 500, answer.content
