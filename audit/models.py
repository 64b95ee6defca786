from django.db import models


class AuditEvent(models.Model):
    """One append-only, hash-chained entry of the audit log.

    The database refuses UPDATE and DELETE on this table (a trigger, see migrations);
    each row's hash covers its content and the previous row's hash, so
    `manage.py verify_audit` finds an edited or removed row.
    """

    at = models.DateTimeField()
    # Plain ids rather than foreign keys: the log is below the apps whose rows it names, and
    # must outlive them.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    agency_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        # Declared here rather than by db_index and unique on the fields, which give each
        # text column a second, pattern-matching index (`varchar_pattern_ops`) that no
        # query uses: every read of another agency's record appends an event, and each of
        # its indexes is written then. Neither the hash nor the object id alone is indexed:
        # no query reads by them, and each event wrote both at a random place (the hash's
        # index was the largest of the table); a unique hash detected no break of the chain
        # that `verify_audit` (`verify_chain`, hash by hash) does not.
        indexes = [
            models.Index(fields=["at"], name="audit_event_at"),
            models.Index(fields=["action"], name="audit_event_action"),
            models.Index(fields=["object_type", "object_id"]),
        ]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"
