"""The graph analytics API: thin views over `graph.selectors`. Each reads as who asks and
for the purpose stated (query parameter or X-Interlink-Purpose header, as every read), and
is audited: the query itself and each record of another agency its answer shows. An entity
the caller may not see answers exactly as one that does not exist."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core.query_parameters import refuse_unknown
from core.viewsets import JSON_ONLY
from graph import selectors, stored_answers
from graph.analytics import Scope
from graph.jobs import OPERATIONS, TooManyAnalyses
from graph.serializers import (
    AnalysisRequestSerializer,
    AnalysisSerializer,
    ClustersQuery,
    ClustersSerializer,
    NeighbourhoodQuery,
    PathsQuery,
    PathsSerializer,
    SubgraphSerializer,
    WalkQuery,
)
from intel.models import Entity
from intel.selectors import BadInput, Reader
from intel.views import PURPOSE_PARAMETERS, missing


class GraphView(APIView):
    operation = ""
    query_class: type

    def get(self, request, pk=None):
        reader = Reader.from_request(request)
        query = self.query_class(data=request.query_params)
        repeatable = [
            name for name, field in query.fields.items() if isinstance(field, serializers.ListField)
        ]
        refuse_unknown(request.query_params, query.fields, repeatable=repeatable)
        query.is_valid(raise_exception=True)
        asked = self.asked(query, pk)
        try:
            answer = self.answer(reader, query, pk)
        except selectors.EntityNotFound as hidden:
            selectors.audit_query(reader, self.operation, None, asked, outcome="not found")
            raise missing(Entity) from hidden
        except BadInput as refused:
            selectors.audit_query(reader, self.operation, None, asked, outcome=f"refused: {refused.field}")
            raise
        selectors.audit_query(reader, self.operation, answer, asked)
        return Response(answer.data)

    def asked(self, query, pk) -> list:
        """The entities the query names (their public ids), for the audit log."""
        return []

    def answer(self, reader: Reader, query, pk) -> selectors.Answer:
        raise NotImplementedError


def scope_of(reader: Reader, query) -> Scope:
    data = query.validated_data
    link_types = tuple(data["link_types"]) if data.get("link_types") else None
    entity_types = tuple(data["entity_types"]) if data.get("entity_types") else None
    return Scope(
        reader=reader, records=query.record_filter(), link_types=link_types, entity_types=entity_types
    )


def listed(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, str, many=True, explode=True, description=description)


FILTERS = [
    OpenApiParameter("date_from", str, description="only records that occurred on or after (YYYY-MM-DD)"),
    OpenApiParameter("date_to", str, description="only records that occurred on or before (YYYY-MM-DD)"),
    OpenApiParameter("owner", str, description="only records this agency (its code) owns"),
]
WALK = [
    OpenApiParameter("hops", int, description="1 to 3 (default 1)"),
    OpenApiParameter("limit", int, description="nodes at most, 1 to 500 (default 100)"),
    listed("link_types", "only relationships of these types"),
    *FILTERS,
]


class NeighbourhoodView(GraphView):
    """The entities within 1 to 3 hops of one, through the relationships (of the records)
    the caller may see, with each node's left-out neighbours."""

    operation = "neighbourhood"
    query_class = NeighbourhoodQuery

    @extend_schema(
        operation_id="graph_neighbourhood",
        parameters=[*PURPOSE_PARAMETERS, *WALK, listed("entity_types", "only nodes of these types")],
        responses={200: SubgraphSerializer},
    )
    def get(self, request, pk=None):
        return super().get(request, pk)

    def asked(self, query, pk):
        return [pk]

    def answer(self, reader, query, pk):
        data = query.validated_data
        return selectors.neighbourhood(
            scope=scope_of(reader, query), entity=pk, hops=data["hops"], limit=data["limit"]
        )


class PathsView(GraphView):
    """Every shortest path (up to 6 steps) between two entities, each step with the records behind it."""

    operation = "paths"
    query_class = PathsQuery

    @extend_schema(
        operation_id="graph_paths",
        parameters=[
            *PURPOSE_PARAMETERS,
            OpenApiParameter("source", str, required=True, description="an entity's id"),
            OpenApiParameter("target", str, required=True, description="an entity's id"),
        ],
        responses={200: PathsSerializer},
    )
    def get(self, request, pk=None):
        return super().get(request, pk)

    def asked(self, query, pk):
        return [query.validated_data["source"], query.validated_data["target"]]

    def answer(self, reader, query, pk):
        data = query.validated_data
        scope = Scope(reader=reader)
        return selectors.shortest_paths(scope=scope, source=data["source"], target=data["target"])


class ClustersView(GraphView):
    """Companies and persons that share an address, phone, e-mail or owner, as connected
    components, largest first, then by members named in seizures."""

    operation = "clusters"
    query_class = ClustersQuery

    @extend_schema(
        operation_id="graph_clusters",
        parameters=[
            *PURPOSE_PARAMETERS,
            OpenApiParameter("limit", int, description="clusters at most, 1 to 200 (default 50)"),
            *FILTERS,
        ],
        responses={200: ClustersSerializer},
    )
    def get(self, request, pk=None):
        return super().get(request, pk)

    def answer(self, reader, query, pk):
        scope = Scope(reader=reader, records=query.record_filter())
        return selectors.shared_identifier_clusters(scope=scope, limit=query.validated_data["limit"])


class SeizureNetworkView(GraphView):
    """The entities within k hops of those the caller's visible seizure records name."""

    operation = "seizure_network"
    query_class = WalkQuery

    @extend_schema(
        operation_id="graph_seizure_network",
        parameters=[*PURPOSE_PARAMETERS, *WALK],
        responses={200: SubgraphSerializer},
    )
    def get(self, request, pk=None):
        return super().get(request, pk)

    def answer(self, reader, query, pk):
        data = query.validated_data
        scope = scope_of(reader, query)
        return selectors.seizure_network(scope=scope, hops=data["hops"], limit=data["limit"])


class AnalysisView(APIView):
    """A global analysis of the caller's agency's graph (communities, brokers and bridges,
    network risk, the named patterns): 200 with the answer when a current result is stored,
    else 202 with the job's state and progress (a job is queued when none is current); ask
    again to follow it. Every entity in the answer is confirmed visible to the caller now."""

    parser_classes = JSON_ONLY

    @extend_schema(
        operation_id="graph_analysis",
        parameters=[
            *PURPOSE_PARAMETERS,
            OpenApiParameter(
                "operation", str, OpenApiParameter.PATH, enum=sorted(OPERATIONS), description="the analysis"
            ),
        ],
        request=AnalysisRequestSerializer,
        responses={200: AnalysisSerializer, 202: AnalysisSerializer},
    )
    def post(self, request, operation: str):
        refuse_unknown(request.query_params, ())
        reader = Reader.from_request(request)
        body = AnalysisRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            row, answer = stored_answers.analysis(
                reader=reader, operation=operation, parameters=body.validated_data.get("parameters")
            )
        except TooManyAnalyses:
            selectors.audit_query(reader, f"analysis.{operation}", None, outcome="refused")
            raise
        state = {
            "operation": operation,
            "status": row.status,
            "progress": row.progress,
            "computed_at": row.computed_at if answer else None,
            "error": row.error or None,
            "result": answer.data if answer else None,
        }
        if answer is None:
            selectors.audit_query(reader, f"analysis.{operation}", None, outcome=row.status)
            return Response(AnalysisSerializer(state).data, status=202)
        selectors.audit_query(reader, f"analysis.{operation}", answer)
        return Response(AnalysisSerializer(state).data)
