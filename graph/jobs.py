"""Heavy network analytics as Celery jobs, their results stored per agency.

A user asks for an operation (`request_analysis`); the result of their agency with the same
operation and parameters is served while it is current, else a job (`graph.run_analysis`)
computes it again: it builds the agency's graph from PostgreSQL through the choke point
(`graph.visible_graph`: the whole graph for the patterns, the network alone for communities,
betweenness and network risk), runs the algorithm (`graph.algorithms`), and stores the answer with
the agency's visibility basis as read before the graph was built and the version of the
analyses (`ANALYSES_VERSION`): a result computed by other analyses is computed again.

The basis is the highest version of the sync batches that found a change in what the agency
may see (`graph.VisibilityChange`, written by `note_visibility_changes` in each batch's
transaction). A change committed after a job's graph was read is synced by a batch that
claims its outbox row afterwards, so it draws a higher version than any the job read: the
stored result is then no longer current. That holds while the sync follows: once it stalls
(`sync_stalled`: Neo4j down, a batch failing again and again) no result is current until it
follows again. Without the sync (the embedded default) the basis is a digest of what the
agency may see for the result's purpose (`graph.visible_graph.seen_digest`), read from the
choke point each time it is compared: a result is current while all that its computation
read is as it was.

An agency has at most ANALYTICS_JOBS_PER_AGENCY jobs queued or running (`TooManyAnalyses`),
and asking again for one queued or running queues nothing more.

Results name entities by their internal ids: what leaves the server must be confirmed against
the choke point and named by public ids by the caller, like any graph answer.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import networkx as nx
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max, Q
from django.db.models.functions import Now
from django.utils import timezone

from agencies.models import Agency
from core.locks import session_lock
from graph import algorithms
from graph.models import AnalyticsResult, OutboxEntry, VisibilityChange
from graph.outbox import sync_enabled, synced_within
from graph.visible_graph import seen_digest, visible_graph, visible_network
from intel.access import PurposeAsked
from intel.selectors import validated_purpose

logger = logging.getLogger(__name__)

# The advisory lock key space of analytics results (the first int4 of pg_advisory_lock).
RESULT_LOCK_SPACE = 0x6772_0003
MAX_LIMIT = 1_000
# networkx's seeded Louvain, the reference: igraph's Leiden is far faster over a whole agency
# graph but does not give the same partition; a community named in a betweenness job is
# numbered by the same engine as the communities job's.
COMMUNITY_ENGINE = "networkx"
# What the analyses compute, as a number stored with each result and each scoring run: raise
# it with a change that alters an answer over the same graph (an algorithm, its seed or
# tie-break, what a result holds), so that what was computed before is computed again, not
# served. Results and runs computed before versions were kept have none (null, or empty).
ANALYSES_VERSION = 1


# --- operations and their parameters -----------------------------------------------------


def _integer(parameters: dict, name: str, default: int, low: int, high: int) -> int:
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValidationError({name: [f"must be a whole number from {low} to {high}"]})
    return value


def _no_parameters(parameters: dict) -> dict:
    return {}


def _betweenness_parameters(parameters: dict) -> dict:
    community = parameters.get("community")
    if community is not None:
        community = _integer(parameters, "community", 0, 0, 10**9)
    return {"community": community, "limit": _integer(parameters, "limit", 100, 1, MAX_LIMIT)}


def _risk_parameters(parameters: dict) -> dict:
    return {
        "limit": _integer(parameters, "limit", 100, 1, MAX_LIMIT),
        "paths": _integer(parameters, "paths", 3, 1, 10),
    }


def _vessel_parameters(parameters: dict) -> dict:
    return {"min_importers": _integer(parameters, "min_importers", 2, 1, 1_000)}


def _new_importer_parameters(parameters: dict) -> dict:
    # Today is part of the parameters, so a result from another day is another result.
    return {"days": _integer(parameters, "days", 90, 1, 3_650), "today": timezone.localdate().isoformat()}


def _communities(graph: nx.Graph, parameters: dict) -> dict:
    return {"communities": [asdict(c) for c in algorithms.communities(graph, engine=COMMUNITY_ENGINE)]}


def _betweenness(graph: nx.Graph, parameters: dict) -> dict:
    members = None
    if parameters["community"] is not None:
        found = algorithms.communities(graph, engine=COMMUNITY_ENGINE)
        if parameters["community"] >= len(found):
            return {"community": parameters["community"], "missing": True, "ranking": []}
        members = found[parameters["community"]].members
    result = algorithms.betweenness(graph, members=members, limit=parameters["limit"])
    return {"community": parameters["community"], **asdict(result)}


def _risk(graph: nx.Graph, parameters: dict) -> dict:
    return asdict(
        algorithms.network_risk(graph, limit=parameters["limit"], paths_per_entity=parameters["paths"])
    )


def _pattern(function: Callable[..., list[dict]]) -> Callable[[nx.Graph, dict], dict]:
    def run(graph: nx.Graph, parameters: dict) -> dict:
        # A network has no entity types or link directions: a pattern run over one would
        # find nothing, silently.
        if not graph.is_directed():
            raise TypeError(f"{function.__name__} reads the whole graph (visible_graph), not a network")
        arguments = dict(parameters)
        if "today" in arguments:
            arguments["today"] = date.fromisoformat(arguments["today"])
        return {"matches": function(graph, **arguments)}

    return run


@dataclass(frozen=True)
class Operation:
    clean: Callable[[dict], dict]
    run: Callable[[nx.Graph, dict], dict]
    # The parameters a caller may give: any other is refused, not computed without.
    takes: tuple[str, ...] = ()
    # What the job builds for it: the whole graph, or the network (`visible_network`), all
    # that the undirected algorithms read, built without gathering each link's records.
    reads: Callable[..., nx.Graph] = visible_graph


OPERATIONS: dict[str, Operation] = {
    "communities": Operation(_no_parameters, _communities, reads=visible_network),
    "betweenness": Operation(
        _betweenness_parameters, _betweenness, ("community", "limit"), reads=visible_network
    ),
    "network_risk": Operation(_risk_parameters, _risk, ("limit", "paths"), reads=visible_network),
    "companies_at_seized_addresses": Operation(
        _no_parameters, _pattern(algorithms.companies_at_seized_addresses)
    ),
    "vessels_carrying_for_seized_importers": Operation(
        _vessel_parameters, _pattern(algorithms.vessels_carrying_for_seized_importers), ("min_importers",)
    ),
    "new_importers_with_seized_brokers": Operation(
        _new_importer_parameters, _pattern(algorithms.new_importers_with_seized_brokers), ("days",)
    ),
    "containers_across_unrelated_importers": Operation(
        _no_parameters, _pattern(algorithms.containers_across_unrelated_importers)
    ),
}


def entity_community(result: dict, entity_id: int) -> dict | None:
    """An entity's community in a stored `communities` result."""
    return next((c for c in result["communities"] if entity_id in c["members"]), None)


