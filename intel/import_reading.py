"""Reading import files: CSV, JSON Lines or a JSON array, streamed row by row within limits.

Its own module because reading is where a hostile file is met. Every reader reads through
one InputLimits, which holds the limits (file size, row count, row size, field size,
nesting depth: settings IMPORT_MAX_*) and refuses past them before the bytes become Python
objects, so no file, however it is made, costs more memory than its largest allowed row;
and every row a reader yields passes the same checks of field sizes and of characters the
database cannot store. What a row means is `intel.import_validation`'s; where it goes,
`intel.import_writing`'s.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, NoReturn

from django.conf import settings
from django.db import connection

from core.inputs import json_problem, quoted


class ImportFailed(Exception):
    """The batch was rolled back; `errors` holds every problem found, row by row."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass(frozen=True)
class ImportLimits:
    max_file_bytes: int
    max_rows: int
    max_row_bytes: int
    max_field_bytes: int
    max_depth: int
    # What a refusal for too many rows says of its limit: the setting, and why where needed.
    rows_limit_named: str = "IMPORT_MAX_ROWS"

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            max_file_bytes=settings.IMPORT_MAX_FILE_BYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
            max_row_bytes=settings.IMPORT_MAX_ROW_BYTES,
            max_field_bytes=settings.IMPORT_MAX_FIELD_BYTES,
            max_depth=settings.IMPORT_MAX_DEPTH,
        )

    @classmethod
    def of_uploads(cls) -> ImportLimits:
        """The limits of an upload, imported while the server answers other requests: on the
        embedded database the import holds its only write lock for the whole file, and
        every audited read waits for it, so the file has at most IMPORT_EMBEDDED_MAX_ROWS."""
        limits = cls.from_settings()
        if connection.vendor != "sqlite" or limits.max_rows <= settings.IMPORT_EMBEDDED_MAX_ROWS:
            return limits
        return replace(
            limits,
            max_rows=settings.IMPORT_EMBEDDED_MAX_ROWS,
            rows_limit_named="IMPORT_EMBEDDED_MAX_ROWS: on the embedded database the server's other "
            "requests wait for an upload's import; split the file, or run the full stack",
        )


class Refused(Exception):
    """A limit was passed or the file cannot be read on: reading stops at `row`."""

    def __init__(self, row: int, message: str):
        self.error = {"row": row, "field": None, "message": message}
        super().__init__(message)


def detect_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    formats = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl"}
    if suffix not in formats:
        raise ImportFailed(
            [
                {
                    "row": None,
                    "field": "file",
                    "message": f"unknown format {quoted(suffix)}: use .csv, .json or .jsonl",
                }
            ]
        )
    return formats[suffix]


def check_file_size(size: int, limits: ImportLimits) -> None:
    """Raises ImportFailed for a file larger than the limit, before any of it is read."""
    if size > limits.max_file_bytes:
        raise ImportFailed(
            [
                {
                    "row": None,
                    "field": "file",
                    "message": f"the file is {size} bytes, more than the limit of "
                    f"{limits.max_file_bytes} bytes (IMPORT_MAX_FILE_BYTES)",
                }
            ]
        )


