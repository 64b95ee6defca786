from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from intel.models import Classification, Entity, Releasability
from sharing.models import Agency, Agreement, AgreementParty, DisclosureRequest, Notification, Purpose
from sharing.querysets import AGREEMENT_TERMS


class AgreementPartySerializer(serializers.ModelSerializer):
    agency = serializers.SlugRelatedField(slug_field="code", queryset=Agency.objects.all())
    signed_by = serializers.CharField(source="signed_by.username", read_only=True, default=None)

    class Meta:
        model = AgreementParty
        fields = ["agency", "provides", "receives", "signed_at", "signed_by"]
        read_only_fields = ["signed_at", "signed_by"]


class AgreementVersionSerializer(serializers.ModelSerializer):
    # Plain text: a second component with the agreement's status choices would make the
    # schema's enum names collide.
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Agreement
        fields = [
            "id",
            "version",
            "status",
            *(name for name in AGREEMENT_TERMS if name != "document"),
            "fully_signed_at",
            "superseded_at",
        ]
        read_only_fields = fields


class AgreementSerializer(serializers.ModelSerializer):
    parties = AgreementPartySerializer(many=True)
    in_force = serializers.SerializerMethodField()
    classification_ceiling = serializers.ChoiceField(choices=Classification.choices)
    purposes = serializers.ListField(child=serializers.ChoiceField(choices=Purpose.choices))
    versions = serializers.SerializerMethodField()

    class Meta:
        model = Agreement
        fields = [
            "id",
            "reference",
            "title",
            "status",
            "in_force",
            "starts_at",
            "ends_at",
            "categories",
            "classification_ceiling",
            "purposes",
            "discovery_allowed",
            "onward_sharing_allowed",
            "redacted_fields",
            "parties",
            "fully_signed_at",
            "created_at",
            "versions",
        ]
        read_only_fields = ["status", "fully_signed_at", "created_at"]

    def get_in_force(self, agreement: Agreement) -> bool:
        return Agreement.objects.in_force().filter(pk=agreement.pk).exists()

    @extend_schema_field(AgreementVersionSerializer(many=True))
    def get_versions(self, agreement: Agreement) -> list[dict]:
        """Every version of the agreement, first to last: what was signed, and when it stopped."""
        return AgreementVersionSerializer(agreement.versions(), many=True).data


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class ReleaseSerializer(serializers.Serializer):
    releasability = serializers.ChoiceField(choices=Releasability.choices)
    agreements = serializers.SlugRelatedField(
        slug_field="reference", queryset=Agreement.objects.all(), many=True, required=False, default=list
    )


class OnwardReleaseSerializer(serializers.Serializer):
    agreement = serializers.SlugRelatedField(slug_field="reference", queryset=Agreement.objects.all())


class DiscoveryHitSerializer(serializers.Serializer):
    agency = serializers.CharField()
    agency_name = serializers.CharField()
    count = serializers.IntegerField()


class VisibleEntityField(serializers.PrimaryKeyRelatedField):
    """An entity id the requesting user may see: one it may not see is refused in the very
    words used for one that does not exist."""

    def get_queryset(self):
        return Entity.objects.visible_to(self.context["request"].user)


class DisclosureRequestSerializer(serializers.ModelSerializer):
    entity = VisibleEntityField()
    requesting_agency = serializers.CharField(source="requesting_agency.code", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="code", queryset=Agency.objects.all())
    requester = serializers.CharField(source="requester.username", read_only=True)
    record_count = serializers.SerializerMethodField()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = DisclosureRequest
        fields = [
            "id",
            "kind",
            "requester",
            "requesting_agency",
            "owner",
            "entity",
            "purpose",
            "justification",
            "urgency",
            "status",
            "created_at",
            "due_at",
            "overdue",
            "decided_at",
            "reason",
            "grant_expires_at",
            "record_count",
        ]
        read_only_fields = [
            "kind",
            "status",
            "created_at",
            "due_at",
            "decided_at",
            "reason",
            "grant_expires_at",
        ]

    def get_record_count(self, request: DisclosureRequest) -> int:
        return request.records.count()

    def get_overdue(self, request: DisclosureRequest) -> bool:
        from django.utils import timezone

        return request.status == DisclosureRequest.Status.PENDING and request.due_at < timezone.now()


class ConsentRequestSerializer(serializers.Serializer):
    record = serializers.IntegerField()
    caveat = serializers.CharField()
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    justification = serializers.CharField()
    urgency = serializers.ChoiceField(choices=DisclosureRequest.Urgency.choices, default="routine")


class DecisionSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    grant_days = serializers.IntegerField(required=False, min_value=1, max_value=365)


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        fields = ["id", "message", "url", "created_at", "read_at"]


class PurposeChoiceSerializer(serializers.Serializer):
    purpose = serializers.ChoiceField(choices=Purpose.choices, allow_null=True)
