"""The visibility rule: what an agency may see, at this instant, and how it holds it. This
is the platform's access policy (`settings.ACCESS_POLICY`), asked by `intel` through the
seam in `intel/access.py`; nothing else decides who sees what.

A record is visible to a user's agency, at this instant, when:

- the agency owns it; or
- the agency's group holds an unexpired guardian `view_record` grant on it (an approved
  disclosure request); or
- it is released under an agreement in force right now (signed by every party, inside its
  dates, not suspended or terminated) in which the agency receives and the releasing agency
  provides, whose scope covers the record's category and classification: released by its
  owner to every covering agreement or to this one by name, or released onward by a
  recipient (allowed at release time only where the agreement it came under permits it).

Everything is evaluated by the database at query time, so an agreement that ends or is
suspended, or a grant that expires, stops access at that instant with no job to run.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import models
from django.db.models import Case, ExpressionWrapper, F, Min, Q, QuerySet, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from agencies.models import Agency
from intel.access import ANY_PURPOSE, AnyPurpose, PurposeAsked, StatedRow
from intel.models import (
    EVIDENCE_PURPOSE,
    Caveat,
    EntityType,
    Record,
    RecordGroupObjectPermission,
    Releasability,
)
from sharing.models import AccessStamp, Agreement, AgreementParty, Consent, RecordRelease
from sharing.rule_sql import RecordSQL, granted_to, record_columns, rule_texts

REDACTABLE_ENTITY_TYPES = ("phone", "email", "person", "address")


@dataclass(frozen=True)
class AgreementTerms:
    """What one agreement in force lets a receiving agency see, and for what."""

    categories: tuple[str, ...]
    ceiling: int
    providers: frozenset[int]
    purposes: tuple[str, ...]
    redacted: tuple[str, ...]
    receivers: frozenset[int] = frozenset()
    onward: bool = False
    reference: str = ""


@dataclass(frozen=True)
class InForce:
    """The terms of the agreements in force and, by agency, those it receives under, as read
    under `stamp` (`AccessStamp`), true until `until` (the next start or end date of any
    agreement; None: none to come)."""

    stamp: str
    read_at: datetime
    until: datetime | None
    terms: dict[int, AgreementTerms]
    received: dict[int, set[int]]


# This process's last reading (one per process, shared by its threads: a reading replaces
# it whole). Only read; callers copy what they narrow.
_in_force: InForce | None = None


def terms_in_force() -> tuple[dict[int, AgreementTerms], dict[int, set[int]]]:
    """`AgreementAccess.terms_of` the agreements in force now, read again only when the
    database's stamp of agreements and parties changed or a start or end date passed: one
    small query on most reads, where reading and building the terms was a tenth of a list's
    time. The stamp is read before the agreements: a write committed between the two is
    read with the older stamp, whose copy no reader takes once it sees the newer one; with
    no stamp (its table emptied) nothing is kept."""
    global _in_force
    stamp = AccessStamp.objects.filter(pk=1).values_list("stamp", flat=True).first()
    now = timezone.now()
    kept = _in_force
    if (
        kept is not None
        and stamp is not None
        and kept.stamp == stamp
        # A clock set back before the reading may be before a start date it passed.
        and kept.read_at <= now
        and (kept.until is None or now < kept.until)
    ):
        return kept.terms, kept.received
    terms, received = AgreementAccess.terms_of(Agreement.objects.in_force(now))
    if stamp is not None:
        _in_force = InForce(stamp, now, next_date_after(now), terms, received)
    return terms, received


def next_date_after(now: datetime) -> datetime | None:
    """The first start or end date of any agreement after `now`: until it, the agreements
    in force at `now` are those in force (`in_force` asks no other clock)."""
    coming = Agreement.objects.aggregate(
        starts=Min("starts_at", filter=Q(starts_at__gt=now)), ends=Min("ends_at", filter=Q(ends_at__gt=now))
    )
    return min(filter(None, coming.values()), default=None)


@dataclass
class AgreementAccess:
    """The agreements under which one agency receives right now: few enough to hold in
    memory, so the record conditions they make are plain column tests and one probe of the
    release index, rather than probes of the agreement tables for every record.

    `pool` holds every agreement in force that the same purpose and redactions leave: an
    onward release is only as good as the agreements its chain came through, and each of
    those must be in this pool (so a chain is read for a purpose every link permits, and an
    entity type any link redacts stays hidden). `agreements` is always a part of `pool`.

    `as_evidence`: read for use as evidence, which the owner's not-for-evidence handling
    code forbids without its consent, for every record of another agency however held."""

    agreements: dict[int, AgreementTerms] = field(default_factory=dict)
    pool: dict[int, AgreementTerms] = field(default_factory=dict)
    as_evidence: bool = False

    @classmethod
    def for_agency(cls, agency_id: int, purpose: PurposeAsked = ANY_PURPOSE) -> AgreementAccess:
        """The agreements that permit reading for `purpose`: all of them for ANY_PURPOSE (what
        the agency may see), none when no purpose is stated (reading shared content needs one)."""
        if purpose is None:
            return cls()
        if not isinstance(purpose, str | AnyPurpose):
            raise TypeError(f"a purpose is a string or ANY_PURPOSE, not {purpose!r}")
        terms, received = terms_in_force()
        pool = {pk: t for pk, t in terms.items() if purpose is ANY_PURPOSE or purpose in t.purposes}
        return cls(
            {pk: pool[pk] for pk in received.get(agency_id, ()) if pk in pool},
            pool,
            purpose == EVIDENCE_PURPOSE,
        )

    @classmethod
    def for_every_agency(cls) -> dict[int, AgreementAccess]:
        """What every agency may see under agreements right now."""
        terms, received = terms_in_force()
        return {
            # Copies: the kept terms are every thread's.
            agency_id: cls({pk: terms[pk] for pk in received.get(agency_id, ())}, dict(terms))
            for agency_id in Agency.objects.values_list("pk", flat=True)
        }

    @staticmethod
    def terms_of(agreements: models.QuerySet) -> tuple[dict[int, AgreementTerms], dict[int, set[int]]]:
        """The terms of these agreements, and by agency the ones among them it receives under."""
        rows = list(
            agreements.values_list(
                "pk",
                "categories",
                "classification_ceiling",
                "purposes",
                "redacted_fields",
                "onward_sharing_allowed",
                "reference",
            )
        )
        providers: dict[int, set[int]] = {}
        receivers: dict[int, set[int]] = {}
        received: dict[int, set[int]] = {}
        for agreement_id, agency_id, provides, receives in AgreementParty.objects.filter(
            agreement_id__in=[row[0] for row in rows]
        ).values_list("agreement_id", "agency_id", "provides", "receives"):
            if provides:
                providers.setdefault(agreement_id, set()).add(agency_id)
            if receives:
                receivers.setdefault(agreement_id, set()).add(agency_id)
                received.setdefault(agency_id, set()).add(agreement_id)
        terms = {
            pk: AgreementTerms(
                tuple(categories),
                ceiling,
                frozenset(providers.get(pk, ())),
                tuple(purposes),
                tuple(redacted),
                frozenset(receivers.get(pk, ())),
                onward,
                reference,
            )
            for pk, categories, ceiling, purposes, redacted, onward, reference in rows
        }
        return terms, received

    def key(self) -> tuple:
        """All that the rule's SQL depends on, hashable: what `rule_sql` keeps its text by."""
        return (tuple(sorted(self.agreements.items())), tuple(sorted(self.pool.items())), self.as_evidence)

    @classmethod
    def from_key(cls, key: tuple) -> AgreementAccess:
        agreements, pool, as_evidence = key
        return cls(dict(agreements), dict(pool), as_evidence)

    def allowed_purposes(self) -> list[str]:
        return sorted({p for terms in self.agreements.values() for p in terms.purposes})

    def redacted_by(self, agreement_id: int | None) -> list[str]:
        terms = self.agreements.get(agreement_id)
        return list(terms.redacted) if terms else []

    def redacted_for(self, record: models.Model) -> list[str]:
        """What hides from the reader of a record annotated by `with_visibility`: its
        agreement's redactions and, when it came by an onward release, every redaction along
        that release's chain (sharing never widens)."""
        if getattr(record, "via_owner", True) or getattr(record, "via_grant", False):
            return []
        inherited = getattr(record, "via_inherited_redactions", None) or []
        return sorted({*self.redacted_by(getattr(record, "via_agreement", None)), *inherited})

    def shared_under(self, record: models.Model) -> dict | None:
        """By a grant, or under an agreement named by its reference (the reader is party to
        it), never by its inner key."""
        if getattr(record, "via_owner", True):
            return None
        if getattr(record, "via_grant", False):
            return {"grant": True}
        terms = self.agreements.get(getattr(record, "via_agreement", None))
        return {"agreement": terms.reference if terms else None}

    def only(self, agreement_ids: frozenset[int] | set[int]) -> AgreementAccess:
        return AgreementAccess(
            {pk: t for pk, t in self.agreements.items() if pk in agreement_ids},
            {pk: t for pk, t in self.pool.items() if pk in agreement_ids},
            self.as_evidence,
        )

    def allowing_onward(self) -> AgreementAccess:
        return self.only({pk for pk, terms in self.pool.items() if terms.onward})

    def without_redaction_of(self, field_name: str) -> AgreementAccess:
        return self.only({pk for pk, terms in self.pool.items() if field_name not in terms.redacted})

    def redacted_types(self) -> set[str]:
        """Entity types some agreement redacts, the agency's own or one an onward chain may
        pass through."""
        return {f for terms in self.pool.values() for f in terms.redacted if f in REDACTABLE_ENTITY_TYPES}


