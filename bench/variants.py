"""The choke point with guardian's generic permissions, for the record list benchmark only.

The project keeps explicit grants in a direct foreign-key table
(`intel.RecordGroupObjectPermission`, an indexed bigint `content_object_id`).
Guardian's default is the generic `guardian.GroupObjectPermission`, where the object
is a content type plus `object_pk` as text. To compare the two on the same data the
benchmark fills both tables with the same grants and serves the record list through
`VariantRecordViewSet`: the project's own `RecordViewSet` (same selectors, agreement
conditions, annotations, serializer, pagination and audit) with only the grant test of
the choke point swapped for guardian's own shape (`get_objects_for_group(...,
any_perm=True)` for a bigint pk: the record's pk cast to text, IN the set of granted
`object_pk` strings) while its queryset is built. Nothing in `intel` uses this module.
"""

from __future__ import annotations

from unittest import mock

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.db.models.lookups import In
from guardian.models import GroupObjectPermission

from intel import querysets
from intel.models import Record
from intel.views import RecordViewSet


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


def _generic_granted(self, agency_id: int) -> Q:
    return Q(In(Cast("pk", CharField()), generic_grants(agency_id).values("object_pk")))


class VariantRecordViewSet(RecordViewSet):
    """The project's record list with guardian's generic grants."""

    def get_queryset(self):
        # The conditions are built here, eagerly; the queryset keeps them after the patch ends.
        with mock.patch.object(querysets.RecordQuerySet, "granted", _generic_granted):
            return super().get_queryset()
