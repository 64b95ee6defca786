"""Celery tasks of targeting: thin wrappers of `targeting.scoring`. A run reads what the
agency may see when it runs, so a task run twice or late scores the same declarations."""

from __future__ import annotations

from celery import shared_task

from targeting import scoring


@shared_task(name="targeting.score_shipments", ignore_result=True)
def score_shipments(agency_id: int) -> str:
    return scoring.run_scoring(agency_id)


@shared_task(name="targeting.rescore_stale", ignore_result=True)
def rescore_stale() -> list[int]:
    """Queues a scoring of every agency whose scores rest on what it may no longer see (a
    seizure synced, an agreement in force or ended) or on a profile since changed."""
    agencies = scoring.stale_agencies()
    for agency_id in agencies:
        scoring.request_scoring(agency_id=agency_id)
    return agencies
