"""REST API of cases. Thin: the services check who may do what, the selectors decide what
a user may open and what of a chart they may see now."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import selectors, services
from cases.serializers import CaseSerializer, CaseWriteSerializer, OpenedCaseSerializer, ShareSerializer
from core.identity import PublicLookup
from core.viewsets import JSON_ONLY, RestrictedViewSet


class CaseViewSet(
    PublicLookup,
    RestrictedViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
):
    """The caller's cases: those of their agency they created or that were shared with them.
    A case anyone else names answers 404, as one that does not exist. Opened (`retrieve`,
    and the answer of every write), a case's chart holds only the entities the caller may
    see now; `removed` says how many were taken out, nothing more."""

    serializer_class = CaseSerializer
    # The chart is nested JSON, which form data cannot carry.
    parser_classes = JSON_ONLY
    filterset_fields = ["status"]
    selector = staticmethod(selectors.cases_of)

    def opened(self, case, code: int = status.HTTP_200_OK) -> Response:
        return Response(OpenedCaseSerializer(selectors.open_case(self.request.user, case)).data, status=code)

    @extend_schema(responses={200: OpenedCaseSerializer})
    def retrieve(self, request, *args, **kwargs):
        return self.opened(self.get_object())

    @extend_schema(request=CaseWriteSerializer, responses={201: OpenedCaseSerializer})
    def create(self, request):
        """Saves a chart as a new case of the caller's agency."""
        body = CaseWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        case = services.create_case(request.user, **body.validated_data)
        return self.opened(case, status.HTTP_201_CREATED)

    @extend_schema(request=CaseWriteSerializer(partial=True), responses={200: OpenedCaseSerializer})
    def partial_update(self, request, pk=None):
        """Renames it, changes its notes, closes or reopens it, or saves its chart (replacing
        the stored one)."""
        case = self.get_object()
        body = CaseWriteSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        return self.opened(services.update_case(request.user, case, **body.validated_data))

    @extend_schema(request=ShareSerializer, responses={200: OpenedCaseSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Shares the case with exactly the colleagues named (its creator only)."""
        case = self.get_object()
        body = ShareSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self.opened(
            services.share_case(request.user, case, usernames=body.validated_data["shared_with"])
        )

    def perform_destroy(self, instance):
        services.delete_case(self.request.user, instance)
