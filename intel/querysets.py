"""The visibility choke point: every read of records, and of the entities, mentions and
links that records assert, goes through `visible_to(user)` here.

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
`intel` names the sharing models only by their labels (`apps.get_model`), keeping the
dependency pointing from `sharing` to `intel`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.apps import apps
from django.conf import settings
from django.db import models
from django.db.models import Case, Exists, ExpressionWrapper, F, OuterRef, Q, Subquery, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import Contains, Exact, In, LessThanOrEqual
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def viewer_agency_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    return getattr(user, "agency_id", None) if user.is_authenticated else None


def sees_everything(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Platform admins (superusers) operate the platform and see every record."""
    return bool(user.is_authenticated and user.is_superuser)


class AnyPurpose:
    """The internal "may see, for some purpose" that the graph sync and the admin ask.
    An object rather than a string, so that no value parsed from a request can equal it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY_PURPOSE"


ANY_PURPOSE = AnyPurpose()
PurposeAsked = str | AnyPurpose | None
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


@dataclass
class AgreementAccess:
    """The agreements under which one agency receives right now: few enough to hold in
    memory, so the record conditions they make are plain column tests and one probe of the
    release index, rather than probes of the agreement tables for every record.

    `pool` holds every agreement in force that the same purpose and redactions leave: an
    onward release is only as good as the agreements its chain came through, and each of
    those must be in this pool (so a chain is read for a purpose every link permits, and an
    entity type any link redacts stays hidden). `agreements` is always a part of `pool`."""

    agreements: dict[int, AgreementTerms] = field(default_factory=dict)
    pool: dict[int, AgreementTerms] = field(default_factory=dict)

    @classmethod
    def for_agency(cls, agency_id: int, purpose: PurposeAsked = ANY_PURPOSE) -> AgreementAccess:
        """The agreements that permit reading for `purpose`: all of them for ANY_PURPOSE (what
        the agency may see), none when no purpose is stated (reading shared content needs one)."""
        if purpose is None:
            return cls()
        if not isinstance(purpose, str | AnyPurpose):
            raise TypeError(f"a purpose is a string or ANY_PURPOSE, not {purpose!r}")
        agreement = apps.get_model("sharing", "Agreement")
        terms, received = cls.terms_of(agreement.objects.in_force())
        pool = {pk: t for pk, t in terms.items() if purpose is ANY_PURPOSE or purpose in t.purposes}
        return cls({pk: pool[pk] for pk in received.get(agency_id, ()) if pk in pool}, pool)

    @classmethod
    def for_every_agency(cls) -> dict[int, AgreementAccess]:
        """What every agency may see under agreements right now, in three queries."""
        agency = apps.get_model("sharing", "Agency")
        agreement = apps.get_model("sharing", "Agreement")
        terms, received = cls.terms_of(agreement.objects.in_force())
        return {
            agency_id: cls({pk: terms[pk] for pk in received.get(agency_id, ())}, terms)
            for agency_id in agency.objects.values_list("pk", flat=True)
        }

    @staticmethod
    def terms_of(agreements: models.QuerySet) -> tuple[dict[int, AgreementTerms], dict[int, set[int]]]:
        """The terms of these agreements, and by agency the ones among them it receives under."""
        party = apps.get_model("sharing", "AgreementParty")
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
        for agreement_id, agency_id, provides, receives in party.objects.filter(
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

    def only(self, agreement_ids: frozenset[int] | set[int]) -> AgreementAccess:
        return AgreementAccess(
            {pk: t for pk, t in self.agreements.items() if pk in agreement_ids},
            {pk: t for pk, t in self.pool.items() if pk in agreement_ids},
        )

    def allowing_onward(self) -> AgreementAccess:
        return self.only({pk for pk, terms in self.pool.items() if terms.onward})

    def without_redaction_of(self, field_name: str) -> AgreementAccess:
        return self.only({pk for pk, terms in self.pool.items() if field_name not in terms.redacted})

    def redacted_types(self) -> set[str]:
        """Entity types some agreement redacts, the agency's own or one an onward chain may
        pass through."""
        return {f for terms in self.pool.values() for f in terms.redacted if f in REDACTABLE_ENTITY_TYPES}

    def scopes(self) -> dict[tuple[str, int], list[int]]:
        """Agreement ids by the (category, classification ceiling) they cover."""
        grouped: dict[tuple[str, int], list[int]] = {}
        for pk, terms in sorted(self.agreements.items()):
            for category in terms.categories:
                grouped.setdefault((category, terms.ceiling), []).append(pk)
        return grouped


def among(ids: Iterable[int]) -> RawSQL:
    """For `pk__in=among(ids)`: the ids travel as one array parameter, so a statement about
    thousands of rows stays short and its conversion is cached."""
    return RawSQL("SELECT unnest(%s::bigint[])", [sorted(ids)])


def released_to_covering(access: AgreementAccess) -> Q:
    """Records their owner released to every covering agreement, covered by one in which the
    owner provides: by (category, ceiling), the owners that provide under such agreements."""
    condition = Q(pk__in=[])
    for (category, ceiling), ids in access.scopes().items():
        owners = sorted({agency for pk in ids for agency in access.agreements[pk].providers})
        if owners:
            condition |= Q(category=category, classification__lte=ceiling, owner_id__in=owners)
    return Q(releasability="covering") & condition


def covers_outer_record(terms: AgreementTerms) -> Q:
    """The agreement's scope covers the outer record (by its own columns)."""
    return Q(
        In(OuterRef("category"), list(terms.categories)),
        LessThanOrEqual(OuterRef("classification"), terms.ceiling),
    )