def record_condition(agency_id: int, access: AgreementAccess, through: str = "") -> RecordSQL:
    """Records the agency may see: its own, granted to it, or released under its agreements;
    read as evidence, none of another agency's that its owner marked not for evidence and did
    not consent to for this agency. `through`: the foreign key naming the record, for rows
    that are not records (`record`, from a mention)."""
    return RecordSQL(rule_texts(agency_id, access).visible, record_columns(through))


def first_release_id(agency_id: int, access: AgreementAccess) -> RecordSQL:
    """The release by which the agency holds the record under these agreements (the first,
    as `via_agreement` takes it), or None."""
    return RecordSQL(rule_texts(agency_id, access).first_release, record_columns(), models.BigIntegerField())


def annotate_holding(
    records: models.QuerySet, agency_id: int | None, access: AgreementAccess
) -> models.QuerySet:
    """Annotates how each record is visible: `via_owner`, `via_grant`, and `via_agreement`
    (an agreement it is visible under, or None). That is what the purpose check, the
    redaction and the audit log record."""
    columns = record_columns()
    texts = rule_texts(agency_id or 0, access)
    covering = RecordSQL(texts.covering_agreement, columns, models.BigIntegerField())
    return records.annotate(
        via_owner=Q(owner_id=agency_id),
        via_grant=RecordSQL(granted_to(agency_id or 0), columns),
        via_covering=covering,
        via_agreement=Coalesce(
            F("via_covering"),
            RecordSQL(texts.first_agreement, columns, models.BigIntegerField()),
            output_field=models.BigIntegerField(),
        ),
        via_inherited_redactions=Case(
            When(
                via_covering__isnull=True,
                then=RecordSQL(texts.first_redactions, columns, models.JSONField()),
            ),
            output_field=models.JSONField(),
        ),
    )


