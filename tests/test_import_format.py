"""The import format for every record an agency holds, written to the database: every
example file of docs/examples imports into its kind of agency as written here; a
consignment reference ties three agencies' records to one shipment entity; several parties
of one role are several mentions; unknown columns are refused naming them, or listed as
warnings when allowed (the command, the API); bad person fields name row and field, and
nothing is written."""

import io
import json
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel.import_reading import ImportFailed
from intel.import_writing import import_file
from intel.models import Entity, ImportBatch, Link, Mention, Record

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"
MRN = "26NL4F2A9C81D7E0A1"

# file: (the kind of agency that holds it, its records and their categories)
EXAMPLE_FILES = {
    "shipments.csv": ("customs", {"SHP-0001": "shipment", "SHP-0002": "shipment"}),
    "seizures.jsonl": ("customs", {"SZ-0001": "seizure"}),
    "inspections.json": ("customs", {"INS-0001": "inspection"}),
    "customs-declarations.csv": ("customs", {"DEC-2026-0101": "shipment", "DEC-2026-0102": "shipment"}),
    "coastguard-inspections.json": (
        "coast_guard",
        {"CG-INS-7781": "inspection", "CG-INS-7782": "inspection"},
    ),
    "police-seizures.jsonl": ("police", {"POL-SZ-0042": "seizure"}),
    "police-investigations.jsonl": (
        "police",
        {"POL-INV-0007": "investigation", "POL-INV-0008": "investigation"},
    ),
    "tax-intelligence.csv": ("tax", {"TAX-2026-311": "investigation", "TAX-2026-312": "investigation"}),
    "port-tips.jsonl": ("port_authority", {"PORT-TIP-0019": "tip", "PORT-TIP-0020": "tip"}),
}
# Imported by tests/test_bulk_release.py: its releases need agreements in force and a liaison officer.
RELEASE_EXAMPLES = {"releases.csv"}
# The new examples, each into an agency of its own kind, together.
AGENCY_OF = {
    "customs-declarations.csv": "cus",
    "coastguard-inspections.json": "cg",
    "police-seizures.jsonl": "pol",
    "police-investigations.jsonl": "pol",
    "tax-intelligence.csv": "tax",
    "port-tips.jsonl": "port",
}
KINDS = {"cus": "customs", "cg": "coast_guard", "pol": "police", "tax": "tax", "port": "port_authority"}
# record: how many subjects it names, read off the example files
SUBJECTS = {
    "CG-INS-7781": 1,
    "POL-SZ-0042": 2,
    "POL-INV-0007": 3,
    "POL-INV-0008": 1,
    "TAX-2026-311": 3,
    "TAX-2026-312": 1,
    "PORT-TIP-0019": 1,
    "PORT-TIP-0020": 2,
}


def agency(code: str, kind: str) -> Agency:
    return Agency.objects.create(code=code, name=code.upper(), country="NL", kind=kind)


def refused(path: Path, owner: Agency, **options) -> list[dict]:
    with pytest.raises(ImportFailed) as failure:
        import_file(path, owner, **options)
    assert not Record.objects.exists(), "all or nothing"
    return failure.value.errors


def write(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    """A file of rows in the format its suffix names, written without the importer's code."""
    path = tmp_path / name
    if name.endswith(".csv"):
        columns = list(dict.fromkeys(column for row in rows for column in row))
        lines = [",".join(columns)]
        lines += [",".join(f'"{row.get(column, "")}"' for column in columns) for row in rows]
        path.write_text("\n".join(lines) + "\n")
    elif name.endswith(".jsonl"):
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        path.write_text(json.dumps(rows))
    return path


def subjects_of(external_ref: str) -> list[Mention]:
    return list(Mention.objects.filter(record__external_ref=external_ref, role="subject"))


# --- every example file, from each kind of agency ------------------------------------


def test_every_example_file_is_listed_here():
    assert sorted(path.name for path in EXAMPLES.iterdir()) == sorted({*EXAMPLE_FILES, *RELEASE_EXAMPLES})


@pytest.mark.parametrize("name", sorted(EXAMPLE_FILES))
def test_each_example_file_imports_into_its_kind_of_agency(db, name):
    kind, records = EXAMPLE_FILES[name]
    owner = agency("own", kind)
    result = import_file(EXAMPLES / name, owner)
    assert (result.rows, result.created, result.warnings) == (len(records), len(records), [])
    assert dict(Record.objects.filter(owner=owner).values_list("external_ref", "category")) == records
    for external_ref in records:
        assert len(subjects_of(external_ref)) == SUBJECTS.get(external_ref, 0), external_ref
    again = import_file(EXAMPLES / name, owner)
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(records))


