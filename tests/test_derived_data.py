"""Derived data (candidates, their scores, merges) built from or acting on records the reader
may not see: the class of findings 1 and 2 of the adversarial review (issue 11).

A candidate is offered to a reader only as far as the names the reader's own visible
mentions give the two entities make them alike, with the score those names give; merging,
rejecting and undoing need the deciding agency to see every mention of both entities (else
the answer is the one for an object that does not exist) and a deciding role; a merge is
listed to the agency that made it only (and platform admins), and another agency's import
follows it only when that agency sees every mention of both entities.

Expectations come from the data each test builds: which agency's record names what, and
what rapidfuzz must say of identical and of different names (100 and less than 100)."""

import uuid
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client

from intel.import_writing import import_file
from intel.merging import NotVisible, merge_entities, reject_candidate, undo_merge
from intel.models import Entity, EntityMerge, Mention, Record, ResolutionCandidate
from sharing import agreements, releases
from sharing.models import Agreement
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin

pytestmark = pytest.mark.django_db

HEADER = (
    "external_ref,category,classification,occurred_on,summary,"
    "importer_name,importer_country,importer_reg_no\n"
)


def csv_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return path


def imported(tmp_path: Path, staff, name: str, rows: list[str]) -> None:
    import_file(csv_file(tmp_path, name, rows), staff.agency)


def logged_in(user) -> Client:
    client = Client()
    signed_in(client, user)
    return client


def release_all(owner, to) -> None:
    """The owner's shipments become visible to `to` under an agreement in force."""
    in_force((owner, True, False), (to, False, True), reference=f"MOU-{owner.agency.code}-{to.agency.code}")
    for record in Record.objects.filter(owner=owner.agency):
        releases.set_releasability(record, owner.analyst, "covering")


def answer_for_nothing(client, path: str):
    """What the API answers for the same request about an id that exists nowhere."""
    return client.post(path.format(uuid.uuid4()))


def same_as_missing(response, client, path: str) -> None:
    nothing = answer_for_nothing(client, path)
    assert (response.status_code, response.json()) == (nothing.status_code, nothing.json())
    assert response.status_code == 404


def offered(client) -> dict[tuple[str, str], float]:
    results = client.get("/api/candidates/", {"page_size": 1000}).json()["results"]
    return {(c["entity_a"]["id"], c["entity_b"]["id"]): c["score"] for c in results}


def pair(a: Entity, b: Entity) -> tuple[str, str]:
    first, second = sorted((a, b), key=lambda entity: str(entity.public_id))
    return (str(first.public_id), str(second.public_id))


# --- candidates: offered from the reader's own names ----------------------------------


@pytest.fixture
def numbered_and_named(cus, tax, tmp_path):
    """TAX's record (released to no one) names company NL 12345678 "Alpha Zebrafish"; CUS
    knows that company only as "Acme Co" and, apart, an "Alpha Zebrafisch" with no number."""
    imported(tmp_path, tax, "tax.csv", ["TAX-1,shipment,restricted,2026-03-01,x,Alpha Zebrafish,NL,12345678"])
    imported(
        tmp_path,
        cus,
        "cus.csv",
        [
            "CUS-1,shipment,restricted,2026-03-02,x,Acme Co,NL,12345678",
            "CUS-2,shipment,restricted,2026-03-03,x,Alpha Zebrafisch,NL,",
        ],
    )
    numbered = Entity.objects.get(key="NL:reg:12345678")
    named = Entity.objects.get(key="NL:name:alpha zebrafisch")
    # The pair is on record (every agency's names made it): what follows is about who is offered it.
    assert ResolutionCandidate.objects.filter(entity_a=min(numbered, named, key=lambda e: e.pk)).exists()
    return numbered, named


def test_candidates_do_not_pair_entities_by_names_only_hidden_records_state(cus, numbered_and_named):
    """Such a pair (and its score) tells CUS what TAX's hidden record calls the company."""
    numbered, _ = numbered_and_named
    answer = logged_in(cus.analyst).get("/api/candidates/").json()
    paired = [
        c for c in answer["results"] if str(numbered.public_id) in (c["entity_a"]["id"], c["entity_b"]["id"])
    ]
    assert paired == []
    assert answer["count"] == len(answer["results"])


def test_readers_who_see_the_names_are_offered_the_pair(cus, tax, pol, numbered_and_named):
    """POL receives both agencies' records, and the platform admin sees all: both see the two
    similar names, and are offered the pair; TAX sees only one of the two entities."""
    numbered, named = numbered_and_named
    release_all(cus, pol)
    release_all(tax, pol)
    for reader in (pol.client(purpose="risk_assessment"), logged_in(platform_admin())):
        assert pair(numbered, named) in offered(reader)
    assert pair(numbered, named) not in offered(tax.client())


