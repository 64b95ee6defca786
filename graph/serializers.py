"""The graph endpoints' questions (query parameters, validated into a `Scope`) and the
shapes of their answers (for the OpenAPI schema; the answers are built by `graph.selectors`)."""

from __future__ import annotations

from rest_framework import serializers

from agencies.models import Agency
from core.input_serializers import RefusesUnknownKeys
from graph.analytics import MAX_HOPS, RecordFilter
from graph.models import AnalyticsResult
from graph.selectors import MAX_PATHS
from intel.models import EntityType, LinkType

MAX_NODES = 500
MAX_CLUSTERS = 200


class RecordFilterQuery(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="only records that occurred on or after")
    date_to = serializers.DateField(required=False, help_text="only records that occurred on or before")
    owner = serializers.SlugField(
        required=False, max_length=16, help_text="only records this agency (code) owns"
    )

    def validate_owner(self, code: str) -> int:
        agency = Agency.objects.filter(code=code).values_list("pk", flat=True).first()
        if agency is None:
            raise serializers.ValidationError("no agency has this code")
        return agency

    def validate(self, attrs: dict) -> dict:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": "is before date_from"})
        return attrs

    def record_filter(self) -> RecordFilter:
        data = self.validated_data
        return RecordFilter(
            date_from=data.get("date_from"), date_to=data.get("date_to"), owner_id=data.get("owner")
        )


class WalkQuery(RecordFilterQuery):
    hops = serializers.IntegerField(min_value=1, max_value=MAX_HOPS, default=1)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_NODES, default=100, help_text="nodes at most")
    link_types = serializers.ListField(
        child=serializers.ChoiceField(choices=LinkType.choices),
        required=False,
        max_length=len(LinkType.values),
    )


class NeighbourhoodQuery(WalkQuery):
    entity_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EntityType.choices),
        required=False,
        max_length=len(EntityType.values),
    )


class PathsQuery(serializers.Serializer):
    source = serializers.UUIDField()
    target = serializers.UUIDField()


class ClustersQuery(RecordFilterQuery):
    limit = serializers.IntegerField(
        min_value=1, max_value=MAX_CLUSTERS, default=50, help_text="clusters at most"
    )


class GraphEntitySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=EntityType.choices)
    key = serializers.CharField(allow_null=True, help_text="Shown only where a record you may see states it")
    names = serializers.ListField(child=serializers.CharField(), help_text="From the records you may see")
    label = serializers.CharField(
        help_text="What the records you may see call it: names, else the identifier they state, else the key"
    )


class WalkedEntitySerializer(GraphEntitySerializer):
    distance = serializers.IntegerField(help_text="Steps from the nearest start")
    left_out = serializers.IntegerField(
        help_text="Neighbours (in your filters) not in this answer, counted up to a cap (left_out_capped)"
    )
    left_out_capped = serializers.BooleanField(help_text="There are more left-out neighbours than left_out")


class ClusterMemberSerializer(GraphEntitySerializer):
    seized = serializers.BooleanField(help_text="Named by a seizure record you may see")


class RelationshipSerializer(serializers.Serializer):
    source = serializers.UUIDField()
    target = serializers.UUIDField()
    type = serializers.ChoiceField(choices=LinkType.choices)
    records = serializers.ListField(
        child=serializers.UUIDField(),
        help_text="Records you may see asserting it, the most recent first (at most 20)",
    )
    record_count = serializers.IntegerField()
    first_date = serializers.DateField(
        allow_null=True, help_text="When the earliest of those records occurred (of those with a date)"
    )
    last_date = serializers.DateField(
        allow_null=True, help_text="When the latest of those records occurred (of those with a date)"
    )


class SubgraphSerializer(serializers.Serializer):
    nodes = WalkedEntitySerializer(many=True)
    relationships = RelationshipSerializer(many=True)
    truncated = serializers.BooleanField(help_text="More nodes were in reach than the limit")


class PathSerializer(serializers.Serializer):
    nodes = GraphEntitySerializer(many=True)
    steps = serializers.ListField(child=RelationshipSerializer(many=True))


class PathsSerializer(serializers.Serializer):
    paths = PathSerializer(many=True)
    length = serializers.IntegerField(allow_null=True)
    more_paths = serializers.BooleanField(
        help_text=f"True when there are more shortest paths you may see than those listed (at most "
        f"{MAX_PATHS}, the first by their entities' ids)"
    )
    search_complete = serializers.BooleanField(
        help_text="False when no path was found before the search reached its budget, or its rounds of "
        "paths refused: there may be one (with true and no paths, there is none up to 6 steps)"
    )


class ClusterSerializer(serializers.Serializer):
    size = serializers.IntegerField()
    seized_members = serializers.IntegerField()
    members = ClusterMemberSerializer(many=True)
    shared = GraphEntitySerializer(many=True)


class ClustersSerializer(serializers.Serializer):
    clusters = ClusterSerializer(many=True)
    truncated = serializers.BooleanField()


class AnalysisRequestSerializer(RefusesUnknownKeys, serializers.Serializer):
    parameters = serializers.DictField(
        required=False,
        help_text="the analysis's parameters (e.g. limit, paths, community, min_importers, days)",
    )


class AnalysisSerializer(serializers.Serializer):
    operation = serializers.CharField()
    status = serializers.ChoiceField(choices=AnalyticsResult.Status.choices)
    progress = serializers.IntegerField(help_text="percent")
    computed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    result = serializers.DictField(
        allow_null=True, help_text="entities named by public id, confirmed visible now"
    )
