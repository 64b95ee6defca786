"""Reads of targeting: the agency's queue of scored declarations and a declaration's
explanation, for the API and the pages alike.

Only the reader's own agency's scores are ever read: another agency's declaration, or one
not scored, is missing (`ScoreNotFound`, a 404) the same way. A stored explanation names
records, entities and graph paths by internal id as they were when the agency's scores were
computed; before it is shown each is confirmed against the choke point now, for risk
assessment, and named by public id with what the reader's own visible records say."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from itertools import pairwise
from uuid import UUID

from django.core.exceptions import ValidationError
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404

from core.inputs import storable_text
from graph.jobs import BasisReader, basis_current, visibility_basis
from graph.stored_answers import linked_now
from intel import selectors as intel_selectors
from intel.models import Entity, Purpose, Record
from intel.presentation import entity_key, entity_names
from intel.selectors import Reader
from targeting import profiles, scoring
from targeting.indicators import BY_NAME, NETWORK
from targeting.models import Decision, RiskProfile, ScoringRun, ShipmentScore

PURPOSE = Purpose.RISK_ASSESSMENT
TOP_INDICATORS = 3
CHART_ENTITIES_MAX = 20
DECISION_FIELDS = ("action", "random_pick", "outcome")
WITHHELD_EXPLANATION = "Not shown: written from evidence your agency may no longer see."


class ScoreNotFound(Http404):
    """No scored declaration of the reader's agency by that id: another agency's, one not
    scored and one that does not exist answer alike."""

    def __init__(self) -> None:
        super().__init__("No scored declaration of your agency has that id.")


# --- the queue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueFilters:
    min_score: float | None = None
    since: date | None = None
    until: date | None = None
    indicator: str | None = None
    decided: bool | None = None
    action: str | None = None


def clean_filters(raw: Mapping[str, object]) -> QueueFilters:
    """The queue's filters from text (a query string, a form), each error naming its field."""

    def text(name: str) -> str | None:
        value = raw.get(name)
        if value in (None, ""):
            return None
        return storable_text(name, value, limit=100, when_empty=None) or None

    values: dict[str, object] = {}
    if (given := text("min_score")) is not None:
        try:
            values["min_score"] = float(given)
        except ValueError:
            raise ValidationError({"min_score": "a number"}) from None
        if not math.isfinite(values["min_score"]):
            raise ValidationError({"min_score": "a finite number"})
    for name in ("since", "until"):
        if (given := text(name)) is not None:
            try:
                values[name] = date.fromisoformat(given)
            except ValueError:
                raise ValidationError({name: "a date in the form YYYY-MM-DD"}) from None
    if (given := text("indicator")) is not None:
        if given not in BY_NAME:
            raise ValidationError({"indicator": f"one of {', '.join(BY_NAME)}"})
        values["indicator"] = given
    if (given := text("decided")) is not None:
        if given.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise ValidationError({"decided": "true or false"})
        values["decided"] = given.lower() in ("true", "yes", "1")
    if (given := text("action")) is not None:
        if given not in Decision.Action.values:
            raise ValidationError({"action": f"one of {', '.join(Decision.Action.values)}"})
        values["action"] = given
    return QueueFilters(**values)


def budget_size(*, budget: float, scored: int) -> int:
    """How many declarations the budget covers: the largest whole number not above the
    budget's share of every scored declaration, decided or not (in decimal, so that a share
    of 0.29 of 100 is 29, not 28)."""
    return math.floor(Decimal(str(budget)) * scored)


@dataclass(frozen=True)
class Budget:
    share: float
    scored: int
    size: int
    # The last declaration inside the budget, in queue order: (score, record id).
    last: tuple[float, int] | None

    @property
    def percent(self) -> str:
        """The share as people read it: "5%", "12.5%"."""
        return f"{float(Decimal(str(self.share)) * 100):g}%"


def budget_of(agency_id: int) -> Budget:
    profile = profiles.active_profile(agency_id=agency_id)
    scores = ShipmentScore.objects.filter(agency_id=agency_id)
    scored = scores.count()
    size = budget_size(budget=profile.budget, scored=scored)
    last = None
    if size:
        last = scores.order_by("-score", "record_id").values_list("score", "record_id")[size - 1]
    return Budget(profile.budget, scored, size, last)


def _agency(user) -> int | None:
    return getattr(user, "agency_id", None) if getattr(user, "is_authenticated", False) else None


def own_scores(user) -> QuerySet[ShipmentScore]:
    """The reader's agency's scored declarations (scores are written for an agency's own
    declarations only), narrow rows, unordered."""
    agency_id = _agency(user)
    if agency_id is None:
        return ShipmentScore.objects.none()
    return ShipmentScore.objects.filter(agency_id=agency_id).defer("parts")