def named_releases(access: AgreementAccess) -> models.QuerySet:
    """Release rows of the outer record (`record_id = outer id`) that make it visible under
    one of these agreements, whose scope covers it and under which the releasing agency
    provides: by name from the owner, or onward from a recipient whose own basis holds now.
    The scope is tested on the outer record's own columns, so each record costs one probe
    of the release index and no second visit to the records table."""
    release = apps.get_model("sharing", "RecordRelease")
    under = Q(pk__in=[])
    for pk, terms in sorted(access.agreements.items()):
        if terms.categories and terms.providers:
            under |= Q(
                covers_outer_record(terms), agreement_id=pk, released_by_id__in=sorted(terms.providers)
            )
    return release.objects.filter(
        under, release_holds(access, "", settings.ONWARD_MAX_HOPS), record_id=OuterRef("pk")
    )


def release_holds(access: AgreementAccess, prefix: str, hops: int) -> Q:
    """The release row at `prefix` (a path of `basis__` steps from the probed row) is still
    good: the owner's own release of a record it releases by name, or, up to `hops` onward
    steps, a recipient's release whose basis still holds now. A basis holds when the
    releasing agency receives under its basis agreement, that agreement is in the pool (in
    force, permitting the purpose, redacting no type asked about), allows onward sharing and
    covers the record (so the lowest ceiling along the chain applies), the owner's handling
    code does not forbid onward sharing (or the owner consented to that agency), and the
    record reached the releasing agency from the owner's covering releasability or by a
    release that holds in turn. Each step adds one alternative per agreement, not per
    chain, so the condition grows with hops times agreements."""
    owners_release = Q(**{f"{prefix}released_by_id": OuterRef("owner_id")}) & Q(
        Exact(OuterRef("releasability"), "named")
    )
    if hops == 0:
        return owners_release
    basis = f"{prefix}basis__"
    bases = Q(pk__in=[])
    for pk, terms in sorted(access.pool.items()):
        if not (terms.onward and terms.receivers and terms.categories and terms.providers):
            continue
        providers = sorted(terms.providers)
        from_owner = Q(**{f"{prefix}basis__isnull": True}) & Q(
            Exact(OuterRef("releasability"), "covering"), In(OuterRef("owner_id"), providers)
        )
        from_release = Q(**{f"{basis}agreement_id": pk, f"{basis}released_by_id__in": providers})
        bases |= Q(
            covers_outer_record(terms),
            from_owner | from_release,
            **{f"{prefix}basis_agreement_id": pk, f"{prefix}released_by_id__in": sorted(terms.receivers)},
        )
    from intel.models import Caveat

    consent = apps.get_model("sharing", "Consent")
    onward_permitted = ~Q(
        Contains(Cast(OuterRef("caveats"), models.TextField()), f'"{Caveat.NO_ONWARD_SHARING}"')
    ) | Q(
        Exists(
            consent.objects.filter(
                record_id=OuterRef(OuterRef("pk")),
                agency_id=OuterRef(f"{prefix}released_by_id"),
                caveat=Caveat.NO_ONWARD_SHARING,
            )
        )
    )
    upstream = Q(**{f"{prefix}basis__isnull": True}) | release_holds(access, basis, hops - 1)
    return owners_release | (bases & onward_permitted & upstream)


