"""The targeting scenario (demo/targeting_scenario.py): the same rows and truth for a seed,
violations in the documented share and mix, all in the test window and none given away by
a record, every row valid in the import format."""

from collections import Counter
from datetime import date

import pytest

from demo.targeting_scenario import AGENCIES, TargetingScenario
from intel.import_validation import parse_row

SEED, SHIPMENTS = 2, 1000
CODES = ("tc-cus", "tc-pol", "tc-cg", "tc-tax")


@pytest.fixture(scope="module")
def scenario() -> TargetingScenario:
    return TargetingScenario(SEED, SHIPMENTS)


@pytest.fixture(scope="module")
def rows(scenario) -> dict[str, list[dict]]:
    return {code: list(scenario.rows(code)) for code in CODES}


def test_the_four_agencies_are_not_the_demos():
    assert [spec.code for spec in AGENCIES] == list(CODES)


def test_a_seed_gives_the_same_rows_and_truth_and_another_seed_others(rows, scenario):
    again = TargetingScenario(SEED, SHIPMENTS)
    other = TargetingScenario(SEED + 1, SHIPMENTS)
    for code in CODES:
        assert list(again.rows(code)) == rows[code]
        assert list(other.rows(code)) != rows[code]
    assert again.truth == scenario.truth
    assert other.truth.violations != scenario.truth.violations


def test_violations_are_three_percent_of_the_test_window_and_mostly_network_borne(scenario):
    truth = scenario.truth
    assert len(truth.test_refs) == SHIPMENTS
    kinds = Counter(truth.violations.values())
    assert set(kinds) == {"network", "undervaluation"}
    assert sum(kinds.values()) == 30  # 3 % of 1,000
    assert kinds["network"] == 20  # 65 % of 30, rounded
    assert set(truth.violations) <= set(truth.test_refs)


def test_every_test_ref_is_a_customs_declaration_in_the_test_window_with_no_outcome(rows, scenario):
    first, last = scenario.truth.test_window
    assert (first, last) == (date(2025, 12, 26), date(2026, 2, 23))
    by_ref = {row["external_ref"]: row for row in rows["tc-cus"]}
    test_refs = scenario.truth.test_refs
    for ref in test_refs:
        row = by_ref[ref]
        assert row["category"] == "shipment"
        assert first <= date.fromisoformat(row["occurred_on"]) <= last
    # Customs' inspections and seizures all lie before the test window.
    outcomes = [row for row in rows["tc-cus"] if row["category"] != "shipment"]
    assert outcomes
    assert all(date.fromisoformat(row["occurred_on"]) < first for row in outcomes)
    # No record of any agency speaks of a test declaration's consignment but its own and
    # the tax office's VAT declaration of it (a declaration, not an outcome).
    test_consignments = {by_ref[ref]["consignment_ref"] for ref in test_refs}
    for code in ("tc-cus", "tc-pol", "tc-cg"):
        for row in rows[code]:
            if row.get("consignment_ref") in test_consignments:
                assert code == "tc-cus" and row["category"] == "shipment"
    for row in rows["tc-tax"]:
        if row.get("consignment_ref") in test_consignments:
            assert row["category"] == "shipment"


def test_no_row_gives_the_truth_away(rows, scenario):
    violating = set(scenario.truth.violations)
    test_rows = [row for row in rows["tc-cus"] if row["external_ref"] in set(scenario.truth.test_refs)]
    for row in test_rows:
        text = " ".join(str(value) for value in row.values()).lower()
        for word in ("smuggl", "violation", "undervalu", "front", "seiz", "suspect"):
            assert word not in text, (row["external_ref"], word)
    # A violation's summary is one of those honest declarations have.
    honest_summaries = {row["summary"] for row in test_rows if row["external_ref"] not in violating}
    assert {row["summary"] for row in test_rows if row["external_ref"] in violating} <= honest_summaries
    # No column says more about a violation than about an honest declaration.
    columns = {name for row in test_rows for name in row}
    assert columns <= {name for row in test_rows if row["external_ref"] not in violating for name in row}


def test_undervalued_declarations_state_far_less_than_honest_ones_of_their_goods(rows, scenario):
    by_ref = {row["external_ref"]: row for row in rows["tc-cus"]}
    undervalued = [ref for ref, kind in scenario.truth.violations.items() if kind == "undervaluation"]
    honest_values: dict[str, list[float]] = {}
    for ref in scenario.truth.test_refs:
        if ref not in scenario.truth.violations:
            row = by_ref[ref]
            honest_values.setdefault(row["hs_codes"][0][:6], []).append(float(row["declared_value"]))
    below = 0
    for ref in undervalued:
        row = by_ref[ref]
        values = sorted(honest_values[row["hs_codes"][0][:6]])
        median = values[len(values) // 2]
        assert float(row["declared_value"]) < median
        below += float(row["declared_value"]) < median / 3
    # Many, not all, fall below a third of the median: the rule finds them imperfectly.
    assert 0 < below < len(undervalued)


def test_partners_release_to_the_agreements_that_cover_them_and_customs_to_no_one(rows):
    assert all("releasability" not in row for row in rows["tc-cus"])
    for code in ("tc-pol", "tc-cg", "tc-tax"):
        assert {row["releasability"] for row in rows[code]} == {"covering"}


def test_partners_hold_the_categories_the_brief_names(rows):
    categories = {code: Counter(row["category"] for row in rows[code]) for code in CODES}
    assert set(categories["tc-cus"]) == {"shipment", "inspection", "seizure"}
    assert set(categories["tc-pol"]) == {"investigation", "seizure"}
    assert set(categories["tc-cg"]) == {"inspection", "seizure"}
    assert set(categories["tc-tax"]) == {"shipment", "tip", "investigation"}
    # Police seizures name persons, coast guard seizures vessels and containers.
    police_seizures = [row for row in rows["tc-pol"] if row["category"] == "seizure"]
    assert all(row.get("subject1_nationality") for row in police_seizures)
    coast_guard_seizures = [row for row in rows["tc-cg"] if row["category"] == "seizure"]
    assert all(row.get("vessel_imo") for row in coast_guard_seizures)
    assert any(row.get("container_numbers") for row in coast_guard_seizures)


def test_every_row_is_valid_in_the_import_format(rows):
    for code in CODES:
        refs = [row["external_ref"] for row in rows[code]]
        assert len(refs) == len(set(refs)), code
        for number, row in enumerate(rows[code], start=1):
            plan, errors = parse_row(number, row, code, nested=True)
            assert errors == [], (code, errors)
            assert plan is not None


def test_watchlists_are_the_shapes_an_admin_enters(scenario):
    lists = scenario.watchlists
    assert set(lists) == {"ports", "countries", "hs_prefixes"}
    assert all(len(port) == 5 and port.isupper() for port in lists["ports"])
    assert all(len(country) == 2 and country.isupper() for country in lists["countries"])
    assert all(code.isdigit() and 2 <= len(code) <= 6 for code in lists["hs_prefixes"])


def test_most_watch_listed_declarations_are_compliant(rows, scenario):
    lists = scenario.watchlists
    violating = scenario.truth.violations
    listed = [
        row
        for row in rows["tc-cus"]
        if row["external_ref"] in set(scenario.truth.test_refs)
        and (
            row["port_of_loading"] in lists["ports"]
            or row["port_of_loading"][:2] in lists["countries"]
            or any(code.startswith(tuple(lists["hs_prefixes"])) for code in row["hs_codes"])
        )
    ]
    flagged = sum(row["external_ref"] in violating for row in listed)
    assert len(listed) > 10 * flagged > 0
