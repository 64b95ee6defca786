"""Records, the canonical entities they mention, and the links they assert.

`intel` names the agency model only by its label ("agencies.Agency"): dependencies
point from sharing to intel, never back.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from core.identity import PublicIdentity
from intel.querysets import EntityQuerySet, LinkQuerySet, MentionQuerySet, RecordQuerySet


class Category(models.TextChoices):
    SHIPMENT = "shipment", "Shipment"
    SEIZURE = "seizure", "Seizure"
    INSPECTION = "inspection", "Inspection"
    INVESTIGATION = "investigation", "Investigation"
    TIP = "tip", "Tip"


class Classification(models.IntegerChoices):
    """Ordered: an agreement's ceiling admits every level up to and including its own."""

    UNCLASSIFIED = 0, "Unclassified"
    RESTRICTED = 1, "Restricted"
    CONFIDENTIAL = 2, "Confidential"
    SECRET = 3, "Secret"


# A level by its name, as files are imported and lists may be filtered.
CLASSIFICATION_BY_NAME = {label.lower(): level for level, label in Classification.choices}


class Caveat(models.TextChoices):
    NO_ONWARD_SHARING = "no_onward_sharing", "No onward sharing without the owner's consent"
    NOT_FOR_EVIDENCE = "not_for_evidence", "Not for use as evidence without the owner's consent"


class Purpose(models.TextChoices):
    """What a record shared with an agency is read for; agreements permit some of them."""

    RISK_ASSESSMENT = "risk_assessment", "Risk assessment"
    INVESTIGATION = "investigation", "Investigation"
    PROSECUTION = "prosecution", "Prosecution"
    INTELLIGENCE = "intelligence", "Intelligence analysis"


# Reading for prosecution is using a record as evidence, which a handling code may forbid.
EVIDENCE_PURPOSE = Purpose.PROSECUTION


class Releasability(models.TextChoices):
    NONE = "none", "To no one"
    NAMED = "named", "To the agreements named"
    COVERING = "covering", "To every agreement that covers it"


# The record's columns an access policy's rule may read besides its key (sharing's rule
# reads these; a test keeps the two in step), copied into the indexes lists walk.
RULE_COLUMNS = ("owner", "category", "classification", "releasability", "caveats")


def rule_columns_besides(column: str) -> tuple[str, ...]:
    return tuple(name for name in RULE_COLUMNS if name != column)


