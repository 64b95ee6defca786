"""The checks every path shares for what users send, without a request: the purpose
vocabulary (tests/test_purpose.py sends the same values on every path, on the full stack)
and the bounds of a page number and of typed text."""

import pytest
from django.core.exceptions import ValidationError

from core.inputs import page_number, quoted, storable_text
from intel.selectors import BadInput, validated_purpose

# The vocabulary as the issue and the design state it; not read from the code under test.
VOCABULARY = {"risk_assessment", "investigation", "prosecution", "intelligence"}
FORGED = [
    "*",
    "any",
    "all",
    "INVESTIGATION",
    "investigation ",
    " investigation",
    "investigation,prosecution",
    "risk_assessment;*",
    "inv\x00estigation",
    "%",
    "null",
    "\N{LEFT-POINTING MAGNIFYING GLASS}",
    "x" * 5000,
]


@pytest.mark.parametrize("purpose", sorted(VOCABULARY))
def test_each_purpose_of_the_vocabulary_is_taken_as_stated(purpose):
    assert validated_purpose(purpose) == purpose


@pytest.mark.parametrize("unstated", [None, ""])
def test_no_purpose_stated_is_none_not_a_wildcard(unstated):
    assert validated_purpose(unstated) is None


@pytest.mark.parametrize(
    "purpose", [*FORGED, 1, ["investigation"], {"purpose": "investigation"}, b"investigation"]
)
def test_anything_else_is_refused_naming_the_field_and_the_purposes_there_are(purpose):
    with pytest.raises(BadInput) as refused:
        validated_purpose(purpose)
    assert refused.value.field == "purpose"
    message = str(refused.value)
    assert all(allowed in message for allowed in VOCABULARY)
    # The refusal quotes a bounded part of what was sent, never all of it.
    assert len(message) < 300


@pytest.mark.parametrize(
    ("raw", "page"),
    [
        (None, 1),
        ("", 1),
        ("1", 1),
        ("7", 7),
        ("0", 1),
        ("-3", 1),
        ("abc", 1),
        ("1.5", 1),
        ("1e3", 1),
        ("10000", 10_000),
        ("10001", 10_000),
        ("9" * 40, 10_000),
        ("-" + "9" * 40, 1),
    ],
)
def test_a_page_number_is_clipped_to_the_pages_a_list_answers(raw, page, settings):
    settings.PAGINATION_MAX_PAGE = 10_000
    assert page_number(raw) == page


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "text is required"),
        (42, "text is required"),
        (["why"], "text is required"),
        ("", "is required"),
        ("   \n", "is required"),
        ("x" * 11, "at most 10 characters"),
        ("a\x00b", "may not hold a NUL character"),
        ("\x00", "may not hold a NUL character"),
        ("a\ud800", "lone surrogate"),
    ],
)
def test_typed_text_is_refused_naming_its_field(value, message):
    with pytest.raises(ValidationError) as refused:
        storable_text("reason", value, limit=10)
    [(field, [text])] = refused.value.message_dict.items()
    assert field == "reason" and message in text


@pytest.mark.parametrize(
    ("value", "when_empty", "kept"),
    [(" ten chars ", "is required", "ten chars"), ("x" * 10, "is required", "x" * 10), ("  ", None, "")],
)
def test_typed_text_is_kept_stripped(value, when_empty, kept):
    assert storable_text("notes", value, limit=10, when_empty=when_empty) == kept


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NLRTM", "'NLRTM'"),
        (12, "12"),
        ("x" * 60, repr("x" * 60)),
        ("x" * 61, f"{'x' * 60!r}... (61 characters)"),
        ("\x01" * 5000, f"{chr(1) * 60!r}... (5000 characters)"),
    ],
)
def test_a_message_quotes_the_start_of_a_value_and_how_long_it_was(value, expected):
    assert quoted(value) == expected


@pytest.mark.django_db
@pytest.mark.parametrize("digits", [4301, 5000, 60_000])
def test_a_number_too_long_to_convert_is_named_so_in_the_api_and_the_import(tmp_path, digits):
    """Python refuses to convert integers of more than 4,300 digits; the message it gives
    advises raising the interpreter's limit. The sender is told what is wrong with its data."""
    from django.test import Client

    from intel.import_reading import iter_rows

    number = "9" * digits
    answer = Client().post(
        "/api/auth/token/", f'{{"username": {number}, "password": "x"}}', content_type="application/json"
    )
    assert answer.status_code == 400
    assert answer.json() == {"detail": "JSON parse error - a number has more than 4300 digits"}
    row = tmp_path / "row.jsonl"
    row.write_text(f'{{"external_ref": "R-1", "declared_value": {number}}}\n')
    with row.open("rb") as stream:
        [(_, _, problems)] = list(iter_rows(stream, "jsonl"))
    messages = [problem["message"] for problem in problems]
    assert messages == ["malformed JSON: a number has more than 4300 digits"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_the_infinities_are_no_json_in_an_import(tmp_path, constant):
    from intel.import_reading import iter_rows

    row = tmp_path / "row.jsonl"
    row.write_text(f'{{"external_ref": "R-1", "category": "shipment", "summary": {constant}}}\n')
    with row.open("rb") as stream:
        [(_, parsed, problems)] = list(iter_rows(stream, "jsonl"))
    assert parsed is None
    assert [problem["message"] for problem in problems] == [f"malformed JSON: {constant} is not a JSON value"]
