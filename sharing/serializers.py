from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agencies.models import Agency
from core.identity import PublicIdField, PublicRelatedField, PublicSerializer, SlugField
from core.input_serializers import RefusesUnknownKeys
from intel.access import viewer_agency_id
from intel.filters import RecordFilter
from intel.models import Category, Classification, Entity, Purpose, Record, Releasability
from intel.selectors import InvalidPurpose, validated_purpose
from sharing import selectors
from sharing.models import Agreement, AgreementParty, DisclosureRequest, Notification
from sharing.querysets import AGREEMENT_TERMS


class PurposeField(serializers.ChoiceField):
    """A purpose a user states, refused by the same check as every other path takes
    (`intel.selectors.validated_purpose`): the error names the purposes there are."""

    def __init__(self, **kwargs):
        super().__init__(choices=Purpose.choices, **kwargs)

    def to_internal_value(self, data):
        try:
            purpose = validated_purpose(data)
        except InvalidPurpose as error:
            raise serializers.ValidationError(str(error)) from error
        if purpose is None:
            raise serializers.ValidationError(f"state a purpose: one of {', '.join(Purpose.values)}")
        return purpose


class CallerScopedSerializer(RefusesUnknownKeys, serializers.Serializer):
    """Fields naming objects the caller may not know of look them up only among those the
    caller may see, so a hidden one is refused exactly as one that does not exist."""

    def scoped_querysets(self, user) -> dict:
        return {}

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        user = getattr(request, "user", None)
        for name, queryset in self.scoped_querysets(user).items():
            field = fields[name]
            (
                field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
            ).queryset = queryset
        return fields


class AgreementPartySerializer(RefusesUnknownKeys, serializers.ModelSerializer):
    agency = SlugField(slug_field="code", queryset=Agency.objects.all())
    signed_by = serializers.CharField(source="signed_by.username", read_only=True, default=None)

    class Meta:
        model = AgreementParty
        fields = ["agency", "provides", "receives", "signed_at", "signed_by"]
        read_only_fields = ["signed_at", "signed_by"]


class AgreementVersionSerializer(PublicSerializer):
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


class AgreementSerializer(RefusesUnknownKeys, PublicSerializer):
    parties = AgreementPartySerializer(many=True)
    in_force = serializers.SerializerMethodField()
    classification_ceiling = serializers.ChoiceField(choices=Classification.choices)
    categories = serializers.ListField(child=serializers.ChoiceField(choices=Category.choices))
    purposes = serializers.ListField(child=serializers.ChoiceField(choices=Purpose.choices))
    versions = serializers.SerializerMethodField()
    redacted_fields = serializers.ListField(child=serializers.CharField(), required=False, default=list)

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
        # The reference is the platform's (sharing.agreements.new_reference): a reference a caller chose
        # could be refused as taken by an agreement the caller may not know of.
        read_only_fields = ["reference", "status", "fully_signed_at", "created_at"]

    def get_in_force(self, agreement: Agreement) -> bool:
        return Agreement.objects.in_force().filter(pk=agreement.pk).exists()

    @extend_schema_field(AgreementVersionSerializer(many=True))
    def get_versions(self, agreement: Agreement) -> list[dict]:
        """Every version of the agreement, first to last: what was signed, and when it stopped."""
        return AgreementVersionSerializer(agreement.versions(), many=True).data


class ReasonSerializer(RefusesUnknownKeys, serializers.Serializer):
    reason = serializers.CharField(allow_blank=True, required=False, default="")


class NamedAgreements(CallerScopedSerializer):
    """A release's `agreements`: one naming an agreement twice names it once."""

    def validate_agreements(self, agreements: list[Agreement]) -> list[Agreement]:
        return list(dict.fromkeys(agreements))


class ReleaseSerializer(NamedAgreements):
    releasability = serializers.ChoiceField(choices=Releasability.choices)
    agreements = SlugField(
        slug_field="reference", queryset=Agreement.objects.none(), many=True, required=False, default=list
    )

    def scoped_querysets(self, user) -> dict:
        return {"agreements": selectors.agreements_of(user)}


class BulkReleaseSerializer(NamedAgreements):
    filters = serializers.DictField(
        child=serializers.CharField(allow_blank=True),
        required=False,
        default=dict,
        help_text="the record list's filters (" + ", ".join(RecordFilter.base_filters) + "); "
        "the caller's agency's records matching all of them are released",
    )
    releasability = serializers.ChoiceField(choices=Releasability.choices)
    agreements = SlugField(
        slug_field="reference",
        queryset=Agreement.objects.none(),
        many=True,
        required=False,
        default=list,
        help_text="for `named`: agreements in force under which the caller's agency provides",
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="count the records it would release; write nothing"
    )

    def scoped_querysets(self, user) -> dict:
        agency_id = viewer_agency_id(user) if user is not None else None
        return {"agreements": selectors.releasable_agreements(agency_id)}

    def validate_filters(self, filters: dict) -> dict:
        # A filter the list does not know would be dropped, and a typo would release everything.
        known = list(RecordFilter.base_filters)
        unknown = sorted(set(filters) - set(known))
        if unknown:
            raise serializers.ValidationError(
                {name: f"not a filter of the record list; use {', '.join(known)}" for name in unknown}
            )
        filterset = RecordFilter(data=filters, queryset=Record.objects.none())
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        return filters


class BulkReleaseResultSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="records released (by a dry run: that would be)")
    dry_run = serializers.BooleanField()
    releasability = serializers.ChoiceField(choices=Releasability.choices)
    agreements = serializers.ListField(child=serializers.CharField())


class OnwardReleaseSerializer(CallerScopedSerializer):
    agreement = SlugField(slug_field="reference", queryset=Agreement.objects.none())

    def scoped_querysets(self, user) -> dict:
        return {"agreement": selectors.agreements_of(user)}


class DiscoveryHitSerializer(serializers.Serializer):
    agency = serializers.CharField()
    agency_name = serializers.CharField()
    count = serializers.IntegerField()
    purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=Purpose.choices),
        help_text="what a disclosure of these records may be asked for: the purposes the discovery "
        "agreements with this partner permit",
    )


class HoldingsQuerySerializer(RefusesUnknownKeys, serializers.Serializer):
    entities = serializers.ListField(
        child=PublicIdField(),
        max_length=settings.DISCOVERY_HOLDINGS_MAX_ENTITIES,
        help_text="public ids of the charted entities, at most DISCOVERY_HOLDINGS_MAX_ENTITIES "
        f"({settings.DISCOVERY_HOLDINGS_MAX_ENTITIES}); a larger chart asks in several",
    )
    disclosed_since = serializers.DateTimeField(
        required=False,
        default=None,
        help_text="list only disclosures decided at or after this time (a previous answer's "
        "`checked_at`); without it, every disclosure whose grant still runs",
    )


class EntityHoldingsSerializer(serializers.Serializer):
    entity = serializers.UUIDField()
    partners = DiscoveryHitSerializer(many=True, help_text="empty when no partner has a hit")


class GrantedDisclosureSerializer(serializers.Serializer):
    request = serializers.UUIDField(help_text="the disclosure request (GET /api/requests/{id}/)")
    reference = serializers.CharField()
    entity = serializers.UUIDField(help_text="the charted entity the request was about")
    owner = serializers.CharField(help_text="code of the agency that disclosed")
    owner_name = serializers.CharField()
    decided_at = serializers.DateTimeField()
    grant_expires_at = serializers.DateTimeField()
    records = serializers.ListField(
        child=serializers.UUIDField(), help_text="the disclosed records the caller's agency sees now"
    )
    entities = serializers.ListField(
        child=PublicIdField(),
        help_text="the entities those records name, as the caller may see them: the nodes to mark "
        "as newly disclosed",
    )


class HoldingsSerializer(serializers.Serializer):
    checked_at = serializers.DateTimeField(help_text="when this answer was computed")
    holdings = EntityHoldingsSerializer(many=True)
    disclosures = GrantedDisclosureSerializer(many=True)


class DisclosureRequestSerializer(CallerScopedSerializer, PublicSerializer):
    purpose = PurposeField()
    entity = PublicRelatedField(queryset=Entity.objects.none())
    requesting_agency = serializers.CharField(source="requesting_agency.code", read_only=True)
    owner = SlugField(slug_field="code", queryset=Agency.objects.all())
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

    def scoped_querysets(self, user) -> dict:
        # Content is not read here, so any purpose: only whether the entity is the caller's to name.
        return {"entity": Entity.objects.visible_to(user) if user is not None else Entity.objects.none()}

    def get_record_count(self, request: DisclosureRequest) -> int:
        return request.records.count()

    def get_overdue(self, request: DisclosureRequest) -> bool:
        from django.utils import timezone

        return request.status == DisclosureRequest.Status.PENDING and request.due_at < timezone.now()


class ConsentRequestSerializer(CallerScopedSerializer):
    record = PublicRelatedField(queryset=Record.objects.none())
    caveat = serializers.CharField()
    purpose = PurposeField()
    justification = serializers.CharField()
    urgency = serializers.ChoiceField(choices=DisclosureRequest.Urgency.choices, default="routine")

    def scoped_querysets(self, user) -> dict:
        return {"record": Record.objects.visible_to(user) if user is not None else Record.objects.none()}


class DecisionSerializer(RefusesUnknownKeys, serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    grant_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=settings.DISCLOSURE_GRANT_DAYS_MAX,
        help_text="days the grant lasts",
    )


class NotificationSerializer(PublicSerializer):
    class Meta:
        model = Notification
        fields = ["id", "message", "url", "created_at", "read_at"]


class PurposeChoiceSerializer(RefusesUnknownKeys, serializers.Serializer):
    purpose = PurposeField(allow_null=True)
