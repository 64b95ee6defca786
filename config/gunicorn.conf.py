"""How a deployment serves the platform: `gunicorn -c config/gunicorn.conf.py` (bench/http_api.py
serves it so too). Settings given on the command line, or in GUNICORN_CMD_ARGS, win.

Threads, not one request per process: a search answers no sooner than SEARCH_MIN_SECONDS
(so that its time does not tell what other agencies' records hold) and an export streams
as the client reads; a process serving one request at a time sat out those waits while the
requests behind it queued."""

import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("INTERLINK_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("INTERLINK_THREADS", "4"))
# An import or a graph job runs in Celery; a request longer than this is a fault.
timeout = 120