def test_hidden_candidates_are_acted_on_as_missing_ones(cus, numbered_and_named):
    """The detail, merge and reject of a pair CUS is not offered answer as for no candidate."""
    candidate = ResolutionCandidate.objects.get()
    client = cus.client()
    assert client.get(f"/api/candidates/{candidate.public_id}/").status_code == 404
    for action in ("merge", "reject"):
        response = client.post(f"/api/candidates/{candidate.public_id}/{action}/")
        same_as_missing(response, client, f"/api/candidates/{{}}/{action}/")
    candidate.refresh_from_db()
    assert candidate.status == "open"
    assert Entity.objects.filter(merged_into__isnull=False).count() == 0


@pytest.fixture
def bravo(cus, tax, tmp_path):
    """Company NL 555: CUS's record calls it "Bravo Shipping", TAX's hidden one "Bravo
    Shiping"; CUS also names a "Bravo Shiping" without a number. The stored pair scores
    100 (TAX's name is the other's exactly); what CUS sees scores less."""
    imported(tmp_path, tax, "tax.csv", ["TAX-9,shipment,restricted,2026-03-01,x,Bravo Shiping,NL,555"])
    imported(
        tmp_path,
        cus,
        "cus.csv",
        [
            "CUS-8,shipment,restricted,2026-03-02,x,Bravo Shipping,NL,555",
            "CUS-9,shipment,restricted,2026-03-03,x,Bravo Shiping,NL,",
        ],
    )
    numbered, named = Entity.objects.get(key="NL:reg:555"), Entity.objects.get(key="NL:name:bravo shiping")
    assert ResolutionCandidate.objects.get().score == 100
    return numbered, named


def test_a_score_is_the_readers_own_names_score(cus, pol, tax, bravo):
    numbered, named = bravo
    cus_score = offered(cus.client())[pair(numbered, named)]
    assert 85 <= cus_score < 100
    assert offered(logged_in(platform_admin()))[pair(numbered, named)] == 100
    release_all(tax, cus)
    assert offered(cus.client(purpose="risk_assessment"))[pair(numbered, named)] == 100


def test_the_status_filter_still_applies_to_offered_candidates(cus, bravo):
    client = cus.client()
    assert len(client.get("/api/candidates/", {"status": "open"}).json()["results"]) == 1
    assert client.get("/api/candidates/", {"status": "rejected"}).json()["results"] == []


# --- merging and rejecting: the deciding agency sees everything they rest on -----------


def test_a_merge_resting_on_hidden_mentions_answers_as_a_missing_candidate(cus, tax, bravo):
    """CUS is offered the pair, but TAX's hidden record names one of the two: merging or
    rejecting would decide for TAX's record too. Once TAX releases it to CUS, CUS may."""
    numbered, named = bravo
    candidate = ResolutionCandidate.objects.get()
    client = cus.client()
    for action in ("merge", "reject"):
        response = client.post(f"/api/candidates/{candidate.public_id}/{action}/")
        same_as_missing(response, client, f"/api/candidates/{{}}/{action}/")
    with pytest.raises(NotVisible):
        merge_entities(numbered, named, cus.analyst)
    with pytest.raises(NotVisible):
        reject_candidate(candidate, cus.analyst)
    candidate.refresh_from_db()
    assert candidate.status == "open" and not EntityMerge.objects.exists()

    release_all(tax, cus)
    response = cus.client(purpose="risk_assessment").post(f"/api/candidates/{candidate.public_id}/merge/")
    assert response.status_code == 201, response.content
    assert EntityMerge.objects.get().agency == cus.agency


def test_only_deciding_roles_merge_reject_and_undo(cus, tmp_path):
    imported(
        tmp_path,
        cus,
        "cus.csv",
        [
            "CUS-1,shipment,restricted,2026-03-02,x,Delta Trading,NL,",
            "CUS-2,shipment,restricted,2026-03-03,x,Delta Tradng,NL,",
        ],
    )
    candidate = ResolutionCandidate.objects.get()
    a, b = candidate.entity_a, candidate.entity_b
    liaison = cus.client("liaison")
    for action in ("merge", "reject"):
        assert liaison.post(f"/api/candidates/{candidate.public_id}/{action}/").status_code == 403
    with pytest.raises(PermissionDenied):
        merge_entities(a, b, cus.liaison)
    merge = merge_entities(a, b, cus.admin)
    assert liaison.post(f"/api/merges/{merge.public_id}/undo/").status_code == 403
    with pytest.raises(PermissionDenied):
        undo_merge(merge, cus.liaison)
    assert cus.client().post(f"/api/merges/{merge.public_id}/undo/").status_code == 200


# --- merges: one agency's conclusion -------------------------------------------------


