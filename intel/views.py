"""REST API for records, entities, links, search and imports. Thin: every read goes
through intel.selectors (the visibility choke point), every write through services."""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import cached_property

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from core.identity import PublicLookup
from core.pagination import EntityPagination, count_up_to
from core.viewsets import RestrictedViewSet
from intel import exports, selectors
from intel.filters import EntityFilter, LinkFilter, RecordFilter
from intel.import_reading import ImportFailed
from intel.merging import NotVisible, merge_entities, reject_candidate, undo_merge
from intel.models import EntityMerge, Purpose, ResolutionCandidate
from intel.presentation import offered_candidates
from intel.serializers import (
    CandidateSerializer,
    EntityDetailSerializer,
    EntityMergeSerializer,
    EntitySerializer,
    ImportBatchSerializer,
    ImportUploadSerializer,
    LinkSerializer,
    MergeRequestSerializer,
    RecordDetailSerializer,
    RecordSerializer,
    RecordUpdateSerializer,
)
from intel.services import delete_record, fail_interrupted, update_record, upload_import
from intel.uploads import limit_import_upload


class PurposeRequiredError(APIException):
    status_code = status.HTTP_403_FORBIDDEN
    default_code = "purpose_required"


PURPOSE_PARAMETERS = [
    OpenApiParameter(
        "purpose", str, enum=Purpose.values, description="The purpose records shared with you are read for"
    ),
    OpenApiParameter(
        "X-Interlink-Purpose",
        str,
        OpenApiParameter.HEADER,
        enum=Purpose.values,
        description="The purpose, as a header (the query parameter comes first)",
    ),
]


class ReadingViewSet(PublicLookup, RestrictedViewSet):
    """The base of every viewset over records and what records state: its selectors are
    given who reads and for which purpose (selectors.Reader), and go through the choke
    point. Each record of another agency whose content a response shows is audited."""

    via = ""
    selector: Callable[[selectors.Reader], QuerySet]
    selector_by_action: dict[str, Callable[[selectors.Reader], QuerySet]] = {}

    @cached_property
    def reader(self) -> selectors.Reader:
        return selectors.Reader.from_request(self.request)

    def viewer(self) -> selectors.Reader:
        return self.reader

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "reader": self.reader}

    def records_shown(self, objects) -> dict[int, int]:
        raise NotImplementedError

    def agreements_shown(self, objects) -> dict[int, int]:
        return {}

    def audit(self, objects) -> None:
        selectors.audit_reads(
            self.reader, self.records_shown(objects), self.via, self.agreements_shown(objects)
        )

    def reads_limited(self) -> AbstractContextManager:
        """Around a list's reads (not its audit): the limits a viewset's reads run within."""
        return nullcontext()

    @extend_schema(parameters=PURPOSE_PARAMETERS)
    def list(self, request, *args, **kwargs):
        with self.reads_limited():
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
            data = self.get_serializer(page, many=True).data
        self.audit(page)
        return self.get_paginated_response(data)

    @extend_schema(parameters=PURPOSE_PARAMETERS)
    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        self.audit([instance])
        return Response(self.get_serializer(instance).data)