class Record(PublicIdentity):
    # Indexed by `record_unique_ref_per_owner` (and the list's index), which lead with it.
    owner = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="records", db_index=False
    )
    external_ref = models.CharField(max_length=100, help_text="The owner's own reference; unique per owner")
    category = models.CharField(max_length=20, choices=Category.choices)
    classification = models.PositiveSmallIntegerField(
        choices=Classification.choices, default=Classification.RESTRICTED
    )
    caveats = models.JSONField(default=list, blank=True)
    releasability = models.CharField(max_length=10, choices=Releasability.choices, default=Releasability.NONE)
    summary = models.TextField(blank=True)
    occurred_on = models.DateField(null=True, blank=True)
    details = models.JSONField(
        default=dict, blank=True, help_text="Category-specific facts stated by the record"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    content_hash = models.CharField(
        max_length=64, blank=True, help_text="Of the imported row; re-imports compare it"
    )
    import_batch = models.ForeignKey(
        "intel.ImportBatch", on_delete=models.SET_NULL, null=True, blank=True, related_name="records"
    )

    objects = RecordQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_on", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "external_ref"], name="record_unique_ref_per_owner")
        ]
        indexes = [
            models.Index(fields=["owner", "-occurred_on", "-id"]),
            # The list's order: a page of what an agency sees walks it and stops at the page.
            # Each index a list walks holds the columns the visibility rule reads
            # (RULE_COLUMNS): the rule is tested on the index's copy, where reading each
            # record's row took most of a deep page's time for an agency that sees few.
            models.Index(fields=["-occurred_on", "-id"], include=RULE_COLUMNS, name="record_recent"),
            # A list filtered by category or classification walks only those records, in
            # the list's order: walking the list's index and testing the filter and the rule
            # on every record read twenty times as many for a rare category.
            models.Index(
                fields=["category", "-occurred_on", "-id"],
                include=rule_columns_besides("category"),
                name="record_category_recent",
            ),
            models.Index(
                fields=["classification", "-occurred_on", "-id"],
                include=rule_columns_besides("classification"),
                name="record_class_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_ref} ({self.get_category_display()})"


class RecordUserObjectPermission(UserObjectPermissionBase):
    # Indexed by guardian's unique (user, permission, object), which leads with the user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, db_index=False)
    content_object = models.ForeignKey(Record, on_delete=models.CASCADE)


class RecordGroupObjectPermission(GroupObjectPermissionBase):
    """Guardian's direct foreign-key permission rows for records, given to agency groups.

    A `view_record` row is an explicit grant to another agency; `expires_at` ends it at
    that instant, because the visibility choke point compares it with the clock.
    """

    # Indexed by guardian's unique (group, permission, object) and by `record_grant_lookup`,
    # which lead with the group.
    group = models.ForeignKey(Group, on_delete=models.CASCADE, db_index=False)
    content_object = models.ForeignKey(Record, on_delete=models.CASCADE)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta(GroupObjectPermissionBase.Meta):
        # The visibility rule reads an agency's grants with their expiry: from this index alone.
        indexes = [
            models.Index(
                fields=["group", "permission", "content_object"],
                include=["expires_at"],
                name="record_grant_lookup",
            )
        ]


class EntityType(models.TextChoices):
    COMPANY = "company", "Company"
    PERSON = "person", "Person"
    VESSEL = "vessel", "Vessel"
    CONTAINER = "container", "Container"
    ADDRESS = "address", "Address"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    SHIPMENT = "shipment", "Shipment"


# The rule tests an entity's type on every mention and link it confirms (an agreement may
# redact phones, e-mail addresses, persons, addresses): a copy on the row spares it a join
# to every entity. An entity's type never changes, and a merge joins entities of one type.
TYPE_COPY = "The type of the entity, copied from it"


class Entity(PublicIdentity):
    """A resolved, canonical thing. It has no owner and no visibility of its own: what a
    viewer is shown of it comes only from the mentions in records that viewer may see. Its
    type is fixed when it is created."""

    type = models.CharField(max_length=20, choices=EntityType.choices)
    key = models.CharField(max_length=400)
    block = models.CharField(
        max_length=120, blank=True, db_index=True, help_text="Blocking key for near-duplicate search"
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_from"
    )
    # The near-duplicate search compares names without reading every mention of every entity
    # in a block again; never shown, since names reach a viewer only through visible mentions.
    name_fingerprints = models.JSONField(default=list, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EntityQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "entities"
        constraints = [models.UniqueConstraint(fields=["type", "key"], name="entity_unique_type_key")]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class EntityIdentity(models.Model):
    """An identity an agency's records state for an entity, shared with others of its type: a
    company's name in a country, a person's name and date of birth. `tier` says how strongly
    the entity's own key identifies it (0: by that identity alone, 1: with an address, 2: by
    a registration or document number); resolution on ingest folds an agency's weaker
    entities of an identity into its one strongest (`intel.merging.fold_identities`), judged
    on what that agency's own records state. Rows are kept after a merge, so that a folded
    entity is found again when the fold must be undone. Never shown."""

    entity = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="identities")
    # Indexed only by `entity_identity_unique`, which leads with it. While that index led
    # with the entity, an import's lookup of identities (planned with statistics that lag
    # the import's own rows, and no sequential scan) could be planned as a scan of all of
    # it, in place of the identity's own index, and took longer with every chunk.
    identity = models.CharField(max_length=400)
    tier = models.PositiveSmallIntegerField()
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name_plural = "entity identities"
        constraints = [
            models.UniqueConstraint(fields=["identity", "entity", "agency"], name="entity_identity_unique")
        ]

    def __str__(self) -> str:
        return f"{self.entity_id} {self.identity} ({self.tier})"


class Role(models.TextChoices):
    IMPORTER = "importer", "Importer"
    EXPORTER = "exporter", "Exporter"
    BROKER = "broker", "Broker"
    CARRIER = "carrier", "Carrier"
    CONSIGNEE = "consignee", "Consignee"
    VESSEL = "vessel", "Vessel"
    CONTAINER = "container", "Container"
    ADDRESS = "address", "Address"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    SUBJECT = "subject", "Subject"
    SHIPMENT = "shipment", "Shipment"


class Mention(models.Model):
    """A record asserts an entity in a role, with the properties that record states."""

    # Indexed by `mention_unique_per_record_role`, which leads with the record: an index of its
    # own was one more for every mention an import writes to keep up, and served nothing.
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="mentions", db_index=False)
    # Indexed by `mention_entity_recent`, which also serves every lookup by entity alone.
    entity = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="mentions", db_index=False)
    entity_type = models.CharField(
        max_length=20, choices=EntityType.choices, editable=False, help_text=TYPE_COPY
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    properties = models.JSONField(default=dict, blank=True)
    resolved_key = models.CharField(
        max_length=400,
        help_text="The key this mention alone resolves to; shown only where it equals the entity's",
    )
    search_text = models.TextField(blank=True, help_text="Normalized names and identifiers, for search")

    objects = MentionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "entity", "role"], name="mention_unique_per_record_role"
            )
        ]
        # An entity's mentions, the most recent records' first (querysets.MENTION_ORDER): what
        # an entity is shown by, read up to a limit, and counted, without reading them all.
        indexes = [models.Index(fields=["entity", "-record", "role"], name="mention_entity_recent")]

    def __str__(self) -> str:
        return f"{self.record_id} {self.role} {self.entity_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        type(self).objects.copy_entity_types([self])
        super().save(*args, **kwargs)


