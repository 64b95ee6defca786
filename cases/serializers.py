from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.charts import SETTINGS_MAX_BYTES
from cases.models import Case
from cases.services import NAME_MAX, NOTES_MAX, SHARED_MAX
from core.identity import PublicSerializer
from core.input_serializers import RefusesUnknownKeys


class PointSerializer(serializers.Serializer):
    x = serializers.FloatField()
    y = serializers.FloatField()


class ChartShapeSerializer(serializers.Serializer):
    """The chart's shape, for the schema; `cases.charts.clean_chart` checks it."""

    nodes = serializers.ListField(
        child=serializers.UUIDField(),
        help_text=f"public ids of the charted entities, at most CASE_MAX_NODES ({settings.CASE_MAX_NODES})",
    )
    positions = serializers.DictField(child=PointSerializer(), help_text="a point per node, by entity id")
    filters = serializers.DictField(
        help_text=f"the chart page's filters: any JSON object of at most {SETTINGS_MAX_BYTES} bytes "
        "naming no entity (no UUID anywhere)"
    )
    layout = serializers.JSONField(help_text="the chart page's layout: a name or an object, as filters")


@extend_schema_field(ChartShapeSerializer)
class ChartField(serializers.JSONField):
    pass


class CaseSerializer(PublicSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    updated_by = serializers.CharField(source="updated_by.username", read_only=True)
    shared_with = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "name",
            "notes",
            "status",
            "created_by",
            "updated_by",
            "shared_with",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_shared_with(self, case: Case) -> list[str]:
        return sorted(user.username for user in case.shared_with.all())


class OpenedCaseSerializer(CaseSerializer):
    chart = ChartField(source="visible_chart", read_only=True)
    removed = serializers.IntegerField(
        read_only=True,
        help_text="how many of the chart's entities were taken out because the reader may not see "
        "them now (nothing else is said of them)",
    )

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "chart", "removed"]
        read_only_fields = fields


class CaseWriteSerializer(RefusesUnknownKeys, serializers.Serializer):
    name = serializers.CharField(max_length=NAME_MAX)
    notes = serializers.CharField(max_length=NOTES_MAX, allow_blank=True, required=False)
    status = serializers.ChoiceField(choices=Case.Status.choices, required=False)
    chart = ChartField(
        required=False, help_text="the chart page's JSON; its entities must be ones you may see"
    )


class ShareSerializer(RefusesUnknownKeys, serializers.Serializer):
    shared_with = serializers.ListField(
        child=serializers.CharField(max_length=150),
        max_length=SHARED_MAX,
        help_text="usernames of the colleagues of your agency to share the case with (replaces the list)",
    )
