"""REST API of targeting. Thin: the selectors read only the caller's agency's scores (any
other declaration answers 404 as a missing one), the services check who may act."""

from dataclasses import fields

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from core.identity import PublicLookup
from core.input_serializers import refuse_any_body
from core.viewsets import RestrictedViewSet
from graph.jobs import basis_read_once
from targeting import decisions, profiles, selectors
from targeting.models import RiskProfile
from targeting.serializers import (
    DecideSerializer,
    DrawResultSerializer,
    DrawSerializer,
    ExplanationSerializer,
    OutcomeSerializer,
    ProfileChangeSerializer,
    ProfileSerializer,
    ProposalReasonSerializer,
    QueueDecisionSerializer,
    QueueFilterSerializer,
    QueueRowSerializer,
    ScoringStatusSerializer,
)

DECLARATION = OpenApiParameter("id", str, OpenApiParameter.PATH, description="the declaration's public id")


class QueueViewSet(PublicLookup, RestrictedViewSet, mixins.ListModelMixin):
    """The caller's agency's scored declarations, ranked by score (ties by declaration),
    with the inspection budget; one declaration's explanation, decision and outcome."""

    serializer_class = QueueRowSerializer
    filter_backends: list = []
    query_parameters = tuple(field.name for field in fields(selectors.QueueFilters))
    selector = staticmethod(selectors.scored_declarations)

    def narrow(self, queryset):
        if self.action != "list":
            return queryset
        return selectors.apply_filters(queryset, selectors.clean_filters(self.request.query_params))

    def get_object(self):
        return selectors.scored_declaration(self.request.user, self.kwargs["pk"], ranked=False)

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        # Read once for the request: without the sync, each reading is a digest of all the
        # agency may see.
        self.basis_now = basis_read_once()
        if self.action in ("list", "retrieve"):
            # As opening the queue page does: stale scores rest on what the agency may no
            # longer see, and without the sync's beat nothing else would score them again.
            decisions.keep_scored(request.user, basis_now=self.basis_now)

    @extend_schema(parameters=[QueueFilterSerializer])
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = selectors.page_rows(list(page))
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    @extend_schema(parameters=[DECLARATION], responses={200: ExplanationSerializer})
    def retrieve(self, request, pk=None):
        """The score's parts with their evidence confirmed against what the caller may see
        now (see `targeting.selectors.explanation`), the chart link and the decision."""
        shown = selectors.explanation(request.user, pk, basis_now=self.basis_now)
        selectors.audit_explanation(request.user, shown)
        return Response(ExplanationSerializer(shown).data)

    @extend_schema(
        parameters=[DECLARATION], request=DecideSerializer, responses={200: QueueDecisionSerializer}
    )
    @action(detail=True, methods=["post"])
    def decision(self, request, pk=None):
        """Inspect, release or refer to a partner (deciding again replaces it until an
        outcome is recorded)."""
        score = self.get_object()
        body = DecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = decisions.decide(request.user, score.record, **body.validated_data)
        return Response(QueueDecisionSerializer(decided).data)

    @extend_schema(
        parameters=[DECLARATION], request=OutcomeSerializer, responses={200: QueueDecisionSerializer}
    )
    @action(detail=True, methods=["post"])
    def outcome(self, request, pk=None):
        """What the inspection found, written as the agency's inspection (and seizure) records."""
        score = self.get_object()
        body = OutcomeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decision = selectors.decisions_of(request.user).filter(record_id=score.record_id).first()
        if decision is None:
            raise ValidationError({"decision": "no decision on this declaration yet"})
        return Response(
            QueueDecisionSerializer(
                decisions.record_outcome(request.user, decision, **body.validated_data)
            ).data
        )

    @extend_schema(request=DrawSerializer, responses={201: DrawResultSerializer})
    @action(detail=False, methods=["post"], url_path="random-draw")
    def random_draw(self, request):
        """Draws undecided declarations uniformly for inspection, marked as random picks."""
        body = DrawSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        drawn = decisions.draw_random_inspections(request.user, count=body.validated_data.get("count"))
        return Response(DrawResultSerializer(drawn).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ScoringStatusSerializer})
    @action(detail=False, methods=["get"])
    def scoring(self, request):
        """Whether the agency's scores are current, and the run's progress."""
        return Response(ScoringStatusSerializer(selectors.scoring_status(request.user)).data)

    @extend_schema(request=None, responses={202: ScoringStatusSerializer})
    @scoring.mapping.post
    def rescore(self, request):
        """Asks for the agency's scores afresh (unless a run is under way)."""
        refuse_any_body(request.data)
        decisions.rescore(request.user)
        status_now = ScoringStatusSerializer(selectors.scoring_status(request.user)).data
        return Response(status_now, status=status.HTTP_202_ACCEPTED)


class ProfileViewSet(PublicLookup, RestrictedViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """The versions of the caller's agency's risk profile (proposals included, `status`
    filters), the active one, its change by an agency admin, and proposals' acceptance."""

    serializer_class = ProfileSerializer
    filterset_fields = ["status"]
    selector = staticmethod(selectors.profile_versions)

    @extend_schema(responses={200: ProfileSerializer})
    @action(detail=False, methods=["get"])
    def active(self, request):
        return Response(ProfileSerializer(selectors.active_profile(request.user)).data)

    @extend_schema(request=ProfileChangeSerializer, responses={201: ProfileSerializer})
    @active.mapping.post
    def change(self, request):
        """A new active version (agency admins), with what is not given kept."""
        body = ProfileChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changed = profiles.change_profile(request.user, **body.validated_data)
        return Response(ProfileSerializer(changed).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: ProfileSerializer(many=True)})
    @action(detail=False, methods=["get"])
    def proposals(self, request):
        """Weights re-fitted from outcomes, waiting for an admin, with their validation figures."""
        waiting = self.get_queryset().filter(status=RiskProfile.Status.PROPOSED)
        return Response(ProfileSerializer(waiting, many=True).data)

    def proposal_decided(self, request, *, accept: bool) -> Response:
        body = ProposalReasonSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        decided = profiles.decide_proposal(
            request.user, self.get_object(), accept=accept, **body.validated_data
        )
        return Response(ProfileSerializer(decided).data)

    @extend_schema(request=ProposalReasonSerializer, responses={200: ProfileSerializer})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        return self.proposal_decided(request, accept=True)

    @extend_schema(request=ProposalReasonSerializer, responses={200: ProfileSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        return self.proposal_decided(request, accept=False)
