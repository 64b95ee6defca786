"""Imports within limits: every reader (CSV, JSON Lines, JSON array) refuses a file past
the limits of nesting depth, row size, field size, row count and file size, naming the row
(and field) and the setting, and nothing is written. Small files, on the embedded default;
hostile files under a memory ceiling and batches on a worker are in tests/test_import_batches.py."""

import gzip
import io
import json
import random
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from intel.import_reading import ImportFailed, ImportLimits, iter_rows
from intel.import_writing import import_file
from intel.models import Record

GOOD = {"external_ref": "G-1", "category": "shipment", "occurred_on": "2026-01-02"}


def good(index: int, **extra) -> dict:
    return {**GOOD, "external_ref": f"G-{index}", **extra}


def encode(file_format: str, rows: list[dict]) -> bytes:
    """A file of `rows` in a format, written here without the importer's code."""
    if file_format == "csv":
        columns = list(dict.fromkeys(name for row in rows for name in row))
        lines = [",".join(columns)]
        for row in rows:
            lines.append(",".join('"' + str(row.get(c, "")).replace('"', '""') + '"' for c in columns))
        return ("\n".join(lines) + "\n").encode()
    if file_format == "jsonl":
        return b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    return json.dumps(rows).encode()


SUFFIX = {"csv": ".csv", "jsonl": ".jsonl", "json": ".json"}
# In every format the first data row is named 2 in CSV (the header is row 1) and 1 in JSON.
FIRST_ROW = {"csv": 2, "jsonl": 1, "json": 1}
FORMATS = ["csv", "jsonl", "json"]


def refused(path: Path, agency) -> list[dict]:
    with pytest.raises(ImportFailed) as failure:
        import_file(path, agency)
    assert not Record.objects.exists()
    return failure.value.errors


# --- every reader bounds every limit, naming the row (and field) -------------------


@pytest.fixture
def small_limits(settings):
    settings.IMPORT_MAX_ROWS = 5
    settings.IMPORT_MAX_ROW_BYTES = 4000
    settings.IMPORT_MAX_FIELD_BYTES = 1000
    settings.IMPORT_MAX_DEPTH = 3
    settings.IMPORT_MAX_FILE_BYTES = 50_000
    return settings


@pytest.mark.parametrize("file_format", FORMATS)
def test_rows_past_the_row_limit_are_refused_at_the_first_row_beyond(
    customs, tmp_path, small_limits, file_format
):
    path = tmp_path / f"rows{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, [good(i) for i in range(8)]))
    errors = refused(path, customs)
    sixth = FIRST_ROW[file_format] + 5
    assert errors == [
        {"row": sixth, "field": None, "message": "the file has more than 5 rows (IMPORT_MAX_ROWS)"}
    ]
    path.write_bytes(encode(file_format, [good(i) for i in range(5)]))
    assert import_file(path, customs).created == 5, "exactly at the limit is allowed"


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_row_past_the_row_size_is_refused_by_its_number(customs, tmp_path, small_limits, file_format):
    rows = [
        good(1),
        good(
            2,
            summary="s" * 900,
            goods_description="d" * 900,
            findings="f" * 900,
            unit="u" * 900,
            quantity="q" * 900,
        ),
        good(3),
    ]
    path = tmp_path / f"wide{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, rows))
    errors = refused(path, customs)
    assert errors[-1] == {
        "row": FIRST_ROW[file_format] + 1,
        "field": None,
        "message": "the row is larger than 4000 bytes (IMPORT_MAX_ROW_BYTES)",
    }


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_field_past_the_field_size_is_refused_by_row_and_field(
    customs, tmp_path, small_limits, file_format
):
    rows = [good(1), good(2, summary="s" * 1001), good(3, findings="é" * 501), good(4, summary="s" * 1000)]
    path = tmp_path / f"field{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, rows))
    errors = refused(path, customs)
    first = FIRST_ROW[file_format]
    message = "is larger than 1000 bytes (IMPORT_MAX_FIELD_BYTES)"
    # 501 two-byte characters are 1002 bytes: the limit is in bytes, not characters.
    assert errors == [
        {"row": first + 1, "field": "summary", "message": message},
        {"row": first + 2, "field": "findings", "message": message},
    ]


def nested(depth: int) -> object:
    value: object = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
