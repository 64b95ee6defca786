"""How the application is served: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

Threads in each process, so that a wait holds a thread, not a process: a search waits out
SEARCH_MIN_SECONDS whatever it found (so that time tells nothing of records the reader may
not see), an export streams for as long as the client reads, and most of a request waits on
PostgreSQL or Neo4j. With one request per process a handful of searches at once held every
process while using no processor (tests/test_serving.py). Under the load test the ways of
serving measured side by side (docs/benchmarks.md, "Serving") differed less than two runs of
one of them. Settings from the environment (GUNICORN_*), or the command line, which wins."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Each thread keeps a PostgreSQL connection (DATABASE_CONN_MAX_AGE): workers x threads, with
# the Celery workers', must stay under the server's max_connections; the default stops at
# 16 processes, 64 connections, whatever the cores.
workers = int(os.environ.get("GUNICORN_WORKERS", min(2 * (os.cpu_count() or 1) + 1, 16)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# No connection kept open between requests: a client sending its next request just as the
# server closed the idle connection got a reset (the load test's only errors, with 2 s).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 0))
# A worker process silent this long is restarted; with threads, not a request this long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