# --- the basis ---------------------------------------------------------------------------


def note_visibility_changes(agency_ids: Iterable[int], version: int) -> None:
    """In a sync batch's transaction: what these agencies may see changed at `version`."""
    rows = [VisibilityChange(agency_id=agency_id, version=version) for agency_id in sorted(set(agency_ids))]
    if rows:
        VisibilityChange.objects.bulk_create(rows)


def visibility_basis(agency_id: int, purpose: PurposeAsked) -> int:
    """The agency's basis now: with the sync, the version of its last change (whatever the
    purpose); without it, the digest of what it may see for `purpose`."""
    if not sync_enabled():
        return seen_digest(agency_id=agency_id, purpose=purpose)
    latest = VisibilityChange.objects.filter(agency_id=agency_id).aggregate(version=Max("version"))
    return latest["version"] or 0


# How a basis is read: `visibility_basis`, or `basis_read_once`'s reader for a page.
BasisReader = Callable[[int, PurposeAsked], int]


def sync_stalled() -> bool:
    """Whether the sync has stopped following, so that the bases it keeps may miss what
    changed meanwhile: a change has waited longer than GRAPH_SYNC_STALLED_SECONDS and either a
    batch failed on it (deferred, retried with back-off) or no batch was synced in that time
    (Neo4j down). A backlog the drains are working through is no stall: a long import's rows
    commit at once, stamped when they were written, and are synced batch after batch.
    Without the sync nothing waits: the digest is read from the records themselves."""
    if not sync_enabled():
        return False
    stalled_after = settings.GRAPH_SYNC_STALLED_SECONDS
    waiting = OutboxEntry.objects.filter(created_at__lt=Now() - timedelta(seconds=stalled_after))
    if waiting.filter(attempts__gt=0).exists():
        return True
    return waiting.exists() and not synced_within(stalled_after)


