"""The choke point built other ways, for the record list benchmark only.

The project keeps explicit grants in a direct foreign-key table
(`intel.RecordGroupObjectPermission`, an indexed bigint `content_object_id`).
Guardian's default is the generic `guardian.GroupObjectPermission`, where the object
is a content type plus `object_pk` as text. To compare the two on the same data the
benchmark fills both tables with the same grants and serves the record list through
`VariantRecordViewSet`: the project's own `RecordViewSet` (same selectors, agreement
paths, annotations, serializer, pagination and audit) with only the grant subqueries
of the choke point swapped, while its queryset is built. Nothing in `intel` uses this
module.

Shapes (`?shape=`):

- `in`: guardian's generic table, guardian's own shape (`get_objects_for_group(...,
  any_perm=True)` for a bigint pk): the record's pk cast to text, IN the set of granted
  `object_pk` strings;
- `exists`: guardian's generic table in the choke point's own shape, EXISTS with the
  correlation `object_pk = id::text`;
- `direct-ids`: the project's direct table as now, but the grant subquery filtered on
  the agency group's id and the `view_record` permission's id, looked up once, instead
  of joining auth_group, sharing_agency, auth_permission and django_content_type to find
  them: what a change to `RecordQuerySet.unexpired_grants` would give.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from unittest import mock

from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Cast
from django.db.models.lookups import In
from django.utils import timezone
from guardian.models import GroupObjectPermission

from intel import querysets
from intel.models import Record, RecordGroupObjectPermission
from intel.views import RecordViewSet

SHAPES = ("in", "exists", "direct-ids")


def generic_grants(agency_id: int) -> QuerySet[GroupObjectPermission]:
    # The same joins as the direct grants (group -> agency, permission -> content type),
    # so the comparison isolates the permission table's shape. No expiry: the generic
    # model has none, and the benchmark loads it with only the grants in force.
    ctype = ContentType.objects.get_for_model(Record)
    return GroupObjectPermission.objects.filter(
        content_type=ctype,
        group__agency__id=agency_id,
        permission__codename="view_record",
        permission__content_type__app_label="intel",
    )


def _generic_unexpired_grants(self, agency_id: int) -> QuerySet[GroupObjectPermission]:
    return generic_grants(agency_id).filter(object_pk=Cast(OuterRef("pk"), CharField()))


def _generic_in_condition(self, agency_id: int, access) -> Q:
    granted = In(Cast("pk", CharField()), generic_grants(agency_id).values("object_pk"))
    condition = Q(owner_id=agency_id) | Q(granted)
    for record_condition, agreement_ids in querysets.agreement_paths(access):
        condition |= record_condition & Exists(agreement_ids)
    return condition


@cache
def _grant_ids(agency_id: int) -> tuple[int, int]:
    """The agency's group id and the view_record permission id: constants for a process."""
    from sharing.models import Agency

    group_id = Agency.objects.values_list("group_id", flat=True).get(pk=agency_id)
    permission_id = Permission.objects.values_list("pk", flat=True).get(
        content_type__app_label="intel", codename="view_record"
    )
    return group_id, permission_id


def _direct_ids_unexpired_grants(self, agency_id: int) -> QuerySet[RecordGroupObjectPermission]:
    group_id, permission_id = _grant_ids(agency_id)
    return RecordGroupObjectPermission.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()),
        content_object=OuterRef("pk"),
        group_id=group_id,
        permission_id=permission_id,
    )


@contextmanager
def variant_choke_point(shape: str) -> Iterator[None]:
    """While open, the choke point builds its grant conditions the `shape` way."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    if shape == "direct-ids":
        with mock.patch.object(querysets.RecordQuerySet, "unexpired_grants", _direct_ids_unexpired_grants):
            yield
        return
    with mock.patch.object(querysets.RecordQuerySet, "unexpired_grants", _generic_unexpired_grants):
        if shape == "in":
            with mock.patch.object(querysets.RecordQuerySet, "visibility_condition", _generic_in_condition):
                yield
        else:
            yield


class VariantRecordViewSet(RecordViewSet):
    """The project's record list with the choke point's grants built the `?shape=` way."""

    def get_queryset(self):
        # The conditions are built here, eagerly; the queryset keeps them after the patch ends.
        with variant_choke_point(self.request.query_params.get("shape", "in")):
            return super().get_queryset()
