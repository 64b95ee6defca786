"""The resolution scenario's files (demo/resolution_scenario.py): the same for a seed, in the
import format, with the variants real files have, and the truth kept out of the rows."""

import csv
import json
import random
import re
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from normality import ascii_text
from stdnum import get_cc_module

from demo.resolution_scenario import ResolutionScenario, registration_number
from intel.import_validation import unknown_columns

ROOT = Path(__file__).resolve().parents[2]
AGENCIES = ("rq-cus", "rq-cg", "rq-pol", "rq-tax", "rq-port")
SEED, ROWS = 5, 1500


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("scenario")
    ResolutionScenario(SEED, ROWS).write(directory / "csv", file_format="csv")
    ResolutionScenario(SEED, ROWS).write(directory / "jsonl", file_format="jsonl")
    return directory


def csv_rows(directory: Path) -> dict[tuple[str, str], dict]:
    rows = {}
    for code in AGENCIES:
        with (directory / f"{code}.csv").open(newline="", encoding="utf-8") as stream:
            for row in csv.DictReader(stream):
                rows[(code, row["external_ref"])] = {name: value for name, value in row.items() if value}
    return rows


def truth(directory: Path) -> dict[tuple[str, str], dict[str, str]]:
    lines = (directory / "truth.jsonl").read_text().splitlines()
    return {
        (item["agency"], item["external_ref"]): {
            column: named["entity"] for column, named in item["entities"].items()
        }
        for item in map(json.loads, lines)
    }


@pytest.fixture(scope="module")
def rows(written) -> dict[tuple[str, str], dict]:
    return csv_rows(written / "csv")


@pytest.fixture(scope="module")
def mentions(written, rows) -> dict[str, list[dict]]:
    """Per true entity, the row columns of its party as each row states them."""
    found = defaultdict(list)
    for key, entities in truth(written / "csv").items():
        for column, entity in entities.items():
            prefix = column.rsplit("_", 1)[0]
            found[entity].append(
                {name: value for name, value in rows[key].items() if name.startswith(prefix)}
            )
    return found


def test_a_seed_and_a_size_give_the_same_files_and_another_seed_others(written, tmp_path):
    ResolutionScenario(SEED, ROWS).write(tmp_path / "again", file_format="csv")
    ResolutionScenario(SEED + 1, ROWS).write(tmp_path / "other", file_format="csv")
    for name in [f"{code}.csv" for code in AGENCIES] + ["truth.jsonl"]:
        assert (tmp_path / "again" / name).read_bytes() == (written / "csv" / name).read_bytes()
        assert (tmp_path / "other" / name).read_bytes() != (written / "csv" / name).read_bytes()


