"""Import batches on the full stack: hostile files fail cleanly under a hard memory ceiling;
every batch ends succeeded or failed, also when its worker is killed; uploads over the size
limit are refused before they are stored; files of failed imports are removed after
retention. What each reader refuses is in tests/fast/test_import_limits.py."""

import gzip
import json
import os
import random
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from rest_framework.test import APIClient

from agencies.models import Agency, User
from intel.import_reading import ImportFailed
from intel.import_writing import import_file
from intel.models import ImportBatch, Record
from intel.services import run_import_batch
from intel.tasks import remove_failed_import_files_task, run_import
from tests.conftest import ROOT, worker_database_url
from tests.fast.test_import_limits import FIRST_ROW, FORMATS, SUFFIX, encode, good

# --- hostile files under a hard memory ceiling, in a process of their own ----------

# The child may map no more than this (RLIMIT_AS), and its resident peak must stay under
# RSS_CEILING: before the limits, a small file of "[" took memory far beyond any ceiling.
ADDRESS_SPACE = 1536 * 2**20
RSS_CEILING = 400 * 2**20
CHILD = """
import atexit, sys, django
def peak():
    status = open("/proc/self/status").read()
    print("VmHWM", status.split("VmHWM:")[1].split()[0], flush=True)
atexit.register(peak)
django.setup()
if sys.argv[1] == "batch":
    from intel.services import run_import_batch
    run_import_batch(int(sys.argv[2]))
else:
    from django.core.management import execute_from_command_line
    execute_from_command_line(["manage.py", "import_records", *sys.argv[2:]])
"""


def run_limited(*args: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, int]:
    def ceiling() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": worker_database_url(), **(env or {})},
        preexec_fn=ceiling,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    peaks = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("VmHWM")]
    assert peaks, f"the child died before reporting its memory: {done.returncode}\n{done.stderr[-3000:]}"
    return done, int(peaks[0]) * 1024


def valid_rows_csv(count: int) -> bytes:
    return encode("csv", [good(i) for i in range(count)])


def deep_valid_array() -> bytes:
    row = json.dumps(good(1)).encode()
    return b"[" + row + b"," + row[:-1] + b', "summary": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]"


