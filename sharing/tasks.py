from celery import shared_task

from sharing.agreements import refresh_statuses


@shared_task(name="sharing.refresh_agreement_statuses")
def refresh_agreement_statuses() -> int:
    return refresh_statuses()
