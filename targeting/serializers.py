"""Input and output shapes of the targeting API. Inputs only check shapes; the services
decide who may do what and check the values again."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.models import Agency
from core.identity import PublicSerializer, SlugField
from core.input_serializers import RefusesUnknownKeys
from targeting import decisions, profiles
from targeting.indicators import BY_NAME
from targeting.models import Decision, RiskProfile, ScoringRun, ShipmentScore
from targeting.selectors import top_indicators


class QueueFilterSerializer(serializers.Serializer):
    """The queue's filters, from the query string (checked by `selectors.clean_filters`)."""

    min_score = serializers.FloatField(required=False)
    since = serializers.DateField(required=False)
    until = serializers.DateField(required=False)
    indicator = serializers.ChoiceField(choices=list(BY_NAME), required=False)
    decided = serializers.BooleanField(required=False, allow_null=True, default=None)
    action = serializers.ChoiceField(choices=Decision.Action.choices, required=False)


class DecisionSummarySerializer(serializers.Serializer):
    action = serializers.CharField()
    random_pick = serializers.BooleanField()
    outcome = serializers.CharField(allow_blank=True)


class IndicatorShareSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    contribution = serializers.FloatField()


class QueueRowSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="record.public_id")
    external_ref = serializers.CharField(source="record.external_ref")
    top_indicators = serializers.SerializerMethodField()
    decision = serializers.SerializerMethodField()
    in_budget = serializers.BooleanField(
        help_text="within the inspection budget: its place in the queue of every scored declaration "
        "is at most the budget's share of them, rounded down"
    )

    class Meta:
        model = ShipmentScore
        fields = [
            "id",
            "external_ref",
            "occurred_on",
            "score",
            "rules_score",
            "top_indicators",
            "decision",
            "in_budget",
        ]
        read_only_fields = fields

    @extend_schema_field(IndicatorShareSerializer(many=True))
    def get_top_indicators(self, score: ShipmentScore) -> list[dict]:
        return top_indicators(score)

    @extend_schema_field(DecisionSummarySerializer(allow_null=True))
    def get_decision(self, score: ShipmentScore) -> dict | None:
        if score.decision_action is None:
            return None
        return {
            "action": score.decision_action,
            "random_pick": score.decision_random_pick,
            "outcome": score.decision_outcome,
        }


class ShownEntitySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.CharField()
    key = serializers.CharField(allow_null=True, help_text="only when one of your records resolves to it")
    names = serializers.ListField(child=serializers.CharField())


class EvidenceRecordSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    external_ref = serializers.CharField()
    category = serializers.CharField()
    owner = serializers.CharField()
    occurred_on = serializers.DateField(allow_null=True)


class PartSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    kind = serializers.CharField()
    weight = serializers.FloatField()
    value = serializers.FloatField()
    contribution = serializers.FloatField()
    explanation = serializers.CharField()
    records = EvidenceRecordSerializer(many=True)
    entities = ShownEntitySerializer(many=True)
    paths = serializers.ListField(child=ShownEntitySerializer(many=True))
    withheld = serializers.BooleanField(
        help_text="some of the evidence the score was computed on is not visible to you now; the "
        "contribution stands until the declaration is scored again"
    )


class QueueDecisionSerializer(PublicSerializer):
    declaration = serializers.UUIDField(source="record.public_id", read_only=True)
    partner = serializers.CharField(source="partner.code", read_only=True, allow_null=True)
    profile = serializers.IntegerField(source="profile.version", read_only=True, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True)
    outcome_by = serializers.CharField(source="outcome_by.username", read_only=True, allow_null=True)
    outcome_record = serializers.UUIDField(source="outcome_record.public_id", read_only=True, allow_null=True)

    class Meta:
        model = Decision
        fields = [
            "id",
            "declaration",
            "action",
            "random_pick",
            "partner",
            "reason",
            "score",
            "indicators",
            "profile",
            "decided_by",
            "decided_at",
            "outcome",
            "outcome_record",
            "outcome_by",
            "outcome_at",
        ]
        read_only_fields = fields


class ExplanationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="record.public_id")
    external_ref = serializers.CharField(source="record.external_ref")
    occurred_on = serializers.DateField(source="record.occurred_on", allow_null=True)
    score = serializers.FloatField(source="score.score")
    rules_score = serializers.FloatField(source="score.rules_score")
    computed_at = serializers.DateTimeField(source="score.computed_at")
    profile = serializers.IntegerField(source="score.profile.version")
    in_budget = serializers.BooleanField(source="score.in_budget")
    parts = PartSerializer(many=True)
    chart = serializers.SerializerMethodField()
    decision = QueueDecisionSerializer(allow_null=True)

    def get_chart(self, shown) -> str | None:
        if not shown.chart_entities:
            return None
        return "/chart/?" + "&".join(f"entity={pk}" for pk in shown.chart_entities)


class DecideSerializer(RefusesUnknownKeys, serializers.Serializer):
    action = serializers.ChoiceField(choices=Decision.Action.choices)
    reason = serializers.CharField(max_length=decisions.REASON_MAX)
    partner = SlugField(
        slug_field="code",
        queryset=Agency.objects.all(),
        required=False,
        allow_null=True,
        help_text="the code of the agency a referral goes to",
    )


class OutcomeSerializer(RefusesUnknownKeys, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Decision.Outcome.choices)
    findings = serializers.CharField(max_length=decisions.FINDINGS_MAX)


class DrawSerializer(RefusesUnknownKeys, serializers.Serializer):
    count = serializers.IntegerField(
        min_value=0,
        max_value=10_000,
        required=False,
        help_text="how many to draw; by default the profile's random share of the budget",
    )


class DrawResultSerializer(serializers.Serializer):
    day = serializers.DateField()
    seed = serializers.CharField()
    asked = serializers.IntegerField()
    picked = QueueDecisionSerializer(many=True)


class ProfileSerializer(PublicSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, allow_null=True)
    decided_by = serializers.CharField(source="decided_by.username", read_only=True, allow_null=True)

    class Meta:
        model = RiskProfile
        fields = [
            "id",
            "version",
            "status",
            "weights",
            "watchlists",
            "budget",
            "random_share",
            "reason",
            "validation",
            "created_by",
            "created_at",
            "decided_by",
            "decided_at",
        ]
        read_only_fields = fields


class NumberField(serializers.FloatField):
    """A number, not a boolean: DRF's field takes `true` as 1.0, which as a budget would
    inspect every declaration (the services refuse booleans too)."""

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


class ProfileChangeSerializer(RefusesUnknownKeys, serializers.Serializer):
    reason = serializers.CharField(max_length=profiles.REASON_MAX)
    weights = serializers.DictField(child=NumberField(), required=False)
    watchlists = serializers.DictField(
        child=serializers.ListField(
            child=serializers.CharField(max_length=20), max_length=profiles.WATCHLIST_MAX
        ),
        required=False,
    )
    budget = NumberField(min_value=0, max_value=1, required=False)
    random_share = NumberField(min_value=0, max_value=1, required=False)


class ProposalReasonSerializer(RefusesUnknownKeys, serializers.Serializer):
    reason = serializers.CharField(max_length=profiles.REASON_MAX)


class ScoringStatusSerializer(serializers.Serializer):
    status = serializers.CharField(source="run.status", allow_null=True)
    progress = serializers.IntegerField(source="run.progress", allow_null=True)
    scored = serializers.IntegerField(source="run.scored", allow_null=True)
    requested_at = serializers.DateTimeField(source="run.requested_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="run.finished_at", allow_null=True)
    error = serializers.CharField(source="run.error", allow_null=True)
    current = serializers.BooleanField(
        help_text="the scores rest on what the agency may see now and its active profile"
    )
    budget = serializers.FloatField(source="budget.share")
    budget_size = serializers.IntegerField(source="budget.size")
    declarations = serializers.IntegerField(source="budget.scored")


class ScoringRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoringRun
        fields = ["status", "progress", "requested_at"]
        read_only_fields = fields
