"""Importing shipment declarations, seizures and inspection results from CSV or JSON.

The file is read as a stream, row by row, within limits of file size, row count, row size,
field size and nesting depth (settings IMPORT_MAX_*), and written in chunks, so memory
stays flat however long or however hostile the file is. A file is one
batch, all-or-nothing: every row is validated, every bad row reported with its row
number, field and reason, and if any row is bad the transaction is rolled back and
nothing is written. External references are the keys, so importing the same file twice
changes nothing. The format is documented in docs/import.md.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

import pycountry
from django.conf import settings
from django.db import connection, transaction

from intel.bulk import insert_rows
from intel.candidates import agency_sees_all_of, find_candidates, note_names
from intel.models import (
    Category,
    Caveat,
    Classification,
    Entity,
    EntityMerge,
    Link,
    LinkType,
    Mention,
    Record,
    Role,
)
from intel.resolution import (
    ResolutionError,
    Resolved,
    normalize_country,
    resolve_address,
    resolve_company,
    resolve_container,
    resolve_email,
    resolve_phone,
    resolve_shipment,
    resolve_vessel,
)
from intel.rights import grant_owner_rights, owner_right_ids
from intel.signals import records_changed

IMPORT_CATEGORIES = (Category.SHIPMENT, Category.SEIZURE, Category.INSPECTION)
MAX_REPORTED_ERRORS = 1000
CHUNK_SIZE = 500
INSPECTION_RESULTS = ("clear", "discrepancy", "referred_for_seizure")
# The keys of a record's `details`: the importer writes these and no others, and an agreement
# may redact `details.<key>` for these only (sharing.services.validate_scope).
PORT_KEYS = ("port_of_loading", "port_of_discharge")
TEXT_DETAIL_KEYS = ("goods_description", "quantity", "unit", "findings")
DETAIL_KEYS = (*PORT_KEYS, "hs_codes", "declared_value", "currency", *TEXT_DETAIL_KEYS, "inspection_result")


class ImportFailed(Exception):
    """The batch was rolled back; `errors` holds every problem found, row by row."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s); nothing was imported")


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class RowPlan:
    """What one valid row will write: the record, the entities it mentions, its links."""

    number: int
    external_ref: str
    content_hash: str
    record_fields: dict
    mentions: list[tuple[Resolved, str]] = field(default_factory=list)
    links: list[tuple[int, int, str]] = field(default_factory=list)

    def mention(self, resolved: Resolved, role: str) -> int:
        for index, (existing, existing_role) in enumerate(self.mentions):
            if existing.key == resolved.key and existing.type == resolved.type and existing_role == role:
                return index
        self.mentions.append((resolved, role))
        return len(self.mentions) - 1

    def link(self, source: int, target: int, link_type: str) -> None:
        if source != target and (source, target, link_type) not in self.links:
            self.links.append((source, target, link_type))


class RowErrors:
    def __init__(self, number: int):
        self.number = number
        self.items: list[dict] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append({"row": self.number, "field": field_name, "message": message})


# --- reading ---------------------------------------------------------------------
#
# Every reader reads through one InputLimits, which holds the limits (file size, row count,
# row size, field size, nesting depth) and refuses past them before the bytes become Python
# objects, so no file, however it is made, costs more memory than its largest allowed row.


