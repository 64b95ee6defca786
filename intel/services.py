"""Writes to records and imports; the API, the admin, commands and tasks all call these."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from audit.log import record_event
from core.locks import session_lock, session_lock_if_free
from intel.dates import occurred_on_problem
from intel.import_reading import ImportFailed, ImportLimits, check_file_size, count_rows, detect_format
from intel.import_writing import import_file
from intel.models import ImportBatch, Record
from intel.selectors import BadInput
from intel.signals import records_changed

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600


def progress_key(batch_id: int) -> str:
    return f"import-progress:{batch_id}"


def batch_progress(batch: ImportBatch) -> int:
    """Rows processed so far: live from the cache while the import's transaction is open."""
    if batch.status == ImportBatch.Status.RUNNING:
        return cache.get(progress_key(batch.pk), batch.rows_processed)
    return batch.rows_processed


def create_import_batch(upload: UploadedFile, user, *, allow_unknown_columns: bool = False) -> ImportBatch:
    """Stores an upload for the user's agency; raises ImportFailed for an unknown format or
    a file over the size limit (the view's upload handler refuses most of those earlier).
    `allow_unknown_columns`: the import ignores unknown columns, listing them as warnings."""
    if getattr(user, "agency_id", None) is None:
        raise PermissionDenied("only members of an agency import records, into their agency")
    detect_format(upload.name)
    check_file_size(upload.size, ImportLimits.from_settings())
    return ImportBatch.objects.create(
        agency_id=user.agency_id,
        uploaded_by=user,
        file=upload,
        original_name=upload.name[:255],
        allow_unknown_columns=allow_unknown_columns,
    )


def upload_import(upload: UploadedFile, user, *, allow_unknown_columns: bool = False) -> ImportBatch:
    """Stores an upload (`create_import_batch`) and has a worker import it once stored: the
    API's and the Imports page's one way in."""
    from intel.tasks import run_import  # the task runs this module's import

    batch = create_import_batch(upload, user, allow_unknown_columns=allow_unknown_columns)
    transaction.on_commit(lambda: run_import.delay(batch.pk))
    return batch


# The advisory lock key space of import batches (the first int4 of pg_advisory_lock(int4, int4)).
IMPORT_LOCK_SPACE = 0x696D_0001


@contextmanager
def batch_lock(batch_id: int) -> Iterator[None]:
    """Holds the batch against other processes running it. A task redelivered while its first
    delivery is still at work (the broker's visibility timeout passed on a long file) waits
    here, then finds the batch finished; the lock of a worker that died goes with its
    database connection, so the redelivery after a crash goes on at once."""
    with session_lock(IMPORT_LOCK_SPACE, batch_id):
        yield


def run_import_batch(batch_id: int) -> ImportBatch:
    """Runs a stored batch, which ends succeeded or failed. Idempotent: a finished batch is
    left as it is, and a batch interrupted mid-way (its transaction rolled back) runs again,
    up to IMPORT_MAX_ATTEMPTS starts in all; one process at a time runs a batch."""
    with batch_lock(batch_id):
        return start_and_import(batch_id)


def start_and_import(batch_id: int) -> ImportBatch:
    # The start is counted (and committed) before the file is read: if reading kills the
    # worker, the redelivered task finds the count, and a file that kills every worker is
    # failed after the last allowed start rather than run forever.
    started = ImportBatch.objects.filter(
        pk=batch_id, status__in=[ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING]
    ).update(status=ImportBatch.Status.RUNNING, started_at=timezone.now(), attempts=F("attempts") + 1)
    batch = ImportBatch.objects.select_related("agency", "uploaded_by").get(pk=batch_id)
    if not started:
        return batch
    cache.delete(progress_key(batch.pk))  # a restart reads the file from its first row again
    if batch.attempts > settings.IMPORT_MAX_ATTEMPTS:
        return finish_failed(
            batch,
            [
                {
                    "row": None,
                    "field": None,
                    "message": f"the import was started {batch.attempts - 1} times and its worker "
                    "stopped each time before it finished; it is not tried again (IMPORT_MAX_ATTEMPTS)",
                }
            ],
        )

    def progress(rows: int) -> None:
        cache.set(progress_key(batch.pk), rows, PROGRESS_TTL)

    try:
        path, file_format = Path(batch.file.path), detect_format(batch.original_name)
        limits = ImportLimits.of_uploads()
        # Counted first, so that the upload's page shows rows processed of rows total, and a
        # file past a limit is failed at once rather than after the rows before it.
        batch.rows_total = count_rows(path, file_format, limits)
        ImportBatch.objects.filter(pk=batch.pk).update(rows_total=batch.rows_total)
        result = import_file(
            path,
            batch.agency,
            user=batch.uploaded_by,
            batch=batch,
            file_format=file_format,
            progress=progress,
            allow_unknown_columns=batch.allow_unknown_columns,
            limits=limits,
        )
    except ImportFailed as failure:
        return finish_failed(batch, failure.errors)
    except Exception:  # whatever else went wrong, the batch must not stay running
        logger.exception("import batch %s failed", batch.pk)
        return finish_failed(
            batch, [{"row": None, "field": None, "message": "the import failed; nothing was imported"}]
        )
    batch.status = ImportBatch.Status.SUCCEEDED
    batch.rows_total = batch.rows_processed = result.rows
    batch.created_count, batch.updated_count, batch.unchanged_count = (
        result.created,
        result.updated,
        result.unchanged,
    )
    batch.warnings = result.warnings
    batch.finished_at = timezone.now()
    batch.save()
    cache.delete(progress_key(batch.pk))
    return batch


