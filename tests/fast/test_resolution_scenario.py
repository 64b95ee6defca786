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


def test_every_agency_writes_rows_and_csv_and_json_lines_hold_the_same(written, rows):
    assert {code for code, _ in rows} == set(AGENCIES)
    assert len(rows) == ROWS
    from_jsonl = {}
    for code in AGENCIES:
        for line in (written / "jsonl" / f"{code}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            from_jsonl[(code, row["external_ref"])] = {
                name: ";".join(value) if isinstance(value, list) else value for name, value in row.items()
            }
    assert from_jsonl == rows
    assert truth(written / "jsonl") == truth(written / "csv")


def test_every_column_is_one_the_import_format_knows(rows):
    used = {name for row in rows.values() for name in row}
    assert unknown_columns(dict.fromkeys(used, ""), nested=False) == []
    assert {"importer_reg_no", "exporter_name", "broker_phone", "vessel_imo", "consignee_name"} <= used


def test_the_truth_is_kept_out_of_the_rows(written, rows):
    entities = truth(written / "csv")
    assert set(entities) == set(rows)
    ids = {entity for columns in entities.values() for entity in columns.values()}
    text = "\n".join(value for row in rows.values() for value in row.values())
    assert not [entity for entity in ids if entity in text]
    # Each column the truth names is one the row states.
    assert all(column in rows[key] for key, columns in entities.items() for column in columns)


def test_the_truth_names_each_columns_entity_type(written):
    expected = {"name": "company", "address": "address", "phone": "phone", "email": "email", "imo": "vessel"}
    for line in (written / "csv" / "truth.jsonl").read_text().splitlines():
        for column, named in json.loads(line)["entities"].items():
            assert named["type"] == expected[column.rsplit("_", 1)[1]], (column, named)


def test_the_population_is_sized_as_documented_for_the_rows(written):
    # For 1,500 rows: max(40, 1500 // 8) = 187 domestic companies, max(30, 1500 // 12) = 125
    # foreign suppliers, max(6, 1500 // 300) = 6 brokers, max(5, 1500 // 800) = 5 carriers,
    # max(15, 1500 // 150) = 15 vessels.
    sizes = {"domestic": 187, "foreign": 125, "broker": 6, "carrier": 5, "vessel": 15}
    ids = {entity for columns in truth(written / "csv").values() for entity in columns.values()}
    for entity in ids - {entity for entity in ids if entity.startswith("phone-+")}:
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
