"""Pages for liaison officers (the request queue, what the agency shares, who read it),
for requesters (their requests and notifications), and for the owner's staff releasing a
record."""

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods
from rest_framework.serializers import Serializer

from agencies.models import User
from core.inputs import page_number
from core.refusals import refusal
from intel.models import Releasability
from sharing import releases, requests, selectors
from sharing.models import Agreement
from sharing.serializers import DecisionSerializer, ReleaseSerializer


def liaison_only(request: HttpRequest) -> int:
    if request.user.role != User.Role.LIAISON or request.user.agency_id is None:
        raise PermissionDenied("for liaison officers")
    return request.user.agency_id


def checked(body: Serializer) -> None:
    """A page's check of a form by the API's serializer: its errors as a service's refusal."""
    if not body.is_valid():
        raise ValidationError({field: list(map(str, why)) for field, why in body.errors.items()})


def page_of(request: HttpRequest, queryset, size: int = 50):
    return Paginator(queryset, size).get_page(page_number(request.GET.get("page")))


@login_required
def request_queue(request: HttpRequest) -> HttpResponse:
    liaison_only(request)
    return render(
        request,
        "sharing/request_queue.html",
        {"requests": page_of(request, selectors.incoming_requests(request.user)), "now": timezone.now()},
    )


@login_required
def request_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    liaison_only(request)
    disclosure = get_object_or_404(selectors.incoming_requests(request.user), public_id=pk)
    status = 200
    if request.method == "POST":
        decision = request.POST.get("decision")
        # The API's own check of the decision (grant_days within its bounds, the reason).
        body = DecisionSerializer(
            data={k: request.POST[k] for k in ("reason", "grant_days") if request.POST.get(k)}
        )
        try:
            checked(body)
            if decision == "approve":
                requests.approve(disclosure, request.user, grant_days=body.validated_data.get("grant_days"))
            else:
                requests.refuse(disclosure, request.user, body.validated_data["reason"])
        except ValidationError as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, f"Request {disclosure.reference} {decision}d.")
            return redirect("sharing:request-queue")
    # Read once: the entity's label is taken from the records the page lists.
    records = list(disclosure.records.all())
    return render(
        request,
        "sharing/request_detail.html",
        {
            "disclosure": disclosure,
            "about": selectors.requested_entity_label(disclosure, records) if disclosure.entity_id else None,
            "records": records,
            "grant_days_max": settings.DISCLOSURE_GRANT_DAYS_MAX,
            "grant_days": settings.DISCLOSURE_GRANT_DAYS,
        },
        status=status,
    )


@login_required
def shared(request: HttpRequest) -> HttpResponse:
    agency_id = liaison_only(request)
    return render(
        request, "sharing/shared.html", {"records": page_of(request, selectors.shared_records(agency_id))}
    )


@login_required
def access(request: HttpRequest) -> HttpResponse:
    agency_id = liaison_only(request)
    return render(
        request, "sharing/access.html", {"events": page_of(request, selectors.access_log(agency_id))}
    )


@login_required
def my_requests(request: HttpRequest) -> HttpResponse:
    notifications = list(selectors.unread_notifications(request.user))
    selectors.unread_notifications(request.user).update(read_at=timezone.now())
    page = page_of(request, selectors.outgoing_requests(request.user).select_related("owner", "entity"))
    # The list shows a record only for a consent request (about one record, no entity); a
    # disclosure request shows its entity, and its records may be hundreds.
    prefetch_related_objects([listed for listed in page if listed.entity_id is None], "records")
    return render(request, "sharing/my_requests.html", {"requests": page, "notifications": notifications})


@require_http_methods(["GET", "POST"])
@login_required
def release_record(request: HttpRequest, pk: UUID) -> HttpResponse:
    """The owner's staff release one of the agency's records: to no one, to every covering
    agreement, or to agreements named, through the API's service and its check of the body.
    Any record not the agency's own is missing, as one that does not exist."""
    record = get_object_or_404(selectors.own_records(request.user).select_related("owner"), public_id=pk)
    status = 200
    if request.method == "POST":
        mode = request.POST.get("releasability", "")
        # The boxes stay ticked whatever the mode chosen; they name agreements for `named` alone.
        named = request.POST.getlist("agreements") if mode == Releasability.NAMED else []
        body = ReleaseSerializer(
            data={"releasability": mode, "agreements": named}, context={"request": request}
        )
        try:
            checked(body)
            releases.set_releasability(
                record, request.user, body.validated_data["releasability"], body.validated_data["agreements"]
            )
        except ValidationError as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, f"{record.external_ref}: {record.get_releasability_display().lower()}.")
            return redirect("intel:record", pk=record.public_id)
    named = set(record.releases.filter(released_by_id=record.owner_id).values_list("agreement_id", flat=True))
    # Those in force under which the agency provides, and any it has named before (a draft,
    # say), so that sending the form again keeps what it does not change.
    offered = (
        (selectors.releasable_agreements(record.owner_id) | Agreement.objects.filter(pk__in=named))
        .distinct()
        .order_by("reference")
    )
    return render(
        request,
        "sharing/release.html",
        {
            "record": record,
            "modes": Releasability.choices,
            "agreements": [(agreement, agreement.pk in named) for agreement in offered],
        },
        status=status,
    )
