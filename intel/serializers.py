from datetime import date

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.identity import PublicSerializer
from core.input_serializers import RefusesUnknownKeys
from intel import selectors
from intel.dates import parse_day
from intel.models import (
    Caveat,
    Entity,
    EntityMerge,
    ImportBatch,
    Link,
    Mention,
    Record,
    ResolutionCandidate,
)
from intel.presentation import RecordPresentation, entity_key, entity_names, present_record
from intel.services import batch_progress


class RecordSerializer(PublicSerializer):
    """A record as its reader may see it: fields the agreement it is read under redacts are
    absent, not blanked, so nothing hints at what they held."""

    owner = serializers.SlugRelatedField(slug_field="code", read_only=True)
    # A method field: given a model's method as its source, DRF inspects its signature for
    # every record it writes.
    classification = serializers.SerializerMethodField()
    shared_under = serializers.SerializerMethodField()

    class Meta:
        model = Record
        fields = [
            "id",
            "owner",
            "external_ref",
            "category",
            "classification",
            "caveats",
            "releasability",
            "summary",
            "occurred_on",
            "details",
            "shared_under",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def presentation(self, record: Record) -> RecordPresentation:
        # Every record shown is shown to someone: without the reader, nothing says what to redact.
        shown = self.__dict__.setdefault("shown", {})
        if id(record) not in shown:
            shown.clear()
            shown[id(record)] = present_record(reader=self.context["reader"], record=record)
        return shown[id(record)]

    @extend_schema_field({"type": "string", "description": "the classification's label"})
    def get_classification(self, record: Record) -> str:
        return record.get_classification_display()

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": True})
    def get_shared_under(self, record: Record) -> dict | None:
        return self.presentation(record).shared_under

    def to_representation(self, record: Record) -> dict:
        shown = self.presentation(record)
        data = super().to_representation(record)
        data["details"] = shown.details
        for name in shown.hidden:
            data.pop(name, None)
        return data


class IsoDayField(serializers.DateField):
    """A date written YYYY-MM-DD alone, as the import takes it (`intel.dates.parse_day`): DRF's
    own field also read 20260105 and 2026-W01-1."""

    def to_internal_value(self, value: object) -> date:
        try:
            return parse_day(value if isinstance(value, str) else "")
        except ValueError:
            self.fail("invalid", format="YYYY-MM-DD")


class RecordUpdateSerializer(RefusesUnknownKeys, PublicSerializer):
    caveats = serializers.ListField(child=serializers.ChoiceField(choices=Caveat.choices), required=False)
    # Every record states when it happened (the import requires it): a change, not a removal.
    occurred_on = IsoDayField(required=False)

    class Meta:
        model = Record
        fields = ["summary", "classification", "caveats", "occurred_on"]

    def validate_caveats(self, caveats: list[str]) -> list[str]:
        # A handling code applies or not: naming it twice means once.
        return list(dict.fromkeys(caveats))


class RecordMentionSerializer(PublicSerializer):
    entity_type = serializers.CharField(source="entity.type", read_only=True)

    class Meta:
        model = Mention
        fields = ["entity", "entity_type", "role", "properties"]

    # Written out, as the fields declare them (the schema's): a record's mentions and links,
    # through DRF's field machinery, were most of an export's time.
    def to_representation(self, mention: Mention) -> dict:
        return {
            "entity": str(mention.entity.public_id),
            "entity_type": mention.entity.type,
            "role": mention.role,
            "properties": mention.properties,
        }


class RecordLinkSerializer(PublicSerializer):
    class Meta:
        model = Link
        fields = ["id", "source", "target", "type", "properties"]

    def to_representation(self, link: Link) -> dict:
        return {
            "id": str(link.public_id),
            "source": str(link.source.public_id),
            "target": str(link.target.public_id),
            "type": link.type,
            "properties": link.properties,
        }


class RecordDetailSerializer(RecordSerializer):
    mentions = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta(RecordSerializer.Meta):
        fields = [*RecordSerializer.Meta.fields, "mentions", "links"]
        read_only_fields = fields

    @extend_schema_field(RecordMentionSerializer(many=True))
    def get_mentions(self, record: Record) -> list[dict]:
        return self.represented(RecordMentionSerializer, self.presentation(record).mentions)

    @extend_schema_field(RecordLinkSerializer(many=True))
    def get_links(self, record: Record) -> list[dict]:
        return self.represented(RecordLinkSerializer, self.presentation(record).links)

    def represented(self, serializer_class: type[PublicSerializer], rows: list) -> list[dict]:
        """`rows` through one serializer of the class per record serializer: building a
        model serializer's fields cost more than writing the rows of a record."""
        children = self.__dict__.setdefault("children", {})
        if serializer_class not in children:
            children[serializer_class] = serializer_class(context=self.context)
        return [children[serializer_class].to_representation(row) for row in rows]


class EntityMentionSerializer(PublicSerializer):
    """What one visible record states about the entity, with the record that states it."""

    record_ref = serializers.CharField(source="record.external_ref")
    owner = serializers.CharField(source="record.owner.code")

    class Meta:
        model = Mention
        fields = ["record", "record_ref", "owner", "role", "properties"]


class EntitySerializer(PublicSerializer):
    """An entity in a list (`selectors.listed_entities`): named from its most recent visible
    mentions, which are counted no further than ENTITY_MENTIONS_SHOWN; counting a busy
    company's thousands of mentions for each row of a page cost more than the rest of the
    page."""

    key = serializers.SerializerMethodField()
    names = serializers.SerializerMethodField()
    mention_count = serializers.SerializerMethodField(
        help_text="Mentions in records you may see: exact up to ENTITY_MENTIONS_SHOWN in a list, "
        "up to PAGINATION_COUNT_LIMIT for one entity"
    )
    mention_count_exact = serializers.SerializerMethodField(
        help_text="False when there may be more mentions than `mention_count` says"
    )

    class Meta:
        model = Entity
        fields = ["id", "type", "key", "names", "mention_count", "mention_count_exact"]

    count_limit_setting = "ENTITY_MENTIONS_SHOWN"

    def get_key(self, entity: Entity) -> str | None:
        return entity_key(entity)

    def get_names(self, entity: Entity) -> list[str]:
        return entity_names(entity)

    def counted(self, entity: Entity) -> int:
        """The count up to the limit, or one past it when there may be more."""
        return entity.mentions_counted + (entity.mentions_counted >= self.count_limit())

    def count_limit(self) -> int:
        return getattr(settings, self.count_limit_setting)

    def get_mention_count(self, entity: Entity) -> int:
        return min(self.counted(entity), self.count_limit())

    def get_mention_count_exact(self, entity: Entity) -> bool:
        return self.counted(entity) <= self.count_limit()


class EntityDetailSerializer(EntitySerializer):
    mentions = EntityMentionSerializer(
        source="visible_mentions", many=True, help_text="The most recent, at most ENTITY_MENTIONS_SHOWN"
    )

    class Meta(EntitySerializer.Meta):
        fields = [*EntitySerializer.Meta.fields, "mentions"]

    count_limit_setting = "PAGINATION_COUNT_LIMIT"

    def counted(self, entity: Entity) -> int:
        if not hasattr(entity, "visible_mention_count"):
            entity.visible_mention_count = selectors.visible_mention_count(self.context["reader"], entity)
        return entity.visible_mention_count


class LinkSerializer(PublicSerializer):
    class Meta:
        model = Link
        fields = ["id", "record", "source", "target", "type", "properties"]


class ImportBatchSerializer(PublicSerializer):
    rows_processed = serializers.SerializerMethodField()

    class Meta:
        model = ImportBatch
        fields = [
            "id",
            "original_name",
            "status",
            "rows_total",
            "rows_processed",
            "created_count",
            "updated_count",
            "unchanged_count",
            "allow_unknown_columns",
            "errors",
            "warnings",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_rows_processed(self, batch: ImportBatch) -> int:
        return batch_progress(batch)


class ImportUploadSerializer(RefusesUnknownKeys, serializers.Serializer):
    file = serializers.FileField()
    allow_unknown_columns = serializers.BooleanField(
        default=False, help_text="ignore unknown columns, listing them in the batch's warnings"
    )


class CandidateSerializer(PublicSerializer):
    # The sides in the order presentation.offered_candidates shows them, not as stored.
    entity_a = EntitySerializer(source="shown_a", read_only=True)
    entity_b = EntitySerializer(source="shown_b", read_only=True)
    # The score the caller's own visible names give the pair, never the stored one, which
    # every agency's names made.
    score = serializers.FloatField(source="offered_score", read_only=True)
    # Likewise what scored it, from the caller's visible records (presentation.offered_candidates):
    # the closest names, the score's parts, the identifiers and contacts (by public id) both
    # state, and the kinds both state with nothing in common.
    evidence = serializers.DictField(source="offered_evidence", read_only=True)

    class Meta:
        model = ResolutionCandidate
        fields = ["id", "entity_a", "entity_b", "score", "evidence", "status", "decided_at"]
        read_only_fields = fields


class MergeRequestSerializer(RefusesUnknownKeys, serializers.Serializer):
    survivor = serializers.ChoiceField(choices=["a", "b"], default="a", help_text="which entity stays")


class EntityMergeSerializer(PublicSerializer):
    class Meta:
        model = EntityMerge
        fields = ["id", "survivor", "merged", "candidate", "merged_at", "undone_at"]
        read_only_fields = fields
