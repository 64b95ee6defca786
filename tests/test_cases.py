"""Cases: a chart saved with notes, owned by the agency, opened by its creator and the
colleagues it is shared with; reopened, it follows the visibility rule of that moment.

The world, written out here; what each agency may see is read off it by hand:

    cus holds C-1 (vessels A and B)
    pol holds P-1 (vessel D), released to every covering agreement, and P-2 (vessel H),
        released to no one
    MOU-1  pol provides shipments to cus

So cus may see A, B (its own) and D (under MOU-1, while it is in force), never H.
"""

import uuid

import pytest
from django.test import Client

from agencies.models import User
from audit.models import AuditEvent
from cases.models import Case
from intel.import_writing import import_file
from intel.models import Entity, Record
from sharing import agreements, releases
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin

pytestmark = pytest.mark.django_db

HEADER = "external_ref,category,occurred_on,summary,vessel_imo,vessel_name\n"
IMO = {"A": "9074729", "B": "9176187", "D": "9321483", "H": "9241061"}
URL = "/api/cases/"


def imported(member, tmp_path, lines: list[str]) -> None:
    path = tmp_path / f"{member.agency.code}-{lines[0][:3]}.csv"
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines))
    import_file(path, member.agency)


@pytest.fixture
def world(tmp_path, cus, pol):
    imported(cus, tmp_path, [f"C-1,shipment,2026-03-01,own,{IMO['A']},Vessel A"])
    imported(cus, tmp_path, [f"C-2,shipment,2026-03-01,own,{IMO['B']},Vessel B"])
    imported(
        pol,
        tmp_path,
        [
            f"P-1,shipment,2026-03-02,shared,{IMO['D']},Vessel D",
            f"P-2,shipment,2026-03-03,kept,{IMO['H']},Vessel H",
        ],
    )
    releases.set_releasability(Record.objects.get(external_ref="P-1"), pol.analyst, "covering")
    mou = in_force((cus, False, True), (pol, True, False), reference="MOU-1", categories=("shipment",))
    vessels = {label: Entity.objects.get(type="vessel", key=f"imo:{imo}") for label, imo in IMO.items()}
    return {"mou": mou, "e": {label: str(entity.public_id) for label, entity in vessels.items()}}


@pytest.fixture
def colleague(cus) -> User:
    """A second analyst of cus."""
    return User.objects.create(username="cus-analyst-2", agency=cus.agency, role="analyst")


def client_of(user):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def chart(e, *labels) -> dict:
    return {
        "nodes": [e[label] for label in labels],
        "positions": {e[label]: {"x": 10.0 * n, "y": -2.5 * n} for n, label in enumerate(labels)},
        "filters": {"entity_types": ["vessel", "company"], "from": "2026-01-01"},
        "layout": {"name": "fcose", "animate": False},
    }


def save(member_client, world, *labels, name="Northern Star"):
    response = member_client.post(
        URL, {"name": name, "notes": "watch the vessels", "chart": chart(world["e"], *labels)}, format="json"
    )
    assert response.status_code == 201, response.content
    return response.json()


def events_since(last: int) -> list[tuple[str, int | None, str]]:
    return list(
        AuditEvent.objects.filter(id__gt=last).order_by("id").values_list("action", "actor_id", "object_id")
    )


def last_event() -> int:
    return AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_a_saved_case_reopens_as_it_was_saved(world, cus):
    saved = save(cus.client(), world, "A", "B", "D")
    assert saved["removed"] == 0
    opened = cus.client().get(f"{URL}{saved['id']}/")
    assert opened.status_code == 200
    body = opened.json()
    assert body["chart"] == chart(world["e"], "A", "B", "D")
    assert (body["name"], body["notes"], body["created_by"], body["shared_with"], body["removed"]) == (
        "Northern Star",
        "watch the vessels",
        "cus-analyst",
        [],
        0,
    )
    assert [row["id"] for row in cus.client().get(URL).json()["results"]] == [saved["id"]]


@pytest.mark.parametrize("ending", ["suspend", "terminate"])
def test_a_case_reopened_after_its_agreement_ends_drops_what_it_carried(world, cus, ending):
    saved = save(cus.client(), world, "A", "D", "B")
    getattr(agreements, ending)(world["mou"], platform_admin(), "the partner asked")
    response = cus.client().get(f"{URL}{saved['id']}/")
    assert response.status_code == 200
    body = response.json()
    e = world["e"]
    assert body["chart"]["nodes"] == [e["A"], e["B"]]
    assert set(body["chart"]["positions"]) == {e["A"], e["B"]}
    assert body["removed"] == 1
    assert e["D"] not in response.content.decode()
    # The stored chart keeps D: the rule of the moment decides, so a resumed agreement brings it back.
    if ending == "suspend":
        agreements.resume(world["mou"], platform_admin(), "resolved")
        again = cus.client().get(f"{URL}{saved['id']}/").json()
        assert (again["chart"]["nodes"], again["removed"]) == ([e["A"], e["D"], e["B"]], 0)