def test_the_examples_of_five_agencies_resolve_into_one_picture(db):
    owners = {code: agency(code, kind) for code, kind in KINDS.items()}
    for name, code in AGENCY_OF.items():
        import_file(EXAMPLES / name, owners[code])

    def mentioning(entity: Entity) -> set[tuple[str, str]]:
        return set(entity.mentions.values_list("record__owner__code", "record__external_ref"))

    consignment = Entity.objects.get(type="shipment", key=f"mrn/{MRN}")
    assert mentioning(consignment) == {
        ("cus", "DEC-2026-0101"),
        ("cg", "CG-INS-7781"),
        ("pol", "POL-SZ-0042"),
    }
    ucr = Entity.objects.get(type="shipment", key="ucr/6NL812345678-0003")
    assert mentioning(ucr) == {("cus", "DEC-2026-0102"), ("port", "PORT-TIP-0019")}
    # Records without a consignment reference keep a shipment of their own.
    assert Entity.objects.get(type="shipment", key="pol:POL-INV-0007")

    harbourline = Mention.objects.get(
        record__external_ref="TAX-2026-311", properties__name="Harbourline Fresh B.V."
    )
    assert mentioning(harbourline.entity) == {
        ("cus", "DEC-2026-0101"),
        ("pol", "POL-SZ-0042"),
        ("pol", "POL-INV-0007"),
        ("tax", "TAX-2026-311"),
    }
    jan = Mention.objects.get(record__external_ref="POL-INV-0007", properties__name="Jan de Vries")
    assert jan.entity.type == "person"
    assert {("pol", "POL-SZ-0042"), ("pol", "POL-INV-0007"), ("tax", "TAX-2026-311")} <= mentioning(
        jan.entity
    )
    assert sorted(jan.properties["documents"]) == ["123456782", "NXC3K9P41"]
    assert jan.properties["date_of_birth"] == "1980-03-14"

    assert Record.objects.get(external_ref="PORT-TIP-0020").details == {
        "source_reliability": "F",
        "information_credibility": "6",
    }
    assert Record.objects.get(external_ref="POL-INV-0007").details == {
        "case_reference": "ZD-2026-0457",
        "offences": ["drug_trafficking", "money_laundering"],
    }
    # Every subject is linked from its record's shipment, once per record that names it.
    assert Link.objects.filter(type="INVOLVES").count() == sum(SUBJECTS.values())


# --- the consignment reference ---------------------------------------------------------


def test_a_consignment_reference_ties_three_agencies_records_to_one_shipment(db, tmp_path):
    customs, coast_guard, police = (
        agency("cus", "customs"),
        agency("cg", "coast_guard"),
        agency("pol", "police"),
    )
    common = {"occurred_on": "2026-06-01"}
    import_file(
        write(
            tmp_path,
            "declarations.csv",
            [{**common, "external_ref": "D-1", "category": "shipment", "consignment_ref": MRN}],
        ),
        customs,
    )
    import_file(
        write(
            tmp_path,
            "inspections.json",
            [
                {
                    **common,
                    "external_ref": "I-1",
                    "category": "inspection",
                    "inspection_result": "referred_for_seizure",
                    "consignment_ref": "26nl 4f2a 9c81 d7e0 a1",
                    "container_numbers": "CSQU3054383",
                }
            ],
        ),
        coast_guard,
    )
    import_file(
        write(
            tmp_path,
            "seizures.jsonl",
            [
                {
                    **common,
                    "external_ref": "S-1",
                    "category": "seizure",
                    "goods_description": "cocaine",
                    "consignment_ref": MRN,
                    "container_numbers": "CSQU3054383",
                },
                # The same agency reference without a consignment reference: a shipment of its own.
                {**common, "external_ref": "S-2", "category": "seizure", "goods_description": "cash"},
            ],
        ),
        police,
    )
    shipments = Entity.objects.filter(type="shipment")
    assert sorted(shipments.values_list("key", flat=True)) == [f"mrn/{MRN}", "pol:S-2"]
    shipment = shipments.get(key=f"mrn/{MRN}")
    assert sorted(shipment.mentions.values_list("record__owner__code", "record__external_ref", "role")) == [
        ("cg", "I-1", "shipment"),
        ("cus", "D-1", "shipment"),
        ("pol", "S-1", "shipment"),
    ]
    container_links = Link.objects.filter(source=shipment, target__key="CSQU3054383")
    assert sorted(container_links.values_list("record__external_ref", "type")) == [
        ("I-1", "SHIPPED_IN"),
        ("S-1", "SEIZED_IN"),
    ]