@dataclass(frozen=True)
class ImportLimits:
    max_file_bytes: int
    max_rows: int
    max_row_bytes: int
    max_field_bytes: int
    max_depth: int

    @classmethod
    def from_settings(cls) -> ImportLimits:
        return cls(
            max_file_bytes=settings.IMPORT_MAX_FILE_BYTES,
            max_rows=settings.IMPORT_MAX_ROWS,
            max_row_bytes=settings.IMPORT_MAX_ROW_BYTES,
            max_field_bytes=settings.IMPORT_MAX_FIELD_BYTES,
            max_depth=settings.IMPORT_MAX_DEPTH,
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
                    "message": f"unknown format {suffix!r}: use .csv, .json or .jsonl",
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
            raise Refused(number, f"the file has more than {self.limits.max_rows} rows (IMPORT_MAX_ROWS)")

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


def json_row(number: int, data: bytes, what: str) -> tuple[int, dict | None, str | None]:
    try:
        row = json.loads(data)
    except ValueError as exc:  # also bad UTF-8 and integers too long to convert
        return number, None, f"malformed JSON: {exc}"
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
    reader, first_row = READERS[file_format]
    source = InputLimits(stream, limits or ImportLimits.from_settings(), first_row)
    try:
        for number, row, problem in reader(source):
            # Blank rows count towards the limit too (10 million of them are not nothing).
            source.check_row_count(number)
            if row is None and problem is None:
                continue
            if problem:
                yield number, None, [{"row": number, "field": None, "message": problem}]
            else:
                yield number, row, source.oversized_fields(number, row) + unstorable_fields(number, row)
    except Refused as refusal:
        yield refusal.error["row"], None, [refusal.error]


def open_import_file(path: Path, limits: ImportLimits | None = None) -> IO[bytes]:
    check_file_size(path.stat().st_size, limits or ImportLimits.from_settings())
    return path.open("rb")


def count_rows(path: Path, file_format: str) -> int:
    with open_import_file(path) as stream:
        return sum(1 for _ in iter_rows(stream, file_format))


# --- validating one row -----------------------------------------------------------


def text(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        # JSON may give list fields (containers, HS codes, caveats) as arrays.
        return "; ".join(str(item).strip() for item in value)
    return str(value).strip()


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.replace(",", ";").split(";") if item.strip()]


def parse_row(number: int, row: dict, agency_code: str) -> tuple[RowPlan | None, list[dict]]:
    errors = RowErrors(number)

    def required(name: str) -> str:
        value = text(row, name)
        if not value:
            errors.add(name, "is required")
        return value

    def resolve(resolver: Callable[..., Resolved | str], *args, **kwargs):
        try:
            return resolver(*args, **kwargs)
        except ResolutionError as exc:
            errors.add(exc.field, exc.message)
            return None

    external_ref = required("external_ref")
    if len(external_ref) > 100:
        errors.add("external_ref", "is longer than 100 characters")
    category = required("category").lower()
    if category and category not in IMPORT_CATEGORIES:
        errors.add("category", f"{category!r} is not one of {', '.join(IMPORT_CATEGORIES)}")

    classification_name = text(row, "classification").lower() or "restricted"
    levels = {label.lower(): value for value, label in Classification.choices}
    if classification_name not in levels:
        errors.add("classification", f"{classification_name!r} is not one of {', '.join(levels)}")

    caveats = split_list(text(row, "caveats"))
    for caveat in caveats:
        if caveat not in Caveat.values:
            errors.add("caveats", f"{caveat!r} is not one of {', '.join(Caveat.values)}")

    occurred_on = None
    raw_date = required("occurred_on")
    if raw_date:
        try:
            occurred_on = date.fromisoformat(raw_date)
        except ValueError:
            errors.add("occurred_on", f"{raw_date!r} is not a date in the form YYYY-MM-DD")

    details: dict = {}
    for port in PORT_KEYS:
        value = text(row, port).upper().replace(" ", "")
        if value:
            if (
                len(value) != 5
                or pycountry.countries.get(alpha_2=value[:2]) is None
                or not value[2:].isalnum()
            ):
                errors.add(port, f"{value!r} is not a UN/LOCODE (country code and three letters, e.g. NLRTM)")
            details[port] = value
    hs_codes = split_list(text(row, "hs_codes"))
    for code in hs_codes:
        digits = code.replace(".", "")
        if not digits.isdigit() or not 6 <= len(digits) <= 10:
            errors.add("hs_codes", f"{code!r} is not an HS code of 6 to 10 digits")
    if hs_codes:
        details["hs_codes"] = [code.replace(".", "") for code in hs_codes]
    raw_value = text(row, "declared_value")
    if raw_value:
        try:
            value = Decimal(raw_value)
            if value < 0 or not value.is_finite():
                raise InvalidOperation
            details["declared_value"] = str(value)
        except InvalidOperation:
            errors.add("declared_value", f"{raw_value!r} is not a non-negative number")
        currency = text(row, "currency").upper()
        if not currency:
            errors.add("currency", "is required with declared_value")
        elif pycountry.currencies.get(alpha_3=currency) is None:
            errors.add("currency", f"{currency!r} is not an ISO 4217 currency code")
        else:
            details["currency"] = currency
    for name in TEXT_DETAIL_KEYS:
        if text(row, name):
            details[name] = text(row, name)
    if category == Category.INSPECTION:
        result = required("inspection_result").lower()
        if result and result not in INSPECTION_RESULTS:
            errors.add("inspection_result", f"{result!r} is not one of {', '.join(INSPECTION_RESULTS)}")
        details["inspection_result"] = result
    if category == Category.SEIZURE:
        required("goods_description")

    plan = RowPlan(
        number=number,
        external_ref=external_ref,
        content_hash=hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest(),
        record_fields={
            "category": category,
            "classification": levels.get(classification_name, Classification.RESTRICTED),
            "caveats": caveats,
            "summary": text(row, "summary"),
            "occurred_on": occurred_on,
            "details": details,
        },
    )
    shipment = plan.mention(resolve_shipment(agency_code, external_ref or "?"), Role.SHIPMENT)

    for role, link_type in PARTY_ROLES.items():
        name = text(row, f"{role}_name")
        if not name:
            for suffix in ("country", "reg_no", "address", "postcode", "phone", "email"):
                if text(row, f"{role}_{suffix}"):
                    errors.add(f"{role}_name", f"is required when {role}_{suffix} is given")
                    break
            continue
        country = resolve(normalize_country, text(row, f"{role}_country"), f"{role}_country")
        company = country and resolve(
            resolve_company, name, country, text(row, f"{role}_reg_no") or None, field=f"{role}_reg_no"
        )
        if not company:
            continue
        party = plan.mention(company, role)
        plan.link(shipment, party, link_type)
        if text(row, f"{role}_address"):
            address = resolve(
                resolve_address,
                text(row, f"{role}_address"),
                country,
                text(row, f"{role}_postcode") or None,
                field=f"{role}_address",
            )
            if address:
                plan.link(party, plan.mention(address, Role.ADDRESS), LinkType.REGISTERED_AT)
        phone = text(row, f"{role}_phone")
        if phone and (contact := resolve(resolve_phone, phone, country, field=f"{role}_phone")):
            plan.link(party, plan.mention(contact, Role.PHONE), LinkType.CONTACT)
        email = text(row, f"{role}_email")
        if email and (contact := resolve(resolve_email, email, field=f"{role}_email")):
            plan.link(party, plan.mention(contact, Role.EMAIL), LinkType.CONTACT)

    imo = text(row, "vessel_imo")
    if imo:
        vessel = resolve(
            resolve_vessel, imo, text(row, "vessel_name") or None, text(row, "vessel_flag") or None
        )
        if vessel:
            vessel_index = plan.mention(vessel, Role.VESSEL)
            plan.link(shipment, vessel_index, LinkType.CARRIED_BY)
            carrier = next((i for i, (_, r) in enumerate(plan.mentions) if r == Role.CARRIER), None)
            if carrier is not None:
                plan.link(carrier, vessel_index, LinkType.OWNS)
    elif text(row, "vessel_name"):
        errors.add("vessel_imo", "is required when vessel_name is given")
    container_link = LinkType.SEIZED_IN if category == Category.SEIZURE else LinkType.SHIPPED_IN
    for container_number in split_list(text(row, "container_numbers")):
        container = resolve(resolve_container, container_number, field="container_numbers")
        if container:
            plan.link(shipment, plan.mention(container, Role.CONTAINER), container_link)

    return (None if errors.items else plan), errors.items


PARTY_ROLES = {
    Role.IMPORTER: LinkType.IMPORTED_BY,
    Role.EXPORTER: LinkType.EXPORTED_BY,
    Role.BROKER: LinkType.BROKERED_BY,
    Role.CARRIER: LinkType.CARRIED_BY,
    Role.CONSIGNEE: LinkType.CONSIGNED_TO,
}


# --- writing a chunk --------------------------------------------------------------


def follows_merge(*, merged_id: int, survivor_id: int, agency_id: int) -> bool:
    """Whether an import of the agency's may land on the survivor of a merge: when the
    agency made the merge, or may see every mention of both entities. Otherwise the
    merge is another agency's conclusion from records this one may not see, and landing
    on the survivor would show it as one entity with both names."""
    merge = (
        EntityMerge.objects.filter(merged_id=merged_id, survivor_id=survivor_id, undone_at__isnull=True)
        .order_by("-merged_at")
        .values_list("agency_id", flat=True)
        .first()
    )
    return merge == agency_id or agency_sees_all_of(agency_id=agency_id, entity_ids=[merged_id, survivor_id])


def surviving_entity(*, entity_id: int, agency_id: int) -> int:
    """Follows merged_into, for an import of the agency's, to the entity that still stands
    (merges can chain A -> B -> C), stopping before a merge the agency may not follow."""
    while True:
        next_id = Entity.objects.filter(pk=entity_id).values_list("merged_into", flat=True).get()
        if next_id is None or not follows_merge(
            merged_id=entity_id, survivor_id=next_id, agency_id=agency_id
        ):
            return entity_id
        entity_id = next_id


def resolve_entities(resolved: Iterable[Resolved], *, agency_id: int) -> dict[tuple[str, str], int]:
    """Entity ids for every (type, key), for an import of the agency's, creating the ones
    that do not exist yet."""
    wanted = {(item.type, item.key): item for item in resolved}
    ids: dict[tuple[str, str], int] = {}

    def fetch(keys: Iterable[tuple[str, str]]) -> None:
        by_type: dict[str, list[str]] = {}
        for entity_type, key in keys:
            by_type.setdefault(entity_type, []).append(key)
        for entity_type, keys_of_type in by_type.items():
            rows = Entity.objects.filter(type=entity_type, key__in=keys_of_type)
            for pk, key, merged_into in rows.values_list("pk", "key", "merged_into"):
                # A key that an analyst merged away speaks for its survivor, at the end of the
                # chain the importing agency may follow.
                ids[(entity_type, key)] = (
                    surviving_entity(entity_id=pk, agency_id=agency_id) if merged_into else pk
                )

    fetch(wanted)
    missing = [wanted[k] for k in wanted if k not in ids]
    if missing:
        # ignore_conflicts: a concurrent import may create the same entity first.
        Entity.objects.bulk_create(
            [Entity(type=item.type, key=item.key, block=item.block) for item in missing],
            ignore_conflicts=True,
        )
        fetch((item.type, item.key) for item in missing)
    return ids


def write_chunk(
    plans: list[RowPlan], agency, user, batch, result: ImportResult, perm_ids: list[int]
) -> list[int]:
    """Writes one chunk of valid rows; returns the ids of entities it created or touched."""
    existing = {
        ref: (pk, content_hash)
        for pk, ref, content_hash in Record.objects.filter(
            owner=agency, external_ref__in=[plan.external_ref for plan in plans]
        ).values_list("pk", "external_ref", "content_hash")
    }
    to_create, to_update = [], []
    for plan in plans:
        if plan.external_ref not in existing:
            to_create.append(plan)
        elif existing[plan.external_ref][1] != plan.content_hash:
            to_update.append(plan)
        else:
            result.unchanged += 1
    if not to_create and not to_update:
        return []

    entity_ids = resolve_entities(
        (resolved for plan in to_create + to_update for resolved, _ in plan.mentions), agency_id=agency.pk
    )
    created_records = Record.objects.bulk_create(
        [
            Record(
                owner=agency,
                external_ref=plan.external_ref,
                content_hash=plan.content_hash,
                created_by=user,
                import_batch=batch,
                **plan.record_fields,
            )
            for plan in to_create
        ]
    )
    record_ids = {
        plan.external_ref: record.pk for plan, record in zip(to_create, created_records, strict=True)
    }
    grant_owner_rights(created_records, perm_ids)
    if to_update:
        updated = []
        for plan in to_update:
            pk = existing[plan.external_ref][0]
            record_ids[plan.external_ref] = pk
            updated.append(
                Record(pk=pk, content_hash=plan.content_hash, import_batch=batch, **plan.record_fields)
            )
        Record.objects.bulk_update(updated, ["content_hash", "import_batch", *to_update[0].record_fields])
        changed = [record.pk for record in updated]
        Mention.objects.filter(record_id__in=changed).delete()
        Link.objects.filter(record_id__in=changed).delete()

    mentions: dict[tuple[int, int, str], tuple] = {}
    links: set[tuple[int, int, int, str]] = set()
    for plan in to_create + to_update:
        record_id = record_ids[plan.external_ref]
        positions = [entity_ids[(resolved.type, resolved.key)] for resolved, _ in plan.mentions]
        for (resolved, role), entity_id in zip(plan.mentions, positions, strict=True):
            # Two keys of one row may now point at one merged entity; the record states it once
            # per role (and a link between them once): the first statement is kept.
            mentions.setdefault(
                (record_id, entity_id, role),
                (record_id, entity_id, role, resolved.properties, resolved.key, resolved.search_text),
            )
        for source, target, link_type in plan.links:
            if positions[source] != positions[target]:
                links.add((record_id, positions[source], positions[target], link_type))
    insert_rows(
        Mention,
        ["record_id", "entity_id", "role", "properties", "resolved_key", "search_text"],
        mentions.values(),
    )
    note_names(
        (entity_ids[(resolved.type, resolved.key)], resolved)
        for plan in to_create + to_update
        for resolved, _ in plan.mentions
    )
    insert_rows(
        Link,
        ["record_id", "source_id", "target_id", "type", "properties"],
        ((*link, {}) for link in sorted(links)),
    )
    records_changed.send(sender=Record, record_ids=list(record_ids.values()))
    result.created += len(to_create)
    result.updated += len(to_update)
    return sorted(set(entity_ids.values()))


# --- the whole batch --------------------------------------------------------------


class SeenReferences:
    """External references met so far in the file, kept in a temporary table in the
    database rather than in a Python set, so that the importer's memory does not grow with
    the file. Made inside the import's transaction, emptied at its start and end."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS import_seen_refs (ref TEXT PRIMARY KEY)")
            cursor.execute("DELETE FROM import_seen_refs")

    def met_before(self, refs: list[str]) -> set[str]:
        """Adds the distinct `refs` and returns those already met."""
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(refs))
            # Only placeholders are formatted into the statement; the references are parameters.
            cursor.execute(f"SELECT ref FROM import_seen_refs WHERE ref IN ({placeholders})", refs)  # noqa: S608
            met = {ref for (ref,) in cursor.fetchall()}
            cursor.executemany(
                "INSERT INTO import_seen_refs (ref) VALUES (%s)", [(r,) for r in refs if r not in met]
            )
        return met

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM import_seen_refs")


def import_file(
    path: Path,
    agency,
    *,
    user=None,
    batch=None,
    file_format: str | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> ImportResult:
    """Imports one file for `agency`, all-or-nothing. Raises ImportFailed with every
    problem found (row, field, message) when any row is bad; nothing is written then."""
    from audit.log import record_event

    file_format = file_format or detect_format(path.name)
    result = ImportResult()
    errors: list[dict] = []
    perm_ids = owner_right_ids()

    def flush(plans: list[RowPlan], seen: SeenReferences) -> None:
        """Reports references met twice, then writes the chunk while the file is still clean."""
        met = seen.met_before(list(dict.fromkeys(plan.external_ref for plan in plans)))
        in_chunk: set[str] = set()
        kept = []
        for plan in plans:
            if plan.external_ref in met or plan.external_ref in in_chunk:
                errors.append(
                    {
                        "row": plan.number,
                        "field": "external_ref",
                        "message": f"{plan.external_ref!r} appears twice",
                    }
                )
            else:
                in_chunk.add(plan.external_ref)
                kept.append(plan)
        if not errors:
            # Candidates per chunk, not per file, so memory stays flat as the file grows.
            find_candidates(write_chunk(kept, agency, user, batch, result, perm_ids))

    with transaction.atomic():
        if connection.vendor == "postgresql":
            # Foreign keys are checked as each chunk is written, not queued in the server's
            # memory, row by row, until COMMIT (docs/benchmarks.md, "COMMIT").
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seen = SeenReferences()
        chunk: list[RowPlan] = []
        with open_import_file(path) as stream:
            for number, row, problems in iter_rows(stream, file_format):
                result.rows += 1
                if problems:
                    errors.extend(problems)
                else:
                    plan, row_errors = parse_row(number, row, agency.code)
                    errors.extend(row_errors)
                    if plan:
                        # After the first bad row nothing more is written, but every row is still checked.
                        chunk.append(plan)
                if len(chunk) >= chunk_size:
                    flush(chunk, seen)
                    chunk = []
                if progress and result.rows % 100 == 0:
                    progress(result.rows)
                if len(errors) >= MAX_REPORTED_ERRORS:
                    break
        if chunk and len(errors) < MAX_REPORTED_ERRORS:
            flush(chunk, seen)
        if result.rows == 0 and not errors:
            errors.append({"row": None, "field": "file", "message": "the file holds no rows"})
        if errors:
            errors.sort(key=lambda error: error["row"] or 0)
            if len(errors) >= MAX_REPORTED_ERRORS:
                errors = errors[:MAX_REPORTED_ERRORS]
                errors.append(
                    {"row": None, "field": None, "message": f"stopped after {MAX_REPORTED_ERRORS} problems"}
                )
            raise ImportFailed(errors)
        seen.clear()
        record_event(
            "records.import",
            actor=user,
            agency_id=agency.pk,
            obj=batch,
            details={
                "file": path.name,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
            },
        )
    if progress:
        progress(result.rows)
    return result