def finish_failed(batch: ImportBatch, errors: list[dict]) -> ImportBatch:
    batch.status, batch.errors = ImportBatch.Status.FAILED, errors
    batch.rows_processed = cache.get(progress_key(batch.pk), 0)
    batch.finished_at = timezone.now()
    batch.save()
    cache.delete(progress_key(batch.pk))
    return batch


def remove_failed_import_files() -> int:
    """Deletes the stored files of imports that failed more than the retention period ago
    (the batch, with its errors, stays); returns how many were removed."""
    cutoff = timezone.now() - timedelta(days=settings.IMPORT_FAILED_FILE_RETENTION_DAYS)
    removed = 0
    expired = ImportBatch.objects.filter(status=ImportBatch.Status.FAILED, finished_at__lt=cutoff)
    for batch in expired.exclude(file="").iterator():
        batch.file.delete(save=False)
        ImportBatch.objects.filter(pk=batch.pk).update(file="")
        removed += 1
    return removed


# An import still at work: its page follows it.
UNFINISHED = (ImportBatch.Status.PENDING, ImportBatch.Status.RUNNING)
# On the embedded default the request that stores an upload runs it as soon as it is stored:
# one still waiting this long after was stored by a server stopped before it ran it.
EMBEDDED_START_WITHIN = timedelta(minutes=1)
INTERRUPTED = (
    "the import was interrupted: it did not finish (the server stopped, or could not write, "
    "while it ran), and nothing of the file was written (an import is written whole or not "
    "at all); upload the file again"
)


def fail_interrupted(batches: QuerySet[ImportBatch]) -> None:
    """On the embedded default, where no broker hands an interrupted task on, fails each of
    these uploads that a stopped server left running (its lock free: no request runs it) or
    waiting (past EMBEDDED_START_WITHIN), saying so; else they were followed as running
    forever. With a broker, a worker that stops leaves its batch to the redelivery
    (`start_and_import`) and a lost task to `stalled_import_batches`."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return
    stopped = batches.filter(
        Q(status=ImportBatch.Status.RUNNING)
        | Q(status=ImportBatch.Status.PENDING, created_at__lt=timezone.now() - EMBEDDED_START_WITHIN)
    )
    for batch_id in stopped.values_list("pk", flat=True):
        with session_lock_if_free(IMPORT_LOCK_SPACE, batch_id) as free:
            batch = ImportBatch.objects.filter(pk=batch_id).first() if free else None
            if batch is not None and batch.status in UNFINISHED:
                finish_failed(batch, [{"row": None, "field": None, "message": INTERRUPTED}])


def stalled_import_batches() -> list[int]:
    """Batches still waiting to start IMPORT_STALLED_AFTER_MINUTES after their upload: their
    task was lost before any worker took it (the broker was down when it was sent, or lost
    it). Started batches are not among them: the broker redelivers those itself."""
    cutoff = timezone.now() - timedelta(minutes=settings.IMPORT_STALLED_AFTER_MINUTES)
    return list(
        ImportBatch.objects.filter(status=ImportBatch.Status.PENDING, created_at__lt=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)
    )


def require_right(user, right: str, record: Record) -> None:
    if not user.has_perm(right, record):
        raise PermissionDenied("only the owner's staff change or delete a record")


EDITABLE_RECORD_FIELDS = ("summary", "classification", "caveats", "occurred_on")


def locked(record: Record) -> Record:
    """The record as it stands, its row locked to the end of the transaction. A writer of a
    record locks it before it appends to the audit log (whose lock every writer takes
    last): one that took the log's lock first and waited for the row deadlocked with a
    release holding the row and waiting for the log; and what it audits as `before` is what
    it replaces, not what the record was before another change it waited for."""
    return Record.objects.select_for_update().get(pk=record.pk)


def update_record(record: Record, user, **changes) -> Record:
    """Changes a record's editable fields, for a holder of the guardian change right on it
    (the owner's staff)."""
    require_right(user, "intel.change_record", record)
    unknown = set(changes) - set(EDITABLE_RECORD_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if changes.get("occurred_on") and (problem := occurred_on_problem(changes["occurred_on"])):
        raise BadInput("occurred_on", problem)
    with transaction.atomic():
        before = {name: getattr(locked(record), name) for name in changes}
        for name, value in changes.items():
            setattr(record, name, value)
        record.save(update_fields=[*changes, "updated_at"])
        records_changed.send(sender=Record, record_ids=[record.pk])
        record_event("record.update", actor=user, obj=record, details={"before": before, "after": changes})
    return record


def delete_record(record: Record, user) -> None:
    """Deletes a record with its mentions and links; entities no record mentions any more stay
    as keys only (no properties) and are invisible to everyone. For a holder of the
    guardian delete right on it (the owner's staff)."""
    require_right(user, "intel.delete_record", record)
    with transaction.atomic():
        locked(record)
        record_event(
            "record.delete",
            actor=user,
            obj=record,
            details={"external_ref": record.external_ref, "owner": record.owner_id},
        )
        records_changed.send(sender=Record, record_ids=[record.pk])
        record.delete()
