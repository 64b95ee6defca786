"""Disclosure and consent requests: asking, the due date its urgency sets, the liaison
officers' notifications, and the owner's decision (approve: a time-limited grant, or consent
that lifts a handling code for the requester; refuse, with a reason).

Its own module because requests are the way to access outside an agreement's terms: they
go between agencies' liaison officers, and approving one changes who sees records.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from agencies.models import Agency, User
from audit.log import record_event
from intel.models import Caveat, Entity, Record, RecordGroupObjectPermission
from intel.signals import records_changed
from sharing.discovery import hidden_matches, requestable_purposes
from sharing.models import (
    Consent,
    DisclosureRequest,
    Notification,
    Purpose,
)
from sharing.roles import require_role

# What a request about an entity the user may not see answers: the words of a nonexistent one.
ENTITY_NOT_FOUND = "no such entity"


def notify(users: Iterable[User], message: str, url: str = "") -> None:
    Notification.objects.bulk_create([Notification(user=u, message=message[:300], url=url) for u in users])


def liaisons_of(agency_id: int) -> QuerySet[User]:
    return User.objects.filter(agency_id=agency_id, role=User.Role.LIAISON, is_active=True)


def due_at(urgency: str, now: datetime) -> datetime:
    """When a request of this urgency is due; the one check of the urgency a requester
    states, on every path (the API's serializer, the pages' forms)."""
    if urgency not in settings.DISCLOSURE_DUE_HOURS:
        raise ValidationError({"urgency": f"choose one of: {', '.join(settings.DISCLOSURE_DUE_HOURS)}"})
    hours = settings.DISCLOSURE_DUE_HOURS[urgency]
    return now + timedelta(hours=hours)


def stated_justification(justification: str) -> str:
    """Why the records are needed: the one check on every path (the pages' forms pass the
    text as typed, and PostgreSQL stores no NUL character)."""
    if "\x00" in justification:
        raise ValidationError({"justification": "may not hold a NUL character"})
    if not justification.strip():
        raise ValidationError({"justification": "say why the records are needed"})
    return justification


@transaction.atomic
def request_disclosure(
    user: User, *, entity_id: int, owner: Agency, purpose: str, justification: str, urgency: str
) -> DisclosureRequest:
    if not Entity.objects.visible_to(user).filter(pk=entity_id).exists():
        raise ValidationError({"entity": ENTITY_NOT_FOUND})
    permitted = requestable_purposes(user.agency_id, [owner.pk])[owner.pk]
    if not permitted:
        raise ValidationError({"owner": f"no agreement in force with {owner.code} allows discovery"})
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": f"choose from {', '.join(Purpose.values)}"})
    if purpose not in permitted:
        # A purpose is what the agreement lets the records be read for: one it does not
        # permit would be granted outside its terms.
        named = ", ".join(f"{Purpose(value).label} ({value})" for value in permitted)
        raise ValidationError(
            {"purpose": f"the agreements with {owner.code} that allow discovery permit only {named}"}
        )
    justification = stated_justification(justification)
    records = list(hidden_matches(user, entity_id, owner.pk, purpose=purpose))
    if not records:
        raise ValidationError(
            {"entity": f"{owner.code} holds no records on this entity that you cannot already see"}
        )
    now = timezone.now()
    request = DisclosureRequest.objects.create(
        kind=DisclosureRequest.Kind.DISCLOSURE,
        requester=user,
        requesting_agency_id=user.agency_id,
        owner=owner,
        entity_id=entity_id,
        purpose=purpose,
        justification=justification,
        urgency=urgency,
        due_at=due_at(urgency, now),
    )
    request.records.set(records)
    record_event(
        "disclosure.requested",
        actor=user,
        obj=request,
        details={"owner": owner.code, "records": len(records)},
    )
    notify(
        liaisons_of(owner.pk),
        f"{user.agency.code} requests disclosure ({urgency}): {purpose}",
        f"/liaison/requests/{request.public_id}/",
    )
    return request


@transaction.atomic
def request_consent(
    user: User, *, record: Record, caveat: str, purpose: str, justification: str, urgency: str
) -> DisclosureRequest:
    """Asks the owner to lift a handling code for the requesting agency."""
    if not Record.objects.visible_to(user).filter(pk=record.pk).exists():
        raise ValidationError({"record": "not found"})
    if caveat not in record.caveats:
        raise ValidationError({"caveat": "the record carries no such handling code"})
    justification = stated_justification(justification)
    kind = {
        Caveat.NO_ONWARD_SHARING: DisclosureRequest.Kind.ONWARD_SHARING,
        Caveat.NOT_FOR_EVIDENCE: DisclosureRequest.Kind.EVIDENCE,
    }[caveat]
    request = DisclosureRequest.objects.create(
        kind=kind,
        requester=user,
        requesting_agency_id=user.agency_id,
        owner_id=record.owner_id,
        purpose=purpose,
        justification=justification,
        urgency=urgency,
        due_at=due_at(urgency, timezone.now()),
    )
    request.records.set([record])
    record_event(
        "consent.requested", actor=user, obj=request, details={"record": record.pk, "caveat": caveat}
    )
    notify(
        liaisons_of(record.owner_id),
        f"{user.agency.code} asks consent: {kind}",
        f"/liaison/requests/{request.public_id}/",
    )
    return request


def _decidable(request: DisclosureRequest, user: User) -> DisclosureRequest:
    request = DisclosureRequest.objects.select_for_update().get(pk=request.pk)
    require_role(user, request.owner_id, ["liaison"], "decide requests to it")
    if request.status != DisclosureRequest.Status.PENDING:
        raise ValidationError({"status": f"request {request.reference} was already {request.status}"})
    return request


@transaction.atomic
def approve(request: DisclosureRequest, user: User, grant_days: int | None = None) -> DisclosureRequest:
    """Disclosure: a time-limited grant on each record to the requesting agency's group.
    Consent: the owner's recorded consent for the handling code."""
    request = _decidable(request, user)
    now = timezone.now()
    request.status, request.decided_by, request.decided_at = DisclosureRequest.Status.APPROVED, user, now
    record_ids = list(request.records.values_list("pk", flat=True))
    if request.kind == DisclosureRequest.Kind.DISCLOSURE:
        request.grant_expires_at = now + timedelta(days=grant_days or settings.DISCLOSURE_GRANT_DAYS)
        view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
        group_id = request.requesting_agency.group_id
        RecordGroupObjectPermission.objects.filter(
            content_object_id__in=record_ids, group_id=group_id, permission=view
        ).delete()
        RecordGroupObjectPermission.objects.bulk_create(
            [
                RecordGroupObjectPermission(
                    content_object_id=pk,
                    group_id=group_id,
                    permission=view,
                    expires_at=request.grant_expires_at,
                )
                for pk in record_ids
            ]
        )
    else:
        caveat = (
            Caveat.NO_ONWARD_SHARING
            if request.kind == DisclosureRequest.Kind.ONWARD_SHARING
            else Caveat.NOT_FOR_EVIDENCE
        )
        Consent.objects.bulk_create(
            [
                Consent(record_id=pk, agency_id=request.requesting_agency_id, caveat=caveat, request=request)
                for pk in record_ids
            ],
            ignore_conflicts=True,
        )
    # A grant shows the records; a consent may revive an onward release the code had stopped.
    records_changed.send(sender=DisclosureRequest, record_ids=record_ids)
    request.save()
    record_event(
        f"{'disclosure' if request.kind == 'disclosure' else 'consent'}.approved",
        actor=user,
        obj=request,
        details={"records": record_ids, "expires_at": request.grant_expires_at},
    )
    notify(
        [request.requester],
        f"{request.owner.code} approved your request {request.reference}",
        "/requests/",
    )
    return request


@transaction.atomic
def refuse(request: DisclosureRequest, user: User, reason: str) -> DisclosureRequest:
    if not reason.strip():
        raise ValidationError({"reason": "say why the request is refused"})
    request = _decidable(request, user)
    request.status, request.decided_by, request.decided_at, request.reason = (
        DisclosureRequest.Status.REFUSED,
        user,
        timezone.now(),
        reason,
    )
    request.save()
    record_event(
        f"{'disclosure' if request.kind == 'disclosure' else 'consent'}.refused",
        actor=user,
        obj=request,
        details={"reason": reason},
    )
    notify(
        [request.requester],
        f"{request.owner.code} refused your request {request.reference}: {reason}",
        "/requests/",
    )
    return request