class LinkType(models.TextChoices):
    IMPORTED_BY = "IMPORTED_BY", "imported by"
    EXPORTED_BY = "EXPORTED_BY", "exported by"
    BROKERED_BY = "BROKERED_BY", "brokered by"
    CARRIED_BY = "CARRIED_BY", "carried by"
    SHIPPED_IN = "SHIPPED_IN", "shipped in"
    CONSIGNED_TO = "CONSIGNED_TO", "consigned to"
    REGISTERED_AT = "REGISTERED_AT", "registered at"
    OWNS = "OWNS", "owns"
    CONTACT = "CONTACT", "contact"
    SEIZED_IN = "SEIZED_IN", "seized in"
    INVOLVES = "INVOLVES", "involves"
    POSSIBLY_SAME_AS = "POSSIBLY_SAME_AS", "possibly same as"


class Link(PublicIdentity):
    """A record asserts a typed relationship between two entities."""

    # Indexed by `link_unique_per_record`, which leads with the record (as a mention's).
    record = models.ForeignKey(Record, on_delete=models.CASCADE, related_name="links", db_index=False)
    # Indexed by `link_triple`, which also serves every lookup by source alone.
    source = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="links_out", db_index=False)
    # Indexed by `link_target`, which also holds the links' ids.
    target = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="links_in", db_index=False)
    source_type = models.CharField(
        max_length=20, choices=EntityType.choices, editable=False, help_text=TYPE_COPY
    )
    target_type = models.CharField(
        max_length=20, choices=EntityType.choices, editable=False, help_text=TYPE_COPY
    )
    type = models.CharField(max_length=32, choices=LinkType.choices)
    properties = models.JSONField(default=dict, blank=True)

    objects = LinkQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["record", "source", "target", "type"], name="link_unique_per_record"
            )
        ]
        # A graph answer reads the records behind the relationships it found: by (source,
        # target, type), which is how the graph names a relationship. Both indexes hold the
        # links' ids, so that the ids of a busy entity's links (`LinkQuerySet.ending_at`)
        # are read from them alone: from the table, they were a read of a page per link.
        indexes = [
            models.Index(fields=["source", "target", "type"], include=["id"], name="link_triple"),
            models.Index(fields=["target", "id"], name="link_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} -{self.type}-> {self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        type(self).objects.copy_entity_types([self])
        super().save(*args, **kwargs)


class ResolutionCandidate(PublicIdentity):
    """Two entities that may be one (similar names, same country), left for an analyst."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        MERGED = "merged", "Merged"
        REJECTED = "rejected", "Rejected"

    # Indexed by `candidate_unique_pair`, which leads with it.
    entity_a = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+", db_index=False)
    entity_b = models.ForeignKey(Entity, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    # What scored the pair (`intel.candidates.candidate_evidence`), from every agency's records:
    # never shown as stored; a reader is shown the evidence its own visible records give.
    evidence = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity_a", "entity_b"], name="candidate_unique_pair"),
            models.CheckConstraint(
                condition=models.Q(entity_a__lt=models.F("entity_b")), name="candidate_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entity_a_id} ~ {self.entity_b_id} ({self.score:.0f}, {self.status})"


class EntityMerge(PublicIdentity):
    """A merge of `merged` into `survivor`, with what moved, so it can be undone: an
    analyst's, or an automatic fold (`automatic`) that resolution on ingest made by its rule
    (`intel.merging.fold_identities`)."""

    survivor = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    merged = models.ForeignKey(Entity, on_delete=models.PROTECT, related_name="+")
    candidate = models.ForeignKey(ResolutionCandidate, on_delete=models.SET_NULL, null=True, blank=True)
    moved_mentions = models.JSONField(default=list)
    moved_link_sources = models.JSONField(default=list)
    moved_link_targets = models.JSONField(default=list)
    # None for an automatic fold: no person decided it; the import that led to it is in the
    # audit event, and `agency` is the importing agency's.
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    automatic = models.BooleanField(default=False)
    # A merge is one agency's conclusion, drawn from what that agency may see: it is listed to
    # that agency (and platform admins) only, and only it may undo it. None: a platform admin
    # in no agency merged.
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.merged_id} into {self.survivor_id}"


class ImportBatch(PublicIdentity):
    """One uploaded file, imported all-or-nothing; its progress is what the uploader sees."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="import_batches")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_processed = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)
    # Unknown columns are an error unless the uploader allowed them; then each is ignored
    # and listed in `warnings`.
    allow_unknown_columns = models.BooleanField(default=False)
    warnings = models.JSONField(default=list, blank=True)
    # Times a worker began it: counted before reading, so a file that kills its worker is
    # failed after IMPORT_MAX_ATTEMPTS redeliveries instead of being retried forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "import batches"

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"
