"""Reads for liaison officers and requesters."""

from django.db.models import (
    BigIntegerField,
    Case,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast
from django.utils import timezone

from agencies.models import Agency
from audit.models import AuditEvent
from intel.models import Record
from sharing.models import Agreement, DisclosureRequest, Notification, RecordRelease


def agreements_of(user) -> QuerySet[Agreement]:
    """The agreements a user may know of: those their agency is party to (every one for
    platform admins)."""
    if user is None or not user.is_authenticated:
        return Agreement.objects.none()
    if user.is_superuser:
        return Agreement.objects.all()
    return Agreement.objects.filter(parties__agency_id=user.agency_id).distinct()


def incoming_requests(agency_id: int) -> QuerySet[DisclosureRequest]:
    """The liaison's queue: overdue pending requests first, then pending by due time, then decided."""
    now = timezone.now()
    return (
        DisclosureRequest.objects.filter(owner_id=agency_id)
        .select_related("requester", "requesting_agency", "owner")
        .annotate(
            rank=Case(
                When(Q(status="pending") & Q(due_at__lt=now), then=Value(0)),
                When(status="pending", then=Value(1)),
                default=Value(2),
                output_field=IntegerField(),
            )
        )
        .order_by("rank", "due_at")
    )


def outgoing_requests(agency_id: int) -> QuerySet[DisclosureRequest]:
    return (
        DisclosureRequest.objects.filter(requesting_agency_id=agency_id)
        .select_related("requester", "requesting_agency", "owner")
        .order_by("-created_at")
    )


def shared_records(agency_id: int) -> QuerySet[Record]:
    """What the agency shares: its records released to agreements, with the named releases."""
    releases = RecordRelease.objects.select_related("agreement")
    return (
        Record.objects.owned_by(agency_id)
        .exclude(releasability="none")
        .prefetch_related(Prefetch("releases", queryset=releases))
        .order_by("-updated_at")
    )


def access_log(agency_id: int) -> QuerySet[AuditEvent]:
    """Who read the agency's records: reads by other agencies, newest first, each with the
    record's public id and reference while the record exists (the log keeps the inner key)."""
    record = Record.objects.filter(pk=Cast(OuterRef("object_id"), BigIntegerField()))
    return (
        AuditEvent.objects.filter(action="record.read", details__owner=agency_id)
        .annotate(
            agency_code=Subquery(Agency.objects.filter(pk=OuterRef("agency_id")).values("code")),
            record_public_id=Subquery(record.values("public_id")),
            record_ref=Subquery(record.values("external_ref")),
        )
        .order_by("-id")
    )


def unread_notifications(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user, read_at__isnull=True)
