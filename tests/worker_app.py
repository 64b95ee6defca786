"""The Celery app the suite's shared worker runs: the project's own, plus what one worker
process serving many tests in a row needs.

The suite flushes its database between transactional tests, and the flush's post_migrate
makes content types and permissions anew, under new ids. A worker kept across tests would
answer guardian's object permission checks from the content types it cached before, so it
forgets them before every task.
"""

from celery.signals import task_prerun

from config.celery import app

__all__ = ["app"]


@task_prerun.connect
def forget_content_types(**_: object) -> None:
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.clear_cache()
