"""A request Django refuses to read (a body past DATA_UPLOAD_MAX_MEMORY_SIZE, too many fields
or files) is the API's JSON 400 naming the limit: it was Django's HTML 400 page, from every
write of the API. Pages keep that page."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from tests.fast.test_query_parameters import api_endpoints
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

LIMIT = 1000
TOO_LARGE = {"detail": "Request body too large - more than 1000 bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)"}
OVERSIZE = json.dumps({"justification": "x" * 2 * LIMIT})
WRITES = [(path, method) for path, method in api_endpoints() if method not in ("get", "options")]


@pytest.fixture
def small_bodies(settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


@pytest.mark.usefixtures("small_bodies")
@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/api/agreements/", "json"),
        ("/api/requests/", "json"),
        ("/api/records/release/", "json"),
        ("/api/graph/analytics/communities/", "json"),
        ("/api/session/purpose/", "json"),
        ("/api/session/purpose/", "form"),
        ("/api/session/purpose/", "multipart"),
    ],
)
def test_an_oversize_body_is_a_json_400_naming_the_limit(path, kind):
    client = staff("cus").client(purpose="risk_assessment")
    if kind == "json":
        answer = client.post(path, OVERSIZE, content_type="application/json")
    elif kind == "form":
        answer = client.post(
            path, "purpose=" + "x" * 2 * LIMIT, content_type="application/x-www-form-urlencoded"
        )
    else:
        answer = client.post(path, {"purpose": "x" * 2 * LIMIT})
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == TOO_LARGE


@pytest.mark.usefixtures("small_bodies")
def test_the_token_endpoint_refuses_an_oversize_body_as_json_before_any_sign_in():
    answer = APIClient().post("/api/auth/token/", OVERSIZE, content_type="application/json")
    assert answer.status_code == 400
    assert answer.json() == TOO_LARGE


@pytest.mark.usefixtures("small_bodies")
@pytest.mark.parametrize(("path", "method"), WRITES)
def test_no_write_of_the_api_answers_an_oversize_body_with_an_html_page(path, method):
    """Every write, read from the URL configuration: one that reads the body before anything
    else refuses (the others answer what their made-up ids and empty state give), and none
    answers with Django's HTML page."""
    client = staff("cus").client(purpose="risk_assessment")
    answer = getattr(client, method)(f"/{path}", OVERSIZE, content_type="application/json")
    assert not answer.get("Content-Type", "").startswith("text/html"), (
        answer.status_code,
        answer.content[:200],
    )
    if answer.status_code == 400:
        assert answer.json() == TOO_LARGE


def test_too_many_fields_or_files_are_json_400s_naming_the_limit(settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 3
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 1
    client = staff("cus").client(purpose="risk_assessment")
    fields = client.post(
        "/api/session/purpose/", "a=1&b=2&c=3&d=4", content_type="application/x-www-form-urlencoded"
    )
    assert fields.status_code == 400
    assert fields.json() == {
        "detail": "Too many parameters - more than 3 fields (DATA_UPLOAD_MAX_NUMBER_FIELDS)"
    }
    # Django counts a query string's parameters against the same limit.
    query = client.get("/api/records/?a=1&b=2&c=3&d=4")
    assert query.status_code == 400
    assert query.json() == fields.json()
    files = client.post(
        "/api/session/purpose/",
        {"a": SimpleUploadedFile("a.txt", b"a"), "b": SimpleUploadedFile("b.txt", b"b")},
    )
    assert files.status_code == 400
    assert files.json() == {"detail": "Too many files - more than 1 (DATA_UPLOAD_MAX_NUMBER_FILES)"}


def test_a_malformed_multipart_body_is_drfs_json_400_signed_in_by_token_or_session():
    """DRF's parser words the fault, also where the session's CSRF check reads the form (for
    its token field) before the view does: no malformed body reaches Django's page."""
    by_token = staff("cus").client(purpose="risk_assessment")
    by_session = APIClient(enforce_csrf_checks=True)
    by_session.force_login(staff("pol").analyst)
    by_session.cookies["csrftoken"] = "a" * 32
    for client in (by_token, by_session):
        answer = client.post("/api/session/purpose/", b"x", content_type="multipart/form-data")
        assert answer.status_code == 400
        assert answer.json() == {"detail": "Multipart form parse error - Invalid boundary in multipart: None"}


@pytest.mark.usefixtures("small_bodies")
def test_a_page_keeps_its_html_400():
    answer = Client().post("/accounts/login/", {"username": "x" * 2 * LIMIT, "password": "x"})
    assert answer.status_code == 400
    assert answer["Content-Type"] == "text/html; charset=utf-8"
    assert b"Bad Request (400)" in answer.content