@extend_schema_view(partial_update=extend_schema(responses={200: RecordDetailSerializer}))
class RecordViewSet(ReadingViewSet, mixins.UpdateModelMixin, mixins.DestroyModelMixin, mixins.ListModelMixin):
    """Records the caller's agency may see; any other answers 404. The owner's staff may
    change (summary, classification, caveats, date) or delete them."""

    filterset_class = RecordFilter
    via = "records"
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def perform_update(self, serializer):
        serializer.instance = update_record(
            serializer.instance, self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance):
        delete_record(instance, self.request.user)

    def update(self, request, *args, **kwargs):
        super().update(request, *args, **kwargs)
        record = selectors.record_with_contents(self.reader).get(pk=self.get_object().pk)
        return Response(RecordDetailSerializer(record, context=self.get_serializer_context()).data)

    selector = staticmethod(selectors.visible_records)
    # Writing is about rights, not purpose: a record of another agency the caller holds is 403.
    selector_by_action = {
        "retrieve": selectors.record_with_contents,
        "update": selectors.held_records,
        "partial_update": selectors.held_records,
        "destroy": selectors.held_records,
    }

    def get_object(self):
        if self.action != "retrieve":
            return super().get_object()
        try:
            record = selectors.readable_record(self.reader, self.get_queryset(), self.kwargs["pk"])
        except selectors.PurposeRequired as refusal:
            raise PurposeRequiredError(
                {"detail": str(refusal), "allowed_purposes": refusal.allowed}
            ) from refusal
        if record is None:
            raise Http404("No such record")
        self.check_object_permissions(self.request, record)
        return record

    def agreements_shown(self, records):
        return {record.pk: getattr(record, "via_agreement", None) for record in records}

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return RecordUpdateSerializer
        return RecordDetailSerializer if self.action == "retrieve" else RecordSerializer

    def records_shown(self, records):
        return {record.pk: record.owner_id for record in records}

    @extend_schema(
        parameters=PURPOSE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        description=(
            "The records of the list, with the same filters, as CSV (one row per record; mentions "
            "and links as JSON), redacted as the API redacts them. Every exported record of "
            "another agency is audited as a read. At most EXPORT_MAX_RECORDS "
            f"({settings.EXPORT_MAX_RECORDS}) records: narrow a larger one with filters."
        ),
    )
    @action(detail=False, url_path="export")
    def export(self, request):
        records = self.filter_queryset(self.get_queryset())
        limit = settings.EXPORT_MAX_RECORDS
        if count_up_to(records, limit) > limit:
            raise ValidationError(
                {"filters": f"more than {limit} records match; narrow the export with filters"}
            )
        response = StreamingHttpResponse(exports.export_csv(self.reader, records), content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="records.csv"'
        return response


def mentions_shown(entities) -> dict[int, int]:
    return {m.record_id: m.record.owner_id for entity in entities for m in entity.visible_mentions}


class EntityViewSet(ReadingViewSet, mixins.ListModelMixin):
    """Entities with at least one mention in a visible record, shown only through those mentions."""

    filterset_class = EntityFilter
    pagination_class = EntityPagination
    via = "entities"
    selector = staticmethod(selectors.visible_entities)
    selector_by_action = {"list": selectors.listed_entities}

    def narrow(self, queryset):
        return queryset.order_by(*selectors.ENTITY_ORDER)

    def get_serializer_class(self):
        return EntityDetailSerializer if self.action == "retrieve" else EntitySerializer

    def records_shown(self, entities):
        return mentions_shown(entities)


LINK_SHOWN_FIELDS = (
    "public_id",
    "type",
    "properties",
    "record__public_id",
    "record__owner_id",
    "source__public_id",
    "target__public_id",
)


class LinkViewSet(ReadingViewSet, mixins.ListModelMixin):
    serializer_class = LinkSerializer
    filterset_class = LinkFilter
    via = "links"
    selector = staticmethod(selectors.visible_links)

    def narrow(self, queryset):
        # Of the records and entities, only what a link shows of them and what the audit
        # names: built whole, they were most of the work of a page in Python.
        return queryset.select_related("record", "source", "target").only(*LINK_SHOWN_FIELDS).order_by("id")

    def records_shown(self, links):
        return {link.record_id: link.record.owner_id for link in links}


@extend_schema(parameters=[OpenApiParameter("q", str, required=True, description="a name or an identifier")])
class SearchViewSet(ReadingViewSet, mixins.ListModelMixin):
    """Entities whose names or identifiers, in records the caller may see, contain `q`."""

    serializer_class = EntitySerializer
    pagination_class = EntityPagination
    via = "search"
    selector = staticmethod(selectors.visible_entities)
    query_parameters = ("q",)

    def narrow(self, queryset):
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        query = selectors.search_query(self.request.query_params.get("q", ""), required=True)
        # Not a filter of the selector's entities but those a visible mention names with the
        # query: a subset of them (that mention is what makes an entity visible), without
        # asking the rule of each entity twice.
        return selectors.search_entities(self.reader, query).order_by(*selectors.ENTITY_ORDER)

    def reads_limited(self) -> AbstractContextManager:
        return selectors.search_time_limited()

    def records_shown(self, entities):
        return mentions_shown(entities)


class ImportViewSet(
    PublicLookup,
    RestrictedViewSet,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
):
    """Upload a file of records for the caller's agency; it is imported by a Celery task
    whose progress (rows processed of rows total) this endpoint reports."""

    serializer_class = ImportBatchSerializer
    selector = staticmethod(selectors.import_batches_of)

    def get_parsers(self):
        return [MultiPartParser()] if getattr(self, "action", None) == "create" else super().get_parsers()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.action != "create":
            # As the Imports page: an upload a stopped embedded server left running is
            # failed, saying so, before it is shown.
            fail_interrupted(self.get_queryset())

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body (session authentication's CSRF check reads it).
        if request.method == "POST":
            limit_import_upload(request)
        return super().initialize_request(request, *args, **kwargs)

    @extend_schema(request=ImportUploadSerializer, responses={202: ImportBatchSerializer})
    def create(self, request, *args, **kwargs):
        upload = ImportUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            batch = upload_import(
                upload.validated_data["file"],
                request.user,
                allow_unknown_columns=upload.validated_data["allow_unknown_columns"],
            )
        except ImportFailed as failure:
            raise ValidationError({"file": [failure.errors[0]["message"]]}) from failure
        return Response(self.get_serializer(batch).data, status=status.HTTP_202_ACCEPTED)

    @action(detail=True)
    def errors(self, request, pk=None):
        return Response(self.get_object().errors)


def missing(model) -> Http404:
    """What a lookup answers for an object that does not exist, word for word (DRF's
    get_object): an object the caller may not act on answers the same."""
    return Http404(f"No {model._meta.object_name} matches the given query.")


# Candidates a list judges for the reader at most (see CandidateViewSet.filter_queryset).
CANDIDATES_JUDGED = 2000


class CandidateViewSet(ReadingViewSet, mixins.ListModelMixin):
    """Possible duplicates (POSSIBLY_SAME_AS) for an analyst to merge or reject: only pairs
    whose two entities the caller may see and that the names the caller may see make alike,
    scored from those names (presentation.offered_candidates). Merging or rejecting one
    whose entities are also named by records the caller's agency may not see answers as a
    missing candidate does. A list judges the newest CANDIDATES_JUDGED candidates (of the
    status asked): narrow it with `status` and decide them to reach older ones."""

    serializer_class = CandidateSerializer
    filterset_fields = ["status"]
    selector = staticmethod(selectors.visible_candidates)

    def filter_queryset(self, queryset):
        # The newest CANDIDATES_JUDGED are judged, not every one: each is scored again in
        # Python from its entities' visible names, and a file of thousands of numbered
        # variants of one name made hundreds of thousands of candidates, a list that ran for
        # minutes. By age, not by the stored score, which every agency's names made.
        newest = super().filter_queryset(queryset).order_by("-pk")[:CANDIDATES_JUDGED]
        return self.offered(newest)

    def offered(self, candidates):
        candidates = list(candidates)
        entities = [entity for candidate in candidates for entity in (candidate.entity_a, candidate.entity_b)]
        return offered_candidates(candidates, contacts=selectors.visible_contacts(self.reader, entities))

    def get_object(self):
        offered = self.offered(self.get_queryset().filter(public_id=self.kwargs["pk"]))
        if not offered:
            raise missing(ResolutionCandidate)
        return offered[0]

    def records_shown(self, candidates):
        return mentions_shown(entity for c in candidates for entity in (c.entity_a, c.entity_b))

    @extend_schema(request=MergeRequestSerializer, responses={201: EntityMergeSerializer})
    @action(detail=True, methods=["post"])
    def merge(self, request, pk=None):
        candidate = self.get_object()
        choice = MergeRequestSerializer(data=request.data)
        choice.is_valid(raise_exception=True)
        survivor, merged = candidate.shown_a, candidate.shown_b
        if choice.validated_data["survivor"] == "b":
            survivor, merged = merged, survivor
        try:
            merge = merge_entities(survivor, merged, request.user, candidate=candidate)
        except NotVisible as hidden:
            raise missing(ResolutionCandidate) from hidden
        return Response(EntityMergeSerializer(merge).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: CandidateSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        candidate = self.get_object()
        try:
            reject_candidate(candidate, request.user)
        except NotVisible as hidden:
            raise missing(ResolutionCandidate) from hidden
        return Response(self.get_serializer(self.get_object()).data)


class MergeViewSet(ReadingViewSet, mixins.ListModelMixin):
    """The merges the caller's agency made (every merge, for platform admins), and their undo."""

    serializer_class = EntityMergeSerializer
    selector = staticmethod(selectors.visible_merges)

    def records_shown(self, merges):
        return {}

    @extend_schema(request=None, responses={200: EntityMergeSerializer})
    @action(detail=True, methods=["post"])
    def undo(self, request, pk=None):
        merge = self.get_object()
        try:
            undo_merge(merge, request.user)
        except NotVisible as hidden:
            raise missing(EntityMerge) from hidden
        merge.refresh_from_db()
        return Response(self.get_serializer(merge).data)