def test_saving_a_hidden_entity_is_refused_as_saving_a_missing_one(world, cus):
    missing = str(uuid.uuid4())
    assert not Entity.objects.filter(public_id=missing).exists()
    answers = []
    for stranger in (world["e"]["H"], missing):
        body = chart(world["e"], "A")
        body["nodes"].append(stranger)
        response = cus.client().post(URL, {"name": "x", "chart": body}, format="json")
        assert response.status_code == 400
        answers.append(response.content.decode().replace(stranger, "<id>"))
    assert answers[0] == answers[1]
    assert "chart" in answers[0]
    assert not Case.objects.exists()
    # Nor may a saved case be changed to name it.
    saved = save(cus.client(), world, "A")
    updated = cus.client().patch(
        f"{URL}{saved['id']}/", {"chart": {"nodes": [world["e"]["A"], world["e"]["H"]]}}, format="json"
    )
    assert updated.status_code == 400
    assert Case.objects.get().chart["nodes"] == [world["e"]["A"]]


@pytest.mark.parametrize("method", ["get", "patch", "delete", "share"])
def test_another_agency_is_told_the_case_does_not_exist(world, cus, pol, method):
    saved = save(cus.client(), world, "A", "D")
    answers = []
    for case_id in (saved["id"], str(uuid.uuid4())):
        client = pol.client()
        if method == "share":
            response = client.post(f"{URL}{case_id}/share/", {"shared_with": ["pol-liaison"]}, format="json")
        elif method == "patch":
            response = client.patch(f"{URL}{case_id}/", {"notes": "mine now"}, format="json")
        else:
            response = getattr(client, method)(f"{URL}{case_id}/")
        answers.append((response.status_code, response.content))
    assert answers[0] == answers[1]
    assert answers[0][0] == 404
    assert pol.client().get(URL).json()["results"] == []
    assert Case.objects.get().notes == "watch the vessels"


def test_a_colleague_sees_a_case_only_once_it_is_shared(world, cus, colleague):
    saved = save(cus.client(), world, "A", "D")
    case_url = f"{URL}{saved['id']}/"
    assert client_of(colleague).get(case_url).status_code == 404
    assert client_of(colleague).get(URL).json()["results"] == []
    shared = cus.client().post(f"{case_url}share/", {"shared_with": ["cus-analyst-2"]}, format="json")
    assert shared.status_code == 200, shared.content
    assert shared.json()["shared_with"] == ["cus-analyst-2"]
    opened = client_of(colleague).get(case_url)
    assert opened.status_code == 200
    assert opened.json()["chart"]["nodes"] == [world["e"]["A"], world["e"]["D"]]
    # The colleague may work on it, but neither share nor delete it.
    assert client_of(colleague).patch(case_url, {"notes": "seen"}, format="json").status_code == 200
    assert (
        client_of(colleague).post(f"{case_url}share/", {"shared_with": []}, format="json").status_code == 403
    )
    assert client_of(colleague).delete(case_url).status_code == 403
    # Other colleagues still do not see it; unshared, neither does this one.
    assert cus.client("liaison").get(case_url).status_code == 404
    assert cus.client().post(f"{case_url}share/", {"shared_with": []}, format="json").status_code == 200
    assert client_of(colleague).get(case_url).status_code == 404


def test_sharing_outside_the_agency_is_refused_as_sharing_with_no_one_known(world, cus, pol):
    saved = save(cus.client(), world, "A")
    answers = []
    for name in ("pol-analyst", "nobody-at-all"):
        response = cus.client().post(f"{URL}{saved['id']}/share/", {"shared_with": [name]}, format="json")
        assert response.status_code == 400
        assert list(response.json()) == ["shared_with"]
        answers.append(response.content.decode().replace(name, "<name>"))
    assert answers[0] == answers[1]
    assert not Case.objects.get().shared_with.exists()


