from celery import shared_task

from intel.services import remove_failed_import_files, run_import_batch, stalled_import_batches


@shared_task(name="intel.run_import")
def run_import(batch_id: int) -> str:
    return run_import_batch(batch_id).status


@shared_task(name="intel.remove_failed_import_files")
def remove_failed_import_files_task() -> int:
    return remove_failed_import_files()


@shared_task(name="intel.resume_stalled_imports")
def resume_stalled_imports() -> int:
    """Sends the task of each stalled batch again. Running a batch twice is harmless (one
    process at a time runs it, and a finished batch is left as it is)."""
    stalled = stalled_import_batches()
    for batch_id in stalled:
        run_import.delay(batch_id)
    return len(stalled)
