from celery import shared_task

from intel.services import remove_failed_import_files, run_import_batch


@shared_task(name="intel.run_import")
def run_import(batch_id: int) -> str:
    return run_import_batch(batch_id).status


@shared_task(name="intel.remove_failed_import_files")
def remove_failed_import_files_task() -> int:
    return remove_failed_import_files()
