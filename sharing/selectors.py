"""Reads for liaison officers and requesters."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

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
from intel import presentation
from intel.access import viewer_agency_id
from intel.models import Mention, Record
from intel.querysets import MENTION_ORDER
from sharing.models import Agreement, DisclosureRequest, Notification, RecordRelease


def agreements_of(user) -> QuerySet[Agreement]:
    """The agreements a user may know of: those their agency is party to (every one for
    platform admins)."""
    if user is None or not user.is_authenticated:
        return Agreement.objects.none()
    if user.is_superuser:
        return Agreement.objects.all()
    return Agreement.objects.filter(parties__agency_id=user.agency_id).distinct()


def releasable_agreements(agency_id: int | None) -> QuerySet[Agreement]:
    """The agreements an agency may release its records under in bulk (an import, the API's
    bulk release): in force now, the agency providing. A reference outside them is answered
    as one that does not exist."""
    if agency_id is None:
        return Agreement.objects.none()
    return Agreement.objects.in_force().filter(parties__agency_id=agency_id, parties__provides=True)


def own_records(user) -> QuerySet[Record]:
    """The records of the user's agency: what it releases (none for a user of no agency)."""
    agency_id = viewer_agency_id(user)
    if agency_id is None:
        return Record.objects.none()
    return Record.objects.owned_by(agency_id)


def requests_of(user) -> QuerySet[DisclosureRequest]:
    """Requests the user's agency made or received, newest first."""
    agency_id = viewer_agency_id(user)
    if agency_id is None:
        return DisclosureRequest.objects.none()
    return (
        DisclosureRequest.objects.filter(Q(requesting_agency_id=agency_id) | Q(owner_id=agency_id))
        .select_related("requester", "requesting_agency", "owner")
        .order_by("-created_at")
    )


def requests_to_decide(user) -> QuerySet[DisclosureRequest]:
    """Requests addressed to the user's agency: the ones its liaison officers decide."""
    agency_id = viewer_agency_id(user)
    return requests_of(user).filter(owner_id=agency_id)


def in_queue_order(requests: QuerySet[DisclosureRequest]) -> QuerySet[DisclosureRequest]:
    """The liaison's order: overdue pending requests first, then pending by due time, then decided."""
    now = timezone.now()
    return requests.annotate(
        rank=Case(
            When(Q(status="pending") & Q(due_at__lt=now), then=Value(0)),
            When(status="pending", then=Value(1)),
            default=Value(2),
            output_field=IntegerField(),
        )
    ).order_by("rank", "due_at")


def incoming_requests(user) -> QuerySet[DisclosureRequest]:
    """The liaison's queue."""
    return in_queue_order(requests_to_decide(user))


def outgoing_requests(user) -> QuerySet[DisclosureRequest]:
    agency_id = viewer_agency_id(user)
    return requests_of(user).filter(requesting_agency_id=agency_id)


def notifications_of(user) -> QuerySet[Notification]:
    if user is None or not user.is_authenticated:
        return Notification.objects.none()
    return Notification.objects.filter(user=user)


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


@dataclass
class GrantedDisclosure:
    """An approved disclosure request of the reader's agency, with what its grant shows now."""

    request: DisclosureRequest
    records: list[Record]
    entities: list[UUID]


def granted_disclosures(user, *, entity_ids: list[int], since: datetime | None) -> list[GrantedDisclosure]:
    """The disclosures granted to the user's agency on these entities whose grant still runs
    (decided at or after `since`, if given), each with its records the agency sees now and
    the entities those records name: what a refreshed link chart marks as newly disclosed.
    Read without a purpose, so only by the grant (and what the agency owns). Four queries,
    however many entities and requests."""
    agency_id = viewer_agency_id(user)
    if agency_id is None or not entity_ids:
        return []
    found = DisclosureRequest.objects.filter(
        requesting_agency_id=agency_id,
        kind=DisclosureRequest.Kind.DISCLOSURE,
        status=DisclosureRequest.Status.APPROVED,
        entity_id__in=entity_ids,
        grant_expires_at__gt=timezone.now(),
    )
    if since is not None:
        found = found.filter(decided_at__gte=since)
    granted = Record.objects.visible_to(user, None).order_by("public_id")
    found = list(
        found.select_related("owner", "entity")
        .prefetch_related(Prefetch("records", queryset=granted, to_attr="granted"))
        .order_by("decided_at", "public_id")
    )
    record_ids = {record.pk for request in found for record in request.granted}
    named: dict[int, set[UUID]] = {}
    if record_ids:
        mentions = Mention.objects.visible_to(user, None).filter(record_id__in=sorted(record_ids))
        for record_id, entity in mentions.values_list("record_id", "entity__public_id"):
            named.setdefault(record_id, set()).add(entity)
    return [
        GrantedDisclosure(
            request=request,
            records=request.granted,
            entities=sorted(
                set().union(*(named.get(record.pk, set()) for record in request.granted)), key=str
            ),
        )
        for request in found
    ]


def requested_entity_label(disclosure: DisclosureRequest, records: list[Record]) -> str:
    """What the owner's records asked for (`records`, the request's, as the page lists them)
    call the entity a disclosure request is about (`presentation.entity_label`), read from
    those records alone, the owner's own, so nothing another agency holds is shown or read."""
    entity = disclosure.entity
    entity.visible_mentions = list(
        Mention.objects.filter(record__in=records, entity=entity).order_by(*MENTION_ORDER)
    )
    return presentation.entity_label(entity)
