"""The sync's own state in PostgreSQL: the outbox of changes not yet in Neo4j, what each
record contributes to the graph as last synced, and the watermarks of the beat tasks."""

from django.db import models


class OutboxEntry(models.Model):
    """Something changed that the graph may not show yet.

    Written in the transaction that makes the change (so it commits or rolls back with
    it) and deleted in the transaction that brings the graph up to date. A row says only
    *what* to look at again; the sync always reads the current state, so rows may repeat
    and may be processed in any order.
    """

    class Kind(models.TextChoices):
        RECORD = "record", "Record"
        ENTITY = "entity", "Entity"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    object_id = models.BigIntegerField()
    created_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(
        db_default=0, help_text="Failed syncs of this row; after one it is retried alone, with back-off"
    )
    not_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "graph sync outbox entry"
        verbose_name_plural = "graph sync outbox"
        indexes = [
            models.Index(fields=["kind", "object_id"], name="graph_outbox_kind_object"),
            # Whether any change has waited too long (`graph.jobs.sync_stalled`), asked by every
            # check of a stored result: answered from the index's first entry.
            models.Index(fields=["created_at"], name="graph_outbox_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.object_id}"


class RecordProjection(models.Model):
    """What one record contributed to the graph when it was last synced: the entities it
    asserted ({entity id: [agencies that could see it there]}), its links as [source,
    target, type, [agencies]], and all those agencies together. The viewer counts are the
    sum of these, and a deleted record's old footprint is how the sync knows what to take
    out of the graph.

    No foreign key to the record: the projection must outlive a deleted record until
    the sync has removed what it asserted.
    """

    record_id = models.BigIntegerField(primary_key=True)
    agencies = models.JSONField(default=list)
    entities = models.JSONField(default=dict)
    links = models.JSONField(default=list)
    synced_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"record #{self.record_id}"


class SyncCursor(models.Model):
    """A beat task's watermark, e.g. up to when expired grants have been looked at."""

    name = models.CharField(max_length=100, primary_key=True)
    value = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.value:%Y-%m-%d %H:%M:%S}"


class NodeViewers(models.Model):
    """How many synced records naming an entity (a mention) each agency may see. A node's
    `visible_to` is the agencies with a count above zero; a node exists while the count of
    records asserting it at all (by a mention or a link, under `element_states.ASSERTED`)
    is; the sync keeps the counts by adding each record's change (old projection
    out, new in), so a busy broker's state costs the same as a one-off's."""

    entity_id = models.BigIntegerField()
    agency_id = models.IntegerField()
    records = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity_id", "agency_id"], name="graph_node_viewer_unique")
        ]

    def __str__(self) -> str:
        return f"entity #{self.entity_id}: agency #{self.agency_id} x{self.records}"


class RelationshipViewers(models.Model):
    """Like NodeViewers, per (source, target, type) relationship."""

    source_id = models.BigIntegerField()
    target_id = models.BigIntegerField()
    type = models.CharField(max_length=32)
    agency_id = models.IntegerField()
    records = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source_id", "target_id", "type", "agency_id"],
                name="graph_relationship_viewer_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_id}-[{self.type}]->{self.target_id}: agency #{self.agency_id} x{self.records}"


class VisibilityChange(models.Model):
    """A sync batch found that what an agency may see changed (records it saw or now sees
    were added, changed or removed, or their visibility moved): the agency and the batch's
    version. Inserted, never updated, so batches running side by side never wait for each
    other here; an agency's basis is its highest version, and what lies below that is pruned."""

    agency_id = models.IntegerField()
    version = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["agency_id", "-version"], name="graph_visibility_change_basis")]

    def __str__(self) -> str:
        return f"agency #{self.agency_id} @ {self.version}"


class AnalyticsResult(models.Model):
    """One agency's result of one heavy analytics operation with given parameters, computed
    by a Celery job over what that agency could see. `basis` is the agency's visibility basis
    (`graph.jobs.visibility_basis`) read before the graph was built: the result is current
    only while the basis is the same, and while the analyses are those that computed it
    (`computed_with`). One row per agency, operation and parameters: never
    read for another agency."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Indexed by `graph_analytics_result_unique`, which leads with it.
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+", db_index=False)
    operation = models.CharField(max_length=40)
    parameters = models.JSONField(default=dict)
    parameters_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent done of the running job")
    result = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    basis = models.BigIntegerField(null=True, blank=True)
    computed_with = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version of the analyses that computed it (ANALYSES_VERSION)"
    )
    requested_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "operation", "parameters_hash"], name="graph_analytics_result_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.operation} for agency #{self.agency_id} ({self.status}, {self.progress}%)"
