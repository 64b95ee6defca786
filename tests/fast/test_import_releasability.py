"""A row's releasability as the importer reads it (pure: which agreements exist and may be
named is asked when the row is written, tests/test_bulk_release.py): the mode, the
agreement references in CSV's `;` list or JSON's array, and every malformed combination
refused naming its row and field."""

import pytest

from intel.import_validation import parse_row

ROW = {"external_ref": "X-1", "category": "shipment", "occurred_on": "2026-01-02"}


@pytest.mark.parametrize(
    ("cells", "mode", "references"),
    [
        ({"releasability": "Covering"}, "covering", ()),
        ({"releasability": "none"}, "none", ()),
        ({"releasability": "named", "release_to": "AGR-1; AGR-2;AGR-1"}, "named", ("AGR-1", "AGR-2")),
        ({"releasability": "named", "release_to": ["AGR-2", "AGR-1"]}, "named", ("AGR-2", "AGR-1")),
    ],
)
def test_a_stated_releasability_is_read_with_its_agreements(cells, mode, references):
    plan, errors = parse_row(2, {**ROW, **cells}, "cus")
    assert errors == []
    assert (plan.release.mode, plan.release.references) == (mode, references)


@pytest.mark.parametrize("cells", [{}, {"releasability": "", "release_to": ""}, {"releasability": " "}])
def test_a_row_stating_no_releasability_changes_none(cells):
    plan, errors = parse_row(2, {**ROW, **cells}, "cus")
    assert errors == []
    assert plan.release is None


@pytest.mark.parametrize(
    ("cells", "field"),
    [
        ({"releasability": "everyone"}, "releasability"),
        ({"release_to": "AGR-1"}, "releasability"),
        ({"releasability": "named"}, "release_to"),
        ({"releasability": "named", "release_to": " ; "}, "release_to"),
        ({"releasability": "covering", "release_to": "AGR-1"}, "release_to"),
        ({"releasability": "named", "release_to": ";".join(f"AGR-{i}" for i in range(21))}, "release_to"),
    ],
)
def test_a_malformed_releasability_is_refused_naming_row_and_field(cells, field):
    plan, errors = parse_row(7, {**ROW, **cells}, "cus")
    assert plan is None
    assert [(error["row"], error["field"]) for error in errors] == [(7, field)]
