"""The visibility choke point: every read of records, and of the entities, mentions and
links that records assert, goes through `visible_to(user)` here.

A record is visible to a user's agency when the agency owns it, or holds an explicit
grant (a guardian `view_record` permission given to the agency's group) that has not
expired. The rule is evaluated by the database at query time, so a grant that expires
stops access at that instant without any job running.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


def viewer_agency_id(user: AbstractBaseUser | AnonymousUser) -> int | None:
    return getattr(user, "agency_id", None)


def sees_everything(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Platform admins (superusers) operate the platform and see every record."""
    return bool(user.is_authenticated and user.is_superuser)


class RecordQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> RecordQuerySet:
        if sees_everything(user):
            return self
        agency_id = viewer_agency_id(user) if user.is_authenticated else None
        if agency_id is None:
            return self.none()
        return self.filter(self.visibility_condition(agency_id))

    def visibility_condition(self, agency_id: int) -> Q:
        from intel.models import RecordGroupObjectPermission

        now = timezone.now()
        grants = RecordGroupObjectPermission.objects.filter(
            content_object=OuterRef("pk"),
            group__agency__id=agency_id,
            permission__codename="view_record",
            permission__content_type__app_label="intel",
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        return Q(owner_id=agency_id) | Exists(grants)

    def viewer_agencies(self) -> dict[int, set[int]]:
        """For each record in this queryset, the agencies that may see it now: the same rule
        as `visible_to`, turned around, for projections that store who may see what (the graph)."""
        from intel.models import RecordGroupObjectPermission

        now = timezone.now()
        viewers: dict[int, set[int]] = {}
        for record_id, owner_id in self.values_list("pk", "owner_id"):
            viewers[record_id] = {owner_id}
        grants = RecordGroupObjectPermission.objects.filter(
            content_object_id__in=list(viewers),
            permission__codename="view_record",
            permission__content_type__app_label="intel",
            group__agency__isnull=False,
        ).filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        for record_id, agency_id in grants.values_list("content_object_id", "group__agency__id"):
            viewers[record_id].add(agency_id)
        return viewers

    def owned_by(self, agency_id: int) -> RecordQuerySet:
        return self.filter(owner_id=agency_id)


class MentionQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> MentionQuerySet:
        from intel.models import Record

        if sees_everything(user):
            return self
        return self.filter(record__in=Record.objects.visible_to(user))


class LinkQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> LinkQuerySet:
        from intel.models import Record

        if sees_everything(user):
            return self
        return self.filter(record__in=Record.objects.visible_to(user))


class EntityQuerySet(models.QuerySet):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> EntityQuerySet:
        """Entities with at least one mention in a record the user may see."""
        from intel.models import Mention

        if sees_everything(user):
            return self.filter(Exists(Mention.objects.filter(entity=OuterRef("pk"))))
        return self.filter(Exists(Mention.objects.visible_to(user).filter(entity=OuterRef("pk"))))