def covering_agreement(access: AgreementAccess) -> Case:
    """For a record released to every covering agreement: the first agreement covering it."""
    whens = [
        When(
            Q(releasability="covering", owner_id__in=sorted(terms.providers))
            & Q(category__in=terms.categories, classification__lte=terms.ceiling),
            then=Value(pk),
        )
        for pk, terms in sorted(access.agreements.items())
        if terms.providers and terms.categories
    ]
    return Case(*whens, default=Value(None), output_field=models.BigIntegerField())


class AgencyScopedQuerySet(models.QuerySet):
    """Records, mentions and links: visible to a user when visible to the user's agency
    under the agreements that permit the purpose; `viewer_agencies` asks the same of every
    agency. Mentions and links name their record (`record_field`) and the entities whose
    type an agreement may redact (`entity_fields`)."""

    record_field = "record_id"
    entity_fields: tuple[str, ...] = ()

    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        return visible_with_entities(agency_id, access, *self.entity_fields)

    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: AgreementAccess | None = None,
    ):
        """Rows the user's agency may see now. Reading content passes the purpose stated: what
        is visible only under agreements then needs one that permits it (None: none do).
        `access`, when the caller already holds it, is `AgreementAccess.for_agency` of both."""
        if sees_everything(user):
            return self
        agency_id = viewer_agency_id(user)
        if agency_id is None:
            return self.none()
        if access is None:
            access = AgreementAccess.for_agency(agency_id, purpose)
        return self.filter(self.visibility_condition(agency_id, access))

    def viewer_agencies(
        self,
        accesses: dict[int, AgreementAccess] | None = None,
        answers: dict[tuple[int, frozenset[int]], tuple[set[int], set[int]]] | None = None,
    ) -> dict[int, set[int]]:
        """For each row, the agencies that may see it now (for the graph's visibility lists).

        The rule is asked of the rows' records, not of each row: one query over the records,
        with a column per agency and group of agreements the rows' entity types leave (see
        `visible_with_entities`; usually one or two per agency), whatever the number of
        rows. Calls on rows of the same records may share `answers` (per agency and
        agreements: the records asked about, and those of them visible)."""
        from intel.models import Record

        if accesses is None:
            accesses = AgreementAccess.for_every_agency()
        answers = {} if answers is None else answers
        types = [f"{name}__type" for name in self.entity_fields]
        rows_by_record: dict[int, list[tuple[int, tuple[str, ...]]]] = {}
        viewers: dict[int, set[int]] = {}
        for pk, record_id, *entity_types in self.values_list("pk", self.record_field, *types):
            rows_by_record.setdefault(record_id, []).append((pk, tuple(entity_types)))
            viewers[pk] = set()
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
                    Record.objects.visibility_condition(agency_id, accesses[agency_id].only(scope)),
                    output_field=models.BooleanField(),
                )
                for index, (agency_id, scope) in enumerate(unanswered)
            }
            rows = Record.objects.filter(pk__in=among(rows_by_record)).annotate(**columns)
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


