"""Writes of the targeting queue: decisions on declarations (inspect, release, refer to a
partner), the random inspection draw that keeps the outcomes a fair sample, inspection
outcomes written as the agency's own records, and asking for a rescoring.

Each service checks who may act: an analyst or agency admin of the declaration's owner
agency. Each writes in one transaction with its audit event, so nothing is half-written."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, User
from audit.log import record_event
from core.inputs import storable_text
from graph.jobs import BasisReader, visibility_basis
from intel.import_validation import PARTY_ROLES, parse_row
from intel.import_writing import restated, write_planned
from intel.models import Category, Classification, LinkType, Mention, Record, Role
from targeting import profiles, scoring
from targeting.models import Decision, RiskProfile, ScoringRun, ShipmentScore
from targeting.selectors import budget_size

REASON_MAX = 2_000
FINDINGS_MAX = 2_000
DECIDERS = (User.Role.ANALYST, User.Role.AGENCY_ADMIN)
# What an outcome is recorded as in the inspection record (the import's vocabulary).
INSPECTION_RESULT = {
    Decision.Outcome.NOTHING_FOUND: "clear",
    Decision.Outcome.OTHER_VIOLATION: "discrepancy",
    Decision.Outcome.SEIZURE: "referred_for_seizure",
}
# The parties a seizure names again, with the link from the consignment an import writes.
SEIZED_PARTIES = {
    **PARTY_ROLES,
    Role.VESSEL: LinkType.CARRIED_BY,
    Role.CONTAINER: LinkType.SEIZED_IN,
}


def require_decider(user: User, agency_id: int, doing: str) -> None:
    if not (user.is_authenticated and user.agency_id == agency_id and user.role in DECIDERS):
        raise PermissionDenied(f"only an analyst or agency admin of the declaration's agency may {doing}")


def _score_of(record: Record) -> ShipmentScore:
    """The declaration's score, locked: decisions on one declaration are taken one at a time
    (two first decisions at once would otherwise both insert)."""
    score = ShipmentScore.objects.select_for_update().filter(agency_id=record.owner_id, record=record).first()
    if score is None:
        raise ValidationError({"record": "the declaration is not scored yet"})
    return score


# --- decisions ---------------------------------------------------------------------------


@transaction.atomic
def decide(
    user: User, record: Record, *, action: str, reason: str, partner: Agency | None = None
) -> Decision:
    """The agency's decision on its declaration, with the score, each fired indicator's
    value and the active profile at this moment. Deciding again replaces the decision
    (audited with what it was) until an outcome is recorded; then it stands. A decision
    taken by hand is a random pick only while it stays the inspection the draw chose."""
    require_decider(user, record.owner_id, "decide on it")
    if action not in Decision.Action.values:
        raise ValidationError({"action": f"one of {', '.join(Decision.Action.values)}"})
    reason = storable_text("reason", reason, limit=REASON_MAX)
    if action == Decision.Action.REFER:
        if partner is None:
            raise ValidationError({"partner": "name the partner agency to refer the declaration to"})
        if partner.pk == record.owner_id:
            raise ValidationError({"partner": "a referral goes to another agency, not your own"})
    elif partner is not None:
        raise ValidationError({"partner": "only a referral names a partner"})
    score = _score_of(record)
    existing = Decision.objects.select_for_update().filter(agency_id=record.owner_id, record=record).first()
    if existing is not None and existing.outcome:
        raise ValidationError({"decision": "an outcome is recorded for it; the decision stands"})
    before = _summary(existing) if existing is not None else None
    decision = existing or Decision(agency_id=record.owner_id, record=record)
    decision.random_pick = bool(existing and existing.random_pick and action == Decision.Action.INSPECT)
    _fill(
        decision,
        user,
        action=action,
        reason=reason,
        partner=partner,
        score=score,
        profile=profiles.active_profile(agency_id=record.owner_id),
    )
    decision.save()
    record_event(
        "targeting.decision.changed" if before else "targeting.decision.made",
        actor=user,
        obj=decision,
        details={"record": str(record.public_id), "before": before, "after": _summary(decision)},
    )
    return decision


def _fill(
    decision: Decision,
    user: User,
    *,
    action: str,
    reason: str,
    partner: Agency | None,
    score: ShipmentScore,
    profile: RiskProfile,
) -> None:
    decision.action, decision.reason, decision.partner = action, reason, partner
    decision.score = score.score
    decision.indicators = {part["name"]: part["value"] for part in score.parts}
    decision.profile = profile
    decision.decided_by, decision.decided_at = user, timezone.now()


def _summary(decision: Decision) -> dict:
    return {
        "action": decision.action,
        "random_pick": decision.random_pick,
        "partner": decision.partner.code if decision.partner_id else None,
        "reason": decision.reason,
        "score": decision.score,
        "indicators": decision.indicators,
        "profile": decision.profile.version if decision.profile_id else None,
    }


# --- the random draw --------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    day: date
    seed: str
    asked: int
    picked: list[Decision]


def draw_seed(agency: Agency, day: date) -> str:
    return hashlib.sha256(f"targeting-random-draw:{agency.code}:{day.isoformat()}".encode()).hexdigest()[:16]


def random_count(*, random_share: float, budget: float, scored: int) -> int:
    """The random share of the inspections the budget allows, in whole declarations."""
    return math.floor(Decimal(str(random_share)) * budget_size(budget=budget, scored=scored))


@transaction.atomic
def draw_random_inspections(user: User, *, count: int | None = None) -> Draw:
    """Inspect decisions, marked `random_pick`, on undecided scored declarations drawn
    uniformly, so that outcomes are also learnt from declarations nobody chose. By default
    as many as the random share of the budget (`random_count`). The draw is seeded from the
    agency and the day (the seed is in each decision's reason and the audit event): the
    same undecided set on the same day draws the same declarations."""
    agency_id = user.agency_id if user.is_authenticated else None
    if agency_id is None:
        raise PermissionDenied("only an analyst or agency admin of an agency may draw inspections")
    require_decider(user, agency_id, "draw random inspections")
    agency = Agency.objects.get(pk=agency_id)
    profile = profiles.active_profile(agency_id=agency_id)
    scores = ShipmentScore.objects.filter(agency_id=agency_id)
    if count is None:
        count = random_count(random_share=profile.random_share, budget=profile.budget, scored=scores.count())
    elif isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 10_000:
        raise ValidationError({"count": "a whole number from 0 to 10000"})
    # Two draws of the agency at once would pick from the same undecided set. No key
    # update: a plain FOR UPDATE would also block the foreign-key checks that other
    # transactions (a hand decision, an audit event) make of the agency at commit, and a
    # decision holding a score this draw waits for would deadlock with it.
    Agency.objects.select_for_update(no_key=True).filter(pk=agency_id).first()
    decided = Decision.objects.filter(agency_id=agency_id).values("record_id")
    undecided = list(
        scores.exclude(record_id__in=decided).order_by("record_id").values_list("record_id", flat=True)
    )
    day = timezone.localdate()
    seed = draw_seed(agency, day)
    chosen = sorted(random.Random(seed).sample(undecided, min(count, len(undecided))))  # noqa: S311
    # Locked as `decide` locks them. A decision committed while this waited for a lock is
    # not in the locking statement's snapshot; asked again once the rows are held, one
    # decided by hand since the read above is left to it.
    locked = scores.select_for_update(of=("self",)).filter(record_id__in=chosen)
    by_record = {score.record_id: score for score in locked.select_related("record")}
    for record_id in decided.filter(record_id__in=chosen).values_list("record_id", flat=True):
        by_record.pop(record_id, None)
    picked = []
    for record_id in chosen:
        score = by_record.get(record_id)
        if score is None:
            continue
        decision = Decision(agency_id=agency_id, record=score.record, random_pick=True)
        _fill(
            decision,
            user,
            action=Decision.Action.INSPECT,
            reason=f"random inspection draw of {day.isoformat()} (seed {seed})",
            partner=None,
            score=score,
            profile=profile,
        )
        picked.append(decision)
    Decision.objects.bulk_create(picked)
    record_event(
        "targeting.random_draw",
        actor=user,
        agency_id=agency_id,
        details={
            "day": day.isoformat(),
            "seed": seed,
            "asked": count,
            "undecided": len(undecided),
            "records": [str(decision.record.public_id) for decision in picked],
        },
    )
    return Draw(day, seed, count, picked)


# --- outcomes ---------------------------------------------------------------------------


@transaction.atomic
def record_outcome(user: User, decision: Decision, *, outcome: str, findings: str) -> Decision:
    """What the inspection found, written as the agency's own records through intel's write
    path, so it feeds the graph like any import: an inspection record naming the
    declaration's consignment, with its result and findings, and for a seizure a seizure
    record naming the same consignment and parties (the seizure is what the network
    indicators start from). Audited; all or nothing."""
    require_decider(user, decision.agency_id, "record an inspection's outcome")
    if outcome not in Decision.Outcome.values:
        raise ValidationError({"outcome": f"one of {', '.join(Decision.Outcome.values)}"})
    findings = storable_text("findings", findings, limit=FINDINGS_MAX)
    decision = Decision.objects.select_for_update().select_related("record", "agency").get(pk=decision.pk)
    if decision.action != Decision.Action.INSPECT:
        raise ValidationError(
            {"decision": f"an outcome is recorded for an inspection, not a {decision.action}"}
        )
    if decision.outcome:
        raise ValidationError({"outcome": "already recorded for this inspection"})
    declaration = decision.record
    named = list(
        Mention.objects.filter(record=declaration, role__in=[Role.SHIPMENT, *SEIZED_PARTIES])
        .select_related("entity")
        .order_by("pk")
    )
    consignment = next((m for m in named if m.role == Role.SHIPMENT), None)
    if consignment is None:
        raise ValidationError({"decision": "the declaration names no consignment to record an outcome for"})
    today = timezone.localdate().isoformat()
    common = {
        "classification": Classification(declaration.classification).label,
        "caveats": declaration.caveats,
        "occurred_on": today,
    }
    rows = [
        {
            **common,
            "external_ref": f"INSP-{decision.public_id}",
            "category": Category.INSPECTION,
            "summary": f"Inspection of declaration {declaration.external_ref}",
            "inspection_result": INSPECTION_RESULT[outcome],
            "findings": findings,
        }
    ]
    if outcome == Decision.Outcome.SEIZURE:
        rows.append(
            {
                **common,
                "external_ref": f"SEIZ-{decision.public_id}",
                "category": Category.SEIZURE,
                "summary": f"Seizure on inspection of declaration {declaration.external_ref}",
                "goods_description": findings,
            }
        )
    plans = []
    for number, row in enumerate(rows, start=1):
        plan, problems = parse_row(number, row, decision.agency.code, nested=True)
        if plan is None:
            field = problems[0]["field"] if problems else "findings"
            raise ValidationError({field: [problem["message"] for problem in problems]})
        # The consignment the declaration names, not a new one under the outcome's reference.
        shipment = next(i for i, (_, role) in enumerate(plan.mentions) if role == Role.SHIPMENT)
        plan.mentions[shipment] = (restated(consignment), Role.SHIPMENT)
        if row["category"] == Category.SEIZURE:
            for mention in named:
                if mention.role in SEIZED_PARTIES:
                    plan.link(
                        shipment, plan.mention(restated(mention), mention.role), SEIZED_PARTIES[mention.role]
                    )
        plans.append(plan)
    written = write_planned(plans, agency=decision.agency, user=user)
    decision.outcome, decision.outcome_by, decision.outcome_at = outcome, user, timezone.now()
    decision.outcome_record_id = written[f"INSP-{decision.public_id}"]
    decision.save(update_fields=["outcome", "outcome_by", "outcome_at", "outcome_record"])
    record_event(
        "targeting.outcome.recorded",
        actor=user,
        obj=decision,
        details={
            "record": str(declaration.public_id),
            "outcome": outcome,
            "written": sorted(written),
        },
    )
    return decision


# --- scoring ----------------------------------------------------------------------------


def rescore(user: User) -> ScoringRun:
    """Asks for the agency's scores afresh (a run is queued unless one is under way)."""
    agency_id = user.agency_id if user.is_authenticated else None
    if agency_id is None:
        raise PermissionDenied("only an analyst or agency admin of an agency may ask for a rescoring")
    require_decider(user, agency_id, "ask for a rescoring")
    return scoring.request_scoring(agency_id=agency_id, force=True)


def keep_scored(user: User, *, basis_now: BasisReader = visibility_basis) -> ScoringRun | None:
    """What opening the queue asks: the agency's scoring, queued when it has none yet or its
    scores are stale (nothing while a run is under way or they are current, nor after a run
    failed: that one waits for someone to ask again, rather than fail at every opening).
    Anyone of the agency may open the queue; without the sync's beat (the embedded default)
    this is what scores an agency the first time."""
    agency_id = user.agency_id if user.is_authenticated else None
    if agency_id is None:
        return None
    run = ScoringRun.objects.filter(agency_id=agency_id).first()
    if run is not None and run.status == ScoringRun.Status.FAILED:
        return run
    return scoring.request_scoring(agency_id=agency_id, basis_now=basis_now)
