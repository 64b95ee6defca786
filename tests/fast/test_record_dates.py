"""A record's date and a person's date of birth within plausible bounds, wherever they are
written: a year typed wrong (0026, 2062) parsed as a date and sorted the record first or last
in every list, export and analysis window. The bounds, as docs/import.md states them: no
earlier than 1900-01-01; a record's date no more than 31 days ahead of today (declarations
are lodged before their goods arrive), a date of birth not after today."""

import json
from datetime import date, timedelta

import pytest

from intel.import_validation import parse_row
from intel.import_writing import import_file
from intel.models import Record
from tests.sharing_helpers import staff

TODAY = date.today()
ROW = {"external_ref": "R-1", "category": "shipment"}


def problems_of(row: dict) -> list[tuple[str, str]]:
    plan, errors = parse_row(3, {**ROW, **row}, "cus", nested=True)
    assert (plan is None) == bool(errors)
    return [(error["field"], error["message"]) for error in errors]


@pytest.mark.parametrize(
    "day",
    ["1900-01-01", "1987-06-30", TODAY.isoformat(), (TODAY + timedelta(days=31)).isoformat()],
)
def test_a_record_date_within_the_bounds_is_taken(day):
    assert problems_of({"occurred_on": day}) == []


@pytest.mark.parametrize(
    ("day", "says"),
    [
        ("0001-01-01", "before 1900-01-01"),
        ("0026-03-14", "before 1900-01-01"),
        ("1899-12-31", "before 1900-01-01"),
        ((TODAY + timedelta(days=32)).isoformat(), "more than 31 days ahead of today"),
        ("2062-03-14", "more than 31 days ahead of today"),
        ("9999-12-31", "more than 31 days ahead of today"),
    ],
)
def test_a_record_date_out_of_bounds_is_refused_naming_the_field(day, says):
    [(field, message)] = problems_of({"occurred_on": day})
    assert field == "occurred_on"
    assert day in message and says in message


@pytest.mark.parametrize(
    ("born", "refused"),
    [
        ("1900-01-01", False),
        (TODAY.isoformat(), False),
        ("1899-12-31", True),
        ("0001-01-01", True),
        ((TODAY + timedelta(days=1)).isoformat(), True),
    ],
)
def test_a_date_of_birth_is_bounded_too_in_json_and_in_csv(born, refused):
    person = {"name": "Jan de Vries", "nationality": "NL", "date_of_birth": born}
    in_json = problems_of({"occurred_on": "2026-01-05", "subject": [person]})
    in_csv = problems_of({"occurred_on": "2026-01-05", **{f"subject_{k}": v for k, v in person.items()}})
    assert [field for field, _ in in_json] == (["subject[0].date_of_birth"] if refused else [])
    assert [field for field, _ in in_csv] == (["subject_date_of_birth"] if refused else [])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "day", ["0026-03-14", "1899-12-31", "2062-03-14", "20260105", "2026-W01-1", 20260105]
)
def test_changing_a_record_to_a_date_out_of_bounds_is_a_400_and_changes_nothing(tmp_path, day):
    cus = staff("cus")
    upload = tmp_path / "one.jsonl"
    upload.write_text(json.dumps({**ROW, "occurred_on": "2026-01-05", "summary": "as imported"}) + "\n")
    import_file(upload, cus.agency)
    record = Record.objects.get(owner=cus.agency)
    client = cus.client(purpose="risk_assessment")
    url = f"/api/records/{record.public_id}/"

    refused = client.patch(url, {"occurred_on": day, "summary": "x"}, format="json")

    assert refused.status_code == 400, refused.content[:300]
    assert list(refused.json()) == ["occurred_on"]
    record.refresh_from_db()
    assert (record.occurred_on, record.summary) == (date(2026, 1, 5), "as imported")
    taken = client.patch(url, {"occurred_on": "1987-06-30"}, format="json")
    assert taken.status_code == 200, taken.content[:300]
    assert taken.json()["occurred_on"] == "1987-06-30"


@pytest.mark.parametrize("day", ["20260105", "2026-1-5", "2026-01-5", " 2026-01-05x", "2026-W02-1"])
def test_a_date_in_another_form_than_yyyy_mm_dd_is_refused(day):
    [(field, message)] = problems_of({"occurred_on": day})
    assert field == "occurred_on" and "YYYY-MM-DD" in message
    person = {"name": "Jan de Vries", "nationality": "NL", "date_of_birth": day}
    [(field, message)] = problems_of({"occurred_on": "2026-01-05", "subject": [person]})
    assert field == "subject[0].date_of_birth" and "YYYY-MM-DD" in message


def test_a_date_given_as_a_json_number_is_refused():
    person = {"name": "Jan de Vries", "nationality": "NL", "date_of_birth": 19800314}
    [(field, _)] = problems_of({"occurred_on": "2026-01-05", "subject": [person]})
    assert field == "subject[0].date_of_birth"