def basis_current(
    agency_id: int,
    basis: int | None,
    purpose: PurposeAsked,
    *,
    basis_now: BasisReader = visibility_basis,
) -> bool:
    """Whether what was computed for `purpose` at `basis` still rests on what the agency may
    see: its basis has not moved since (`basis_now`: `basis_read_once` where one page judges
    several), and the sync has not stalled (a change waiting unsynced moves no basis). A
    result without a basis rests on nothing known. Stored analytics and targeting's scores
    ask it alike."""
    # The basis first: with the sync it is one read, and a result it already rules out needs
    # no look at the outbox; without the sync nothing stalls.
    return basis is not None and basis == basis_now(agency_id, purpose) and not sync_stalled()


def basis_read_once() -> BasisReader:
    """`visibility_basis`, each agency's for a purpose read once and remembered, for what
    judges several results or runs for one page: without the sync the basis is a digest of
    all the agency may see. Kept no longer than that page: what an agency may see changes."""
    bases: dict[tuple[int, PurposeAsked], int] = {}

    def basis_now(agency_id: int, purpose: PurposeAsked) -> int:
        if (agency_id, purpose) not in bases:
            bases[agency_id, purpose] = visibility_basis(agency_id, purpose)
        return bases[agency_id, purpose]

    return basis_now


def current_results(results: Iterable[AnalyticsResult | None]) -> set[int]:
    """The ids of those done by these analyses and current (`basis_current`), on one reading
    of each agency's basis (`basis_read_once`)."""
    basis_now = basis_read_once()
    return {
        result.pk
        for result in results
        if result is not None
        and result.status == AnalyticsResult.Status.DONE
        and result.computed_with == ANALYSES_VERSION
        and basis_current(result.agency_id, result.basis, result.parameters["purpose"], basis_now=basis_now)
    }


def is_current(result: AnalyticsResult) -> bool:
    return result.pk in current_results([result])


def _queued_since() -> datetime:
    """Jobs queued before this are taken for lost: see `job_in_hand`."""
    return timezone.now() - timedelta(seconds=settings.ANALYTICS_REQUEUE_SECONDS)


def job_in_hand(status: str, requested_at: datetime) -> bool:
    """A job is on it: running, or queued less than ANALYTICS_REQUEUE_SECONDS ago (one queued
    longer is taken for lost, and queued again). Queuing another for each poll held a
    worker per copy, each waiting for the first to finish."""
    if status == AnalyticsResult.Status.RUNNING:
        return True
    return status == AnalyticsResult.Status.PENDING and requested_at >= _queued_since()


def jobs_in_hand() -> Q:
    """`job_in_hand` as a condition on rows."""
    return Q(status=AnalyticsResult.Status.RUNNING) | Q(
        status=AnalyticsResult.Status.PENDING, requested_at__gte=_queued_since()
    )


# --- requests ----------------------------------------------------------------------------


class TooManyAnalyses(Exception):
    """The agency has as many analyses queued or running as it may (ANALYTICS_JOBS_PER_AGENCY)."""


def _agency_of(user: Any) -> int:
    agency_id = getattr(user, "agency_id", None) if user.is_authenticated else None
    if agency_id is None:
        raise PermissionDenied("network analytics run over an agency's graph; this account has no agency")
    return agency_id


def _key(operation: str, parameters: dict | None, purpose: str | None) -> tuple[Operation, dict, str]:
    if operation not in OPERATIONS:
        raise ValidationError({"operation": [f"must be one of {', '.join(sorted(OPERATIONS))}"]})
    if parameters is not None and not isinstance(parameters, dict):
        raise ValidationError({"parameters": ["must be an object"]})
    spec = OPERATIONS[operation]
    unknown = sorted(str(name)[:100] for name in parameters or {} if name not in spec.takes)
    if unknown:
        takes = ", ".join(spec.takes) or "none"
        raise ValidationError(
            {name: [f"not a parameter of {operation} (it takes {takes})"] for name in unknown}
        )
    cleaned = {**spec.clean(parameters or {}), "purpose": validated_purpose(purpose)}
    digest = hashlib.sha256(json.dumps([operation, cleaned], sort_keys=True).encode()).hexdigest()
    return spec, cleaned, digest


def stored_analysis(
    *, user: Any, operation: str, parameters: dict | None = None, purpose: str | None
) -> AnalyticsResult | None:
    """The user's agency's row for this operation and parameters (current or not: see
    `is_current`), or None. Another agency's row is never returned."""
    _, _, digest = _key(operation, parameters, purpose)
    return AnalyticsResult.objects.filter(
        agency_id=_agency_of(user), operation=operation, parameters_hash=digest
    ).first()


