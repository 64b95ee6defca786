"""Every id the API and the pages expose is opaque (issue 11, class 7, the identifiers half).

A sequential key tells a reader how many rows exist and which came first: an entity another
agency already held came back with an old, low id, a new one with a fresh high id. Every API
list of every registered viewset, every detail of what it lists, and the pages, are read
as analysts and liaison officers of two agencies, with objects of every kind in the
database; each value that names an object must be a random (version 4) UUID, and no key of
the form `*_id` may appear. The oracle is the UUID format and this file's list of the
names that refer to objects, not anything the code under test computes."""

import re
import uuid
from pathlib import Path

import pytest
from django.test import Client

from cases import services as cases
from cases.urls import router as cases_router
from intel.import_writing import import_file
from intel.merging import merge_entities
from intel.models import Entity, Record, ResolutionCandidate
from intel.urls import router as intel_router
from sharing import releases, requests
from sharing.urls import router as sharing_router
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force

pytestmark = pytest.mark.django_db

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
REFERENCE_KEYS = {"id", "record", "entity", "source", "target", "survivor", "merged", "candidate"}
NESTED_KEYS = {"entity_a", "entity_b", "mentions", "links", "versions", "results", "parties"}
PAGE_LINK = re.compile(r'href="/(records|entities|liaison/requests)/([^/"]+)/"')
CSV_HEADER = (
    "external_ref,category,classification,occurred_on,summary,importer_name,importer_country,importer_phone\n"
)


def is_random_uuid(value) -> bool:
    try:
        parsed = uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value


def id_problems(answer, where: str = "") -> list[str]:
    """Every place in a JSON answer where an object is named by anything but a random UUID."""
    problems = []
    if isinstance(answer, list):
        for i, item in enumerate(answer):
            problems += id_problems(item, f"{where}[{i}]")
    elif isinstance(answer, dict):
        for key, value in answer.items():
            here = f"{where}.{key}"
            if key.endswith("_id"):
                problems.append(f"{here}: a key named like an inner id")
            elif key in REFERENCE_KEYS and not isinstance(value, dict):
                if value is not None and not is_random_uuid(value):
                    problems.append(f"{here} = {value!r}")
            if isinstance(value, dict | list) and (key in NESTED_KEYS or key in REFERENCE_KEYS):
                problems += id_problems(value, here)
    return problems


def client_for(user) -> Client:
    client = Client(HTTP_X_INTERLINK_PURPOSE="investigation")
    signed_in(client, user)
    return client


def imported(tmp_path: Path, agency, name: str, rows: list[str]) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(CSV_HEADER + "".join(f"{row}\n" for row in rows))
    import_file(path, agency)


@pytest.fixture
def world(cus, pol, tmp_path):
    """Objects of every kind the API shows: records, entities, mentions and links (imports
    of both agencies), an agreement, a candidate and a merge, a consent request (approved,
    so both sides have notifications), an import batch and a case."""
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    in_force((cus, True, False), (pol, False, True), purposes=("investigation",), discovery_allowed=True)
    for record in Record.objects.filter(owner=cus.agency):
        releases.set_releasability(record, cus.analyst, "covering")
    imported(
        tmp_path,
        pol.agency,
        "pol",
        [
            "POL-1,shipment,restricted,2026-03-01,held phone,Harbour Holdings,NL,+31 10 555 0101",
            "POL-2,shipment,restricted,2026-03-02,fresh phone,Harbour Holding,NL,+31 20 777 0000",
        ],
    )
    companies = list(Entity.objects.filter(mentions__record__owner=pol.agency, type="company").distinct())
    first, second = sorted(companies, key=lambda entity: entity.pk)
    candidate, _ = ResolutionCandidate.objects.get_or_create(
        entity_a=first, entity_b=second, defaults={"score": 91.0}
    )
    merge_entities(first, second, pol.analyst, candidate=candidate)
    ResolutionCandidate.objects.get_or_create(
        entity_a=Entity.objects.filter(mentions__record__owner=cus.agency, type="company").first(),
        entity_b=first,
        defaults={"score": 88.0},
    )
    consent = requests.request_consent(
        pol.analyst,
        record=Record.objects.get(external_ref="SHP-0002"),
        caveat="no_onward_sharing",
        purpose="investigation",
        justification="why",
        urgency="routine",
    )
    requests.approve(consent, cus.liaison)
    charted = [str(e.public_id) for e in Entity.objects.visible_to(pol.analyst)[:3]]
    case = cases.create_case(pol.analyst, name="Harbour", chart={"nodes": charted})
    cases.share_case(pol.analyst, case, usernames=["pol-liaison"])
    upload = client_for(pol.analyst).post(
        "/api/imports/", {"file": (tmp_path / "pol.csv").open("rb")}, format="multipart"
    )
    assert upload.status_code == 202
    return {"cus": cus, "pol": pol}


def list_paths() -> list[tuple[str, dict]]:
    paths = []
    for prefix, _viewset, _basename in [
        *intel_router.registry,
        *sharing_router.registry,
        *cases_router.registry,
    ]:
        query = {"q": "acme"} if prefix == "search" else {}
        paths.append((f"/api/{prefix}/", query))
        if prefix == "requests":
            paths.append((f"/api/{prefix}/", {"box": "incoming"}))
    return paths


