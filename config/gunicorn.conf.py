"""How the application is served: `gunicorn -c config/gunicorn.conf.py config.wsgi:application`.

More processes than gunicorn's usual two per core, each with a spare thread: most of a
request is spent waiting on PostgreSQL or Neo4j, a search waits out SEARCH_MIN_SECONDS
whatever it found (so that time tells nothing of records the reader may not see) and an
export streams for as long as the client reads. One request per process let a handful of
searches at once hold every process while using no processor; many threads in a few
processes made requests wait for each other's turn at the interpreter (docs/benchmarks.md,
"Serving"). Settings from the environment (GUNICORN_*), or the command line, which wins."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", 5 * (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", 2))
# No connection kept open between requests: a client sending its next request just as the
# server closed the idle connection got a reset (the load test's errors, with 2 s).
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", 0))
# A worker process silent this long is restarted; with threads, not a request this long.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