HOSTILE = [
    # name, content maker, extra environment, row named, limit named
    ("brackets-100k.json", lambda: b"[" * 100_000, {}, 1, "IMPORT_MAX_DEPTH"),
    ("brackets-10m.json", lambda: b"[" * 10_000_000, {}, 1, "IMPORT_MAX_DEPTH"),
    ("objects-100k.json", lambda: b"[" + b'{"a":' * 100_000, {}, 1, "IMPORT_MAX_DEPTH"),
    ("objects-100k.jsonl", lambda: b'{"a":' * 100_000 + b"\n", {}, 1, "IMPORT_MAX_ROW_BYTES"),
    ("deep-row.json", deep_valid_array, {}, 2, "IMPORT_MAX_DEPTH"),
    ("line-50m.jsonl", lambda: b'{"summary": "' + b"x" * 50_000_000 + b'"}\n', {}, 1, "IMPORT_MAX_ROW_BYTES"),
    (
        "field-50m.csv",
        lambda: b'external_ref,summary\n"A","' + b"x" * 50_000_000 + b'"\n',
        {},
        2,
        "IMPORT_MAX_ROW_BYTES",
    ),
    ("empty-10m.csv", lambda: b"external_ref\n" + b"\n" * 10_000_000, {}, 1_000_002, "IMPORT_MAX_ROWS"),
    ("valid-rows.csv", lambda: valid_rows_csv(300), {"IMPORT_MAX_ROWS": "250"}, 252, "IMPORT_MAX_ROWS"),
    ("gzip.csv", lambda: gzip.compress(random.Random(2).randbytes(3_000_000)), {}, 1, "UTF-8"),
    (
        "too-big.csv",
        lambda: valid_rows_csv(20_000),
        {"IMPORT_MAX_FILE_BYTES": "100000"},
        None,
        "IMPORT_MAX_FILE_BYTES",
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("name", "make", "env", "row", "limit"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_file_fails_its_batch_cleanly_under_a_memory_ceiling(name, make, env, row, limit):
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    batch = ImportBatch.objects.create(agency=agency, file=ContentFile(make(), name=name), original_name=name)
    try:
        done, peak = run_limited("batch", str(batch.pk), env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        batch.refresh_from_db()
        assert batch.status == "failed"
        assert batch.errors[-1]["row"] == row and limit in batch.errors[-1]["message"], batch.errors
        assert not Record.objects.exists()
        assert peak < RSS_CEILING, f"peak resident memory {peak / 2**20:.0f} MiB"
    finally:
        batch.file.delete(save=False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "content"), [("brackets.json", b"[" * 100_000), ("deep.jsonl", b'{"a":' * 5000)]
)
def test_the_command_fails_a_hostile_file_under_the_memory_ceiling(tmp_path, name, content):
    Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    path = tmp_path / name
    path.write_bytes(content)
    done, peak = run_limited("command", str(path), "--agency", "cus")
    assert done.returncode == 1, done.stderr[-3000:]
    assert "row 1: values are nested deeper than 10 levels (IMPORT_MAX_DEPTH)" in done.stderr
    assert peak < RSS_CEILING
    assert not Record.objects.exists()


# --- characters the database cannot store ------------------------------------------
#
# PostgreSQL stores no NUL in text (nor \u0000 in JSON) and no lone UTF-16 surrogate (a JSON
# escape such as \ud800 alone, which has no UTF-8 encoding). Every string a file brings,
# wherever it sits, is refused as a row error naming the row and field, nothing written.

NUL, SURROGATE = "\x00", "\ud800"
# case: (fields of the bad row, with {c} for the character; the field the error names)
UNSTORABLE_IN_ANY_FORMAT = {
    "summary": ({"summary": "ab{c}cd"}, "summary"),
    "reference": ({"external_ref": "G{c}-2"}, "external_ref"),
    "detail": ({"goods_description": "x{c}"}, "goods_description"),
    "company name": ({"importer_name": "Ac{c}me", "importer_country": "NL"}, "importer_name"),
    "unknown column": ({"remarks": "{c}"}, "remarks"),
}
UNSTORABLE_IN_JSON = {
    "key": ({"a{c}b": "x"}, "a\\u{code}b"),
    "nested value": ({"caveats": ["x", {"deep": ["a{c}"]}]}, "caveats"),
    "nested key": ({"hs_codes": [{"k{c}": 1}]}, "hs_codes"),
}


def with_character(fields: dict, character: str) -> dict:
    def put(value):
        if isinstance(value, str):
            return value.replace("{c}", character)
        if isinstance(value, list):
            return [put(item) for item in value]
        if isinstance(value, dict):
            return {put(key): put(item) for key, item in value.items()}
        return value

    return put(fields)


UNSTORABLE_CASES = [
    (file_format, character, case)
    for file_format in FORMATS
    # A CSV file is UTF-8 text: no surrogate can be written in it.
    for character in ([NUL] if file_format == "csv" else [NUL, SURROGATE])
    for case in [*UNSTORABLE_IN_ANY_FORMAT, *([] if file_format == "csv" else UNSTORABLE_IN_JSON)]
]


@pytest.mark.parametrize(
    ("file_format", "character", "case"),
    UNSTORABLE_CASES,
    ids=[f"{f}-{'nul' if c == NUL else 'surrogate'}-{case}" for f, c, case in UNSTORABLE_CASES],
)
def test_a_character_the_database_cannot_store_is_a_row_error(
    customs, tmp_path, file_format, character, case
):
    fields, field_named = {**UNSTORABLE_IN_ANY_FORMAT, **UNSTORABLE_IN_JSON}[case]
    path = tmp_path / f"bad{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, [good(1), good(2, **with_character(fields, character))]))
    # Unknown columns allowed: a column the import ignores is refused for its characters all the same.
    with pytest.raises(ImportFailed) as failure:
        import_file(path, customs, allow_unknown_columns=True)
    errors = failure.value.errors
    assert not Record.objects.exists()
    expected_field = field_named.replace("{code}", f"{ord(character):04x}")
    assert [(e["row"], e["field"]) for e in errors] == [(FIRST_ROW[file_format] + 1, expected_field)], errors
    assert ("NUL" if character == NUL else "surrogate") in errors[0]["message"]


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_a_surrogate_pair_is_a_character_like_any_other(customs, tmp_path, file_format):
    """An escaped pair (\ud83d\ude00) is one character, stored as it is."""
    path = tmp_path / f"pair{SUFFIX[file_format]}"
    path.write_bytes(encode(file_format, [good(1, summary="container \U0001f600")]))
    import_file(path, customs)
    assert Record.objects.get().summary == "container \U0001f600"


@pytest.mark.parametrize(
    ("name", "content", "row", "field"),
    [
        (
            "nul.csv",
            b"external_ref,category,occurred_on,summary\nA-1,shipment,2026-01-02,ab\x00cd\n",
            2,
            "summary",
        ),
        (
            "key.jsonl",
            b'{"external_ref":"A-1","category":"shipment","occurred_on":"2026-01-02","a\\u0000":1}\n',
            1,
            "a\\u0000",
        ),
        (
            "surrogate.json",
            b'[{"external_ref":"A-1","category":"shipment","occurred_on":"2026-01-02"},'
            b'{"external_ref":"A-2","category":"shipment","occurred_on":"2026-01-02","summary":"a\\udfffb"}]',
            2,
            "summary",
        ),
    ],
)
def test_an_uploaded_batch_with_such_a_character_fails_naming_the_row(customs, name, content, row, field):
    """The batch's error report is stored too: it names the field without the character."""
    analyst = User.objects.create(username="cus-analyst", agency=customs, role="analyst")
    client = APIClient()
    client.force_authenticate(analyst)
    response = client.post("/api/imports/", {"file": SimpleUploadedFile(name, content)}, format="multipart")
    assert response.status_code == 202, response.content
    batch = ImportBatch.objects.get(agency=customs)
    try:
        run_import_batch(batch.pk)
        batch.refresh_from_db()
        assert batch.status == "failed"
        assert [(e["row"], e["field"]) for e in batch.errors] == [(row, field)], batch.errors
        assert not Record.objects.exists()
    finally:
        batch.file.delete(save=False)


# --- every batch ends succeeded or failed ------------------------------------------


def test_a_batch_whose_run_breaks_unexpectedly_is_failed_not_left_running(customs):
    batch = ImportBatch.objects.create(
        agency=customs, file=ContentFile(encode("csv", [good(1)]), name="gone.csv"), original_name="gone.csv"
    )
    Path(batch.file.path).unlink()
    run_import_batch(batch.pk)
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 1)
    assert batch.errors[0]["message"] == "the import failed; nothing was imported"


def test_a_batch_started_the_allowed_times_is_failed_without_reading_its_file(customs, settings):
    settings.IMPORT_MAX_ATTEMPTS = 2
    batch = ImportBatch.objects.create(
        agency=customs,
        file=ContentFile(encode("csv", [good(1)]), name="fine.csv"),
        original_name="fine.csv",
        status="running",
        attempts=2,
    )
    try:
        run_import_batch(batch.pk)
        batch.refresh_from_db()
        assert (batch.status, batch.attempts) == ("failed", 3)
        assert "IMPORT_MAX_ATTEMPTS" in batch.errors[0]["message"]
        assert not Record.objects.exists(), "a valid file, not read"
        run_import_batch(batch.pk)
        batch.refresh_from_db()
        assert batch.attempts == 3, "a finished batch is not started again"
    finally:
        batch.file.delete(save=False)


def waiting_for_batch_lock(batch_id: int) -> bool:
    from intel.services import IMPORT_LOCK_SPACE

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 2",
            [IMPORT_LOCK_SPACE, batch_id],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_a_redelivery_waits_for_the_process_still_running_the_batch():
    import psycopg

    from intel.services import IMPORT_LOCK_SPACE

    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    batch = ImportBatch.objects.create(
        agency=agency,
        file=ContentFile(encode("csv", [good(1)]), name="busy.csv"),
        original_name="busy.csv",
        status="running",
        attempts=1,
    )
    redelivery = threading.Thread(target=lambda: (run_import_batch(batch.pk), connection.close()))
    try:
        # The first delivery's worker, still at work, holds the batch.
        with psycopg.connect(worker_database_url(), autocommit=True) as first:
            first.execute("SELECT pg_advisory_lock(%s, %s)", [IMPORT_LOCK_SPACE, batch.pk])
            redelivery.start()
            wait_for(lambda: waiting_for_batch_lock(batch.pk), "the redelivery to wait for the lock")
            batch.refresh_from_db()
            assert (batch.status, batch.attempts) == ("running", 1), "waiting: not counted, not run"
        # The first worker's session ended (it died, its transaction rolled back).
        redelivery.join(timeout=120)
        assert not redelivery.is_alive()
        batch.refresh_from_db()
        assert (batch.status, batch.attempts) == ("succeeded", 2)
        assert Record.objects.count() == 1
    finally:
        batch.file.delete(save=False)


def wait_for(condition, what: str, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def kill_the_child_running(worker, batch_id: int, attempt: int) -> None:
    """Waits until the batch's `attempt`-th start has imported rows, then SIGKILLs the pool
    process running it, as the kernel's OOM killer would."""
    from config.celery import app
    from intel.services import batch_progress

    def running_child():
        batch = ImportBatch.objects.get(pk=batch_id)
        if batch.attempts != attempt or batch.status != "running" or batch_progress(batch) < 100:
            return None
        active = app.control.inspect(destination=[worker.name], timeout=2).active() or {}
        return next(
            (task["worker_pid"] for task in active.get(worker.name, []) if task["args"] == [batch_id]), None
        )

    os.kill(wait_for(running_child, f"start {attempt} of batch {batch_id}"), signal.SIGKILL)


def slow_batch(agency, rows: int) -> ImportBatch:
    """A valid file large enough to be killed in the middle of (parties resolved per row)."""
    content = encode(
        "csv",
        [
            good(i, importer_name=f"Importer {i} BV", importer_country="NL", container_numbers="CSQU3054383")
            for i in range(rows)
        ],
    )
    return ImportBatch.objects.create(
        agency=agency, file=ContentFile(content, name="slow.csv"), original_name="slow.csv"
    )


@pytest.mark.django_db(transaction=True)
def test_a_batch_killed_mid_import_is_redelivered_and_finishes(celery_worker):
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    batch = slow_batch(agency, 4000)
    try:
        run_import.delay(batch.pk)
        kill_the_child_running(celery_worker, batch.pk, attempt=1)
        wait_for(
            lambda: ImportBatch.objects.get(pk=batch.pk).status in ("succeeded", "failed"),
            "the batch to end",
            600,
        )
        batch.refresh_from_db()
        assert (batch.status, batch.attempts) == ("succeeded", 2), batch.errors
        assert Record.objects.filter(import_batch=batch).count() == 4000
    finally:
        batch.file.delete(save=False)


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_kills_every_worker_is_failed_after_the_allowed_starts(celery_worker, settings):
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")
    batch = slow_batch(agency, 4000)
    allowed = settings.IMPORT_MAX_ATTEMPTS  # the worker reads the same environment
    try:
        run_import.delay(batch.pk)
        for attempt in range(1, allowed + 1):
            kill_the_child_running(celery_worker, batch.pk, attempt)
        wait_for(lambda: ImportBatch.objects.get(pk=batch.pk).status == "failed", "the batch to fail", 600)
        batch.refresh_from_db()
        assert batch.attempts == allowed + 1
        assert f"started {allowed} times" in batch.errors[0]["message"]
        assert "IMPORT_MAX_ATTEMPTS" in batch.errors[0]["message"]
        assert not Record.objects.exists()
    finally:
        batch.file.delete(save=False)


# --- uploads over the size limit are refused before they are stored -----------------


@pytest.fixture
def upload_limits(settings, tmp_path):
    settings.IMPORT_MAX_FILE_BYTES = 300_000
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.FILE_UPLOAD_TEMP_DIR = tmp_path / "upload-tmp"
    settings.FILE_UPLOAD_TEMP_DIR.mkdir()
    # Uploads go to temporary files from the first byte, so a refusal must delete one.
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1000
    return settings


def padded_csv(size: int) -> bytes:
    head = encode("csv", [good(1)])
    return head + b"\n" * (size - len(head))


def files_under(folder: Path) -> list[Path]:
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("size", "why"),
    [
        (300_001, "one byte over: counted while the body streams"),
        (2_000_000, "far over: refused on its Content-Length before the body is read"),
    ],
)
@pytest.mark.parametrize("login", ["token", "session"])
def test_an_upload_over_the_limit_is_refused_and_nothing_is_kept(customs, upload_limits, size, why, login):
    analyst = User.objects.create(username="ana", agency=customs, role="analyst")
    api = APIClient(enforce_csrf_checks=True)
    if login == "token":
        api.force_authenticate(analyst)
    else:
        # Session authentication's CSRF check reads the body (for the token) before the view
        # does, once a CSRF cookie is there.
        api.force_login(analyst)
        api.cookies["csrftoken"] = "a" * 32
    upload = SimpleUploadedFile("big.csv", padded_csv(size), "text/csv")
    response = api.post("/api/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 413, response.content
    assert response.json() == {"file": ["the file is larger than 300000 bytes (IMPORT_MAX_FILE_BYTES)"]}
    assert not ImportBatch.objects.exists()
    assert files_under(upload_limits.MEDIA_ROOT) == []
    assert files_under(upload_limits.FILE_UPLOAD_TEMP_DIR) == []


def test_an_upload_at_the_limit_is_stored(customs, upload_limits):
    api = APIClient()
    api.force_authenticate(User.objects.create(username="ana", agency=customs, role="analyst"))
    upload = SimpleUploadedFile("edge.csv", padded_csv(300_000), "text/csv")
    response = api.post("/api/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202, response.content
    assert ImportBatch.objects.get().file.size == 300_000


# --- files of failed imports are removed after the retention period ----------------


def test_files_of_failed_imports_are_removed_after_retention(customs, settings, tmp_path):
    from config.celery import app

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.IMPORT_FAILED_FILE_RETENTION_DAYS = 30
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)

    def batch(name: str, status: str) -> ImportBatch:
        return ImportBatch.objects.create(
            agency=customs,
            file=ContentFile(b"x", name=name),
            original_name=name,
            status=status,
            finished_at=datetime.now(UTC),
        )

    with time_machine.travel(start, tick=False):
        old_failed, old_succeeded = batch("old.csv", "failed"), batch("ok.csv", "succeeded")
    with time_machine.travel(start + timedelta(days=20), tick=False):
        young_failed = batch("young.csv", "failed")
    paths = {b.pk: Path(b.file.path) for b in (old_failed, old_succeeded, young_failed)}

    with time_machine.travel(start + timedelta(days=29, hours=23), tick=False):
        assert remove_failed_import_files_task() == 0
    with time_machine.travel(start + timedelta(days=30, hours=1), tick=False):
        assert remove_failed_import_files_task() == 1
    assert not paths[old_failed.pk].exists()
    old_failed.refresh_from_db()
    assert old_failed.file.name == "" and old_failed.status == "failed", "the batch itself is kept"
    assert paths[old_succeeded.pk].exists() and paths[young_failed.pk].exists()
    with time_machine.travel(start + timedelta(days=51), tick=False):
        assert remove_failed_import_files_task() == 1
    assert not paths[young_failed.pk].exists() and paths[old_succeeded.pk].exists()

    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    assert "intel.remove_failed_import_files" in scheduled
    assert "intel.remove_failed_import_files" in app.tasks


# --- a batch whose task was lost before any worker took it is sent again ---------------


@pytest.mark.django_db(transaction=True)
def test_a_batch_whose_task_was_lost_is_sent_again_and_imported(celery_worker, settings):
    from config.celery import app
    from intel.tasks import resume_stalled_imports

    settings.IMPORT_STALLED_AFTER_MINUTES = 10
    agency = Agency.objects.create(code="cus", name="Customs", country="NL", kind="customs")

    def uploaded(name: str, minutes_ago: int, **fields) -> ImportBatch:
        batch = ImportBatch.objects.create(
            agency=agency,
            file=ContentFile(encode("csv", [good(len(name))]), name=name),
            original_name=name,
            **fields,
        )
        ImportBatch.objects.filter(pk=batch.pk).update(
            created_at=datetime.now(UTC) - timedelta(minutes=minutes_ago)
        )
        return batch

    lost = uploaded("lost.csv", 11)
    waiting = uploaded("queued.csv", 9)
    started = uploaded("started.csv", 30, status="running", attempts=1)
    try:
        assert resume_stalled_imports() == 1
        wait_for(lambda: ImportBatch.objects.get(pk=lost.pk).status == "succeeded", "the lost batch to run")
        assert Record.objects.filter(import_batch=lost).count() == 1
        # Young ones may just be queued; started ones are the broker's to redeliver.
        assert ImportBatch.objects.get(pk=waiting.pk).status == "pending"
        assert ImportBatch.objects.get(pk=started.pk).attempts == 1
        assert resume_stalled_imports() == 0
    finally:
        for batch in (lost, waiting, started):
            batch.file.delete(save=False)
    assert "intel.resume_stalled_imports" in [
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    ]
    assert "intel.resume_stalled_imports" in app.tasks
