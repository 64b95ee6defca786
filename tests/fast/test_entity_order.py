"""An entity is shared by every agency whose records name it. Listed in the order entities
were written, one that another agency's records had named first came before those the
reader's own import had just made: the reader learned that an agency it may not see holds
that phone. Entities are listed by public id (random) and a record's mentions and links in
the order its row stated them, whoever named the entities first.

aaa (no agreement with bbb) may hold the phone bbb's file names; bbb imports its file over
the API, as a user uploads it, on the embedded default."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from intel.import_writing import import_file
from intel.models import Record
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

HEADER = "external_ref,category,occurred_on,importer_name,importer_country,importer_phone,vessel_imo\n"
PHONE = "+31 10 555 0199"


@pytest.mark.parametrize("held", [True, False], ids=["aaa-holds-the-phone-and-vessel", "no-one-else"])
def test_the_order_of_entities_tells_nothing_of_who_named_them_first(
    tmp_path, held, django_capture_on_commit_callbacks
):
    aaa, bbb = staff("aaa"), staff("bbb", kind="police")
    if held:
        path = tmp_path / "aaa.csv"
        path.write_text(HEADER + f"A-1,shipment,2026-03-01,Other Co,DE,{PHONE},9074729\n")
        import_file(path, aaa.agency, user=aaa.analyst)
    rows = f"B-1,shipment,2026-03-02,Zeta Co,DE,{PHONE},9074729\nB-2,shipment,2026-03-03,Yotta Co,DE,,\n"
    client = bbb.client(purpose="investigation")
    upload = SimpleUploadedFile("b.csv", (HEADER + rows).encode(), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/api/imports/", {"file": upload}, format="multipart").status_code == 202

    for url in ("/api/entities/", "/api/search/?q=co", "/api/entities/?page_size=2"):
        ids = [entity["id"] for entity in client.get(url).json()["results"]]
        assert ids == sorted(ids), url
    listed = {entity["id"] for entity in client.get("/api/entities/").json()["results"]}
    assert len(listed) == 6  # two shipments, two companies, the phone, the vessel

    record = Record.objects.get(external_ref="B-1")
    detail = client.get(f"/api/records/{record.public_id}/").json()
    # As the row states them: its consignment, the importer, the importer's phone, the vessel.
    assert [mention["role"] for mention in detail["mentions"]] == ["shipment", "importer", "phone", "vessel"]
    # Its links likewise (its importer, the importer's phone, its vessel), on the record, in
    # the link list and in the export: stored in entity-id order, the vessel aaa had named
    # first came first.
    stated = ["IMPORTED_BY", "CONTACT", "CARRIED_BY"]
    assert [link["type"] for link in detail["links"]] == stated
    listed = client.get("/api/links/", {"record": str(record.public_id)}).json()["results"]
    assert [link["type"] for link in listed] == stated
    export = b"".join(client.get("/api/records/export/").streaming_content).decode()
    [row] = [row for row in csv.DictReader(io.StringIO(export)) if row["external_ref"] == "B-1"]
    assert [link["type"] for link in json.loads(row["links"])] == stated


def test_the_search_page_past_its_count_shows_the_first_entities_by_public_id(tmp_path, settings):
    """The search page counts ENTITY_COUNT_LIMIT entities and shows those: walked by age,
    a company aaa had named first was among them ahead of bbb's own."""
    from intel.models import Entity
    from intel.selectors import Reader
    from workspace.selectors import search

    aaa, bbb = staff("aaa"), staff("bbb", kind="police")
    names = ["Alpha Trade", "Bravo Trade", "Charlie Trade", "Delta Trade", "Echo Trade", "Zulu Trade"]
    path = tmp_path / "aaa.csv"
    path.write_text(HEADER + "A-1,shipment,2026-03-01,Zulu Trade,DE,,\n")
    import_file(path, aaa.agency, user=aaa.analyst)
    path = tmp_path / "bbb.csv"
    rows = "".join(f"B-{n},shipment,2026-03-02,{name},DE,,\n" for n, name in enumerate(names))
    path.write_text(HEADER + rows)
    import_file(path, bbb.agency, user=bbb.analyst)
    settings.ENTITY_COUNT_LIMIT = 3
    found = search(Reader(bbb.analyst, "investigation"), "trade")
    shown = [str(entity.public_id) for group in found.groups for entity in group.entities]
    companies = Entity.objects.filter(type="company", mentions__record__owner=bbb.agency).distinct()
    assert len(companies) == len(names)
    assert shown == sorted(str(entity.public_id) for entity in companies)[:3]


@pytest.mark.parametrize("held", [True, False], ids=["aaa-named-one-first", "no-one-else"])
def test_a_candidates_sides_are_shown_by_public_id_and_merged_as_shown(
    tmp_path, held, django_capture_on_commit_callbacks
):
    """Stored, a candidate's first side is the older entity: "Northwind Tradinq", named first
    by aaa, came before bbb's own "Northwind Trading"."""
    aaa, bbb = staff("aaa"), staff("bbb", kind="police")
    if held:
        path = tmp_path / "aaa.csv"
        path.write_text(HEADER + "A-1,shipment,2026-03-01,Northwind Tradinq,DE,,\n")
        import_file(path, aaa.agency, user=aaa.analyst)
    path = tmp_path / "bbb.csv"
    rows = ("B-1,shipment,2026-03-02,Northwind Trading", "B-2,shipment,2026-03-03,Northwind Tradinq")
    path.write_text(HEADER + "".join(f"{row},DE,,\n" for row in rows))
    import_file(path, bbb.agency, user=bbb.analyst)
    client = bbb.client(purpose="investigation")
    [candidate] = client.get("/api/candidates/").json()["results"]
    sides = [candidate["entity_a"]["id"], candidate["entity_b"]["id"]]
    assert sides == sorted(sides)
    if not held:  # (aaa's record also names one side: bbb may not merge it)
        merged = client.post(f"/api/candidates/{candidate['id']}/merge/", {"survivor": "a"}, format="json")
        assert merged.status_code == 201, merged.content
        assert (merged.json()["survivor"], merged.json()["merged"]) == tuple(sides)
