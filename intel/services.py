"""Writes to records and imports; the API, the admin, commands and tasks all call these."""

from __future__ import annotations

from pathlib import Path

from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from intel.importing import ImportFailed, detect_format, import_file
from intel.models import ImportBatch, Record
from intel.signals import records_changed

PROGRESS_TTL = 24 * 3600


def progress_key(batch_id: int) -> str:
    return f"import-progress:{batch_id}"


def batch_progress(batch: ImportBatch) -> int:
    """Rows processed so far: live from the cache while the import's transaction is open."""
    if batch.status == ImportBatch.Status.RUNNING:
        return cache.get(progress_key(batch.pk), batch.rows_processed)
    return batch.rows_processed


def create_import_batch(upload: UploadedFile, user) -> ImportBatch:
    """Stores an upload for the user's agency; raises ImportFailed for an unknown format."""
    detect_format(upload.name)
    return ImportBatch.objects.create(
        agency_id=user.agency_id, uploaded_by=user, file=upload, original_name=upload.name[:255]
    )


def run_import_batch(batch_id: int) -> ImportBatch:
    """Runs a stored batch. Idempotent: a finished batch is left as it is, and a batch
    interrupted mid-way (its transaction rolled back) simply runs again."""
    batch = ImportBatch.objects.select_related("agency", "uploaded_by").get(pk=batch_id)
    if batch.status in (ImportBatch.Status.SUCCEEDED, ImportBatch.Status.FAILED):
        return batch
    path = Path(batch.file.path)
    batch.status, batch.started_at = ImportBatch.Status.RUNNING, timezone.now()
    batch.save(update_fields=["status", "started_at"])

    def progress(rows: int) -> None:
        cache.set(progress_key(batch.pk), rows, PROGRESS_TTL)

    try:
        result = import_file(
            path,
            batch.agency,
            user=batch.uploaded_by,
            batch=batch,
            file_format=detect_format(batch.original_name),
            progress=progress,
        )
    except ImportFailed as failure:
        batch.status, batch.errors = ImportBatch.Status.FAILED, failure.errors
        batch.rows_processed = cache.get(progress_key(batch.pk), 0)
    else:
        batch.status = ImportBatch.Status.SUCCEEDED
        batch.rows_total = batch.rows_processed = result.rows
        batch.created_count, batch.updated_count, batch.unchanged_count = (
            result.created,
            result.updated,
            result.unchanged,
        )
    batch.finished_at = timezone.now()
    batch.save()
    cache.delete(progress_key(batch.pk))
    return batch


EDITABLE_RECORD_FIELDS = ("summary", "classification", "caveats", "occurred_on")


def update_record(record: Record, user, **changes) -> Record:
    """Changes a record's editable fields; the caller has checked the guardian change right."""
    from sharing.audit import record_event

    unknown = set(changes) - set(EDITABLE_RECORD_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    before = {name: getattr(record, name) for name in changes}
    with transaction.atomic():
        for name, value in changes.items():
            setattr(record, name, value)
        record.save(update_fields=[*changes, "updated_at"])
        records_changed.send(sender=Record, record_ids=[record.pk])
        record_event("record.update", actor=user, obj=record, details={"before": before, "after": changes})
    return record


def delete_record(record: Record, user) -> None:
    """Deletes a record with its mentions and links; entities no record mentions any more stay
    as keys only (no properties) and are invisible to everyone."""
    from sharing.audit import record_event

    with transaction.atomic():
        record_event(
            "record.delete",
            actor=user,
            obj=record,
            details={"external_ref": record.external_ref, "owner": record.owner_id},
        )
        records_changed.send(sender=Record, record_ids=[record.pk])
        record.delete()
