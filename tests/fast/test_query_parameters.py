"""A query parameter no request of the API reads is refused, naming it: a misspelt filter
was ignored, and a list or an export answered as if unfiltered (an adversarial review
exported every record its agency could see with `categroy=seizure`)."""

import re

import pytest

from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

REFUSED = "not a parameter of this request"
# Made up, and fixed: test ids hold it, and every worker of a parallel run must collect the same.
SOMEONE = "6f1c2e0a-58d4-4b53-9b7e-2d0c9a4e7b31"

# (path, parameters a request there reads) for every kind of API view that reads the query.
READ = [
    ("/api/records/", {"category": "seizure", "occurred_after": "2026-01-01", "page": "1", "page_size": "5"}),
    ("/api/records/export/", {"category": "seizure", "owner": "cus"}),
    ("/api/entities/", {"type": "company", "page_size": "5"}),
    ("/api/links/", {"type": "CONTACT", "after": SOMEONE}),
    ("/api/search/", {"q": "alpha trading"}),
    ("/api/candidates/", {"status": "open"}),
    ("/api/agreements/", {"status": "active"}),
    ("/api/requests/", {"box": "incoming", "status": "pending"}),
    ("/api/targeting/queue/", {"min_score": "1", "indicator": "watch_hs", "decided": "false"}),
    ("/api/graph/clusters/", {"limit": "5"}),
    ("/api/graph/seizure-network/", {"hops": "1"}),
]


@pytest.mark.parametrize(("path", "read"), READ)
def test_the_parameters_a_request_reads_are_taken_and_any_other_is_refused_by_name(path, read):
    client = staff("cus").client(purpose="risk_assessment")
    taken = client.get(path, read)
    assert taken.status_code == 200, taken.content[:300]
    for misspelt in ("categroy", "foo", "Category", "page_sise"):
        refused = client.get(path, {**read, misspelt: "seizure"})
        assert refused.status_code == 400, (path, misspelt)
        assert refused.json() == {misspelt: [REFUSED]}


def test_a_detail_and_a_graph_walk_refuse_what_they_do_not_read(tmp_path):
    cus = staff("cus")
    client = cus.client(purpose="risk_assessment")
    assert client.get(f"/api/records/{SOMEONE}/", {"page": "2"}).json() == {"page": [REFUSED]}
    walk = f"/api/graph/entities/{SOMEONE}/neighbourhood/"
    assert client.get(walk, {"hops": "1", "hop": "2"}).json() == {"hop": [REFUSED]}
    paths = client.get("/api/graph/paths/", {"source": SOMEONE, "target": SOMEONE, "via": SOMEONE})
    assert paths.json() == {"via": [REFUSED]}
    discovery = client.get(f"/api/entities/{SOMEONE}/discovery/", {"partner": "pol"})
    assert discovery.json() == {"partner": [REFUSED]}
    # A parameter given twice: a filter would read its last value (an empty one lists all).
    for path, twice in (
        ("/api/records/", {"category": ["seizure", ""]}),
        ("/api/records/export/", {"category": ["seizure", ""]}),
        ("/api/records/", {"page": ["1", "2"]}),
        ("/api/graph/seizure-network/", {"hops": ["1", "2"]}),
    ):
        assert client.get(path, twice).json() == {next(iter(twice)): ["given more than once"]}, path
    # Lists are given so: the link chart repeats the link types it narrows a walk to.
    network = client.get("/api/graph/seizure-network/", {"link_types": ["CONTACT", "OWNS"]})
    assert network.status_code == 200, network.content[:300]
    # A value a parameter does not take is refused by the parameter's name too.
    assert client.get("/api/requests/", {"box": "bogus"}).json() == {"box": ["incoming or outgoing"]}


# Third-party views that serve the API's documentation, not records: they read their own
# parameters (`format`, `lang`, `script`).
DOCUMENTATION = ("api/schema/", "api/docs/")


def api_endpoints() -> list[tuple[str, str]]:
    """(path with made-up ids, method) of every view under api/, read from the URL
    configuration itself: a view added later is checked without being named here."""
    from django.urls import URLResolver

    from config import urls

    def walk(patterns, prefix=""):
        for pattern in patterns:
            regex = re.sub(r"(\$|\\Z)$", "", pattern.pattern.regex.pattern.lstrip("^"))
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + regex)
            else:
                yield prefix + regex, pattern.callback

    endpoints = []
    for regex, callback in walk(urls.urlpatterns):
        if not regex.startswith("api/") or regex in DOCUMENTATION:
            continue
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda group: SOMEONE, regex).replace("\\", "")
        actions = getattr(callback, "actions", None)
        methods = set(actions) if actions else {m for m in ("get", "post") if hasattr(callback.cls, m)}
        # Every view answers OPTIONS, from its class and not its handlers.
        endpoints += [(path, method) for method in sorted(methods | {"options"})]
    return endpoints


def test_the_endpoints_are_read_from_the_url_configuration():
    endpoints = set(api_endpoints())
    assert len(endpoints) > 60
    for expected in [
        ("api/records/release/", "post"),
        ("api/session/purpose/", "get"),
        ("api/session/purpose/", "post"),
        ("api/auth/token/", "post"),
        (f"api/graph/analytics/{SOMEONE}/", "post"),
        (f"api/records/{SOMEONE}/", "patch"),
        ("api/", "get"),
        ("api/records/release/", "options"),
        ("api/graph/clusters/", "options"),
        ("api/auth/token/", "options"),
        ("api/", "options"),
    ]:
        assert expected in endpoints


@pytest.mark.parametrize(("path", "method"), api_endpoints())
def test_every_request_of_the_api_refuses_a_parameter_it_does_not_read(path, method):
    """Reads and writes alike: a write reads its body, and `?category=seizure` on a bulk
    release narrowed nothing while the body's filters released every record they named.
    OPTIONS too: the function and graph views answered it 200 whatever it carried."""
    client = staff("cus").client(purpose="risk_assessment")
    answer = getattr(client, method)(f"/{path}?categroy=seizure", {}, format="json")
    assert answer.status_code == 400, (answer.status_code, answer.content[:300])
    assert answer.json() == {"categroy": [REFUSED]}


@pytest.mark.parametrize(
    "path",
    [
        "/api/records/export.json",
        f"/api/records/{SOMEONE}.json",
        "/api/targeting/queue/scoring.json",
        "/api/.json",
    ],
)
def test_no_address_takes_a_format_suffix(path):
    """The custom actions take no `format`: such an address was a 500."""
    assert staff("cus").client(purpose="risk_assessment").get(path).status_code == 404


@pytest.mark.parametrize(("path", "method"), api_endpoints())
def test_every_request_of_the_api_refuses_a_forged_purpose(path, method):
    """Stated in the query string or the header, also where the view reads no purpose: an
    attack helper's `?purpose=bogus` was answered 200 by discovery, targeting's status and
    every OPTIONS, where a reading view answers 400."""
    client = staff("cus").client()
    for query, headers in (("?purpose=bogus", {}), ("", {"HTTP_X_INTERLINK_PURPOSE": "bogus"})):
        answer = getattr(client, method)(f"/{path}{query}", {}, format="json", **headers)
        assert answer.status_code == 400, (query, answer.status_code, answer.content[:300])
        assert "purpose" in answer.json(), answer.json()