# Django's `Choices.values` builds a new list on every read; the rule asks it once per row.
ENTITY_TYPES = frozenset(EntityType.values)


def entity_type_is(field_name: str, entity_type: str | None, redacted: list[str]) -> Q:
    """`field_name`'s entity has this redacted type, or (None) one of the types not redacted:
    by the row's copy of the type (`<field>_type`), not by a join to every entity. Named as
    the types admitted, so that a copy that is no type at all admits nothing."""
    if entity_type is None:
        return Q(**{f"{field_name}_type__in": sorted(ENTITY_TYPES - set(redacted))})
    return Q(**{f"{field_name}_type": entity_type})


def scope_of(access: AgreementAccess, entity_types: list[str | None]) -> frozenset[int]:
    """The agreements under which entities of these types (None: of no redacted type) may
    be seen, received directly or along an onward chain: those redacting none of the types."""
    for entity_type in entity_types:
        if entity_type is not None:
            access = access.without_redaction_of(entity_type)
    return frozenset(access.pool)


def visible_with_entities(agency_id: int, access: AgreementAccess, through: str, *entity_fields: str) -> Q:
    """Rows in visible records whose entities (through `entity_fields`) the agency may see:
    an entity of a redacted type (phone, e-mail, person, address) counts only where its
    record is visible other than under agreements redacting that type. The combinations of
    types are grouped by the agreements they leave, so the record is probed once per group
    (usually two: everything, and the agreements redacting nothing)."""
    redacted = sorted(access.redacted_types())
    groups: dict[frozenset[int], Q] = {}
    for entity_types in itertools.product([None, *redacted], repeat=len(entity_fields)):
        match = Q()
        for field_name, entity_type in zip(entity_fields, entity_types, strict=True):
            match &= entity_type_is(field_name, entity_type, redacted)
        scope = scope_of(access, list(entity_types))
        groups[scope] = groups[scope] | match if scope in groups else match
    condition = Q()
    for scope, match in groups.items():
        condition |= match & record_condition(agency_id, access.only(scope), through)
    return condition


