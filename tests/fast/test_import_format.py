"""The import format, row by row and without a database: every category's own fields,
parties in any role as companies or persons (several of one role, flat numbered columns
or JSON arrays), identity documents, the consignment reference (MRN or UCR), and unknown
columns. What a whole file writes is in tests/test_import_format.py."""

import pytest

from intel.import_validation import ColumnCheck, parse_row, unknown_columns
from intel.resolution import ResolutionError, identity_document, normalize_consignment_reference

BASE = {"external_ref": "R-1", "occurred_on": "2026-06-01"}
# The fields each category needs, as docs/import.md states them.
MINIMAL = {
    "shipment": {},
    "seizure": {"goods_description": "cocaine"},
    "inspection": {"inspection_result": "clear"},
    "investigation": {"case_reference": "ZD-2026-0457"},
    "tip": {"source_reliability": "B", "information_credibility": "2"},
}


def parsed(category: str = "shipment", *, nested: bool = True, **fields):
    row = {**BASE, "category": category, **MINIMAL[category], **fields}
    return parse_row(7, row, "pol", nested=nested)


def problems(category: str = "shipment", *, nested: bool = True, **fields) -> set[tuple[int, str]]:
    plan, errors = parsed(category, nested=nested, **fields)
    assert plan is None, "a row with problems plans nothing"
    return {(error["row"], error["field"]) for error in errors}


def mentions(plan) -> list[tuple[str, str, str]]:
    return [(resolved.type, resolved.key, role) for resolved, role in plan.mentions]


# --- categories -----------------------------------------------------------------------


@pytest.mark.parametrize("category", sorted(MINIMAL))
def test_every_category_imports_with_its_own_required_fields(category):
    plan, errors = parsed(category)
    assert errors == []
    assert plan.record_fields["category"] == category


@pytest.mark.parametrize(
    ("category", "missing"),
    [
        ("seizure", "goods_description"),
        ("inspection", "inspection_result"),
        ("investigation", "case_reference"),
        ("tip", "source_reliability"),
        ("tip", "information_credibility"),
    ],
)
def test_a_category_without_its_required_field_is_refused_naming_it(category, missing):
    assert problems(category, **{missing: ""}) == {(7, missing)}


@pytest.mark.parametrize(
    ("category", "fields", "field"),
    [
        ("investigation", {"offences": "drug_trafficking;shoplifting"}, "offences"),
        ("investigation", {"case_reference": "Z" * 101}, "case_reference"),
        ("tip", {"source_reliability": "G"}, "source_reliability"),
        ("tip", {"information_credibility": "7"}, "information_credibility"),
        ("tip", {"information_credibility": "B2"}, "information_credibility"),
        ("inspection", {"inspection_result": "fine"}, "inspection_result"),
        # A fact of another category is refused, not silently kept.
        ("shipment", {"case_reference": "ZD-1"}, "case_reference"),
        ("seizure", {"source_reliability": "A"}, "source_reliability"),
        ("tip", {"inspection_result": "clear"}, "inspection_result"),
    ],
)
def test_a_bad_category_field_is_refused_naming_it(category, fields, field):
    assert problems(category, **fields) == {(7, field)}


def test_investigation_and_tip_details_are_kept_normalized():
    plan, _ = parsed("investigation", offences=["Drug_Trafficking", "money_laundering"])
    assert plan.record_fields["details"] == {
        "case_reference": "ZD-2026-0457",
        "offences": ["drug_trafficking", "money_laundering"],
    }
    plan, _ = parsed("tip", source_reliability="f", information_credibility="6")
    assert plan.record_fields["details"] == {"source_reliability": "F", "information_credibility": "6"}


# --- parties: companies and persons, several of one role ----------------------------


def test_several_subjects_in_json_become_several_mentions_linked_from_the_shipment():
    plan, errors = parsed(
        "investigation",
        subject=[
            {"name": "Jan de Vries", "nationality": "NL", "date_of_birth": "1980-03-14"},
            {"name": "Anna Kowalska", "nationality": "pl"},
            {"type": "company", "name": "Harbourline Fresh B.V.", "country": "NL"},
        ],
    )
    assert errors == []
    assert [(kind, role) for kind, _, role in mentions(plan)] == [
        ("shipment", "shipment"),
        ("person", "subject"),
        ("person", "subject"),
        ("company", "subject"),
    ]
    # Persons are keyed in the country of their nationality.
    assert [key.split(":")[0] for _, key, _ in mentions(plan)[1:3]] == ["NL", "PL"]
    assert sorted((source, target, kind) for source, target, kind in plan.links) == [
        (0, 1, "INVOLVES"),
        (0, 2, "INVOLVES"),
        (0, 3, "INVOLVES"),
    ]


