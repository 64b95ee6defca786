"""Scoring an agency's declarations: the indicators fired over what the agency may see now
(`targeting.facts`, `targeting.network`), weighted by its active risk profile, stored with
the explanation and the basis they were read at.

A score rests on the agency's graph and its partners' records, so it is kept with the
basis (`graph.jobs.visibility_basis`: the sync's version of the last change of what the
agency may see, or without the sync a digest of it) read before anything else. A new
seizure, a new agreement or one ending moves the basis, and the agency's scores are then
stale until the run that `request_scoring` queues (the queue page asks, and so does a
periodic task) replaces them all at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.locks import session_lock
from graph.jobs import ANALYSES_VERSION, BasisReader, basis_current, job_in_hand, visibility_basis
from targeting import facts, indicators, profiles
from targeting.indicators import Context, Fired, Shipment, Watchlists
from targeting.models import RiskProfile, ScoringRun, ShipmentScore
from targeting.network import network_facts

logger = logging.getLogger(__name__)

SCORING_LOCK_SPACE = 0x7467_0001
WRITE_BATCH = 2_000
# What scoring computes, as a number: raise it with a change that alters a score or its
# explanation for the same facts (an indicator, a weight's use, a tie-break), so that scores
# computed before are computed again. Kept with the analyses' version (`ANALYSES_VERSION`),
# whose network facts the scores rest on.
SCORING_VERSION = 1
COMPUTED_WITH = f"{ANALYSES_VERSION}.{SCORING_VERSION}"
STORED_FIELDS = ["occurred_on", "score", "rules_score", "parts", "fired", "profile", "basis", "computed_at"]


@dataclass(frozen=True)
class Assessed:
    shipment: Shipment
    fired: dict[str, Fired]


def assess(
    *,
    agency_id: int,
    watchlists: Watchlists,
    records: Iterable[int] | None = None,
    network: bool = True,
    community_engine: str = "networkx",
    progress: Callable[[int], None] | None = None,
) -> list[Assessed]:
    """Every indicator that fires for each of the agency's declarations (or those of
    `records`), read over what the agency may see for risk assessment now. The agency's
    other declarations are the history and the medians they are compared with."""
    report = progress or (lambda percent: None)
    everything = facts.declarations(agency_id=agency_id)
    report(15)
    graph = facts.agency_graph(agency_id=agency_id)
    report(35)
    wanted = None if records is None else set(records)
    chosen = [s for s in everything if wanted is None or s.record_id in wanted]
    context = Context(
        watchlists=watchlists,
        medians=indicators.medians_of(everything),
        history=indicators.history_of(everything),
        first_seen={node: seen for node, seen in graph.nodes(data="first_seen") if seen is not None},
        partners=facts.partner_statements(agency_id=agency_id),
    )
    report(45)
    if network:
        context.network = network_facts(graph, community_engine=community_engine)
    report(70)
    return [Assessed(shipment, indicators.fire(shipment, context)) for shipment in chosen]


def stored_parts(found: Assessed, weights: dict[str, float]) -> tuple[float, float, list[dict]]:
    """The score, its rules-only share and the explanation as stored: internal ids, which
    the selectors confirm and turn into public ids before anything is shown."""
    parts = indicators.parts_of(found.fired, weights)
    explained = [
        {
            "name": part.name,
            "kind": indicators.BY_NAME[part.name].kind,
            "weight": part.weight,
            "value": part.value,
            "contribution": part.contribution,
            "explanation": part.fired.explanation,
            "records": list(part.fired.records),
            "entities": list(part.fired.entities),
            "paths": [list(path) for path in part.fired.paths],
        }
        for part in parts
    ]
    return indicators.total(parts), indicators.total(parts, kinds=frozenset({indicators.RULES})), explained


@dataclass(frozen=True)
class Scored:
    count: int
    basis: int | None
    profile: RiskProfile


def score_agency(
    *, agency_id: int, progress: Callable[[int], None] | None = None, community_engine: str = "networkx"
) -> Scored:
    """Scores all the agency's declarations with its active profile and replaces its stored
    scores at once. The basis is read first: a change that lands while this runs leaves the
    scores stale, never stale scores current."""
    basis = visibility_basis(agency_id, facts.PURPOSE)
    profile = profiles.active_profile(agency_id=agency_id)
    assessed = assess(
        agency_id=agency_id,
        watchlists=Watchlists.of(profile.watchlists),
        progress=progress,
        community_engine=community_engine,
    )
    if progress:
        progress(85)
    store(agency_id=agency_id, profile=profile, basis=basis, assessed=assessed)
    if progress:
        progress(100)
    return Scored(len(assessed), basis, profile)


def fired_names(fired: dict[str, Fired]) -> str:
    """The names as the queue filters them: each between commas, so one name never matches
    inside another."""
    return f",{','.join(sorted(fired))}," if fired else ""


def store(*, agency_id: int, profile: RiskProfile, basis: int | None, assessed: list[Assessed]) -> None:
    now = timezone.now()
    rows = []
    for found in assessed:
        score, rules_score, parts = stored_parts(found, profile.weights)
        rows.append(
            ShipmentScore(
                agency_id=agency_id,
                record_id=found.shipment.record_id,
                occurred_on=found.shipment.occurred_on,
                score=score,
                rules_score=rules_score,
                parts=parts,
                fired=fired_names(found.fired),
                profile=profile,
                basis=basis,
                computed_at=now,
            )
        )
    # Each declaration's row is updated in place, not deleted and written anew: a decision
    # that waits on its row's lock while this commits must find it, not a row that is gone.
    with transaction.atomic():
        ShipmentScore.objects.bulk_create(
            rows,
            batch_size=WRITE_BATCH,
            update_conflicts=True,
            unique_fields=["agency", "record"],
            update_fields=STORED_FIELDS,
        )
        ShipmentScore.objects.filter(agency_id=agency_id).exclude(computed_at=now).delete()


# --- the run -----------------------------------------------------------------------------


def is_current(run: ScoringRun | None, *, basis_now: BasisReader = visibility_basis) -> bool:
    """Done over what the agency may see now (its basis as `basis_now` reads it: see
    `graph.jobs.basis_read_once`), with its active profile, by this scoring."""
    if run is None or run.status != ScoringRun.Status.DONE or run.computed_with != COMPUTED_WITH:
        return False
    if run.profile_id != profiles.active_profile(agency_id=run.agency_id).pk:
        return False
    return basis_current(run.agency_id, run.basis, facts.PURPOSE, basis_now=basis_now)


def request_scoring(
    *, agency_id: int, force: bool = False, basis_now: BasisReader = visibility_basis, send: bool = True
) -> ScoringRun:
    """The agency's run: left alone while queued, running or current (unless `force`),
    otherwise set pending with a job queued once the transaction commits (unless not `send`:
    the caller runs it, `score_now`)."""
    with transaction.atomic():
        _, created = ScoringRun.objects.get_or_create(
            agency_id=agency_id, defaults={"requested_at": timezone.now()}
        )
        run = ScoringRun.objects.select_for_update().get(agency_id=agency_id)
        busy = job_in_hand(run.status, run.requested_at)
        if not created and (busy or (not force and is_current(run, basis_now=basis_now))):
            return run
        run.status, run.progress, run.requested_at, run.error = (
            ScoringRun.Status.PENDING,
            0,
            timezone.now(),
            "",
        )
        run.save(update_fields=["status", "progress", "requested_at", "error"])
        if send:
            transaction.on_commit(lambda: _send(agency_id))
    return run


def score_now(*, agency_id: int, progress: Callable[[int], None] | None = None) -> str:
    """Scores the agency in this process unless its scores are current or a run is under way
    (`request_scoring`): what a command runs before anyone opens the queue, which on the
    embedded default would otherwise score in that first request, for seconds."""
    request_scoring(agency_id=agency_id, send=False)
    return run_scoring(agency_id, progress=progress)


def _send(agency_id: int) -> None:
    from targeting.tasks import score_shipments

    score_shipments.delay(agency_id)


def run_scoring(agency_id: int, *, progress: Callable[[int], None] | None = None) -> str:
    """Runs a pending (or interrupted) scoring of the agency; one process at a time. A run
    redelivered after it finished finds it done and leaves it. `progress` is told each
    percentage as the run stores it."""
    with session_lock(SCORING_LOCK_SPACE, agency_id):
        claimed = ScoringRun.objects.filter(
            agency_id=agency_id, status__in=[ScoringRun.Status.PENDING, ScoringRun.Status.RUNNING]
        ).update(status=ScoringRun.Status.RUNNING, started_at=timezone.now(), progress=5)
        if not claimed:
            run = ScoringRun.objects.filter(agency_id=agency_id).first()
            return run.status if run else "missing"

        def stored(percent: int) -> None:
            ScoringRun.objects.filter(agency_id=agency_id).update(progress=percent)
            if progress is not None:
                progress(percent)

        try:
            scored = score_agency(agency_id=agency_id, progress=stored)
        except Exception:  # whatever went wrong, the run must not stay running
            logger.exception("scoring for agency %s failed", agency_id)
            ScoringRun.objects.filter(agency_id=agency_id).update(
                status=ScoringRun.Status.FAILED, error="the scoring failed; ask again"
            )
            return ScoringRun.Status.FAILED
        ScoringRun.objects.filter(agency_id=agency_id).update(
            status=ScoringRun.Status.DONE,
            progress=100,
            basis=scored.basis,
            computed_with=COMPUTED_WITH,
            profile=scored.profile,
            scored=scored.count,
            finished_at=timezone.now(),
        )
    return ScoringRun.Status.DONE


def stale_agencies() -> list[int]:
    """The agencies whose scores no longer rest on what they may see now."""
    return [
        run.agency_id
        for run in ScoringRun.objects.exclude(status=ScoringRun.Status.RUNNING)
        if run.status == ScoringRun.Status.PENDING or not is_current(run)
    ]