@pytest.mark.parametrize("member", ["cus.analyst", "cus.liaison", "pol.analyst", "pol.liaison"])
def test_every_api_answer_names_objects_by_random_uuids(world, member):
    agency, role = member.split(".")
    client = client_for(getattr(world[agency], role))
    answers = 0
    for path, query in list_paths():
        listed = client.get(path, {**query, "page_size": 100})
        assert listed.status_code == 200, path
        body = listed.json()
        assert id_problems(body, path) == []
        rows = body["results"] if isinstance(body, dict) else body
        answers += len(rows)
        if path == "/api/search/":
            continue
        for row in rows:
            detail = client.get(f"{path}{row['id']}/")
            assert detail.status_code == 200, (path, row["id"])
            assert id_problems(detail.json(), f"{path}{row['id']}/") == []
            if path == "/api/entities/":
                assert id_problems(client.get(f"{path}{row['id']}/discovery/").json()) == []
    # The walk read something of every kind, not empty lists.
    assert answers >= 10


def test_id_problems_finds_what_it_is_for():
    """The walker itself: it must flag integers, keys, other UUID versions and nested ids."""
    assert id_problems({"id": 7}) == [".id = 7"]
    assert id_problems({"results": [{"record": "12"}]}) == [".results[0].record = '12'"]
    assert id_problems({"owner_id": 3}) == [".owner_id: a key named like an inner id"]
    assert id_problems({"id": str(uuid.uuid1())}) != []
    assert id_problems({"entity_a": {"id": 5}}) == [".entity_a.id = 5"]
    assert id_problems({"id": str(uuid.uuid4()), "survivor": None}) == []


def test_an_entity_another_agency_holds_looks_like_a_fresh_one(world, tax, tmp_path):
    """TAX, which shares nothing with POL, holds a phone; POL then imports that phone and one
    nobody held: POL's answers for the two differ only in what POL itself stated."""
    imported(
        tmp_path, tax.agency, "tax", ["TAX-1,shipment,restricted,2026-01-01,,Quiet Co,NL,+31 30 444 1234"]
    )
    imported(
        tmp_path,
        world["pol"].agency,
        "pol-phones",
        [
            "POL-3,shipment,restricted,2026-03-03,,Pier Co,NL,+31 30 444 1234",
            "POL-4,shipment,restricted,2026-03-04,,Dock Co,NL,+31 30 999 8765",
        ],
    )
    client = client_for(world["pol"].analyst)
    held = client.get("/api/search/", {"q": "+31304441234"}).json()["results"]
    fresh = client.get("/api/search/", {"q": "+31309998765"}).json()["results"]
    assert len(held) == len(fresh) == 1
    assert is_random_uuid(held[0]["id"]) and is_random_uuid(fresh[0]["id"])
    assert held[0]["mention_count"] == fresh[0]["mention_count"] == 1
    assert held[0].keys() == fresh[0].keys()
    held_detail, fresh_detail = (client.get(f"/api/entities/{row[0]['id']}/").json() for row in (held, fresh))
    assert [m["owner"] for m in held_detail["mentions"]] == [m["owner"] for m in fresh_detail["mentions"]]


def test_public_ids_are_unrelated_to_creation_order(world):
    ids = list(Record.objects.order_by("pk").values_list("public_id", flat=True))
    assert len(set(ids)) == len(ids) >= 4
    assert all(value.version == 4 for value in ids)
    # Random ids do not sort the way rows were made (a chance of 1 in len(ids)! otherwise).
    assert sorted(ids) != ids or sorted(ids, reverse=True) != ids


@pytest.mark.parametrize("member", ["cus.analyst", "cus.liaison", "pol.analyst", "pol.liaison"])
def test_pages_link_objects_by_random_uuids(world, member):
    agency, role = member.split(".")
    client = client_for(getattr(world[agency], role))
    pages = ["/search/?q=acme", "/requests/"]
    if role == "liaison":
        pages += ["/liaison/requests/", "/liaison/shared/", "/liaison/access/"]
    seen, followed = set(), 0
    while pages:
        path = pages.pop()
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert not re.search(r"#\d+\b", html), path
        for kind, value in PAGE_LINK.findall(html):
            assert is_random_uuid(value), (path, kind, value)
            target = f"/{kind}/{value}/"
            if target not in seen:
                seen.add(target)
                pages.append(target)
                followed += 1
    assert followed >= 3


def test_notifications_point_at_pages_by_public_id(world):
    for member in (world["cus"].liaison, world["pol"].analyst):
        notes = client_for(member).get("/api/notifications/").json()["results"]
        assert notes
        for note in notes:
            segments = [segment for segment in note["url"].split("/") if segment]
            assert not any(segment.isdigit() for segment in segments), note
            assert all(is_random_uuid(s) for s in segments if not s.isalpha() and "-" in s), note
            assert "#" not in note["message"], note


def test_refusals_name_objects_by_public_id_only(world):
    """A service's refusal is shown to the caller: it names what it refuses by public id,
    never by an inner key ("request #12", "merge #3")."""
    from intel.models import EntityMerge
    from sharing.models import DisclosureRequest

    liaison = client_for(world["cus"].liaison)
    request = DisclosureRequest.objects.get()
    again = liaison.post(f"/api/requests/{request.public_id}/approve/", {}, content_type="application/json")
    analyst = client_for(world["pol"].analyst)
    merge = EntityMerge.objects.get()
    assert analyst.post(f"/api/merges/{merge.public_id}/undo/").status_code == 200
    undone_again = analyst.post(f"/api/merges/{merge.public_id}/undo/")
    for refusal, named in ((again, request.reference), (undone_again, str(merge.public_id))):
        assert refusal.status_code == 400
        text = refusal.content.decode()
        assert named in text
        assert not re.search(r"#\d+", text), text
