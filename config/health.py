"""GET /health/: the state of every service the platform depends on.

Anyone may ask (monitors are not signed in), so the public answer says only up or down per
dependency. The details (what answered, latency, the text of a failure, the graph sync's
backlog and its oldest change) are for platform admins signed in with their second factor:
a failure's text names hosts and configuration, and the backlog rises and falls with every
agency's imports, releases and edits, which no outsider (nor any agency) may watch."""

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from config.celery import app as celery_app
from graph.driver import get_driver, graph_enabled
from graph.outbox import sync_enabled, sync_state


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return f"{connection.vendor}"


def check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (no broker: tasks run in process)"
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=0, timeout=settings.HEALTH_CHECK_TIMEOUT)
    return "redis"


def check_worker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (tasks run in process)"
    replies = celery_app.control.ping(timeout=min(1.0, settings.HEALTH_CHECK_TIMEOUT))
    if not replies:
        raise RuntimeError("no Celery worker answered")
    return f"{len(replies)} worker(s)"


def check_graph() -> str:
    if not graph_enabled():
        return "networkx (embedded)"
    get_driver().verify_connectivity()
    return "neo4j"


CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "broker": check_broker,
    "worker": check_worker,
    "graph": check_graph,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            detail, state = check(), "up"
        except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "down", never a 500
            detail, state = f"{type(exc).__name__}: {exc}"[:300], "down"
        results[name] = {
            "state": state,
            "detail": detail,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    return results


def graph_sync() -> dict:
    """Sync lag (age of the oldest change not yet in Neo4j) and backlog: information, not a
    check, since a lagging sync hides too much for a while but never shows too much."""
    if not sync_enabled():
        return {"mode": "off (embedded: no Neo4j projection)"}
    try:
        return sync_state().as_dict()
    except Exception as exc:  # noqa: BLE001 - the database check reports the cause; never a 500
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}


def shows_details(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_authenticated and user.is_superuser and user.is_verified())


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    down = [name for name, result in checks.items() if result["state"] != "up"]
    body = {"status": "down" if down else "up", "down": down}
    if shows_details(request):
        body |= {"checks": checks, "graph_sync": graph_sync()}
    else:
        body["checks"] = {name: {"state": result["state"]} for name, result in checks.items()}
    return JsonResponse(body, status=503 if down else 200)