def scored_declarations(user, *, budget: Budget | None = None) -> QuerySet[ShipmentScore]:
    """`own_scores` in queue order (score down, then record id), each with whether it falls
    within the inspection budget (`in_budget`; pass the `budget` when the request already
    has it). A page of them gets its declarations, explanations and decisions from
    `page_rows`."""
    agency_id = _agency(user)
    if agency_id is None:
        return ShipmentScore.objects.none()
    budget = budget or budget_of(agency_id)
    if budget.last is None:
        in_budget = Value(False)
    else:
        score, record_id = budget.last
        in_budget = Case(
            When(Q(score__gt=score) | Q(score=score, record_id__lte=record_id), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    return own_scores(user).annotate(in_budget=in_budget).order_by("-score", "record_id")


def page_rows(rows: list[ShipmentScore]) -> list[ShipmentScore]:
    """A page of the queue with each row's declaration, parts and decision's action, random
    pick and outcome (None when undecided), read for the page's rows only: joined or
    annotated in the queue's query, a deep page read them for every row it skipped."""
    full = ShipmentScore.objects.select_related("record").in_bulk([row.pk for row in rows])
    for row in rows:
        row.record, row.parts = full[row.pk].record, full[row.pk].parts
    found = {
        record_id: values
        for record_id, *values in Decision.objects.filter(
            agency_id__in={row.agency_id for row in rows}, record_id__in=[row.record_id for row in rows]
        ).values_list("record_id", *DECISION_FIELDS)
    }
    for row in rows:
        values = found.get(row.record_id, [None] * len(DECISION_FIELDS))
        for name, value in zip(DECISION_FIELDS, values, strict=True):
            setattr(row, f"decision_{name}", value)
    return rows


def apply_filters(scores: QuerySet[ShipmentScore], filters: QueueFilters) -> QuerySet[ShipmentScore]:
    """Narrows the queue; the budget stays that of the whole scored set."""
    if filters.min_score is not None:
        scores = scores.filter(score__gte=filters.min_score)
    if filters.since is not None:
        scores = scores.filter(occurred_on__gte=filters.since)
    if filters.until is not None:
        scores = scores.filter(occurred_on__lte=filters.until)
    if filters.indicator is not None:
        scores = scores.filter(fired__contains=f",{filters.indicator},")
    if filters.decided is not None or filters.action is not None:
        decided = Decision.objects.filter(agency_id=OuterRef("agency_id"), record_id=OuterRef("record_id"))
        if filters.action is not None:
            decided = decided.filter(action=filters.action)
        scores = scores.filter(Exists(decided) if filters.decided is not False else ~Exists(decided))
    return scores


def queue(user, *, filters: QueueFilters, budget: Budget | None = None) -> QuerySet[ShipmentScore]:
    """The queue as the API and the page list it (paginated by `core.pagination`)."""
    return apply_filters(scored_declarations(user, budget=budget), filters)


def label_of(name: str) -> str:
    """An indicator's label; a score stored before an indicator was renamed keeps its name."""
    indicator = BY_NAME.get(name)
    return indicator.label if indicator else name


def top_indicators(score: ShipmentScore) -> list[dict]:
    return [
        {"name": part["name"], "label": label_of(part["name"]), "contribution": part["contribution"]}
        for part in score.parts[:TOP_INDICATORS]
    ]


@dataclass(frozen=True)
class ScoringStatus:
    run: ScoringRun | None
    current: bool
    profile: RiskProfile
    budget: Budget

    @property
    def busy(self) -> bool:
        return self.run is not None and self.run.status in (
            ScoringRun.Status.PENDING,
            ScoringRun.Status.RUNNING,
        )


def _member_agency(user) -> int:
    agency_id = _agency(user)
    if agency_id is None:
        raise Http404("Targeting is for the members of an agency.")
    return agency_id


def active_profile(user) -> RiskProfile:
    return profiles.active_profile(agency_id=_member_agency(user))


def scoring_status(user, *, basis_now: BasisReader = visibility_basis) -> ScoringStatus:
    agency_id = _member_agency(user)
    run = ScoringRun.objects.filter(agency_id=agency_id).first()
    current = scoring.is_current(run, basis_now=basis_now)
    return ScoringStatus(run, current, profiles.active_profile(agency_id=agency_id), budget_of(agency_id))


# --- the explanation -------------------------------------------------------------------


def scored_declaration(user, public_id: UUID | str, *, ranked: bool = True) -> ShipmentScore:
    """One of the reader's scored declarations; `ranked` adds whether it is within the
    budget, which only showing it needs (deciding on it does not)."""
    try:
        public_id = UUID(str(public_id))
    except ValueError:
        raise ScoreNotFound from None
    scores = scored_declarations(user) if ranked else own_scores(user)
    found = scores.filter(record__public_id=public_id).first()
    if found is None:
        raise ScoreNotFound
    return found


@dataclass
class Explanation:
    score: ShipmentScore
    parts: list[dict]
    entities: list[dict]
    decision: Decision | None
    records_shown: dict[int, int] = field(default_factory=dict)

    @property
    def record(self) -> Record:
        return self.score.record

    @property
    def chart_entities(self) -> list[str]:
        return [entity["id"] for entity in self.entities[:CHART_ENTITIES_MAX]]


def explanation(user, public_id: UUID | str, *, basis_now: BasisReader = visibility_basis) -> Explanation:
    """The declaration's score with each part's evidence as the reader may see it now: the
    records `visible_to` them for risk assessment, the entities `labelled_entities` gives
    them, and the paths whose every entity is one of those and every step a link they see
    now (`linked_now`); a path with a dropped element is dropped whole. Every part is
    listed with its contribution, so the parts add up to the score shown, whatever of its
    evidence is dropped; `withheld` says that some was, or, for a network part, that what the
    agency may see has changed since the declaration was scored, and the part's stored text,
    written from all of it, is then replaced by `WITHHELD_EXPLANATION`."""
    score = scored_declaration(user, public_id)
    reader = Reader(user, PURPOSE)
    stored = score.parts
    # A network part's text and value come from the whole network the agency saw when it was
    # scored, not only from the evidence it lists: once the agency's basis has moved, the
    # text may rest on records it may no longer see.
    network_stale = not basis_current(score.agency_id, score.basis, PURPOSE, basis_now=basis_now)
    record_ids = sorted({pk for part in stored for pk in part["records"]})
    entity_ids = sorted(
        {pk for part in stored for pk in part["entities"]}
        | {pk for part in stored for path in part["paths"] for pk in path}
    )
    records = {
        record.pk: record
        for record in Record.objects.visible_to(user, PURPOSE)
        .filter(pk__in=record_ids)
        .select_related("owner")
    }
    entities: dict[int, Entity] = {
        entity.pk: entity for entity in intel_selectors.labelled_entities(reader).filter(pk__in=entity_ids)
    }
    steps = linked_now(reader, (path for part in stored for path in part["paths"]))

    def shown_entity(pk: int) -> dict:
        entity = entities[pk]
        return {
            "id": str(entity.public_id),
            "type": entity.type,
            "key": entity_key(entity),
            "names": entity_names(entity),
        }

    def path_kept(path: list[int]) -> bool:
        return all(pk in entities for pk in path) and all(frozenset(step) in steps for step in pairwise(path))

    parts, named = [], {}
    for part in stored:
        kept_records = [records[pk] for pk in part["records"] if pk in records]
        kept_entities = [pk for pk in part["entities"] if pk in entities]
        kept_paths = [path for path in part["paths"] if path_kept(path)]
        withheld = (
            len(kept_records) < len(part["records"])
            or len(kept_entities) < len(part["entities"])
            or len(kept_paths) < len(part["paths"])
            or (network_stale and part["kind"] == NETWORK)
        )
        for pk in [*kept_entities, *(pk for path in kept_paths for pk in path)]:
            named.setdefault(pk, shown_entity(pk))
        parts.append(
            {
                "name": part["name"],
                "label": label_of(part["name"]),
                "kind": part["kind"],
                "weight": part["weight"],
                "value": part["value"],
                "contribution": part["contribution"],
                # The stored text was written from all the evidence (how many seized parties,
                # how often the walk stopped): with some of it out of sight, so is the text.
                "explanation": WITHHELD_EXPLANATION if withheld else part["explanation"],
                "records": [
                    {
                        "id": str(record.public_id),
                        "external_ref": record.external_ref,
                        "category": record.category,
                        "owner": record.owner.code,
                        "occurred_on": record.occurred_on,
                    }
                    for record in kept_records
                ],
                "entities": [named[pk] for pk in kept_entities],
                "paths": [[named[pk] for pk in path] for path in kept_paths],
                "withheld": withheld,
            }
        )
    decision = (
        Decision.objects.filter(agency_id=score.agency_id, record_id=score.record_id)
        .select_related("partner", "decided_by", "outcome_by", "outcome_record", "profile")
        .first()
    )
    return Explanation(
        score=score,
        parts=parts,
        entities=list(named.values()),
        decision=decision,
        records_shown={pk: record.owner_id for pk, record in records.items()},
    )


def audit_explanation(user, shown: Explanation) -> None:
    """Logs the partners' records an explanation showed, as every read of another agency's
    records is."""
    intel_selectors.audit_reads(Reader(user, PURPOSE), shown.records_shown, via="targeting.explanation")


def profile_versions(user) -> QuerySet[RiskProfile]:
    """The versions of the reader's agency's risk profile, proposals included, newest first."""
    agency_id = _agency(user)
    if agency_id is None:
        return RiskProfile.objects.none()
    profiles.active_profile(agency_id=agency_id)
    return RiskProfile.objects.filter(agency_id=agency_id).select_related("created_by", "decided_by")


def decisions_of(user) -> QuerySet[Decision]:
    agency_id = _agency(user)
    if agency_id is None:
        return Decision.objects.none()
    return Decision.objects.filter(agency_id=agency_id).select_related(
        "record", "partner", "decided_by", "outcome_by", "outcome_record", "profile"
    )
