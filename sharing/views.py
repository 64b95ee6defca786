"""REST API for agreements, releases, discovery, disclosure and consent requests,
notifications and the reader's purpose. Thin: services do the work and the checks."""

from uuid import UUID

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action, api_view, parser_classes
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from core.identity import PublicLookup
from core.query_parameters import reads_no_query
from core.viewsets import JSON_ONLY, RestrictedViewSet
from intel.filters import RecordFilter
from intel.models import Entity, Record
from intel.selectors import Reader
from sharing import agreements, releases, requests, selectors
from sharing.discovery import discover, holdings
from sharing.models import Agreement
from sharing.serializers import (
    AgreementSerializer,
    BulkReleaseResultSerializer,
    BulkReleaseSerializer,
    ConsentRequestSerializer,
    DecisionSerializer,
    DisclosureRequestSerializer,
    DiscoveryHitSerializer,
    HoldingsQuerySerializer,
    HoldingsSerializer,
    NotificationSerializer,
    OnwardReleaseSerializer,
    PurposeChoiceSerializer,
    ReasonSerializer,
    ReleaseSerializer,
)


class AgreementViewSet(
    PublicLookup, RestrictedViewSet, mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Agreements the caller's agency is party to (all of them for platform admins)."""

    serializer_class = AgreementSerializer
    # A form's fields are flat: a list or object sent as form data under a name DRF does not
    # parse (`filters[category]=...`, `redacted_fields[]=...`) was read as its default, no
    # filter (a bulk release of every record) or no redaction (an agreement hiding nothing).
    # Bodies holding such fields are read as JSON only, here and on the bulk release.
    parser_classes = JSON_ONLY
    filterset_fields = ["status"]
    selector = staticmethod(selectors.agreements_of)

    def narrow(self, queryset):
        return queryset.prefetch_related("parties__agency", "parties__signed_by")

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        parties = [(p["agency"], p["provides"], p["receives"]) for p in data.pop("parties")]
        serializer.instance = agreements.create_agreement(self.request.user, parties=parties, **data)

    def transition(self, request, service, with_reason: bool):
        agreement = self.get_object()
        if with_reason:
            reason = ReasonSerializer(data=request.data)
            reason.is_valid(raise_exception=True)
            agreement = service(agreement, request.user, reason.validated_data["reason"])
        else:
            agreement = service(agreement, request.user)
        return Response(self.get_serializer(Agreement.objects.get(pk=agreement.pk)).data)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def propose(self, request, pk=None):
        return self.transition(request, agreements.propose, with_reason=False)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        return self.transition(request, agreements.sign, with_reason=False)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        return self.transition(request, agreements.activate, with_reason=False)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def suspend(self, request, pk=None):
        return self.transition(request, agreements.suspend, with_reason=True)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self.transition(request, agreements.resume, with_reason=True)

    @extend_schema(request=ReasonSerializer)
    @action(detail=True, methods=["post"])
    def terminate(self, request, pk=None):
        return self.transition(request, agreements.terminate, with_reason=True)

    @extend_schema(responses={201: AgreementSerializer})
    @action(detail=True, methods=["post"])
    def amend(self, request, pk=None):
        """Drafts the next version with the terms given changed; it takes over from this one
        when every party has signed it."""
        agreement = self.get_object()
        body = self.get_serializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        amendment = agreements.amend(agreement, request.user, **body.validated_data)
        return Response(self.get_serializer(amendment).data, status=status.HTTP_201_CREATED)


def visible_record(request, pk: UUID) -> Record:
    return get_object_or_404(Record.objects.visible_to(request.user), public_id=pk)


@extend_schema(request=ReleaseSerializer, responses={200: ReleaseSerializer})
@api_view(["POST"])
@reads_no_query
def release_record(request, pk: UUID):
    """The owner releases a record: to no one, to every covering agreement, or to named ones."""
    record = visible_record(request, pk)
    body = ReleaseSerializer(data=request.data, context={"request": request})
    body.is_valid(raise_exception=True)
    releases.set_releasability(
        record,
        request.user,
        body.validated_data["releasability"],
        body.validated_data["agreements"],
    )
    return Response(
        {
            "releasability": record.releasability,
            "agreements": [a.reference for a in body.validated_data["agreements"]],
        }
    )


@extend_schema(
    operation_id="records_release_bulk",
    request=BulkReleaseSerializer,
    responses={200: BulkReleaseResultSerializer},
    description=(
        "Releases the caller's agency's records that match the record list's filters, as a "
        "release of each would, audited per record: for liaison officers and agency admins. At "
        f"most RELEASE_BULK_MAX_RECORDS ({settings.RELEASE_BULK_MAX_RECORDS}) records: narrow a "
        "larger set with filters. `dry_run` counts them and writes nothing."
    ),
)
@api_view(["POST"])
@parser_classes(JSON_ONLY)
@reads_no_query
def release_in_bulk(request):
    body = BulkReleaseSerializer(data=request.data, context={"request": request})
    body.is_valid(raise_exception=True)
    data = body.validated_data
    records = RecordFilter(data=data["filters"], queryset=selectors.own_records(request.user)).qs
    count = releases.release_matching(
        user=request.user,
        records=records,
        mode=data["releasability"],
        agreements=data["agreements"],
        dry_run=data["dry_run"],
    )
    return Response(
        {
            "count": count,
            "dry_run": data["dry_run"],
            "releasability": data["releasability"],
            "agreements": [a.reference for a in data["agreements"]],
        }
    )


@extend_schema(request=OnwardReleaseSerializer, responses={201: None})
@api_view(["POST"])
@reads_no_query
def release_onward(request, pk: UUID):
    """A recipient re-releases a record under another agreement, where that is allowed."""
    record = visible_record(request, pk)
    body = OnwardReleaseSerializer(data=request.data, context={"request": request})
    body.is_valid(raise_exception=True)
    releases.release_onward(record, request.user, body.validated_data["agreement"])
    return Response(status=status.HTTP_201_CREATED)


@extend_schema(responses={200: DiscoveryHitSerializer(many=True)})
@api_view(["GET"])
@reads_no_query
def discovery(request, pk: UUID):
    """Hit/no-hit: partners (under an agreement in force that allows discovery) holding
    records on this entity that the caller cannot see, with their count, and nothing else."""
    entity = get_object_or_404(Entity.objects.visible_to(request.user), public_id=pk)
    if request.user.agency_id is None:
        raise PermissionDenied("discovery is for members of an agency")
    return Response(discover(request.user, entity.pk))


@extend_schema(
    operation_id="discovery_holdings",
    request=HoldingsQuerySerializer,
    responses={200: HoldingsSerializer},
)
@api_view(["POST"])
@parser_classes(JSON_ONLY)
@reads_no_query
def discovery_holdings(request):
    """What partners hold on a link chart's entities, in one question, and what they have
    disclosed since.

    `holdings`: for each entity named that the caller may see (in the order named, each
    once), the partners providing to the caller's agency under an agreement in force that
    allows discovery which hold records on it the caller cannot see: agency code, name and
    count, nothing else (`partners` is empty when none does). An entity the caller may not
    see, or that does not exist, is left out of the answer, the one like the other. A badge's
    "request disclosure" files `POST /api/requests/` with `entity`, `owner` (the partner's
    code), `purpose`, `justification` and `urgency`.

    `disclosures`: the caller's agency's approved disclosure requests on those entities whose
    grant still runs, decided at or after `disclosed_since` when given: each with the
    disclosed records the agency sees now and the entities they name. A chart refreshed after
    a grant expands the requested node and marks those entities as newly disclosed; passing a
    previous answer's `checked_at` as `disclosed_since` lists only what is new since then.

    More than DISCOVERY_HOLDINGS_MAX_ENTITIES entities is a 400 naming `entities`. Audited as
    one `discovery.holdings` event, and a `record.read` for each disclosed record listed."""
    body = HoldingsQuerySerializer(data=request.data)
    body.is_valid(raise_exception=True)
    answer = holdings(
        request.user,
        entities=body.validated_data["entities"],
        disclosed_since=body.validated_data["disclosed_since"],
    )
    return Response(HoldingsSerializer(answer).data)


class DisclosureRequestViewSet(
    PublicLookup, RestrictedViewSet, mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin
):
    """Requests the caller's agency made or received, newest first; `?box=incoming`: those
    it received, as the liaison's queue (overdue first, then by due time); `?box=outgoing`:
    those it made."""

    serializer_class = DisclosureRequestSerializer
    filterset_fields = ["status", "kind", "urgency"]
    query_parameters = ("box",)
    selector = staticmethod(selectors.requests_of)
    selector_by_action = {"approve": selectors.requests_to_decide, "refuse": selectors.requests_to_decide}

    def narrow(self, queryset):
        box = self.request.query_params.get("box")
        if box == "incoming":
            return selectors.in_queue_order(queryset.filter(owner_id=self.request.user.agency_id))
        if box == "outgoing":
            return queryset.filter(requesting_agency_id=self.request.user.agency_id)
        if box not in (None, ""):
            raise ValidationError({"box": ["incoming or outgoing"]})
        return queryset

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = requests.request_disclosure(
            self.request.user,
            entity_id=data["entity"].pk,
            owner=data["owner"],
            purpose=data["purpose"],
            justification=data["justification"],
            urgency=data.get("urgency", "routine"),
        )

    @extend_schema(request=ConsentRequestSerializer, responses={201: DisclosureRequestSerializer})
    @action(detail=False, methods=["post"])
    def consent(self, request):
        """Ask the owner to lift a handling code (onward sharing, use as evidence) for your agency."""
        body = ConsentRequestSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        record = data.pop("record")
        made = requests.request_consent(request.user, record=record, **data)
        return Response(self.get_serializer(made).data, status=status.HTTP_201_CREATED)

    def decision(self, request) -> dict:
        decision = DecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        return decision.validated_data

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        grant_days = self.decision(request).get("grant_days")
        made = requests.approve(self.get_object(), request.user, grant_days=grant_days)
        return Response(self.get_serializer(made).data)

    @extend_schema(request=DecisionSerializer)
    @action(detail=True, methods=["post"])
    def refuse(self, request, pk=None):
        reason = self.decision(request)["reason"]
        made = requests.refuse(self.get_object(), request.user, reason=reason)
        return Response(self.get_serializer(made).data)


class NotificationViewSet(PublicLookup, RestrictedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The caller's own notifications."""

    serializer_class = NotificationSerializer
    selector = staticmethod(selectors.notifications_of)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        notification = self.get_object()
        notification.read_at = notification.read_at or timezone.now()
        notification.save(update_fields=["read_at"])
        return Response(self.get_serializer(notification).data)


@extend_schema(request=PurposeChoiceSerializer, responses={200: PurposeChoiceSerializer})
@api_view(["GET", "POST"])
@reads_no_query
def session_purpose(request):
    """The purpose chosen for this session; a `purpose` query parameter or the
    X-Interlink-Purpose header overrides it for one request."""
    if request.method == "POST":
        body = PurposeChoiceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        request.session["purpose"] = body.validated_data["purpose"]
    return Response({"purpose": Reader.from_request(request).purpose})