class InputLimits:
    """The stream every reader reads through, and the row it is on: counts the file's bytes,
    the current row's bytes and the rows, and checks nesting depth and field sizes."""

    def __init__(self, stream: IO[bytes], limits: ImportLimits, first_row: int):
        self.stream, self.limits, self.first_row = stream, limits, first_row
        # Row 1 is the CSV header or the first JSON row.
        self.row, self.row_bytes, self.file_bytes = 1, 0, 0

    def start_row(self, number: int) -> None:
        self.row, self.row_bytes = number, 0

    def check_row_count(self, number: int) -> None:
        if number - self.first_row + 1 > self.limits.max_rows:
            message = f"the file has more than {self.limits.max_rows} rows ({self.limits.rows_limit_named})"
            raise Refused(number, message)

    def _count_file(self, size: int) -> None:
        self.file_bytes += size
        if self.file_bytes > self.limits.max_file_bytes:
            raise Refused(
                self.row,
                f"the file is larger than {self.limits.max_file_bytes} bytes (IMPORT_MAX_FILE_BYTES)",
            )

    def check_row_size(self, size: int) -> None:
        if size > self.limits.max_row_bytes:
            raise Refused(
                self.row, f"the row is larger than {self.limits.max_row_bytes} bytes (IMPORT_MAX_ROW_BYTES)"
            )

    def check_depth(self, depth: int) -> None:
        if depth > self.limits.max_depth:
            raise Refused(
                self.row, f"values are nested deeper than {self.limits.max_depth} levels (IMPORT_MAX_DEPTH)"
            )

    def read(self, size: int) -> bytes:
        """A chunk for a reader that finds row boundaries itself (and checks their size)."""
        chunk = self.stream.read(size)
        self._count_file(len(chunk))
        return chunk

    def readline(self) -> bytes:
        """The next line of the current row, read no further than the row's size allows."""
        line = self.stream.readline(self.limits.max_row_bytes - self.row_bytes + 1)
        self._count_file(len(line))
        self.row_bytes += len(line)
        self.check_row_size(self.row_bytes)
        return line

    def oversized_fields(self, number: int, row: dict) -> list[dict]:
        limit = self.limits.max_field_bytes
        values = row.values()
        # No character takes more than four bytes, so a row of text whose longest field is
        # that far within the limit needs no field measured.
        if all(isinstance(value, str) for value in values) and max(map(len, values), default=0) * 4 <= limit:
            return []
        return [
            {
                "row": number,
                "field": shown_name(name),
                "message": f"is larger than {limit} bytes (IMPORT_MAX_FIELD_BYTES)",
            }
            for name, value in row.items()
            if field_bytes(value) > limit
        ]


def field_bytes(value: object) -> int:
    # surrogatepass: a lone surrogate is measured here and refused by unstorable_fields.
    if isinstance(value, str):
        return len(value) if value.isascii() else len(value.encode(errors="surrogatepass"))
    if isinstance(value, list | dict):
        return len(json.dumps(value, ensure_ascii=False, default=str).encode(errors="surrogatepass"))
    return 0  # a number, true, false or null: short once parsed


# Characters PostgreSQL cannot store: NUL (text never holds one; JSON too, as \u0000) and the
# UTF-16 surrogates, which a JSON escape can produce alone and which have no UTF-8 encoding.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def shown_name(name: object) -> str:
    """A column or key name fit for an error report, which is stored too: unstorable
    characters written as escapes."""
    return UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", str(name))[:100]


def unstorable_fields(number: int, row: dict) -> list[dict]:
    """One problem per field whose name, value, or any key or value nested in it, holds a
    character the database cannot store: refused as bad input here, where every row of every
    reader passes, rather than failing in the database with no row named."""
    values = row.values()
    # A flat row of text (every CSV row, most JSON rows) is searched in one pass over its
    # names and values joined: the pattern is one character long, so it is found there
    # exactly when one of them holds it, and a clean row needs no field-by-field walk.
    if all(isinstance(value, str) for value in values) and not UNSTORABLE.search(
        "".join(map(str, row)) + "".join(values)
    ):
        return []
    problems = []
    for name, value in row.items():
        pending: list[object] = [name, value]
        while pending:
            item = pending.pop()
            if isinstance(item, dict):
                pending.extend(itertools.chain.from_iterable(item.items()))
            elif isinstance(item, list):
                pending.extend(item)
            elif isinstance(item, str) and (found := UNSTORABLE.search(item)):
                what = "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
                problems.append(
                    {
                        "row": number,
                        "field": shown_name(name),
                        "message": f"holds {what}, which cannot be stored",
                    }
                )
                break
    return problems


def read_csv(source: InputLimits) -> Iterator[tuple[int, dict | None, str | None]]:
    def lines() -> Iterator[str]:
        while line := source.readline():
            if source.file_bytes == len(line):
                line = line.removeprefix(codecs.BOM_UTF8)
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise Refused(source.row, "the file is not UTF-8 text") from exc

    reader = csv.reader(lines(), strict=True)
    try:
        header = next(reader, None)
        if not header:
            yield 1, None, "the file is empty: it needs a header row"
            return
        # A row read into a dict would keep only the last of two columns of one name.
        repeated = sorted(shown_name(name) for name, count in Counter(header).items() if count > 1)
        if repeated:
            yield 1, None, f"the header names a column more than once: {', '.join(repeated)}"
        for number in itertools.count(2):
            source.start_row(number)
            values = next(reader, None)
            if values is None:
                return
            if not values:
                yield number, None, None
            elif len(values) > len(header):
                yield number, None, f"{len(values) - len(header)} more value(s) than the header has columns"
            elif len(values) < len(header):
                yield number, None, "fewer values than the header has columns"
            else:
                yield number, dict(zip(header, values, strict=True)), None
    except csv.Error as exc:
        yield source.row, None, f"malformed CSV: {exc}"


class RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"the object names {shown_name(key)} more than once")


def without_repeats(pairs: list[tuple[str, object]]) -> dict:
    """An object of a JSON row, refused if it names a key twice: a parser keeps the last, so
    `"classification": "secret", ..., "classification": "restricted"` imported a secret
    record as restricted (as a CSV header naming a column twice would, which is refused)."""
    row = dict(pairs)
    if len(row) < len(pairs):
        counted = Counter(key for key, _ in pairs)
        raise RepeatedKey(min(key for key, count in counted.items() if count > 1))
    return row


def refuse_constant(name: str) -> NoReturn:
    # NaN and the infinities are no JSON (RFC 8259); Python reads them, and they were stored
    # as the text "nan" and "inf".
    raise ValueError(f"{name} is not a JSON value")


def json_row(number: int, data: bytes, what: str) -> tuple[int, dict | None, str | None]:
    try:
        row = json.loads(data, object_pairs_hook=without_repeats, parse_constant=refuse_constant)
    except RepeatedKey as exc:
        return number, None, str(exc)
    except ValueError as exc:  # also bad UTF-8 and integers too long to convert
        return number, None, f"malformed JSON: {json_problem(exc)}"
    return (number, row, None) if isinstance(row, dict) else (number, None, f"each {what} must be an object")


class JsonNesting:
    """Follows a JSON text's nesting as its bytes pass, in chunks, skipping strings, so that
    depth is known before a parser builds anything (a parser's memory can grow with the
    square of the depth, and Python's recursion ends in RecursionError)."""

    # Skip whole strings and other bytes (in the regex engine, not in Python) up to the next
    # bracket (or comma); or up to the opening quote of a string that this chunk does not
    # close, which is then followed escape by escape into the next chunk.
    BRACKET = re.compile(rb'(?:"(?:[^"\\]++|\\.)*+"|[^"\[\]{}])*+([\[\]{}"])', re.DOTALL)
    BRACKET_OR_COMMA = re.compile(rb'(?:"(?:[^"\\]++|\\.)*+"|[^"\[\]{},])*+([\[\]{},"])', re.DOTALL)
    IN_STRING = re.compile(rb'["\\]')

    def __init__(self, comma_depth: int | None = None) -> None:
        self.depth, self.in_string, self.escaped = 0, False, False
        self.comma_depth = comma_depth

    def scan(self, chunk: bytes) -> Iterator[tuple[int, int]]:
        """Yields (position, byte) of each bracket outside strings, and of each comma at
        `comma_depth`; `depth` is already updated for the byte when it is yielded."""
        position = 0
        while position < len(chunk):
            if self.in_string:
                if self.escaped:
                    self.escaped, position = False, position + 1
                    continue
                found = self.IN_STRING.search(chunk, position)
                if found is None:
                    return
                position = found.end()
                if chunk[found.start()] == ord("\\"):
                    self.escaped = True
                else:
                    self.in_string = False
                continue
            # Matched from `position` on, never searched: a search could start inside a string.
            pattern = self.BRACKET_OR_COMMA if self.depth == self.comma_depth else self.BRACKET
            found = pattern.match(chunk, position)
            if found is None:
                return
            at = found.start(1)
            byte, position = chunk[at], at + 1
            if byte == ord('"'):
                self.in_string = True
                continue
            if byte in b"[{":
                self.depth += 1
            elif byte in b"]}":
                self.depth -= 1
            yield at, byte


def nested_deeper_than(data: bytes, limit: int) -> bool:
    """Whether a whole JSON text nests deeper than `limit` levels (the outermost array or
    object is level 1), found without parsing it: the check before a parser recurses."""
    # A text with no more openers than the limit cannot be nested deeper: no scan needed.
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    nesting = JsonNesting()
    return any(nesting.depth > limit for _ in nesting.scan(data))


def read_json_lines(source: InputLimits) -> Iterator[tuple[int, dict | None, str | None]]:
    for number in itertools.count(1):
        source.start_row(number)
        line = source.readline()
        if not line:
            return
        if not line.strip():
            yield number, None, None
            continue
        if nested_deeper_than(line, source.limits.max_depth):
            source.check_depth(source.limits.max_depth + 1)
        yield json_row(number, line, "line")


