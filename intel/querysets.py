"""The visibility choke point: every read of records, and of the entities, mentions and
links that records assert, goes through `visible_to(user, purpose)` here, which asks the
access policy (`intel/access.py`) and adds nothing of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Exists, OuterRef
from django.db.models.expressions import RawSQL

from intel.access import ANY_PURPOSE, Access, PurposeAsked, access_policy, sees_everything, viewer_agency_id

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def among(ids: Iterable[int]) -> RawSQL:
    """For `pk__in=among(ids)`: the ids travel as one array parameter, so a statement about
    thousands of rows stays short and its conversion is cached."""
    return RawSQL("SELECT unnest(%s::bigint[])", [sorted(ids)])


class EachRowExists(Exists):
    """EXISTS asked row by row of the outer query. PostgreSQL otherwise turns an EXISTS into
    a join, and for "entities with a visible mention" it joined every mention to every
    record and tested the rule on all of them before the first page or a count capped at a
    thousand could stop. An OFFSET, even of 0, keeps the subquery as it is written (it
    cannot be pulled up into a join); SQLite accepts it too."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


class AgencyScopedQuerySet(models.QuerySet):
    """Records, mentions and links: visible to a user when the policy lets the user's agency
    see them for the purpose; `viewer_agencies` asks the same of every agency. Mentions and
    links name their record (`record_field`) and the entities whose type an agreement may
    redact (`entity_fields`)."""

    record_field = "record_id"
    entity_fields: tuple[str, ...] = ()

    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
    ):
        """Rows the user's agency may see now. Reading content passes the purpose stated: what
        is visible only under agreements then needs one that permits it (None: none do).
        `access`, when the caller already holds it, is the policy's access of both."""
        if sees_everything(user):
            return self
        agency_id = viewer_agency_id(user)
        if agency_id is None:
            return self.none()
        return self.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)

    def visible_to_agency(
        self, *, agency_id: int, purpose: PurposeAsked = ANY_PURPOSE, access: Access | None = None
    ) -> models.QuerySet:
        """Rows the agency may see now, whoever asks: what a write done for the agency (an
        import following a merge, say) may rely on."""
        policy = access_policy()
        if access is None:
            access = policy.access(agency_id=agency_id, purpose=purpose)
        return self.filter(
            policy.condition(
                agency_id=agency_id,
                access=access,
                record_field=self.record_field,
                entity_fields=self.entity_fields,
            )
        )

    def viewer_agencies(self, context: Any = None) -> dict[int, set[int]]:
        """For each row, the agencies that may see it now (for the graph's visibility lists).
        Calls over the same moment may share the policy's `viewers_context()`."""
        return access_policy().viewer_agencies(
            self, record_field=self.record_field, entity_fields=self.entity_fields, context=context
        )


class RecordQuerySet(AgencyScopedQuerySet):
    record_field = "pk"

    def with_holding(self, user: AbstractBaseUser | AnonymousUser, access: Access) -> RecordQuerySet:
        """Each record annotated with how the user's agency holds it (`via_owner`,
        `via_agreement`, ...): what the purpose check, the redaction and the audit log use."""
        return access_policy().annotate_holding(self, agency_id=viewer_agency_id(user), access=access)

    def owned_by(self, agency_id: int) -> RecordQuerySet:
        return self.filter(owner_id=agency_id)


class MentionQuerySet(AgencyScopedQuerySet):
    """Mentions in visible records, less the entities an agreement redacts."""

    entity_fields = ("entity",)


class LinkQuerySet(AgencyScopedQuerySet):
    """Links in visible records whose two ends the agency may see."""

    entity_fields = ("source", "target")

    def of_triples(self, triples: Sequence[tuple[int, int, str]]) -> LinkQuerySet:
        """The links of exactly these (source id, target id, type) triples, as the graph names
        its relationships, found by the `link_triple` index. A raw condition: a row value
        IN a VALUES list (PostgreSQL and SQLite alike) that the planner joins as a semi-join,
        where an annotation compared to true would be a filter over every link."""
        if not triples:
            return self.none()
        values = ", ".join(["(%s, %s, %s)"] * len(triples))
        table = self.model._meta.db_table
        return self.extra(  # noqa: S610 - values by placeholder; the table is the model's own
            where=[f"({table}.source_id, {table}.target_id, {table}.type) IN (VALUES {values})"],
            params=[value for triple in triples for value in triple],
        )


class EntityQuerySet(models.QuerySet):
    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
    ) -> EntityQuerySet:
        """Entities with at least one mention in a record the user may see."""
        from intel.models import Mention

        mentions = Mention.objects.visible_to(user, purpose, access)
        return self.filter(EachRowExists(mentions.filter(entity=OuterRef("pk"))))