def viewer_agencies(rows: Iterable[StatedRow], context: ViewersContext) -> dict[int, set[int]]:
    """For each row, the agencies that may see it now (for the graph's visibility lists).

    The rule is asked of the rows' records, not of each row: one query over the records,
    with a column per agency and group of agreements the rows' entity types leave (see
    `visible_with_entities`; usually one or two per agency), whatever the number of
    rows. Calls on rows of the same records may share `answers` (per agency and
    agreements: the records asked about, and those of them visible)."""
    accesses, answers = context.accesses, context.answers
    rows_by_record: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
    viewers: dict[int, set[int]] = {}
    for pk, record_id, entity_types in rows:
        viewers[pk] = set()
        # As `entity_type_is`: a copy that is no type at all is seen by no one.
        if ENTITY_TYPES.issuperset(entity_types):
            rows_by_record.setdefault(record_id, []).append((pk, entity_types))
    type_combinations = {t for rows in rows_by_record.values() for _, t in rows}
    scopes = {}
    for agency_id, access in accesses.items():
        redacted = access.redacted_types()
        scopes[agency_id] = {
            combination: scope_of(access, [t if t in redacted else None for t in combination])
            for combination in type_combinations
        }
    needed = {(agency_id, scope) for agency_id, by_types in scopes.items() for scope in by_types.values()}
    for question in needed:
        answers.setdefault(question, (set(), set()))
    unanswered = sorted(
        (question for question in needed if not answers[question][0].issuperset(rows_by_record)),
        key=lambda question: (question[0], sorted(question[1])),
    )
    if unanswered:
        columns = {
            f"agency_{index}": ExpressionWrapper(
                record_condition(agency_id, accesses[agency_id].only(scope)),
                output_field=models.BooleanField(),
            )
            for index, (agency_id, scope) in enumerate(unanswered)
        }
        rows = Record.objects.filter(pk__any_of=sorted(rows_by_record)).annotate(**columns)
        for record_id, *sees in rows.values_list("pk", *columns):
            for question, seen in zip(unanswered, sees, strict=True):
                if seen:
                    answers[question][1].add(record_id)
        for question in unanswered:
            answers[question][0].update(rows_by_record)
    for agency_id, by_types in scopes.items():
        for scope in set(by_types.values()):
            for record_id in answers[(agency_id, scope)][1] & rows_by_record.keys():
                for pk, combination in rows_by_record[record_id]:
                    if by_types[combination] == scope:
                        viewers[pk].add(agency_id)
    return viewers