@pytest.fixture
def tax_merge(cus, tax, tmp_path):
    """TAX merges its own company "Alpha Zebrafish" (NL 111, named by no record but TAX's,
    released to no one) into "Alpha Zebrafisch", which CUS's record (released to TAX) also
    names: TAX sees every mention of both, so it may."""
    imported(
        tmp_path,
        tax,
        "tax.csv",
        [
            "TAX-1,shipment,restricted,2026-03-01,x,Alpha Zebrafish,NL,111",
            "TAX-2,shipment,restricted,2026-03-01,x,Alpha Zebrafisch,NL,",
        ],
    )
    imported(tmp_path, cus, "cus.csv", ["CUS-1,shipment,restricted,2026-03-02,x,Alpha Zebrafisch,NL,"])
    release_all(cus, tax)
    hidden = Entity.objects.get(key="NL:reg:111")
    shared = Entity.objects.get(key="NL:name:alpha zebrafisch")
    return merge_entities(shared, hidden, tax.analyst), hidden


def test_merges_do_not_name_an_entity_only_hidden_records_stated(cus, pol, tax, tax_merge):
    merge, hidden = tax_merge
    assert merge.agency == tax.agency
    for client in (logged_in(cus.analyst), pol.client()):
        answer = client.get("/api/merges/").json()
        assert [m for m in answer["results"] if m["merged"] == str(hidden.public_id)] == []
        assert client.get(f"/api/merges/{merge.public_id}/").status_code == 404
    for client in (tax.client(), logged_in(platform_admin())):
        assert [m["id"] for m in client.get("/api/merges/").json()["results"]] == [str(merge.public_id)]


def test_another_agency_cannot_undo_a_merge_it_cannot_see_the_reason_for(cus, tax, tax_merge):
    """Undoing TAX's merge moves TAX's mentions back: CUS has no right over them."""
    merge, hidden = tax_merge
    client = logged_in(cus.analyst)
    response = client.post(f"/api/merges/{merge.public_id}/undo/")
    same_as_missing(response, client, "/api/merges/{}/undo/")
    with pytest.raises(NotVisible):
        undo_merge(merge, cus.analyst)
    merge.refresh_from_db()
    assert merge.undone_at is None
    assert tax.client().post(f"/api/merges/{merge.public_id}/undo/").status_code == 200
    assert Mention.objects.filter(entity=hidden).count() == 1


def test_a_merge_is_not_undone_by_its_agency_once_it_may_not_see_what_moves(cus, tax, tax_merge):
    """The agreement under which TAX saw CUS's record ends: undoing would now move a
    mention TAX may not see, so TAX is answered as for no merge; a platform admin may."""
    merge, _hidden = tax_merge
    for agreement in Agreement.objects.all():
        agreements.terminate(agreement, platform_admin(), "ended")
    client = tax.client()
    same_as_missing(client.post(f"/api/merges/{merge.public_id}/undo/"), client, "/api/merges/{}/undo/")
    assert logged_in(platform_admin()).post(f"/api/merges/{merge.public_id}/undo/").status_code == 200


# --- imports: another agency's merge is not followed blindly ---------------------------


def test_another_agencys_merge_does_not_join_two_of_our_own_entities(cus, tax_merge, tmp_path):
    """After TAX merged NL 111 into "Alpha Zebrafisch", CUS imports a record naming NL 111.
    Nothing CUS may see says NL 111 is "Alpha Zebrafisch": shown as one entity (one id, both
    names), CUS learns the conclusion TAX drew from records CUS may not see."""
    imported(tmp_path, cus, "cus2.csv", ["CUS-2,shipment,restricted,2026-03-04,x,Alpha Zebrafish,NL,111"])
    entities = logged_in(cus.analyst).get("/api/entities/", {"type": "company"}).json()["results"]
    assert sorted(name for e in entities for name in e["names"]) == ["Alpha Zebrafisch", "Alpha Zebrafish"]
    assert len(entities) == 2


def test_the_merging_agency_and_one_that_sees_all_follow_the_merge(cus, tax, tax_merge, tmp_path):
    """TAX's own later record of NL 111 lands on the survivor; so does CUS's once TAX
    released its records to CUS (CUS then sees every mention of both entities)."""
    _merge, hidden = tax_merge
    survivor = hidden.merged_into_id
    imported(tmp_path, tax, "tax2.csv", ["TAX-3,shipment,restricted,2026-03-05,x,Alpha Zebrafish,NL,111"])
    assert Mention.objects.get(record__external_ref="TAX-3", role="importer").entity_id == survivor
    release_all(tax, cus)
    imported(tmp_path, cus, "cus3.csv", ["CUS-3,shipment,restricted,2026-03-06,x,Alpha Zebrafish,NL,111"])
    assert Mention.objects.get(record__external_ref="CUS-3", role="importer").entity_id == survivor