def request_analysis(
    *, user: Any, operation: str, parameters: dict | None = None, purpose: str | None
) -> AnalyticsResult:
    """The user's agency's result of the operation, if current; otherwise its row set to
    pending and a job queued (once the transaction commits) to compute it. A job already
    queued or running is left to finish; TooManyAnalyses when the agency has its fill of
    them. `purpose` is the one the user stated (validated here): what the agency may see for
    it is what the graph holds."""
    agency_id = _agency_of(user)
    _, cleaned, digest = _key(operation, parameters, purpose)
    with transaction.atomic():
        _, created = AnalyticsResult.objects.get_or_create(
            agency_id=agency_id,
            operation=operation,
            parameters_hash=digest,
            defaults={"parameters": cleaned, "requested_at": timezone.now()},
        )
        row = AnalyticsResult.objects.select_for_update().get(
            agency_id=agency_id, operation=operation, parameters_hash=digest
        )
        if not created and (is_current(row) or job_in_hand(row.status, row.requested_at)):
            return row
        # Counted under a lock of the agency's row, so that two requests at once do not both
        # take the last place; not a key lock, which an import of the agency holds all along.
        Agency.objects.select_for_update(no_key=True).filter(pk=agency_id).first()
        busy = AnalyticsResult.objects.filter(jobs_in_hand(), agency_id=agency_id).exclude(pk=row.pk)
        if busy.count() >= settings.ANALYTICS_JOBS_PER_AGENCY:
            raise TooManyAnalyses(
                f"your agency has {settings.ANALYTICS_JOBS_PER_AGENCY} analyses queued or running; "
                "ask again when one of them is done"
            )
        row.status, row.progress, row.requested_at, row.error = (
            AnalyticsResult.Status.PENDING,
            0,
            timezone.now(),
            "",
        )
        row.save(update_fields=["status", "progress", "requested_at", "error"])
        transaction.on_commit(lambda: _send(row.pk))
    return row


def _send(result_id: int) -> None:
    from graph.tasks import run_analysis

    run_analysis.delay(result_id)


# --- the job -----------------------------------------------------------------------------


@contextmanager
def result_lock(result_id: int) -> Iterator[None]:
    """One process at a time computes a result: a redelivered job waits for the first
    delivery, then finds the result done (the lock of a dead worker goes with its connection)."""
    with session_lock(RESULT_LOCK_SPACE, result_id):
        yield


def _progress(result_id: int, percent: int) -> None:
    # Committed at once (no transaction is open), so whoever polls the row sees it.
    AnalyticsResult.objects.filter(pk=result_id).update(progress=percent)


def run_analysis(result_id: int) -> str:
    """Computes a pending (or interrupted) result; a done or failed one is left alone.
    Idempotent: a job run twice computes the same answer over the same graph."""
    with result_lock(result_id):
        claimed = AnalyticsResult.objects.filter(
            pk=result_id, status__in=[AnalyticsResult.Status.PENDING, AnalyticsResult.Status.RUNNING]
        ).update(status=AnalyticsResult.Status.RUNNING, started_at=timezone.now(), progress=5)
        row = AnalyticsResult.objects.filter(pk=result_id).first()
        if row is None or not claimed:
            return row.status if row else "missing"
        try:
            # Read before the graph: a change that lands in between makes the result stale,
            # never a stale result current.
            basis = visibility_basis(row.agency_id, row.parameters["purpose"])
            _progress(row.pk, 10)
            operation = OPERATIONS[row.operation]
            graph = operation.reads(agency_id=row.agency_id, purpose=row.parameters["purpose"])
            _progress(row.pk, 60)
            answer = operation.run(graph, {k: v for k, v in row.parameters.items() if k != "purpose"})
            _progress(row.pk, 90)
        except Exception:  # whatever went wrong, the row must not stay running
            logger.exception("analytics %s for agency %s failed", row.operation, row.agency_id)
            AnalyticsResult.objects.filter(pk=row.pk).update(
                status=AnalyticsResult.Status.FAILED, error="the computation failed; ask again"
            )
            return AnalyticsResult.Status.FAILED
        AnalyticsResult.objects.filter(pk=row.pk).update(
            status=AnalyticsResult.Status.DONE,
            progress=100,
            result=answer,
            basis=basis,
            computed_with=ANALYSES_VERSION,
            computed_at=timezone.now(),
        )
        if basis and sync_enabled():
            VisibilityChange.objects.filter(agency_id=row.agency_id, version__lt=basis).delete()
    return AnalyticsResult.Status.DONE