def test_a_user_of_no_agency_keeps_no_cases(world):
    client = client_of(platform_admin())
    response = client.post(URL, {"name": "x", "chart": {"nodes": []}}, format="json")
    assert response.status_code == 403
    assert client.get(URL).json()["results"] == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"nodes": ["A"], "edges": []}, id="an unknown part"),
        pytest.param({"nodes": ["A", "not-an-id"]}, id="a node that is no id"),
        pytest.param({"nodes": ["A"], "positions": {"D": {"x": 1, "y": 2}}}, id="a position of no node"),
        pytest.param({"nodes": ["A"], "positions": {"A": {"x": "1", "y": 2}}}, id="a position not a number"),
        pytest.param({"nodes": ["A"], "filters": {"selected": "D"}}, id="filters naming an entity"),
        pytest.param({"nodes": ["A"], "layout": ["fcose"]}, id="a layout neither name nor object"),
        pytest.param(["A"], id="not an object"),
    ],
)
def test_a_chart_of_another_shape_is_refused_naming_the_chart(world, cus, bad):
    def named(value):
        if isinstance(value, str):
            return world["e"].get(value, value)
        if isinstance(value, list):
            return [named(item) for item in value]
        if isinstance(value, dict):
            return {named(key): named(item) for key, item in value.items()}
        return value

    response = cus.client().post(URL, {"name": "x", "chart": named(bad)}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["chart"]
    assert not Case.objects.exists()


def test_a_chart_past_the_node_limit_is_refused(world, cus, settings):
    settings.CASE_MAX_NODES = 2
    response = cus.client().post(URL, {"name": "x", "chart": chart(world["e"], "A", "B", "D")}, format="json")
    assert response.status_code == 400
    assert "CASE_MAX_NODES" in response.json()["chart"][0]


def test_every_write_is_audited(world, cus, colleague):
    last = last_event()
    saved = save(cus.client(), world, "A")
    case = Case.objects.get()
    case_url = f"{URL}{saved['id']}/"
    cus.client().patch(case_url, {"name": "Renamed", "chart": chart(world["e"], "A", "B")}, format="json")
    cus.client().post(f"{case_url}share/", {"shared_with": ["cus-analyst-2"]}, format="json")
    assert cus.client().delete(case_url).status_code == 204
    me = cus.analyst.pk
    assert events_since(last) == [
        ("case.created", me, str(case.pk)),
        ("case.updated", me, str(case.pk)),
        ("case.shared", me, str(case.pk)),
        ("case.deleted", me, str(case.pk)),
    ]
    shared = AuditEvent.objects.get(action="case.shared")
    assert shared.details["added"] == [colleague.pk]
    updated = AuditEvent.objects.get(action="case.updated")
    assert (updated.details["fields"], updated.details["nodes"]) == (["name", "chart"], 2)
    assert cus.client().get(case_url).status_code == 404


def test_the_pages_list_the_cases_and_say_how_many_entities_were_removed(world, cus, pol):
    saved = save(cus.client(), world, "A", "D", name="Fish fraud")
    page = signed_in(Client(), cus.analyst)
    listed = page.get("/cases/")
    assert listed.status_code == 200
    assert "Fish fraud" in listed.content.decode()
    detail = page.get(f"/cases/{saved['id']}/").content.decode()
    assert f"/chart/?case={saved['id']}" in detail
    assert "removed" not in detail
    agreements.suspend(world["mou"], platform_admin(), "paused")
    detail = page.get(f"/cases/{saved['id']}/").content.decode()
    assert "1 entity was removed" in detail
    assert world["e"]["D"] not in detail
    stranger = signed_in(Client(), pol.analyst)
    assert stranger.get(f"/cases/{saved['id']}/").status_code == 404
    assert "Fish fraud" not in stranger.get("/cases/").content.decode()


def test_the_pages_create_rename_and_share(world, cus, colleague):
    page = signed_in(Client(), cus.analyst)
    created = page.post("/cases/", {"name": "From the page", "notes": "start"})
    assert created.status_code == 302
    case = Case.objects.get()
    assert (case.name, case.notes, case.chart["nodes"], case.created_by) == (
        "From the page",
        "start",
        [],
        cus.analyst,
    )
    detail = f"/cases/{case.public_id}/"
    assert page.post(detail, {"action": "edit", "name": "Renamed", "notes": "more"}).status_code == 302
    assert (
        page.post(
            detail, {"action": "edit", "name": "Renamed", "notes": "more", "status": "shut"}
        ).status_code
        == 400
    )
    assert page.post(detail, {"action": "share", "shared_with": ["cus-analyst-2"]}).status_code == 302
    refused = page.post(detail, {"action": "share", "shared_with": ["pol-analyst"]})
    assert refused.status_code == 400
    for hostile in ({"action": "edit", "name": "a\x00b"}, {"action": "share", "shared_with": ["a\x00"]}):
        assert page.post(detail, hostile).status_code == 400
    case.refresh_from_db()
    assert (case.name, case.notes, list(case.shared_with.all())) == ("Renamed", "more", [colleague])
    assert page.post(detail, {"action": "delete"}).status_code == 302
    assert not Case.objects.exists()


def test_the_schema_documents_the_cases_api(world, cus):
    schema = cus.client().get("/api/schema/", {"format": "json"}).json()
    assert {"/api/cases/", "/api/cases/{id}/", "/api/cases/{id}/share/"} <= set(schema["paths"])
    assert "removed" in str(schema["components"]["schemas"]["OpenedCase"])


def test_opening_a_case_costs_the_same_queries_whatever_its_chart_holds(world, cus):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    small = save(cus.client(), world, "A")
    large = save(cus.client(), world, "A", "B", "D")
    counts = []
    for saved in (small, large):
        with CaptureQueriesContext(connection) as captured:
            assert cus.client().get(f"{URL}{saved['id']}/").status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1]


def test_a_closed_case_leaves_the_open_ones(world, cus):
    from cases.selectors import open_cases_of

    kept, closed = save(cus.client(), world, "A", name="Kept"), save(cus.client(), world, "B", name="Done")
    response = cus.client().patch(f"{URL}{closed['id']}/", {"status": "closed"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "closed"
    assert [row["id"] for row in cus.client().get(URL, {"status": "open"}).json()["results"]] == [kept["id"]]
    assert [case.name for case in open_cases_of(cus.analyst)] == ["Kept"]
    assert cus.client().patch(f"{URL}{kept['id']}/", {"status": "shut"}, format="json").status_code == 400
