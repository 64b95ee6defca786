"""A query parameter no request of the API reads is refused, naming it: a misspelt filter
was ignored, and a list or an export answered as if unfiltered (an adversarial review
exported every record its agency could see with `categroy=seizure`)."""

import uuid

import pytest

from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

REFUSED = "not a parameter of this request"
SOMEONE = str(uuid.uuid4())

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
