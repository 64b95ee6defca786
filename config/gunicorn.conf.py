"""How the application is served: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

Threads in each worker process, not one request per process: a search waits out
SEARCH_MIN_SECONDS whatever it found (so that time tells nothing of records the reader may
not see), an export streams for as long as the client reads, and most of a request is spent
waiting on PostgreSQL or Neo4j. With one request per process such waits held a process each,
and a handful of searches at once held every process while using no processor. Settings
from the environment (GUNICORN_*), or the command line, which wins over this file."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# A worker process silent this long is restarted; with threads, not a request this long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
