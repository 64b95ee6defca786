"""The import's rows read and validated ahead on a thread of their own (`core.read_ahead`):
a bounded number of mentions held, however many parties its rows name (a bound in rows let
the thread hold hundreds of rows of hundreds of parties while the writer was busy); the same
report as when rows were validated in turn; the database asked on the import's thread only;
the thread stopped before the file closes."""

import io
import json
import threading
from pathlib import Path

import pytest
from django.db import OperationalError

from core.read_ahead import read_ahead
from intel import import_validation, import_writing
from intel.import_reading import ImportFailed, iter_rows
from intel.import_validation import ColumnCheck, planned_rows
from intel.import_writing import import_file
from intel.models import Record
from tests.threads import threads_asking_for_the_database

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

pytestmark = pytest.mark.django_db


def crowded_row(index: int, parties: int) -> dict:
    """A shipment naming `parties` companies, half importers and half exporters (each role's
    field within IMPORT_MAX_FIELD_BYTES), each with a phone of its own: two mentions each."""
    half = parties // 2
    return {
        "external_ref": f"R-{index}",
        "category": "shipment",
        "occurred_on": "2026-01-02",
        **{
            role: [
                {"name": f"Trader {index} {role} {n}", "country": "NL", "phone": f"+31 20 {offset + n:07d}"}
                for n in range(half)
            ]
            for role, offset in (("importer", 0), ("exporter", 500_000))
        },
    }


@pytest.mark.parametrize("parties", [300, 800])
def test_rows_of_many_parties_are_read_ahead_by_their_mentions(parties):
    rows = [crowded_row(index, parties) for index in range(60)]
    data = b"".join(json.dumps(row).encode() + b"\n" for row in rows)
    produced = []

    def counted():
        for item in planned_rows(
            iter_rows(io.BytesIO(data), "jsonl"),
            columns=ColumnCheck(nested=True, allow_unknown=False),
            agency_code="cus",
            nested=True,
        ):
            produced.append(len(item[0].mentions) if item[0] else 0)
            yield item

    items = read_ahead(
        counted(),
        batch=import_writing.READ_AHEAD_MENTIONS,
        batches=import_writing.READ_AHEAD_BATCHES,
        weight=import_writing.planned_weight,
    )
    plan, problems = next(items)
    assert problems == [] and len(plan.mentions) == 2 * parties + 1
    # The writer is busy with its first row: the thread reads on as far as it may.
    settled = -1
    while settled != len(produced):
        settled = len(produced)
        threading.Event().wait(0.3)
    items.close()
    # The queue's batches, the one handed over and the one being gathered, each closed
    # once it weighs READ_AHEAD_MENTIONS, so at most one row past that.
    row = 2 * parties + 2
    bound = (import_writing.READ_AHEAD_BATCHES + 2) * (import_writing.READ_AHEAD_MENTIONS + row)
    assert sum(produced) <= bound
    assert len(produced) < len(rows)


def jsonl(rows: list[dict]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def good(index: int) -> dict:
    return {"external_ref": f"G-{index}", "category": "shipment", "occurred_on": "2026-01-02"}


def bad(index: int) -> dict:
    return {**good(index), "external_ref": f"B-{index}", "category": "rumour"}


@pytest.mark.parametrize(
    ("bad_rows", "failing_row", "raised"),
    [(10, 12, ImportFailed), (10, 6, ImportFailed), (3, 12, KeyError), (0, 1, KeyError)],
)
def test_a_failure_in_validation_comes_after_the_rows_before_it(
    customs, tmp_path, monkeypatch, bad_rows, failing_row, raised
):
    """Five problems end the file's reading with the report, as they did when rows were
    validated in turn; a failure past them is never reached, one before them is raised."""
    monkeypatch.setattr(import_writing, "MAX_REPORTED_ERRORS", 5)
    validate = import_validation.parse_row

    def parse(number, row, *args, **kwargs):
        if number == failing_row:
            raise KeyError(f"row {number}")
        return validate(number, row, *args, **kwargs)

    monkeypatch.setattr(import_validation, "parse_row", parse)
    path = tmp_path / "rows.jsonl"
    path.write_bytes(jsonl([bad(i) for i in range(bad_rows)] + [good(i) for i in range(100)]))
    with pytest.raises(raised) as caught:
        import_file(path, customs)
    if raised is ImportFailed:
        assert [error["row"] for error in caught.value.errors] == [1, 2, 3, 4, 5, None]
        assert caught.value.errors[-1]["message"] == "stopped after 5 problems"
    assert not Record.objects.exists()


def test_the_import_asks_for_the_database_on_its_own_thread_only(customs, monkeypatch):
    asking = threads_asking_for_the_database(monkeypatch)
    imported = 0
    for path in sorted(EXAMPLES.iterdir()):
        try:
            imported += import_file(path, customs, allow_unknown_columns=True).created
        except ImportFailed:
            pass
    assert imported > 0
    assert asking == {threading.current_thread().name}


def test_a_writing_error_stops_the_reading_before_the_file_closes(customs, tmp_path, monkeypatch):
    path = tmp_path / "rows.jsonl"
    path.write_bytes(jsonl([good(i) for i in range(3000)]))
    seen: list[tuple] = []

    class Watched(io.BufferedReader):
        def readline(self, *args):
            if self.closed:
                seen.append(("read after close", threading.current_thread().name))
            return super().readline(*args)

        def close(self):
            seen.append(("closed", sorted(t.name for t in threading.enumerate() if t.name == "read-ahead")))
            super().close()

    monkeypatch.setattr(import_writing, "open_import_file", lambda p: Watched(io.FileIO(p, "rb")))
    written = import_writing.write_chunk

    def failing(plans, *args, **kwargs):
        if plans[0].external_ref != "G-0":
            raise OperationalError("the database went away")
        return written(plans, *args, **kwargs)

    monkeypatch.setattr(import_writing, "write_chunk", failing)
    with pytest.raises(OperationalError, match="went away"):
        import_file(path, customs, chunk_size=50)
    assert seen == [("closed", [])]
    assert not Record.objects.exists()
