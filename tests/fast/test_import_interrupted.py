"""An upload a stopped embedded server left unfinished: no broker hands its task on, so the
Imports page, the upload's page and the API fail it, saying so, rather than follow it as
running forever; one whose import is under way (its lock held) is left alone, as is every
upload where a broker redelivers. The embedded default's session locks are files: taken by
one thread or process at a time, and freed when their process dies."""

import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from core.locks import session_lock, session_lock_if_free
from intel.models import ImportBatch
from intel.services import IMPORT_LOCK_SPACE
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db

INTERRUPTED = "the import was interrupted"


def stored(staff_of, status: str, *, minutes_ago: int = 0) -> ImportBatch:
    batch = ImportBatch.objects.create(
        agency=staff_of.agency,
        uploaded_by=staff_of.analyst,
        file=SimpleUploadedFile("rows.csv", b"external_ref,category,occurred_on\n"),
        original_name="rows.csv",
        status=status,
    )
    ImportBatch.objects.filter(pk=batch.pk).update(created_at=timezone.now() - timedelta(minutes=minutes_ago))
    return batch


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_uploads_a_stopped_server_left_are_failed_saying_so_and_one_just_stored_is_not():
    cus = staff("cus")
    running = stored(cus, ImportBatch.Status.RUNNING, minutes_ago=30)
    waiting_long = stored(cus, ImportBatch.Status.PENDING, minutes_ago=2)
    just_stored = stored(cus, ImportBatch.Status.PENDING)

    listed = signed_in(cus.analyst).get("/imports/").content.decode()

    assert listed.count("Failed") == 2 and listed.count("Pending") == 1
    for batch in (running, waiting_long):
        batch.refresh_from_db()
        assert batch.status == ImportBatch.Status.FAILED and batch.finished_at is not None
        assert batch.errors[0]["message"].startswith(INTERRUPTED) and batch.errors[0]["row"] is None
    just_stored.refresh_from_db()
    assert just_stored.status == ImportBatch.Status.PENDING
    page = signed_in(cus.analyst).get(f"/imports/{running.public_id}/").content.decode()
    assert INTERRUPTED in page and "data-refresh" not in page


@pytest.mark.parametrize("asked", ["page", "api", "api list"])
def test_an_import_under_way_is_left_running_until_its_lock_is_freed(asked):
    cus = staff("cus")
    batch = stored(cus, ImportBatch.Status.RUNNING)
    client = signed_in(cus.analyst)
    path = {
        "page": f"/imports/{batch.public_id}/",
        "api": f"/api/imports/{batch.public_id}/",
        "api list": "/api/imports/",
    }[asked]
    taken, release = threading.Event(), threading.Event()

    def importing() -> None:
        with session_lock(IMPORT_LOCK_SPACE, batch.pk):
            taken.set()
            release.wait(30)

    worker = threading.Thread(target=importing)
    worker.start()
    try:
        assert taken.wait(30)
        assert client.get(path).status_code == 200
        batch.refresh_from_db()
        assert batch.status == ImportBatch.Status.RUNNING
    finally:
        release.set()
        worker.join(30)
    assert client.get(path).status_code == 200
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.FAILED


def test_where_a_broker_redelivers_nothing_is_failed(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cus = staff("cus")
    batch = stored(cus, ImportBatch.Status.RUNNING, minutes_ago=30)
    signed_in(cus.analyst).get("/imports/")
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.RUNNING


def test_a_file_lock_is_one_sessions_at_a_time_reentrant_in_it_and_freed_when_its_process_dies():
    with session_lock(7, 1):
        with session_lock_if_free(7, 1) as free:
            assert free  # this thread holds it: re-entrant, as a PostgreSQL session is
        seen = []
        other = threading.Thread(target=lambda: seen.append(_free_elsewhere(7, 1)))
        other.start()
        other.join(30)
        assert seen == [False]
    other = threading.Thread(target=lambda: seen.append(_free_elsewhere(7, 1)))
    other.start()
    other.join(30)
    assert seen == [False, True]

    holding = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import django, sys, time; django.setup();"
            "from core.locks import session_lock\n"
            "with session_lock(7, 2):\n    print('held', flush=True); time.sleep(60)",
        ],
        cwd=Path(settings.BASE_DIR),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "LOCK_DIR": str(settings.LOCK_DIR)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holding.stdout.readline().strip() == "held"
        with session_lock_if_free(7, 2) as free:
            assert not free
        holding.send_signal(signal.SIGKILL)
        holding.wait(30)
        with session_lock_if_free(7, 2) as free:
            assert free
    finally:
        holding.kill()


def _free_elsewhere(space: int, key: int) -> bool:
    with session_lock_if_free(space, key) as free:
        return free


def test_a_warning_of_the_whole_file_is_shown_without_a_row_or_field():
    cus = staff("cus")
    batch = stored(cus, ImportBatch.Status.SUCCEEDED)
    ImportBatch.objects.filter(pk=batch.pk).update(
        warnings=[
            {"row": None, "field": None, "message": "the search for near-duplicates stopped"},
            {"row": 1, "field": "colour", "message": "an unknown column, ignored"},
        ]
    )
    page = signed_in(cus.analyst).get(f"/imports/{batch.public_id}/").content.decode()
    assert "<li>the search for near-duplicates stopped</li>" in page
    assert "<li>row 1, colour: an unknown column, ignored</li>" in page
    assert "None" not in page
