"""CSV exports of records: the same choke point, purpose, serializer and redaction as the
API, and every exported record of another agency audited as a read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from django.db.models import QuerySet

from intel import selectors
from intel.models import Record
from intel.serializers import RecordDetailSerializer

# What the API shows of a record, one column each.
COLUMNS = tuple(RecordDetailSerializer.Meta.fields)
CHUNK_SIZE = 500


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
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value is None else str(value)


def export_csv(reader: selectors.Reader, records: QuerySet[Record]) -> Iterator[str]:
    """CSV text of `records` (a queryset of what the reader may read, filtered and ordered),
    a chunk at a time. Each chunk is read again through the choke point, so a record that
    stopped being visible while the export ran is left out, and audited when it is produced."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    ids = list(records.values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK_SIZE):
        wanted = ids[start : start + CHUNK_SIZE]
        found = {r.pk: r for r in selectors.record_with_contents(reader).filter(pk__in=wanted)}
        chunk = [found[pk] for pk in wanted if pk in found]
        selectors.audit_reads(
            reader,
            {r.pk: r.owner_id for r in chunk},
            "export",
            {r.pk: r.via_agreement for r in chunk},
        )
        for record in chunk:
            data = RecordDetailSerializer(record, context={"reader": reader}).data
            writer.writerow([csv_cell(data, column) for column in COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
