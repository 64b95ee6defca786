"""Importing records: formats, resolution on ingest, row-level errors, all-or-nothing,
idempotent re-import, the command's progress bar and the API upload through the worker."""

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from agencies.models import Agency, User
from audit.models import AuditEvent
from intel.import_reading import ImportFailed
from intel.import_writing import import_file
from intel.models import Entity, ImportBatch, Link, Mention, Record

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
HEADER = (EXAMPLES / "shipments.csv").read_text().splitlines()[0]


def csv_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "batch.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def row(**values: str) -> str:
    """A CSV data row for the example header, with the given columns set."""
    defaults = {"external_ref": "X-1", "category": "shipment", "occurred_on": "2026-01-02"}
    columns = HEADER.split(",")
    cells = {**defaults, **values}
    unknown = set(cells) - set(columns)
    assert not unknown, unknown
    return ",".join(f'"{cells.get(column, "")}"' for column in columns)


def database_counts() -> tuple[int, int, int, int]:
    return Record.objects.count(), Entity.objects.count(), Mention.objects.count(), Link.objects.count()


def test_example_shipments_resolve_name_variants_vessel_container_and_contacts(customs):
    result = import_file(EXAMPLES / "shipments.csv", customs)
    assert (result.rows, result.created) == (2, 2)
    importers = Mention.objects.filter(role="importer")
    assert importers.values("entity").distinct().count() == 1, "ACME Trading Ltd. / Acme Trading Limited"
    assert Entity.objects.filter(type="vessel").count() == 1, "IMO 9074729 written two ways"
    phones = sorted(Entity.objects.filter(type="phone").values_list("key", flat=True))
    assert phones == ["+31105550101", "+31105550199"], "the importer's number written two ways, the broker's"
    assert Entity.objects.filter(type="email").get().key.endswith("info@acme-trading.example")
    assert Entity.objects.filter(type="address").count() == 1, "abbreviation, case and postcode spacing"
    assert set(Entity.objects.filter(type="container").values_list("key", flat=True)) == {
        "CSQU3054383",
        "MSKU1234565",
    }
    first = Record.objects.get(external_ref="SHP-0001")
    assert first.details["hs_codes"] == ["030389", "160414"]
    assert first.details["currency"] == "EUR"
    assert set(first.links.values_list("type", flat=True)) >= {
        "IMPORTED_BY",
        "EXPORTED_BY",
        "BROKERED_BY",
        "CARRIED_BY",
        "SHIPPED_IN",
        "REGISTERED_AT",
        "CONTACT",
        "OWNS",
    }
    assert AuditEvent.objects.filter(action="records.import", agency_id=customs.pk).count() == 1


def test_json_array_and_json_lines_import(customs):
    import_file(EXAMPLES / "shipments.csv", customs)
    seizures = import_file(EXAMPLES / "seizures.jsonl", customs)
    inspections = import_file(EXAMPLES / "inspections.json", customs)
    assert (seizures.created, inspections.created) == (1, 1)
    seizure = Record.objects.get(external_ref="SZ-0001")
    assert seizure.caveats == ["not_for_evidence"]
    assert seizure.links.filter(type="SEIZED_IN").count() == 1
    # The seizure names the importer without the final dot; it resolves to the same company.
    assert Mention.objects.filter(role="importer").values("entity").distinct().count() == 1
    assert Record.objects.get(external_ref="INS-0001").details["inspection_result"] == "discrepancy"


def test_importing_the_same_file_twice_changes_nothing(customs):
    import_file(EXAMPLES / "shipments.csv", customs)
    before = database_counts()
    snapshot = list(Mention.objects.order_by("id").values_list("id", "entity_id", "role"))
    again = import_file(EXAMPLES / "shipments.csv", customs)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert database_counts() == before
    assert list(Mention.objects.order_by("id").values_list("id", "entity_id", "role")) == snapshot


def test_a_changed_row_updates_its_record_in_place(customs, tmp_path):
    import_file(
        csv_file(tmp_path, row(external_ref="U-1", importer_name="Old Name BV", importer_country="NL")),
        customs,
    )
    import_file(
        csv_file(tmp_path, row(external_ref="U-1", importer_name="New Name BV", importer_country="NL")),
        customs,
    )
    record = Record.objects.get()
    assert [m.properties["name"] for m in record.mentions.filter(role="importer")] == ["New Name BV"]


