"""Celery tasks of the graph sync: thin, idempotent wrappers of `graph.drain` and
`graph.visibility`. None carries state in its arguments that a later run could make
stale: a drain reads the outbox and the current rows, so a task run twice, late or
after a newer one leaves the same graph."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_process_init, worker_process_shutdown
from django.conf import settings
from django.db import transaction

from graph import drain, driver, jobs, visibility
from graph.outbox import (
    clear_drain_request,
    clear_helpers,
    enqueue_records,
    request_helpers,
    sync_enabled,
)

logger = logging.getLogger(__name__)


@worker_process_init.connect
def open_driver(**_) -> None:
    # One driver per worker process, opened as the process starts; one inherited through
    # fork belongs to the parent.
    driver.forget_inherited_driver()
    if driver.graph_enabled():
        driver.get_driver()


@worker_process_shutdown.connect
def close_driver(**_) -> None:
    driver.close_driver()


@shared_task(name="graph.drain_outbox", ignore_result=True)
def drain_outbox() -> dict:
    """Syncs the outbox to Neo4j until it is empty (or the task's time share is used up,
    when it queues its successor). With Neo4j down it leaves every row for a later run."""
    clear_drain_request()
    if not sync_enabled():
        return {}
    try:
        driver.get_driver().verify_connectivity()
    except (*drain.UNAVAILABLE, OSError) as exc:
        logger.warning("graph sync: Neo4j unavailable (%s); the outbox keeps the changes", exc)
        return {"neo4j": "unavailable"}
    try:
        total, more = drain.drain(max_seconds=settings.GRAPH_SYNC_TASK_SECONDS, on_backlog=request_helpers)
    except drain.UNAVAILABLE as exc:
        logger.warning("graph sync: stopped, a service went away (%s); the outbox keeps the rest", exc)
        return {"stopped": type(exc).__name__}
    if more:
        drain_outbox.delay()
    else:
        clear_helpers()
    return {"records": total.records, "failed": total.failed, "elements": total.elements, "more": more}


@shared_task(name="graph.watch_visibility", ignore_result=True)
def watch_visibility() -> int:
    """Beat: outbox rows for records whose visibility the clock changed (expired grants)."""
    if not sync_enabled():
        return 0
    return visibility.watch()


@shared_task(name="graph.visibility_changed", ignore_result=True)
def visibility_changed(record_ids: list[int]) -> int:
    """For callers that cannot send `intel.signals.records_changed` inside their own
    transaction: the visibility of these records may have changed; sync them again."""
    with transaction.atomic():
        return enqueue_records(record_ids)


@shared_task(name="graph.run_analysis", ignore_result=True)
def run_analysis(result_id: int) -> str:
    """Computes one agency's stored analytics result (`graph.jobs`); idempotent."""
    return jobs.run_analysis(result_id)