# --- several parties of one role --------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_several_subjects_in_one_row_become_several_mentions(db, tmp_path, suffix):
    people = [
        ("Jan de Vries", "NL", "1980-03-14"),
        ("Anna Kowalska", "PL", "1990-03-15"),
        ("Kees Visser", "NL", ""),
    ]
    row = {
        "external_ref": "INV-1",
        "category": "investigation",
        "occurred_on": "2026-06-01",
        "case_reference": "Z-1",
    }
    if suffix == ".csv":
        for number, (name, nationality, born) in enumerate(people, start=1):
            row |= {
                f"subject{number}_name": name,
                f"subject{number}_nationality": nationality,
                f"subject{number}_date_of_birth": born,
            }
    else:
        row["subject"] = [
            {"name": name, "nationality": nationality, "date_of_birth": born}
            for name, nationality, born in people
        ]
    import_file(write(tmp_path, f"investigations{suffix}", [row]), agency("pol", "police"))
    subjects = subjects_of("INV-1")
    assert sorted(mention.properties["name"] for mention in subjects) == sorted(name for name, _, _ in people)
    assert len({mention.entity_id for mention in subjects}) == 3
    assert {mention.entity.type for mention in subjects} == {"person"}
    assert Link.objects.filter(type="INVOLVES", record__external_ref="INV-1").count() == 3


# --- unknown columns ---------------------------------------------------------------------

ROW = {"external_ref": "U-1", "category": "shipment", "occurred_on": "2026-06-01"}


def test_an_unknown_csv_column_is_refused_at_the_header_with_its_name(db, tmp_path):
    path = write(tmp_path, "file.csv", [{**ROW, "remarks": "x"}, {**ROW, "external_ref": "U-2"}])
    errors = refused(path, agency("cus", "customs"))
    assert [(e["row"], e["field"]) for e in errors] == [(1, "remarks")]
    assert "unknown column" in errors[0]["message"]


def test_an_unknown_json_key_is_refused_in_its_row_with_its_name(db, tmp_path):
    rows = [
        ROW,
        {**ROW, "external_ref": "U-2", "remarks": "x"},
        {**ROW, "external_ref": "U-3", "subject": [{"name": "Jan", "nationality": "NL", "nickname": "J"}]},
    ]
    errors = refused(write(tmp_path, "file.json", rows), agency("cus", "customs"))
    assert [(e["row"], e["field"]) for e in errors] == [(2, "remarks"), (3, "subject[0].nickname")]


def test_a_csv_header_naming_a_column_twice_is_refused(db, tmp_path):
    path = tmp_path / "twice.csv"
    path.write_text("external_ref,category,occurred_on,summary,summary\nU-1,shipment,2026-06-01,a,b\n")
    errors = refused(path, agency("cus", "customs"))
    assert [e["row"] for e in errors] == [1]
    assert "summary" in errors[0]["message"]


def test_allowed_unknown_columns_import_with_warnings(db, tmp_path):
    owner = agency("cus", "customs")
    csv_result = import_file(
        write(tmp_path, "file.csv", [{**ROW, "remarks": "x"}]), owner, allow_unknown_columns=True
    )
    assert csv_result.warnings == [{"row": 1, "field": "remarks", "message": "unknown column, ignored"}]
    rows = [{**ROW, "external_ref": "U-2", "remarks": "x"}, {**ROW, "external_ref": "U-3", "remarks": "y"}]
    json_result = import_file(write(tmp_path, "file.jsonl", rows), owner, allow_unknown_columns=True)
    assert json_result.warnings == [{"row": 1, "field": "remarks", "message": "unknown column, ignored"}]
    assert sorted(Record.objects.values_list("external_ref", flat=True)) == ["U-1", "U-2", "U-3"]
    assert all("remarks" not in details for details in Record.objects.values_list("details", flat=True))


