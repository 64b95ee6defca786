from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import models, transaction

from sharing.validators import validate_country


class Agency(models.Model):
    """An agency that keeps intelligence records and shares them under agreements.

    Each agency has a Django group: guardian object permissions (grants to a partner,
    the owner staff's change and delete rights) are given to the group, never to users.
    """

    class Kind(models.TextChoices):
        CUSTOMS = "customs", "Customs"
        COAST_GUARD = "coast_guard", "Coast guard"
        POLICE = "police", "Police"
        TAX = "tax", "Tax"
        PORT_AUTHORITY = "port_authority", "Port authority"
        OTHER = "other", "Other"

    code = models.SlugField(max_length=16, unique=True, help_text="Short unique code, e.g. cus-nl")
    name = models.CharField(max_length=200)
    country = models.CharField(
        max_length=2, validators=[validate_country], help_text="ISO 3166-1 alpha-2 code"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    group = models.OneToOneField(
        Group, on_delete=models.PROTECT, related_name="agency", editable=False, null=True
    )

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"

    def save(self, *args, **kwargs) -> None:
        self.country = self.country.upper()
        with transaction.atomic():
            if self.group_id is None:
                self.group = Group.objects.create(name=f"agency:{self.code}")
            super().save(*args, **kwargs)


class User(AbstractUser):
    """A person using Interlink: a member of one agency with one role.

    Platform admins are superusers and need no agency.
    """

    class Role(models.TextChoices):
        ANALYST = "analyst", "Analyst"
        LIAISON = "liaison", "Liaison officer"
        AGENCY_ADMIN = "agency_admin", "Agency admin"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="users")
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)

    def clean(self) -> None:
        super().clean()
        if not self.is_superuser and (self.agency_id is None or not self.role):
            raise ValidationError("Every user but a platform admin belongs to an agency with a role.")

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_agency_group()

    def sync_agency_group(self) -> None:
        """Keeps the user in exactly their agency's group, which carries the object permissions."""
        agency_groups = Group.objects.filter(agency__isnull=False)
        self.groups.remove(*agency_groups.exclude(agency=self.agency_id))
        if self.agency_id:
            self.groups.add(self.agency.group)


class AuditEvent(models.Model):
    """One append-only, hash-chained entry of the audit log.

    The database refuses UPDATE and DELETE on this table (a trigger, see migrations);
    each row's hash covers its content and the previous row's hash, so
    `manage.py verify_audit` finds an edited or removed row.
    """

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, null=True, blank=True, db_constraint=False, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    agency = models.ForeignKey(
        Agency, on_delete=models.DO_NOTHING, null=True, blank=True, db_constraint=False, related_name="+"
    )
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
