from django.db import models


class AuditEvent(models.Model):
    """One append-only, hash-chained entry of the audit log.

    The database refuses UPDATE and DELETE on this table (a trigger, see migrations);
    each row's hash covers its content and the previous row's hash, so
    `manage.py verify_audit` finds an edited or removed row.
    """

    at = models.DateTimeField(db_index=True)
    # Plain ids rather than foreign keys: the log is below the apps whose rows it names, and
    # must outlive them.
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_username = models.CharField(max_length=150, blank=True)
    agency_id = models.BigIntegerField(null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"
