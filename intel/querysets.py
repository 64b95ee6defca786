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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def viewer_agency_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    return getattr(user, "agency_id", None) if user.is_authenticated else None


def sees_everything(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Platform admins (superusers) operate the platform and see every record."""
    return bool(user.is_authenticated and user.is_superuser)


ANY_PURPOSE = "*"
REDACTABLE_ENTITY_TYPES = ("phone", "email", "person", "address")


@dataclass
class AgreementAccess:
    """The agreements under which one agency receives right now, few enough to hold in
    memory, grouped by the record categories they cover."""

    by_category: dict[str, list[int]] = field(default_factory=dict)
    purposes: dict[int, list[str]] = field(default_factory=dict)
    redacted: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def for_agency(cls, agency_id: int, purpose: str | None = ANY_PURPOSE) -> AgreementAccess:
        """The agreements that permit reading for `purpose`: all of them for ANY_PURPOSE (what
        the agency may see), none when no purpose is stated (reading shared content needs one)."""
        agreement = apps.get_model("sharing", "Agreement")
        access = cls()
        if purpose is None:
            return access
        rows = agreement.objects.in_force().filter(parties__agency_id=agency_id, parties__receives=True)
        for pk, categories, purposes, redacted in rows.values_list(
            "pk", "categories", "purposes", "redacted_fields"
        ):
            if purpose != ANY_PURPOSE and purpose not in purposes:
                continue
            access.purposes[pk], access.redacted[pk] = purposes, redacted
            for category in categories:
                access.by_category.setdefault(category, []).append(pk)
        return access

    def allowed_purposes(self) -> list[str]:
        return sorted({p for purposes in self.purposes.values() for p in purposes})

    def only(self, agreement_ids: set[int]) -> AgreementAccess:
        return AgreementAccess(
            by_category={c: [pk for pk in ids if pk in agreement_ids] for c, ids in self.by_category.items()},
            purposes={pk: p for pk, p in self.purposes.items() if pk in agreement_ids},
            redacted={pk: r for pk, r in self.redacted.items() if pk in agreement_ids},
        )

    def without_redaction_of(self, field_name: str) -> AgreementAccess:
        return self.only({pk for pk, redacted in self.redacted.items() if field_name not in redacted})

    def redacted_types(self) -> set[str]:
        return {f for fields in self.redacted.values() for f in fields if f in REDACTABLE_ENTITY_TYPES}


def agreement_paths(access: AgreementAccess) -> list[tuple[Q, models.QuerySet]]:
    """For each way a record can be visible under an agreement: the condition on the record
    and a query of the agreement ids it is visible under (correlated to the outer record).
    Both `visible_to` (as Exists) and `with_visibility` (as the first id) use these."""
    party = apps.get_model("sharing", "AgreementParty")
    release = apps.get_model("sharing", "RecordRelease")
    paths = []
    for category, agreement_ids in sorted(access.by_category.items()):
        if not agreement_ids:
            continue
        to_covering = party.objects.filter(
            agreement_id__in=agreement_ids,
            agency_id=OuterRef("owner_id"),
            provides=True,
            agreement__classification_ceiling__gte=OuterRef("classification"),
        ).values("agreement_id")
        paths.append((Q(category=category, releasability="covering"), to_covering))
        # By name from the owner (the record says "named"), or onward from a recipient.
        by_name = release.objects.filter(
            Q(released_by_id=OuterRef("owner_id"), record__releasability="named")
            | ~Q(released_by_id=OuterRef("owner_id")),
            record_id=OuterRef("pk"),
            agreement_id__in=agreement_ids,
            agreement__classification_ceiling__gte=OuterRef("classification"),
        ).values("agreement_id")
        paths.append((Q(category=category), by_name))
    return paths


class AgencyScopedQuerySet(models.QuerySet):
    """Mentions and links: visible to a user when visible to the user's agency under the
    agreements that permit the purpose; `viewer_agencies` asks the same of every agency."""

    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        raise NotImplementedError

    def visible_to(self, user: AbstractBaseUser | AnonymousUser, purpose: str | None = ANY_PURPOSE):
        """Rows the user's agency may see now. Reading content passes the purpose stated: what
        is visible only under agreements then needs one that permits it (None: none do)."""
        if sees_everything(user):
            return self
        agency_id = viewer_agency_id(user)
        if agency_id is None:
            return self.none()
        return self.filter(
            self.visibility_condition(agency_id, AgreementAccess.for_agency(agency_id, purpose))
        )

    def viewer_agencies(self) -> dict[int, set[int]]:
        """For each row, the agencies that may see it now (for the graph's visibility lists)."""
        agency = apps.get_model("sharing", "Agency")
        ids = list(self.values_list("pk", flat=True))
        viewers: dict[int, set[int]] = {pk: set() for pk in ids}
        base = self.model.objects.filter(pk__in=ids)
        for agency_id in agency.objects.values_list("pk", flat=True):
            condition = self.visibility_condition(agency_id, AgreementAccess.for_agency(agency_id))
            for pk in base.filter(condition).values_list("pk", flat=True):
                viewers[pk].add(agency_id)
        return viewers


class RecordQuerySet(AgencyScopedQuerySet):
    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        condition = Q(owner_id=agency_id) | Exists(self.unexpired_grants(agency_id))
        for record_condition, agreement_ids in agreement_paths(access):
            condition |= record_condition & Exists(agreement_ids)
        return condition

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
            content_object=OuterRef("pk"),
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
        whens = [
            When(record_condition & Exists(agreement_ids), then=Subquery(agreement_ids[:1]))
            for record_condition, agreement_ids in agreement_paths(access)
        ]
        return self.annotate(
            via_owner=Q(owner_id=agency_id),
            via_grant=Exists(self.unexpired_grants(agency_id or 0)),
            via_agreement=Case(*whens, default=Value(None), output_field=models.BigIntegerField())
            if whens
            else Value(None, output_field=models.BigIntegerField()),
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


def scope_for(access: AgreementAccess, *entity_types: str | None) -> AgreementAccess:
    for entity_type in entity_types:
        if entity_type is not None:
            access = access.without_redaction_of(entity_type)
    return access


class MentionQuerySet(AgencyScopedQuerySet):
    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        """Mentions in visible records, less those an agreement redacts: a phone, e-mail,
        person or address that reaches the agency only under agreements redacting that type."""
        redacted = sorted(access.redacted_types())
        condition = Q()
        for entity_type in [None, *redacted]:
            scoped = scope_for(access, entity_type)
            condition |= entity_type_is("entity", entity_type, redacted) & record_visible(agency_id, scoped)
        return condition


class LinkQuerySet(AgencyScopedQuerySet):
    def visibility_condition(self, agency_id: int, access: AgreementAccess) -> Q:
        """Links in visible records whose two ends the agency may see (see MentionQuerySet)."""
        redacted = sorted(access.redacted_types())
        condition = Q()
        for source_type in [None, *redacted]:
            for target_type in [None, *redacted]:
                scoped = scope_for(access, source_type, target_type)
                condition |= (
                    entity_type_is("source", source_type, redacted)
                    & entity_type_is("target", target_type, redacted)
                    & record_visible(agency_id, scoped)
                )
        return condition


class EntityQuerySet(models.QuerySet):
    def visible_to(
        self, user: AbstractBaseUser | AnonymousUser, purpose: str | None = ANY_PURPOSE
    ) -> EntityQuerySet:
        """Entities with at least one mention in a record the user may see."""
        from intel.models import Mention

        mentions = Mention.objects.visible_to(user, purpose)
        return self.filter(Exists(mentions.filter(entity=OuterRef("pk"))))