@pytest.mark.parametrize("depth", [3, 4, 500])
def test_values_nested_past_the_depth_are_refused_by_row(customs, tmp_path, small_limits, file_format, depth):
    # The row object is level 1: a value nested `depth` deep brings the row to depth + 1 > 3.
    rows = [good(1), good(2, summary=nested(depth)), good(3)]
    path = tmp_path / f"deep{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, rows))
    assert refused(path, customs)[-1] == {
        "row": 2,
        "field": None,
        "message": "values are nested deeper than 3 levels (IMPORT_MAX_DEPTH)",
    }


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_values_nested_up_to_the_depth_are_read(customs, tmp_path, small_limits, file_format):
    path = tmp_path / f"deep{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, [good(1), good(2, summary=nested(2))]))
    assert import_file(path, customs).created == 2


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_brackets_inside_strings_are_not_nesting(customs, tmp_path, small_limits, file_format):
    rows = [good(1, summary='[[[[{{{{ "quoted" \\ ]]]] [' * 10), good(2, summary='\\"[[[[[[')]
    path = tmp_path / f"strings{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, rows))
    assert import_file(path, customs).created == 2
    assert Record.objects.get(external_ref="G-2").summary == '\\"[[[[[['


@pytest.mark.parametrize("seed", range(4))
def test_the_json_array_reader_splits_rows_exactly_across_read_chunks(seed):
    """Strings with quotes, escapes, brackets and commas fall across the reader's 64 KiB
    chunks; the rows read must be exactly the rows written (json.dumps is the oracle)."""
    rng = random.Random(seed)
    alphabet = ['"', "\\", "[", "]", "{", "}", ",", ":", " ", "é", "\n", "a", "b", "\u2028"]
    rows = [
        {
            "external_ref": f"R-{i}",
            "summary": "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 200))),
            "hs_codes": [rng.choice(alphabet) * rng.randrange(1, 5) for _ in range(rng.randrange(0, 3))],
        }
        for i in range(3000)
    ]
    data = json.dumps(rows, ensure_ascii=bool(seed % 2), indent=seed if seed > 1 else None).encode()
    assert len(data) > 4 * 64 * 1024
    read = list(iter_rows(io.BytesIO(data), "json", ImportLimits.from_settings()))
    assert [row for _, row, _ in read] == rows
    assert [number for number, _, _ in read] == list(range(1, 3001))


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_file_past_the_size_limit_is_refused_before_it_is_read(
    customs, tmp_path, small_limits, file_format
):
    rows = [good(i, summary="s" * 900) for i in range(5)]
    data = encode(file_format, rows)
    small_limits.IMPORT_MAX_FILE_BYTES = len(data) - 1
    path = tmp_path / f"big{SUFFIX[file_format]}"
    path.write_bytes(data)
    assert refused(path, customs) == [
        {
            "row": None,
            "field": "file",
            "message": f"the file is {len(data)} bytes, more than the limit of {len(data) - 1} bytes "
            "(IMPORT_MAX_FILE_BYTES)",
        }
    ]
    small_limits.IMPORT_MAX_FILE_BYTES = len(data)
    assert import_file(path, customs).created == 5


@pytest.mark.parametrize(
    ("name", "content", "row", "message"),
    [
        ("blank.csv", b"external_ref\n" + b"\n" * 10, 7, "more than 5 rows"),
        ("blank.jsonl", b"\n" * 10, 6, "more than 5 rows"),
        ("binary.csv", gzip.compress(random.Random(1).randbytes(20_000)), 1, "not UTF-8 text"),
        ("object.json", b'{"external_ref": "A"}', 1, "must be a JSON array of objects"),
        ("bigint.json", b'[{"external_ref": ' + b"9" * 5000 + b"}]", 1, "malformed JSON"),
        ("bigint.jsonl", b'{"external_ref": ' + b"9" * 5000 + b"}\n", 1, "malformed JSON"),
        ("unclosed.json", b'[{"external_ref": "A"}, {"ext', 2, "ends inside the array"),
    ],
)
def test_hostile_shapes_fail_cleanly_by_row(customs, tmp_path, small_limits, name, content, row, message):
    small_limits.IMPORT_MAX_ROW_BYTES = 10_000
    path = tmp_path / name
    path.write_bytes(content)
    errors = refused(path, customs)
    assert errors[-1]["row"] == row and message in errors[-1]["message"], errors


def test_the_command_obeys_the_limits(customs, tmp_path, small_limits):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(encode("jsonl", [good(i) for i in range(6)]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_records", str(path), agency="cus", stderr=err)
    assert "row 6: the file has more than 5 rows (IMPORT_MAX_ROWS)" in err.getvalue()
    deep = tmp_path / "deep.json"
    deep.write_bytes(b"[" * 40_000)
    with pytest.raises(CommandError):
        call_command("import_records", str(deep), agency="cus", stderr=err)
    assert "row 1: values are nested deeper than 3 levels (IMPORT_MAX_DEPTH)" in err.getvalue()
    assert not Record.objects.exists()
