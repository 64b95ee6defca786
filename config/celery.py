"""The Celery app: broker and behaviour come from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("interlink")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="interlink.ping")
def ping() -> dict:
    """Answers with the worker's identity, so a caller can tell a real worker from an eager call."""
    import socket

    return {"pid": os.getpid(), "host": socket.gethostname()}
