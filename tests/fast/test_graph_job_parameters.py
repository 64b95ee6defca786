"""What an analytics request may ask, checked before anything is read or queued: each bad
value refused naming its field, and no account without an agency."""

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from graph.jobs import request_analysis
from intel.selectors import InvalidPurpose

ANALYST = SimpleNamespace(is_authenticated=True, agency_id=7)


@pytest.mark.parametrize(
    ("operation", "parameters", "field"),
    [
        ("page_rank_everything", {}, "operation"),
        ("network_risk", {"limit": 0}, "limit"),
        ("network_risk", {"limit": 1_001}, "limit"),
        ("network_risk", {"paths": "3"}, "paths"),
        ("betweenness", {"community": -1}, "community"),
        ("betweenness", {"limit": True}, "limit"),
        ("vessels_carrying_for_seized_importers", {"min_importers": 0}, "min_importers"),
        ("new_importers_with_seized_brokers", {"days": 3_651}, "days"),
        ("communities", ["not", "an", "object"], "parameters"),
        # A misspelt or made-up parameter is refused, never computed without it.
        ("network_risk", {"limits": 5}, "limits"),
        ("communities", {"purpose": "curiosity"}, "purpose"),
        ("new_importers_with_seized_brokers", {"today": "1999-01-01"}, "today"),
    ],
)
def test_a_bad_parameter_is_refused_naming_it(operation, parameters, field):
    with pytest.raises(ValidationError) as refused:
        request_analysis(user=ANALYST, operation=operation, parameters=parameters, purpose="investigation")
    assert list(refused.value.message_dict) == [field]


def test_a_purpose_outside_the_vocabulary_is_refused():
    with pytest.raises(InvalidPurpose):
        request_analysis(user=ANALYST, operation="communities", purpose="curiosity")


@pytest.mark.parametrize(
    "user",
    [SimpleNamespace(is_authenticated=True, agency_id=None), SimpleNamespace(is_authenticated=False)],
)
def test_no_agency_no_analytics(user):
    with pytest.raises(PermissionDenied):
        request_analysis(user=user, operation="communities", purpose=None)


@pytest.mark.django_db
def test_the_embedded_default_computes_in_process_and_keeps_a_basis(django_capture_on_commit_callbacks):
    from agencies.models import Agency, User
    from graph.jobs import is_current
    from graph.models import AnalyticsResult

    agency = Agency.objects.create(code="emb", name="EMB", country="NL", kind="customs")
    user = User.objects.create(username="emb-analyst", agency=agency, role="analyst")
    with django_capture_on_commit_callbacks(execute=True):
        row = request_analysis(user=user, operation="communities", purpose="investigation")
    row = AnalyticsResult.objects.get(pk=row.pk)
    # The task ran in process: an empty graph, no communities; without the sync, the basis
    # is a digest of what the agency may see (tests/fast/test_embedded_basis.py).
    assert (row.status, row.progress, row.result) == ("done", 100, {"communities": []})
    assert row.basis is not None and is_current(row)


@pytest.mark.django_db
def test_an_analysis_is_asked_in_json_alone_as_the_link_chart_sends_it():
    """A form body carried the parameters as strings (`limit=5` a text, and a list only by
    repeating a field), unlike every other JSON request of the API."""
    from tests.sharing_helpers import staff

    client = staff("cus").client(purpose="investigation")
    as_form = client.post("/api/graph/analytics/network_risk/", {"parameters": "{}"})
    assert as_form.status_code == 415, as_form.content[:300]
    as_json = client.post("/api/graph/analytics/bogus/", {"parameters": {}}, format="json")
    assert as_json.status_code == 400, as_json.content[:300]
    assert list(as_json.json()) == ["operation"]