def jsonl_rows(directory: Path) -> dict[tuple[str, str], dict]:
    rows = {}
    for code in AGENCIES:
        for line in (directory / f"{code}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            rows[(code, row["external_ref"])] = row
    return rows


def flat(value):
    return ";".join(value) if isinstance(value, list) else value


def test_every_agency_writes_rows_and_csv_and_json_lines_hold_the_same(written, rows):
    assert {code for code, _ in rows} == set(AGENCIES)
    assert len(rows) == ROWS
    from_jsonl = {}
    for key, row in jsonl_rows(written / "jsonl").items():
        # JSON names the subjects as an array of party objects, CSV as numbered columns.
        subjects = row.pop("subject", [])
        from_jsonl[key] = {name: flat(value) for name, value in row.items()} | {
            f"subject{number}_{name}": flat(value)
            for number, party in enumerate(subjects, start=1)
            for name, value in party.items()
        }
    assert from_jsonl == rows
    assert truth(written / "jsonl") == truth(written / "csv")


def test_every_column_is_one_the_import_format_knows(written, rows):
    used = {name for row in rows.values() for name in row}
    assert unknown_columns(dict.fromkeys(used, ""), nested=False) == []
    assert {
        "importer_reg_no",
        "exporter_name",
        "broker_phone",
        "vessel_imo",
        "consignee_name",
        "consignment_ref",
        "subject1_name",
        "subject1_type",
        "subject3_name",
        "subject2_date_of_birth",
        "subject1_id_numbers",
        "subject1_passport_numbers",
        "subject1_reg_no",
        "case_reference",
        "offences",
        "source_reliability",
        "information_credibility",
    } <= used
    assert not [
        key for key, row in jsonl_rows(written / "jsonl").items() if unknown_columns(row, nested=True)
    ]


def test_the_truth_is_kept_out_of_the_rows(written, rows):
    entities = truth(written / "csv")
    assert set(entities) == set(rows)
    ids = {entity for columns in entities.values() for entity in columns.values()}
    text = "\n".join(value for row in rows.values() for value in row.values())
    assert not [entity for entity in ids if entity in text]
    # Each column the truth names is one the row states; "shipment" is the row's own.
    assert all(
        column in rows[key] for key, columns in entities.items() for column in columns if column != "shipment"
    )
    assert all("shipment" in columns for columns in entities.values())


def test_the_truth_names_each_columns_entity_type_and_each_partys_name(written, rows):
    expected = {"name": "company", "address": "address", "phone": "phone", "email": "email", "imo": "vessel"}
    for line in (written / "csv" / "truth.jsonl").read_text().splitlines():
        item = json.loads(line)
        row = rows[(item["agency"], item["external_ref"])]
        for column, named in item["entities"].items():
            if column == "shipment":
                assert named["type"] == "shipment"
                continue
            prefix, field_name = column.rsplit("_", 1)
            kind = expected[field_name]
            if prefix.startswith("subject") and field_name == "name":
                kind = row.get(f"{prefix}_type", "person")  # a subject is a person unless typed
            assert named["type"] == kind, (column, named)
            if field_name == "name":
                assert named["name"] == row[column]  # what tells a role's parties apart


def test_the_population_is_sized_as_documented_for_the_rows(written):
    # For 1,500 rows: max(40, 1500 // 8) = 187 domestic companies, max(30, 1500 // 12) = 125
    # foreign suppliers, max(6, 1500 // 300) = 6 brokers, max(5, 1500 // 800) = 5 carriers,
    # max(15, 1500 // 150) = 15 vessels.
    # max(30, 1500 // 25) = 60 persons and max(10, 1500 // 15) = 100 consignments.
    sizes = {
        "domestic": 187,
        "foreign": 125,
        "broker": 6,
        "carrier": 5,
        "vessel": 15,
        "person": 60,
        "consignment": 100,
    }
    ids = {entity for columns in truth(written / "csv").values() for entity in columns.values()}
    for entity in {entity for entity in ids if not entity.startswith(("phone-+", "shipment-"))}:
        kind, number = re.fullmatch(r"(?:address-|email-)?(\w+)-(\d+)", entity).groups()
        assert int(number) < sizes[kind], entity
    companies = {entity for entity in ids if re.fullmatch(r"(domestic|foreign|broker|carrier)-\d+", entity)}
    assert 100 < len(companies) <= 187 + 125 + 6 + 5


def test_a_planted_twin_shares_name_legal_form_and_country_but_nothing_else(mentions):
    # Company 1 is the twin of company 0 (one in 25); both are busy, so both are in the files.
    elder, twin = mentions["domestic-0"], mentions["domestic-1"]

    def stated(party_rows: list[dict], field: str) -> set[str]:
        return {value for row in party_rows for name, value in row.items() if name.endswith(f"_{field}")}

    assert stated(elder, "name") & stated(twin, "name")
    assert len(stated(elder, "country") | stated(twin, "country")) == 1

    def numbers(party_rows: list[dict]) -> set[str]:
        return {re.sub(r"\D", "", value) for value in stated(party_rows, "reg_no")}

    assert numbers(elder) and numbers(twin) and not numbers(elder) & numbers(twin)
    # Each is sometimes named without its number, which alone cannot tell them apart.
    assert any(not any(name.endswith("_reg_no") for name in row) for row in elder)
    assert any(not any(name.endswith("_reg_no") for name in row) for row in twin)
    assert stated(elder, "address") and stated(twin, "address")
    assert not {a.lower() for a in stated(elder, "address")} & {a.lower() for a in stated(twin, "address")}


def test_a_company_may_be_registered_at_another_companys_address(written):
    # Company 2 (one in 17) shares the address of company 1.
    entities = truth(written / "csv").values()
    addresses = {
        columns[column.replace("_name", "_address")]
        for columns in entities
        for column, entity in columns.items()
        if entity == "domestic-2" and column.replace("_name", "_address") in columns
    }
    assert addresses == {"address-domestic-1"}


def test_the_variants_of_real_files_are_there(rows, mentions):
    values = [(name, value) for row in rows.values() for name, value in row.items()]

    def some(column_suffix: str, pattern: str) -> bool:
        return any(name.endswith(column_suffix) and re.search(pattern, value) for name, value in values)

    for legal_form in (
        "GmbH",
        "Gesellschaft mit beschränkter Haftung",
        "Gesellschaft mit beschraenkter Haftung",
        "B.V.",
        "besloten vennootschap",
        "SARL",
        "S.L.",
        "S.r.l.",
        "sp. z o.o.",
        "Ltd",
        "Limited",
    ):
        assert some("_name", re.escape(legal_form) + "$"), legal_form
    assert some("_name", r"^[^a-z]+$") and some("_name", r"^[^A-Z]+$")  # capitals, lower case
    assert some("_phone", r"^\+\d+$") and some("_phone", r"^\+\d+ ") and some("_phone", r"^0[1-9]")
    assert some("_address", r"(St|Rd|str)\.") and some("_address", r"(Street|Road|straat)\b")
    assert some("vessel_imo", r"^IMO ?\d{7}$") and some("vessel_imo", r"^\d{7}$")
    assert some("_reg_no", r"^[A-Z]{2}\d") and some("_reg_no", r"^\d")
    # A registered company is named with its number in some rows and without it in others.
    assert any(
        any(name.endswith("_reg_no") for name in row) != any(name.endswith("_reg_no") for name in other)
        for entity, party_rows in mentions.items()
        if entity.startswith("domestic-")
        for row, other in pairwise(party_rows)
    )


@pytest.mark.parametrize("country", ["NL", "BE", "DE", "FR", "GB", "ES", "IT", "PL", "DK"])
def test_registration_numbers_are_the_countrys_vat_numbers_with_its_prefix(country):
    module = get_cc_module(country.lower(), "vat")
    numbers = [registration_number(random.Random(index), country) for index in range(50)]
    assert all(number.startswith(country) and module.is_valid(number) for number in numbers)
    assert len(set(numbers)) == 50


def subjects_of(row: dict) -> dict[int, dict]:
    found: dict[int, dict] = defaultdict(dict)
    for name, value in row.items():
        if match := re.fullmatch(r"subject(\d)_(\w+)", name):
            found[int(match.group(1))][match.group(2)] = value
    return dict(found)


@pytest.fixture(scope="module")
def persons(written, rows) -> dict[str, list[dict]]:
    """Per true person, the subject columns of each row naming them."""
    found = defaultdict(list)
    for key, entities in truth(written / "csv").items():
        for column, entity in entities.items():
            if entity.startswith("person-"):
                found[entity].append(subjects_of(rows[key])[int(column[len("subject")])])
    return found


def test_investigations_and_tips_come_from_police_tax_and_port_with_their_fields(rows):
    kinds = defaultdict(set)
    for (code, _), row in rows.items():
        kinds[row["category"]].add(code)
        if row["category"] == "investigation":
            assert row["case_reference"] and set(row["offences"].split(";")) <= {
                "drug_trafficking",
                "tobacco_smuggling",
                "excise_fraud",
                "customs_fraud",
                "vat_fraud",
                "money_laundering",
            }
        if row["category"] == "tip":
            assert row["source_reliability"] in "ABCDEF" and row["information_credibility"] in "123456"
        if row["category"] in ("investigation", "tip"):
            assert "subject1_name" in row
    assert kinds["investigation"] == {"rq-pol", "rq-tax"}
    assert kinds["tip"] == {"rq-port"}


def test_a_row_names_several_subjects_numbered_from_one_each_in_the_truth(written, rows):
    entities = truth(written / "csv")
    counts = set()
    for key, row in rows.items():
        numbers = sorted(subjects_of(row))
        assert numbers == list(range(1, len(numbers) + 1))
        counts.add(len(numbers))
        named = [entities[key][f"subject{number}_name"] for number in numbers]
        assert len(set(named)) == len(named)  # distinct parties, each with its own truth
    assert {1, 2, 3} <= counts
    # Persons and companies, side by side in one row.
    assert any(
        {subject.get("type", "person") for subject in subjects_of(row).values()} == {"person", "company"}
        for row in rows.values()
    )


def test_persons_are_named_in_the_variants_real_files_have(persons):
    names = [subject["name"] for stated in persons.values() for subject in stated]
    assert any(re.fullmatch(r"[^,]+, [^,]+", name) for name in names)  # "Surname, Given"
    assert any(re.fullmatch(r"[A-ZÀ-Þ ]{3,}, .*[a-z].*", name) for name in names)  # "SURNAME, Given"
    assert any(name.isupper() for name in names) and any(name.islower() for name in names)
    # One person written with accents and without them, or with German "oe"/"ue".
    assert any(
        len({subject["name"] for subject in stated}) > 1
        and any(not subject["name"].isascii() for subject in stated)
        and any(subject["name"].isascii() for subject in stated)
        for stated in persons.values()
    )
    # German umlauts written out ("Müller", "Mueller") for one person.
    assert any(
        any(re.search("[äöüß]", s["name"], re.IGNORECASE) for s in stated)
        and any(re.search("(ae|oe|ue)", s["name"], re.IGNORECASE) for s in stated)
        for stated in persons.values()
    )

    def tokens(name: str) -> frozenset[str]:
        return frozenset(ascii_text(name).lower().replace(",", " ").split())

    # Transliterations of one Moroccan name: the words differ beyond case, accents and order.
    assert any(
        len({tokens(s["name"]) for s in stated}) > 1
        for stated in persons.values()
        if stated[0]["nationality"] == "MA"
    )


def test_a_persons_date_of_birth_and_documents_are_sometimes_stated_and_always_the_same(persons):
    def some(field_name: str) -> tuple[bool, bool]:
        return (
            any(field_name in subject for stated in persons.values() for subject in stated),
            any(field_name not in subject for stated in persons.values() for subject in stated),
        )

    for field_name in ("date_of_birth", "id_numbers", "passport_numbers"):
        assert some(field_name) == (True, True), field_name
    for entity, stated in persons.items():
        for field_name in ("nationality", "date_of_birth", "id_numbers"):
            assert len({subject[field_name] for subject in stated if field_name in subject}) <= 1, entity
        assert (
            len({subject["passport_numbers"].upper() for subject in stated if "passport_numbers" in subject})
            <= 1
        )


@pytest.mark.parametrize(
    ("nationality", "module"), [("NL", "bsn"), ("PL", "pesel"), ("ES", "dni"), ("TR", "tckimlik")]
)
def test_national_id_numbers_are_valid_where_python_stdnum_checks_them(persons, nationality, module):
    checker = get_cc_module(nationality.lower(), module)
    numbers = {
        subject["id_numbers"]
        for stated in persons.values()
        for subject in stated
        if subject["nationality"] == nationality and "id_numbers" in subject
    }
    assert numbers and all(checker.is_valid(number) for number in numbers)


def test_a_planted_namesake_shares_name_and_nationality_but_not_birth_or_documents(persons):
    # Person 1 is the namesake of person 0 (one in 20); both are busy, so both are named.
    elder, namesake = persons["person-0"], persons["person-1"]
    assert {s["nationality"] for s in elder} == {s["nationality"] for s in namesake}
    assert {s["name"].lower() for s in elder} & {s["name"].lower() for s in namesake}
    births = [{s["date_of_birth"] for s in stated if "date_of_birth" in s} for stated in (elder, namesake)]
    assert all(births) and not births[0] & births[1]


def mrn_check_digit(first17: str) -> str:
    """The MRN's check digit as the EU specifies it (ISO 6346's algorithm), written out."""
    values = {}
    value = 10
    for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if value % 11 == 0:
            value += 1
        values[letter] = value
        value += 1
    total = sum(
        (int(ch) if ch.isdigit() else values[ch]) * 2**position for position, ch in enumerate(first17)
    )
    return str(total % 11 % 10)


def test_mrn_check_digit_by_hand():
    # The example of docs/import.md: 26NL4F2A9C81D7E0A and its check digit 1.
    assert mrn_check_digit("26NL4F2A9C81D7E0A") == "1"


def test_some_consignments_are_recorded_by_three_agencies_under_one_reference(written, rows):
    by_consignment = defaultdict(list)
    for key, entities in truth(written / "csv").items():
        if entities["shipment"].startswith("consignment-"):
            by_consignment[entities["shipment"]].append(rows[key])
    references = set()
    for stated in by_consignment.values():
        written_as = {
            re.sub(r"\s", "", row["consignment_ref"]).upper() for row in stated if "consignment_ref" in row
        }
        assert len(written_as) == 1  # one reference, however it is spelled
        references |= written_as
    mrns = [ref for ref in references if re.fullmatch(r"\d\d[A-Z]{2}[A-Z0-9]{13}\d", ref)]
    assert mrns and all(mrn_check_digit(ref[:17]) == ref[17] for ref in mrns)
    assert any(re.fullmatch(r"\d[A-Z]{2}[A-Z0-9-]+", ref) and ref not in mrns for ref in references)  # UCRs
    # A declaration, an inspection and a seizure of three agencies about one consignment.
    assert any(
        {"shipment", "inspection", "seizure"} <= {row["category"] for row in stated}
        and len({row["external_ref"].split("-")[0] for row in stated}) >= 3
        for stated in by_consignment.values()
    )
    spellings = [
        row["consignment_ref"]
        for stated in by_consignment.values()
        for row in stated
        if "consignment_ref" in row
    ]
    assert any(" " in ref for ref in spellings) and any(ref != ref.upper() for ref in spellings)
    # Now and then a record about a consignment leaves its reference out; a declaration never.
    assert any("consignment_ref" not in row for stated in by_consignment.values() for row in stated)
    assert all(
        "consignment_ref" in row
        for stated in by_consignment.values()
        for row in stated
        if row["category"] == "shipment" and row["external_ref"].startswith("CUS-")
    )
