"""A key of a request's body that names no field of the request is refused, naming it, as an
unknown query parameter is: a misspelt key was dropped and the request done without it (an
attack helper released every record of its agency with `{"filter": ...}` in place of
`filters`, and for real with `dryrun`)."""

import inspect
import json
import re
from pathlib import Path

import pytest

from core.input_serializers import RefusesUnknownKeys
from intel.import_writing import import_file
from intel.models import Record
from sharing.models import Agreement
from tests.fast.test_restricted_api import VIEWSETS
from tests.sharing_helpers import in_force, staff

ROOT = Path(__file__).resolve().parents[2]
APPS = ("agencies", "intel", "sharing", "graph", "cases", "targeting", "workspace", "linkchart")
REFUSED = "not a field of this request"


def body_serializers() -> set[str]:
    """The serializers the views and pages read a body with, by name: those given `data=`,
    and the write serializers of the viewsets' create and update actions."""
    named = set()
    for app in APPS:
        for module in (ROOT / app).glob("*.py"):
            named |= set(re.findall(r"(\w+Serializer)\(\s*data=", module.read_text()))
    for viewset in VIEWSETS:
        for name, method in inspect.getmembers(viewset, inspect.isfunction):
            # DRF's own create and update read the body with the viewset's serializer, as
            # does any action of the project's that asks for it.
            source = inspect.getsource(method)
            drf_write = name in ("create", "update") and (
                method.__module__ == "rest_framework.mixins" or f"super().{name}(" in source
            )
            if drf_write or re.search(r"get_serializer\([^)]*data=", source):
                view = viewset()
                view.action, view.request, view.format_kwarg = name, None, None
                named.add(view.get_serializer_class().__name__)
    return named


def serializer_classes() -> dict[str, type]:
    import importlib

    found = {}
    for app in APPS:
        for name in ("serializers", "views", "auth_views"):
            try:
                module = importlib.import_module(f"{app}.{name}")
            except ModuleNotFoundError:
                continue
            found.update(
                {n: c for n, c in vars(module).items() if inspect.isclass(c) and n.endswith("Serializer")}
            )
    return found


def test_every_serializer_a_request_body_is_read_with_refuses_unknown_keys():
    named, classes = body_serializers(), serializer_classes()
    assert {
        "BulkReleaseSerializer",
        "AgreementSerializer",
        "RecordUpdateSerializer",
        "DecisionSerializer",
    } <= named
    lax = sorted(name for name in named if not issubclass(classes[name], RefusesUnknownKeys))
    assert lax == []


@pytest.fixture
def cus_and_pol(tmp_path):
    cus, pol = staff("cus"), staff("pol", kind="police")
    upload = tmp_path / "cus.jsonl"
    rows = [{"external_ref": f"C-{n}", "category": "shipment", "occurred_on": "2026-01-05"} for n in range(3)]
    upload.write_text("".join(json.dumps(row) + "\n" for row in rows))
    import_file(upload, cus.agency)
    in_force((cus, True, True), (pol, True, True), reference="MOU-CP")
    return cus, pol


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "misspelt"),
    [
        ({"filter": {"external_ref": "C-1"}, "releasability": "covering", "dry_run": True}, "filter"),
        ({"filters": {"external_ref": "C-1"}, "releasability": "covering", "dryrun": True}, "dryrun"),
    ],
)
def test_a_bulk_release_with_a_misspelt_key_is_refused_and_releases_nothing(cus_and_pol, body, misspelt):
    cus, _ = cus_and_pol
    refused = cus.client("liaison").post("/api/records/release/", body, format="json")
    assert refused.status_code == 400, refused.content[:300]
    assert refused.json() == {misspelt: [REFUSED]}
    assert set(Record.objects.values_list("releasability", flat=True)) == {"none"}


@pytest.mark.django_db
def test_misspelt_keys_of_other_writes_are_refused_by_name(cus_and_pol):
    cus, _ = cus_and_pol
    record = Record.objects.get(external_ref="C-1")
    analyst = cus.client(purpose="risk_assessment")
    url = f"/api/records/{record.public_id}/"
    assert analyst.patch(url, {"occured_on": "2026-02-01"}, format="json").json() == {"occured_on": [REFUSED]}
    # A record's date is changed, never removed (the import requires one).
    cleared = analyst.patch(url, {"occurred_on": None}, format="json")
    assert cleared.status_code == 400 and list(cleared.json()) == ["occurred_on"]
    record.refresh_from_db()
    assert str(record.occurred_on) == "2026-01-05"
    analytics = analyst.post("/api/graph/analytics/betweenness/", {"community": 3}, format="json")
    assert analytics.json() == {"community": [REFUSED]}
    agreements_before = Agreement.objects.count()
    drafted = cus.client("admin").post(
        "/api/agreements/",
        {"title": "x", "redact_fields": ["summary"], "parties": [{"agency": "cus", "provides": True}]},
        format="json",
    )
    assert drafted.status_code == 400 and "redact_fields" in drafted.json()
    assert Agreement.objects.count() == agreements_before
    nested = cus.client("admin").post(
        "/api/agreements/", {"parties": [{"agency": "cus", "provide": True}]}, format="json"
    )
    assert nested.status_code == 400 and "provide" in json.dumps(nested.json())


@pytest.mark.django_db
def test_every_write_of_the_api_without_an_id_refuses_a_key_it_does_not_read():
    """Walked from the URL configuration: a write that reads no body (a sign-out, a
    rescoring) took `{"bogus": 1}` and did its work (an attack helper started scorings so).
    A write whose address names an object is checked above, by its serializer."""
    from tests.fast.test_query_parameters import SOMEONE, api_endpoints

    writes = [
        (path, method)
        for path, method in api_endpoints()
        if method in ("post", "put", "patch") and SOMEONE not in path
    ]
    assert ("api/targeting/queue/scoring/", "post") in writes and ("api/auth/logout/", "post") in writes
    client = staff("cus").client(purpose="risk_assessment")
    for path, method in writes:
        answer = getattr(client, method)(f"/{path}", {"bogus": 1}, format="json")
        assert answer.status_code == 400, (path, answer.status_code, answer.content[:200])
        assert answer.json().get("bogus") == [REFUSED], (path, answer.json())
    # Nor any body that is no object.
    for body in ([1, 2], "x"):
        answer = client.post("/api/targeting/queue/scoring/", body, format="json")
        assert answer.status_code == 400, answer.content
        assert answer.json() == {"detail": ["this request takes no body"]}
