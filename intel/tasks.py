from celery import shared_task

from intel.services import run_import_batch


@shared_task(name="intel.run_import")
def run_import(batch_id: int) -> str:
    return run_import_batch(batch_id).status