WHITESPACE = b" \t\r\n"
NOT_AN_ARRAY = "malformed JSON: the file must be a JSON array of objects"


def read_json_array(source: InputLimits) -> Iterator[tuple[int, dict | None, str | None]]:
    """Splits the array into its items at the commas of its own level and parses each item
    alone, so an item is never larger than the row limit nor deeper than the depth limit."""
    nesting = JsonNesting(comma_depth=1)
    number, item, started, ended = 1, bytearray(), False, False

    def outside(data: bytes) -> None:
        if data.strip(WHITESPACE):
            raise Refused(number, NOT_AN_ARRAY)

    while chunk := source.read(READ_CHUNK):
        if source.file_bytes == len(chunk):
            chunk = chunk.removeprefix(codecs.BOM_UTF8)
        begin = 0  # where the part of this chunk not yet placed in an item (or outside) begins
        if ended:
            outside(chunk)
            continue
        for position, byte in nesting.scan(chunk):
            if not started:
                outside(chunk[begin:position])
                if byte != ord("["):
                    raise Refused(number, NOT_AN_ARRAY)
                started, begin = True, position + 1
            elif nesting.depth == 0:
                if byte != ord("]"):
                    raise Refused(number, "malformed JSON: the array is closed by a wrong bracket")
                item += chunk[begin:position]
                source.check_row_size(len(item))
                if number > 1 or item.strip(WHITESPACE):
                    yield json_row(number, bytes(item), "item")
                ended, begin = True, position + 1
                outside(chunk[begin:])
                break
            elif nesting.depth == 1 and byte == ord(","):
                item += chunk[begin:position]
                source.check_row_size(len(item))
                yield json_row(number, bytes(item), "item")
                number, item, begin = number + 1, bytearray(), position + 1
                source.start_row(number)
            else:
                source.check_depth(nesting.depth - 1)
        else:
            if started:
                item += chunk[begin:]
                source.check_row_size(len(item))
            else:
                outside(chunk)
    if not started:
        yield number, None, NOT_AN_ARRAY
    elif not ended:
        yield number, None, "malformed JSON: the file ends inside the array"


READ_CHUNK = 64 * 1024
# format: (reader, number of its first data row). A reader reads only through InputLimits,
# calls start_row as each row begins, and yields (number, row, None), (number, None, problem)
# or, for a blank row, (number, None, None); a format added later does the same.
READERS: dict[str, tuple[Callable[[InputLimits], Iterator], int]] = {
    "csv": (read_csv, 2),
    "jsonl": (read_json_lines, 1),
    "json": (read_json_array, 1),
}


def iter_rows(
    stream: IO[bytes], file_format: str, limits: ImportLimits | None = None
) -> Iterator[tuple[int, dict | None, list[dict]]]:
    """Yields (row number, row, its problems), within the limits: the reader stops at the
    first limit passed, with that as the row's problem. Row numbers are those a person sees:
    the CSV header is row 1, so the first data row is row 2; JSON rows count from 1."""
    try:
        yield from _rows_until_refused(stream, file_format, limits)
    except Refused as refusal:
        yield refusal.error["row"], None, [refusal.error]


def _rows_until_refused(
    stream: IO[bytes], file_format: str, limits: ImportLimits | None
) -> Iterator[tuple[int, dict | None, list[dict]]]:
    reader, first_row = READERS[file_format]
    source = InputLimits(stream, limits or ImportLimits.from_settings(), first_row)
    for number, row, problem in reader(source):
        # Blank rows count towards the limit too (10 million of them are not nothing).
        source.check_row_count(number)
        if row is None and problem is None:
            continue
        if problem:
            yield number, None, [{"row": number, "field": None, "message": problem}]
        else:
            yield number, row, source.oversized_fields(number, row) + unstorable_fields(number, row)


def open_import_file(path: Path, limits: ImportLimits | None = None) -> IO[bytes]:
    check_file_size(path.stat().st_size, limits or ImportLimits.from_settings())
    return path.open("rb")


def count_rows(path: Path, file_format: str, limits: ImportLimits | None = None) -> int:
    """The file's rows, read once within the limits (the settings' when None). Raises
    ImportFailed with the limit passed where reading stops at one: the import would stop
    there too, after the work of every row before it, and write nothing."""
    with open_import_file(path, limits) as stream:
        try:
            return sum(1 for _ in _rows_until_refused(stream, file_format, limits))
        except Refused as refusal:
            raise ImportFailed([refusal.error]) from None