def test_the_command_refuses_an_unknown_column_or_lists_it_when_allowed(db, tmp_path):
    agency("cus", "customs")
    path = write(tmp_path, "file.csv", [{**ROW, "remarks": "x"}])
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_records", str(path), agency="cus", stderr=err)
    assert "row 1, field remarks: unknown column" in err.getvalue()
    assert not Record.objects.exists()
    err, out = io.StringIO(), io.StringIO()
    call_command("import_records", str(path), "--allow-unknown-columns", agency="cus", stdout=out, stderr=err)
    assert "1 rows: 1 created" in out.getvalue()
    assert "warning: row 1, field remarks: unknown column, ignored" in err.getvalue()


def finished(api: APIClient, batch_id: str) -> dict:
    deadline = time.monotonic() + 60
    while ImportBatch.objects.get(public_id=batch_id).status in ("pending", "running"):
        assert time.monotonic() < deadline, "the batch did not finish within 60 s"
        time.sleep(0.2)
    return api.get(f"/api/imports/{batch_id}/").json()


@pytest.mark.django_db(transaction=True)
def test_the_api_refuses_an_unknown_column_or_stores_warnings_when_allowed(celery_worker):
    owner = agency("cus", "customs")
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ana", agency=owner, role="analyst"))
    content = b"external_ref,category,occurred_on,remarks\nU-1,shipment,2026-06-01,x\n"

    refused_batch = api.post(
        "/api/imports/", {"file": SimpleUploadedFile("a.csv", content, "text/csv")}, format="multipart"
    )
    body = finished(api, refused_batch.json()["id"])
    assert body["status"] == "failed"
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(1, "remarks")]
    assert body["allow_unknown_columns"] is False

    allowed = api.post(
        "/api/imports/",
        {"file": SimpleUploadedFile("b.csv", content, "text/csv"), "allow_unknown_columns": "true"},
        format="multipart",
    )
    assert allowed.status_code == 202, allowed.content
    body = finished(api, allowed.json()["id"])
    assert body["status"] == "succeeded", body
    assert body["allow_unknown_columns"] is True
    assert body["warnings"] == [{"row": 1, "field": "remarks", "message": "unknown column, ignored"}]
    assert Record.objects.filter(external_ref="U-1").exists()


# --- bad person fields, all or nothing ---------------------------------------------------

PERSON = {
    "name": "Jan de Vries",
    "nationality": "NL",
    "date_of_birth": "1980-03-14",
    "id_numbers": "123456782",
}
BAD_PERSON_FIELDS = [
    ("date_of_birth", "14/03/1980"),
    ("nationality", "Holland-ish"),
    ("id_numbers", "123456783"),
]


@pytest.mark.parametrize(("field", "value"), BAD_PERSON_FIELDS, ids=[field for field, _ in BAD_PERSON_FIELDS])
@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_a_bad_person_field_names_row_and_field_and_nothing_is_written(db, tmp_path, suffix, field, value):
    good = {**ROW, "category": "tip", "source_reliability": "C", "information_credibility": "3"}
    bad_person = {**PERSON, field: value}
    if suffix == ".csv":
        rows = [
            {**good, **{f"subject1_{k}": v for k, v in PERSON.items()}},
            {**good, "external_ref": "U-2", **{f"subject1_{k}": v for k, v in bad_person.items()}},
        ]
        expected = (3, f"subject1_{field}")
    else:
        rows = [
            {**good, "subject": [PERSON]},
            {**good, "external_ref": "U-2", "subject": [PERSON, bad_person]},
        ]
        expected = (2, f"subject[1].{field}")
    errors = refused(write(tmp_path, f"tips{suffix}", rows), agency("port", "port_authority"))
    assert [(e["row"], e["field"]) for e in errors] == [expected]
    assert not Entity.objects.exists() and not Mention.objects.exists()


def test_the_api_refuses_an_option_that_is_not_a_boolean(db):
    owner = agency("cus", "customs")
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ana", agency=owner, role="analyst"))
    upload = SimpleUploadedFile("a.csv", b"external_ref,category,occurred_on\n", "text/csv")
    response = api.post(
        "/api/imports/", {"file": upload, "allow_unknown_columns": "sometimes"}, format="multipart"
    )
    assert response.status_code == 400
    assert "allow_unknown_columns" in response.json()
    assert not ImportBatch.objects.exists()