class RecordQuerySet(AgencyScopedQuerySet):
    record_field = "pk"

    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        condition = Q(owner_id=agency_id) | self.granted(agency_id)
        if access.agreements:
            condition |= released_to_covering(access) | Exists(named_releases(access))
        return condition

    def granted(self, agency_id: int) -> Q:
        """The agency's group holds an unexpired `view_record` grant on the record. EXISTS
        rather than IN, for the same reason as `named_releases`."""
        return Q(Exists(self.unexpired_grants(agency_id).filter(content_object=OuterRef("pk"))))

    def unexpired_grants(self, agency_id: int) -> models.QuerySet:
        from django.contrib.auth.models import Permission

        from intel.models import RecordGroupObjectPermission

        # The agency's group and the permission as scalar subqueries: PostgreSQL computes each
        # once per query (an InitPlan) instead of joining two tables for every grant row, and the
        # (group, permission, content_object) index then answers the lookup alone.
        agency = apps.get_model("sharing", "Agency")
        group = agency.objects.filter(pk=agency_id).values("group_id")
        view = Permission.objects.filter(codename="view_record", content_type__app_label="intel").values("id")
        return RecordGroupObjectPermission.objects.filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
            group_id=Subquery(group),
            permission_id=Subquery(view),
        )

    def with_visibility(
        self, user: AbstractBaseUser | AnonymousUser, access: AgreementAccess
    ) -> RecordQuerySet:
        """Annotates how each record is visible: `via_owner`, `via_grant`, and `via_agreement`
        (an agreement it is visible under, or None). That is what the purpose check, the
        redaction and the audit log record."""
        agency_id = viewer_agency_id(user)
        if not access.agreements:
            nothing = Value(None, output_field=models.BigIntegerField())
            return self.annotate(
                via_owner=Q(owner_id=agency_id),
                via_grant=self.granted(agency_id or 0),
                via_covering=nothing,
                via_agreement=nothing,
                via_inherited_redactions=Value(None, output_field=models.JSONField()),
            )
        released = named_releases(access).order_by("pk")
        return self.annotate(
            via_owner=Q(owner_id=agency_id),
            via_grant=self.granted(agency_id or 0),
            via_covering=covering_agreement(access),
            via_agreement=Coalesce(
                F("via_covering"),
                Subquery(released.values("agreement_id")[:1]),
                output_field=models.BigIntegerField(),
            ),
            via_inherited_redactions=Case(
                When(via_covering__isnull=True, then=Subquery(released.values("inherited_redactions")[:1])),
                output_field=models.JSONField(),
            ),
        )

    def owned_by(self, agency_id: int) -> RecordQuerySet:
        return self.filter(owner_id=agency_id)


def record_visible(agency_id: int, access: AgreementAccess) -> Exists:
    """The row's record (by `record_id`) is visible to the agency: correlated, so asking about
    a few hundred mentions probes a few hundred records, not every record the agency sees."""
    from intel.models import Record

    return Exists(
        Record.objects.filter(pk=OuterRef("record_id")).filter(
            Record.objects.visibility_condition(agency_id, access)
        )
    )


def entity_type_is(field_name: str, entity_type: str | None, redacted: list[str]) -> Q:
    """`field_name`'s entity has this redacted type, or (None) none of the redacted types."""
    if entity_type is None:
        return ~Q(**{f"{field_name}__type__in": redacted})
    return Q(**{f"{field_name}__type": entity_type})


def scope_of(access: AgreementAccess, entity_types: list[str | None]) -> frozenset[int]:
    """The agreements under which entities of these types (None: of no redacted type) may
    be seen, received directly or along an onward chain: those redacting none of the types."""
    for entity_type in entity_types:
        if entity_type is not None:
            access = access.without_redaction_of(entity_type)
    return frozenset(access.pool)


def visible_with_entities(agency_id: int, access: AgreementAccess, *entity_fields: str) -> Q:
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
        condition |= match & record_visible(agency_id, access.only(scope))
    return condition


class MentionQuerySet(AgencyScopedQuerySet):
    """Mentions in visible records, less the entities an agreement redacts."""

    entity_fields = ("entity",)


class LinkQuerySet(AgencyScopedQuerySet):
    """Links in visible records whose two ends the agency may see."""

    entity_fields = ("source", "target")


class EntityQuerySet(models.QuerySet):
    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: AgreementAccess | None = None,
    ) -> EntityQuerySet:
        """Entities with at least one mention in a record the user may see."""
        from intel.models import Mention

        mentions = Mention.objects.visible_to(user, purpose, access)
        return self.filter(Exists(mentions.filter(entity=OuterRef("pk"))))
