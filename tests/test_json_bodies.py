"""JSON request bodies nested deeper than a parser can recurse: bad input (400 naming the
problem) on every endpoint that reads JSON, never a RecursionError (500). The endpoints are
taken from the API's own schema, so an endpoint added later is covered without a new case."""

import json

import pytest
from django.test import Client, override_settings
from drf_spectacular.generators import SchemaGenerator

from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin

pytestmark = pytest.mark.django_db

DEPTH = 5000
DEEP_BODIES = {
    "array": "[" * DEPTH + "]" * DEPTH,
    "object": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    # A deep value inside an otherwise well-formed body.
    "field": '{"purpose": ' + "[" * DEPTH + "]" * DEPTH + "}",
    "list item": '{"parties": [' + '{"a":' * DEPTH + "1" + "}" * DEPTH + "]}",
}


def json_endpoints() -> list[tuple[str, str]]:
    """(method, path) of every operation whose request body may be JSON and whose path names
    no object."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return sorted(
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        if "{" not in path
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    )


def test_the_schema_lists_the_json_endpoints_this_file_posts_to():
    """Independent of the loop below: a schema that lost its request bodies would make the
    class test vacuous."""
    endpoints = {path for _, path in json_endpoints()}
    assert {"/api/auth/token/", "/api/session/purpose/", "/api/agreements/", "/api/requests/"} <= endpoints


@pytest.mark.parametrize("shape", sorted(DEEP_BODIES))
@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "agency admin"])
def test_deeply_nested_bodies_are_bad_input_on_every_json_endpoint(cus, shape, signed):
    client = Client(raise_request_exception=False)
    if signed:
        signed_in(client, cus.admin)
    for method, path in json_endpoints():
        response = client.generic(method, path, DEEP_BODIES[shape], content_type="application/json")
        if not signed and response.status_code in (401, 403):
            continue  # refused before the body is read: no parser ran
        assert response.status_code == 400, (method, path, response.status_code)
        assert "nested deeper than" in response.json()["detail"], (method, path)


@pytest.mark.parametrize("action", ["amend", "terminate"])
def test_deeply_nested_bodies_are_bad_input_on_an_objects_actions(cus, pol, action):
    agreement = in_force((cus, True, False), (pol, False, True))
    client = Client(raise_request_exception=False)
    signed_in(client, platform_admin())
    path = f"/api/agreements/{agreement.public_id}/{action}/"
    response = client.post(path, DEEP_BODIES["field"], content_type="application/json")
    assert response.status_code == 400, response.status_code
    assert "nested deeper than" in response.json()["detail"]


def test_brackets_inside_strings_do_not_count_as_nesting(cus):
    """A purpose made of brackets is a wrong purpose (named as such), not a nesting error."""
    client = Client()
    signed_in(client, cus.analyst)
    body = json.dumps({"purpose": "[" * DEPTH + "{" * DEPTH})
    response = client.post("/api/session/purpose/", body, content_type="application/json")
    assert response.status_code == 400
    assert "purpose" in response.json()
    assert "nested deeper" not in response.content.decode()


@override_settings(API_MAX_JSON_DEPTH=3)
@pytest.mark.parametrize(("depth", "refused"), [(2, False), (3, False), (4, True), (9, True)])
def test_the_limit_is_the_setting(cus, depth, refused):
    """Level 1 is the body's own object; a list of lists below it makes the levels counted here."""
    client = Client()
    signed_in(client, cus.analyst)
    body = '{"purpose": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}" if depth > 1 else "{}"
    response = client.post("/api/session/purpose/", body, content_type="application/json")
    assert response.status_code == 400
    assert ("nested deeper than 3 levels" in response.content.decode()) is refused


def test_a_well_formed_body_is_still_read(cus):
    client = Client()
    signed_in(client, cus.analyst)
    response = client.post(
        "/api/session/purpose/", json.dumps({"purpose": "investigation"}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
