"""CSV exports of records: the same choke point, purpose, serializer and redaction as the
API, and every exported record of another agency audited as a read."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator

from django.db.models import QuerySet

from intel import selectors
from intel.models import Record
from intel.serializers import RecordDetailSerializer

# What the API shows of a record, one column each.
COLUMNS = tuple(RecordDetailSerializer.Meta.fields)
CHUNK_SIZE = 500


# A cell a spreadsheet would evaluate begins with one of these (OWASP, "CSV Injection"; the
# full-width forms are read as their ASCII twins by spreadsheets in East Asian locales).
FORMULA_STARTS = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
# The file is comma-separated, with every cell quoted; a spreadsheet set to another
# separator (semicolon or tab locales) or splitting at a line break starts a new cell
# inside a value after one of these, so a formula must not start there either.
OTHER_CELL_BREAKS = re.compile(r"([;\t\r\n])")
# A plain number is a value, not a formula: "-5" stays "-5" (a negative amount must stay
# a number), while "-1+1" or "-5 kg" is neutralized.
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def _defuse_cell_start(piece: str) -> str:
    # Spaces and quotes are skipped: a spreadsheet may trim the first, and a cell split
    # inside a quoted value may begin with the second.
    body = piece.lstrip(' "')
    if body[:1] in FORMULA_STARTS and not PLAIN_NUMBER.fullmatch(body.rstrip()):
        return piece[: len(piece) - len(body)] + "'" + body
    return piece


def spreadsheet_safe(text: str) -> str:
    """`text` as a CSV cell no spreadsheet evaluates: an apostrophe (shown, never evaluated)
    goes before a formula character wherever a cell can begin, also inside the value for
    spreadsheets reading another separator; a value starting with a tab or a carriage
    return is prefixed whatever follows. Every file export writes its cells through this."""
    if not text:
        return text
    pieces = OTHER_CELL_BREAKS.split(text)
    text = "".join(piece if index % 2 else _defuse_cell_start(piece) for index, piece in enumerate(pieces))
    if text[0] in FORMULA_STARTS and not PLAIN_NUMBER.fullmatch(text):
        text = "'" + text
    return text


def shared_under_text(shared_under: dict | None) -> str:
    if not shared_under:
        return ""
    return "grant" if shared_under.get("grant") else f"agreement {shared_under['agreement']}"


def csv_cell(data: dict, column: str) -> str:
    """A redacted field is absent from `data`; its cell stays empty."""
    value = data.get(column)
    if column == "shared_under":
        return shared_under_text(value)
    if column == "caveats":
        return ";".join(value or [])
    if isinstance(value, dict | list):
        # A semicolon occurs only inside JSON strings; escaped, it still decodes to itself
        # but cannot start a cell for a spreadsheet splitting at semicolons.
        return json.dumps(value, ensure_ascii=False, sort_keys=True).replace(";", "\\u003b")
    return "" if value is None else str(value)


def csv_row(cells: list[str]) -> list[str]:
    return [spreadsheet_safe(cell) for cell in cells]


def export_csv(reader: selectors.Reader, records: QuerySet[Record]) -> Iterator[str]:
    """CSV text of `records` (a queryset of what the reader may read, filtered and ordered),
    a chunk at a time. Each chunk is read again through the choke point, with the access of
    that moment (a fresh reader: the request's was worked out when it started), so a record
    that stopped being visible while the export ran is left out, and audited when it is
    produced."""
    buffer = io.StringIO()
    # Every cell quoted (OWASP): a separator inside a value stays inside its cell.
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(csv_row(list(COLUMNS)))
    ids = list(records.values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK_SIZE):
        wanted = ids[start : start + CHUNK_SIZE]
        reader = selectors.Reader(reader.user, reader.purpose)
        readable = selectors.record_with_contents(reader, among=wanted).filter(pk__any_of=wanted)
        found = {r.pk: r for r in readable}
        chunk = [found[pk] for pk in wanted if pk in found]
        selectors.audit_reads(
            reader,
            {r.pk: r.owner_id for r in chunk},
            "export",
            {r.pk: r.via_agreement for r in chunk},
        )
        for data in RecordDetailSerializer(chunk, many=True, context={"reader": reader}).data:
            writer.writerow(csv_row([csv_cell(data, column) for column in COLUMNS]))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