def test_numbered_csv_columns_are_several_parties_of_one_role_and_empty_groups_are_skipped():
    plan, errors = parsed(
        "investigation",
        nested=False,
        subject1_name="Jan de Vries",
        subject1_nationality="NL",
        subject2_type="company",
        subject2_name="Nordic Fruit Distribution ApS",
        subject2_country="DK",
        subject3_name="",
        subject3_nationality="",
        importer_name="Acme Trading Ltd",
        importer_country="NL",
        importer2_name="Acme Holdings BV",
        importer2_country="NL",
    )
    assert errors == []
    assert [(kind, role) for kind, _, role in mentions(plan)] == [
        ("shipment", "shipment"),
        ("company", "importer"),
        ("company", "importer"),
        ("person", "subject"),
        ("company", "subject"),
    ]
    assert {kind for _, _, kind in plan.links} == {"IMPORTED_BY", "INVOLVES"}


def test_a_subject_is_a_person_unless_typed_and_other_roles_are_companies_unless_typed():
    plan, errors = parsed(
        subject={"name": "Kees Visser", "nationality": "NL"},
        broker={"type": "person", "name": "Piet Smit", "nationality": "NL"},
        importer={"name": "Acme Trading Ltd", "country": "NL"},
    )
    assert errors == []
    assert [(kind, role) for kind, _, role in mentions(plan)] == [
        ("shipment", "shipment"),
        ("company", "importer"),
        ("person", "broker"),
        ("person", "subject"),
    ]


def test_a_person_states_documents_checked_by_the_nationality_and_lives_where_country_says():
    plan, errors = parsed(
        subject={
            "name": "Jan de Vries",
            "nationality": "NL",
            "date_of_birth": "1980-03-14",
            "id_numbers": ["1234.56.782"],
            "passport_numbers": "nxc3k9p41",
            "country": "BE",
            "phone": "03 555 01 23",
            "address": "Frankrijklei 101",
            "postcode": "2000",
        }
    )
    assert errors == []
    person = next(resolved for resolved, role in plan.mentions if role == "subject")
    assert sorted(person.properties["documents"]) == ["123456782", "NXC3K9P41"]
    assert "123456782" in person.search_text.split()
    # The phone is read in Belgium, where the person lives, and the address is Belgian.
    keys = {resolved.type: resolved.key for resolved, _ in plan.mentions}
    assert keys["phone"] == "+3235550123"
    assert keys["address"].startswith("BE:2000:")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"date_of_birth": "14-03-1980"}, "subject[1].date_of_birth"),
        ({"date_of_birth": "2999-01-01"}, "subject[1].date_of_birth"),
        ({"nationality": "XX"}, "subject[1].nationality"),
        ({"nationality": ""}, "subject[1].nationality"),
        ({"id_numbers": ["123456783"]}, "subject[1].id_numbers"),  # a wrong check digit
        ({"id_numbers": ["12-34"]}, "subject[1].id_numbers"),
        ({"passport_numbers": ["AB-12"]}, "subject[1].passport_numbers"),
        ({"passport_numbers": ["ABCDEFGH"]}, "subject[1].passport_numbers"),
        ({"reg_no": "NL004495445B01"}, "subject[1].reg_no"),  # a company's field
        ({"type": "trust"}, "subject[1].type"),
        ({"name": "", "nationality": "NL"}, "subject[1].name"),
        ({"name": "!!!"}, "subject[1].name"),
        ({"country": "Atlantis"}, "subject[1].country"),
    ],
)
def test_a_bad_person_field_is_refused_naming_row_and_field(fields, field):
    good = {"name": "Anna Kowalska", "nationality": "PL"}
    person = {"name": "Jan de Vries", "nationality": "NL", **fields}
    assert problems(subject=[good, person]) == {(7, field)}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"subject2_date_of_birth": "yesterday"}, "subject2_date_of_birth"),
        ({"subject2_nationality": "Narnia"}, "subject2_nationality"),
        ({"subject2_id_numbers": "123456783"}, "subject2_id_numbers"),
    ],
)
def test_a_bad_person_column_in_csv_is_named_with_its_number(fields, field):
    columns = {"subject2_name": "Jan de Vries", "subject2_nationality": "NL", **fields}
    assert problems(nested=False, **columns) == {(7, field)}


def test_a_company_refuses_person_fields_and_a_party_needs_a_name():
    assert problems(importer_name="Acme BV", importer_country="NL", importer_date_of_birth="1980-01-01") == {
        (7, "importer_date_of_birth")
    }
    assert problems(nested=False, subject3_nationality="NL") == {(7, "subject3_name")}
    assert problems(subject=["Jan"]) == {(7, "subject[0]")}