def covered_records(agreement: Agreement) -> QuerySet[Record]:
    """Records whose visibility this agreement can change: owned by a providing party,
    in its scope, released to it by name or to every covering agreement, or released onward."""
    providers = agreement.parties.filter(provides=True).values("agency_id")
    # Onward releases under it, or whose chain passed through it, whatever their owner.
    chained = RecordRelease.objects.filter(Q(agreement=agreement) | Q(basis_agreement=agreement))
    return Record.objects.filter(
        Q(
            owner_id__in=providers,
            category__in=agreement.categories,
            classification__lte=agreement.classification_ceiling,
        )
        & (Q(releasability=Releasability.COVERING) | Q(releases__agreement=agreement))
        | Q(pk__in=chained.values("record_id"))
    ).distinct()


# Watchers of the graph's visibility lists (settings.GRAPH_VISIBILITY_WATCHERS): the records
# whose visibility the clock may have changed, with nobody acting.


def records_with_grants_expired(since: datetime, until: datetime) -> QuerySet:
    """Records on which some object permission expired in (since, until]."""
    expired = RecordGroupObjectPermission.objects.filter(expires_at__gt=since, expires_at__lte=until)
    return Record.objects.filter(pk__in=expired.values("content_object_id"))


def records_of_agreements_starting_or_ending(since: datetime, until: datetime) -> QuerySet:
    """Records covered by an agreement whose start or end date fell in (since, until]: access
    under it begins or stops at that instant, with nobody acting."""
    agreements = Agreement.objects.filter(
        Q(starts_at__gt=since, starts_at__lte=until) | Q(ends_at__gt=since, ends_at__lte=until)
    )
    covered = Q(pk__in=[])
    for agreement in agreements:
        covered |= Q(pk__in=covered_records(agreement).values("pk"))
    return Record.objects.filter(covered)


@dataclass
class ViewersContext:
    """One moment's access of every agency, and the answers calls on rows of the same
    records share (per agency and agreements: the records asked about, and those visible)."""

    accesses: dict[int, AgreementAccess] = field(default_factory=AgreementAccess.for_every_agency)
    answers: dict[tuple[int, frozenset[int]], tuple[set[int], set[int]]] = field(default_factory=dict)


class AgreementPolicy:
    """The rule above, behind the seam `intel.access.AccessPolicy`."""

    def access(self, *, agency_id: int, purpose: PurposeAsked) -> AgreementAccess:
        return AgreementAccess.for_agency(agency_id, purpose)

    def no_access(self) -> AgreementAccess:
        return AgreementAccess()

    def condition(
        self, *, agency_id: int, access: AgreementAccess, record_field: str, entity_fields: tuple[str, ...]
    ) -> Q:
        if record_field == "pk":
            return record_condition(agency_id, access)
        return visible_with_entities(agency_id, access, record_field.removesuffix("_id"), *entity_fields)

    def annotate_holding(
        self, records: models.QuerySet, *, agency_id: int | None, access: AgreementAccess
    ) -> models.QuerySet:
        return annotate_holding(records, agency_id, access)

    def viewer_agencies(
        self, rows: Iterable[StatedRow], *, context: ViewersContext | None
    ) -> dict[int, set[int]]:
        return viewer_agencies(rows, context or ViewersContext())

    def viewers_context(self) -> ViewersContext:
        return ViewersContext()

    def purposes_for(self, *, agency_id: int, records: models.QuerySet) -> list[str]:
        """The purposes of the agreements under which the agency sees any of the records."""
        everything = AgreementAccess.for_agency(agency_id)
        return sorted(
            {
                purpose
                for pk, terms in everything.agreements.items()
                if records.filter(record_condition(agency_id, everything.only({pk}))).exists()
                for purpose in terms.purposes
            }
        )

    def use_refused(self, *, agency_id: int, record: Record, purpose: str | None) -> str | None:
        if (
            purpose == EVIDENCE_PURPOSE
            and record.owner_id != agency_id
            and Caveat.NOT_FOR_EVIDENCE in record.caveats
            and not Consent.objects.filter(
                record=record, agency_id=agency_id, caveat=Caveat.NOT_FOR_EVIDENCE
            ).exists()
        ):
            return (
                "this record is not for use as evidence without the owner's consent; "
                "ask for it with a consent request"
            )
        return None