BAD_ROWS = [
    (row(declared_value="lots", currency="EUR"), "declared_value"),
    (row(occurred_on="yesterday"), "occurred_on"),
    (row(category="smuggling"), "category"),
    (row(external_ref=""), "external_ref"),
    (row(vessel_imo="9074728"), "vessel_imo"),
    (row(container_numbers="CSQU3054384"), "container_numbers"),
    (row(importer_name="Acme", importer_country="XX"), "importer_country"),
    (row(importer_country="NL"), "importer_name"),
    (row(declared_value="10", currency="EURO"), "currency"),
    (row(classification="top-secret"), "classification"),
    (row(importer_name="Acme", importer_country="NL", importer_phone="12"), "importer_phone"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_ROWS, ids=[field for _, field in BAD_ROWS])
def test_a_bad_row_is_reported_by_row_and_field_and_nothing_is_written(customs, tmp_path, bad, field):
    good = row(external_ref="GOOD-1", importer_name="Fine Imports BV", importer_country="NL")
    path = csv_file(tmp_path, good, bad.replace('"X-1"', '"BAD-1"', 1))
    with pytest.raises(ImportFailed) as failure:
        import_file(path, customs)
    assert {(error["row"], error["field"]) for error in failure.value.errors} == {(3, field)}
    assert database_counts() == (0, 0, 0, 0)
    assert not AuditEvent.objects.filter(action="records.import").exists()


def test_every_bad_row_is_reported_not_only_the_first(customs, tmp_path):
    path = csv_file(
        tmp_path,
        row(external_ref="A", occurred_on="x"),
        row(external_ref="B"),
        row(external_ref="C", vessel_imo="1"),
    )
    with pytest.raises(ImportFailed) as failure:
        import_file(path, customs)
    assert [(e["row"], e["field"]) for e in failure.value.errors] == [(2, "occurred_on"), (4, "vessel_imo")]


def test_duplicate_references_in_one_file_are_refused(customs, tmp_path):
    with pytest.raises(ImportFailed) as failure:
        import_file(csv_file(tmp_path, row(external_ref="D"), row(external_ref="D")), customs)
    assert failure.value.errors == [{"row": 3, "field": "external_ref", "message": "'D' appears twice"}]


def test_duplicates_are_found_across_chunks_and_after_the_first_bad_row(customs, tmp_path):
    rows = [row(external_ref=f"R{i}") for i in range(7)]
    rows[1] = row(external_ref="R1", occurred_on="x")
    rows += [row(external_ref="R0"), row(external_ref="R5")]
    with pytest.raises(ImportFailed) as failure:
        import_file(csv_file(tmp_path, *rows), customs, chunk_size=3)
    assert [(e["row"], e["field"]) for e in failure.value.errors] == [
        (3, "occurred_on"),
        (9, "external_ref"),
        (10, "external_ref"),
    ]
    assert not Record.objects.exists()
    # The references met live in a temporary table, emptied for the next import.
    clean = [row(external_ref=f"R{i}") for i in range(7)]
    assert import_file(csv_file(tmp_path, *clean), customs, chunk_size=3).created == 7


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (HEADER + '\n"unterminated,shipment\n', "malformed CSV"),
        (HEADER + "\n" + row() + ',"one too many"\n', "more value(s) than the header"),
        ("", "empty"),
    ],
)
def test_malformed_csv_is_reported_and_nothing_written(customs, tmp_path, content, message):
    path = tmp_path / "broken.csv"
    path.write_text(content)
    with pytest.raises(ImportFailed) as failure:
        import_file(path, customs)
    assert message in failure.value.errors[0]["message"]
    assert database_counts() == (0, 0, 0, 0)


def test_malformed_json_is_reported(customs, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text(
        '[{"external_ref": "J1", "category": "shipment", "occurred_on": "2026-01-01"}, {"external'
    )
    with pytest.raises(ImportFailed) as failure:
        import_file(path, customs)
    assert failure.value.errors[-1]["row"] == 2
    assert "malformed JSON" in failure.value.errors[-1]["message"]
    assert database_counts() == (0, 0, 0, 0)


def test_command_shows_progress_and_refuses_an_unknown_agency(customs, tmp_path):
    err = io.StringIO()
    out = io.StringIO()
    call_command("import_records", str(EXAMPLES / "shipments.csv"), agency="cus", stdout=out, stderr=err)
    assert "2 rows: 2 created" in out.getvalue()
    assert "100%" in err.getvalue() and "2/2" in err.getvalue()
    with pytest.raises(CommandError, match="unknown agency 'nope'"):
        call_command("import_records", str(EXAMPLES / "shipments.csv"), agency="nope")


def test_command_lists_row_errors(customs, tmp_path):
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_records", str(csv_file(tmp_path, row(vessel_imo="123"))), agency="cus", stderr=err
        )
    assert "row 2, field vessel_imo" in err.getvalue()


@pytest.mark.django_db(transaction=True)
def test_api_upload_runs_on_the_worker_and_reports_progress(celery_worker):
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    analyst = User.objects.create(username="ana", agency=agency, role="analyst")
    api = APIClient()
    api.force_authenticate(analyst)
    upload = SimpleUploadedFile("shipments.csv", (EXAMPLES / "shipments.csv").read_bytes(), "text/csv")
    response = api.post("/api/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    batch_id = response.json()["id"]
    deadline = time.monotonic() + 60
    body = response.json()
    while body["status"] in ("pending", "running") and time.monotonic() < deadline:
        time.sleep(0.2)
        body = api.get(f"/api/imports/{batch_id}/").json()
    assert body["status"] == "succeeded", body
    assert (body["rows_total"], body["rows_processed"], body["created_count"]) == (2, 2, 2)
    assert Record.objects.filter(import_batch__public_id=batch_id).count() == 2

    bad = SimpleUploadedFile("bad.csv", (HEADER + "\n" + row(vessel_imo="1") + "\n").encode(), "text/csv")
    batch_id = api.post("/api/imports/", {"file": bad}, format="multipart").json()["id"]
    deadline = time.monotonic() + 60
    while (
        ImportBatch.objects.get(public_id=batch_id).status in ("pending", "running")
        and time.monotonic() < deadline
    ):
        time.sleep(0.2)
    body = api.get(f"/api/imports/{batch_id}/").json()
    assert body["status"] == "failed"
    assert body["errors"][0]["row"] == 2 and body["errors"][0]["field"] == "vessel_imo"


def test_api_upload_refuses_an_unknown_format(customs, tmp_path):
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ana", agency=customs, role="analyst"))
    upload = SimpleUploadedFile("records.xlsx", b"PK", "application/octet-stream")
    response = api.post("/api/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "file" in response.json()