@pytest.mark.parametrize(
    ("country", "number", "compact"),
    [
        ("BE", "85.07.30-033.28", "85073003328"),
        ("PL", "44051401359", "44051401359"),
        ("DE", "36 574 261 809", "36574261809"),
        # No python-stdnum module for Moroccan identity cards: the shape is checked.
        ("MA", "bk 482913", "BK482913"),
    ],
)
def test_national_identity_numbers_are_checked_where_the_country_has_a_format(country, number, compact):
    assert identity_document("national_id", number, country, "f") == compact


def test_a_national_identity_number_failing_its_country_check_is_refused():
    with pytest.raises(ResolutionError) as info:
        identity_document("national_id", "85073003327", "BE", "subject_id_numbers")
    assert info.value.field == "subject_id_numbers"


# --- the consignment reference --------------------------------------------------------

# MRNs as printed on published customs documents, their check digits computed by the issuing
# administrations' systems, not by this code.
PUBLISHED_MRNS = ["15ITQ1V1T0240456E9", "10NL5663962BE1E825"]


@pytest.mark.parametrize("mrn", PUBLISHED_MRNS)
def test_a_published_mrn_passes_its_check_digit_and_one_changed_character_fails(mrn):
    assert normalize_consignment_reference(mrn.lower()) == ("mrn", mrn)
    assert normalize_consignment_reference(f"{mrn[:9]} {mrn[9:]}") == ("mrn", mrn)
    wrong = mrn[:17] + str((int(mrn[17]) + 1) % 10)
    with pytest.raises(ResolutionError, match="wrong check digit"):
        normalize_consignment_reference(wrong)


@pytest.mark.parametrize(
    "value", ["15ITQ1V1T0240456E", "15ITQ1V1T0240456EX", "15IT-1V1T0240456E9", "NL-123", "7", "1234"]
)
def test_what_is_neither_an_mrn_nor_a_ucr_is_refused(value):
    with pytest.raises(ResolutionError) as info:
        normalize_consignment_reference(value)
    assert info.value.field == "consignment_ref"


def test_a_ucr_is_kept_upper_case_without_spaces():
    assert normalize_consignment_reference("6nl812345678-0003 ") == ("ucr", "6NL812345678-0003")


def test_the_consignment_reference_keys_the_shipment_instead_of_the_agency_reference():
    plan, _ = parsed(consignment_ref="10nl5663962be1e825")
    assert mentions(plan)[0] == ("shipment", "mrn/10NL5663962BE1E825", "shipment")
    assert mentions(parsed()[0])[0] == ("shipment", "pol:R-1", "shipment")
    assert problems(consignment_ref="10NL5663962BE1E824") == {(7, "consignment_ref")}


# --- unknown columns ------------------------------------------------------------------


def test_unknown_columns_are_named_at_any_level_of_a_json_row():
    row = {
        **BASE,
        "remarks": "x",
        "subject7": "x",  # a role with a number but no field
        "importer_shoe_size": "43",
        "subject": [{"name": "A", "nickname": "B"}],
        "carrier": {"name": "C", "fleet": 3},
        "importer100_name": "D",  # numbers go to 99
    }
    assert sorted(unknown_columns(row, nested=True)) == [
        "carrier.fleet",
        "importer100_name",
        "importer_shoe_size",
        "remarks",
        "subject7",
        "subject[0].nickname",
    ]
    # In CSV a role's own name is no column: nothing nests there.
    assert unknown_columns({"subject": "Jan", "subject_name": "Jan"}, nested=False) == ["subject"]


def test_csv_columns_are_checked_once_as_the_header_and_json_keys_row_by_row():
    csv = ColumnCheck(nested=False, allow_unknown=False)
    assert csv.check(2, {"external_ref": "", "note": ""}) == [
        {"row": 1, "field": "note", "message": "unknown column: not in the import format (docs/import.md)"}
    ]
    assert csv.check(3, {"external_ref": "", "note": ""}) == []
    json_rows = ColumnCheck(nested=True, allow_unknown=False)
    assert [e["row"] for e in json_rows.check(4, {"note": 1})] == [4]
    assert [e["row"] for e in json_rows.check(5, {"note": 1})] == [5]


def test_allowed_unknown_columns_are_warnings_listed_once_each():
    check = ColumnCheck(nested=True, allow_unknown=True)
    assert check.check(1, {"note": 1, "a\x00b": 2}) == []
    assert check.check(2, {"note": 1, "extra": 2}) == []
    assert check.warnings == [
        {"row": 1, "field": "note", "message": "unknown column, ignored"},
        {"row": 1, "field": "a\\u0000b", "message": "unknown column, ignored"},
        {"row": 2, "field": "extra", "message": "unknown column, ignored"},
    ]
