"""Agencies and the people who work in them: the platform's members, below everything that
records or shares. Their own app, under `intel` (records name their owner agency) and above
only `audit`, so that neither records nor sharing owns who someone is."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, Group
from django.core.exceptions import ValidationError
from django.db import models, transaction

from agencies.validators import validate_country


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
    mfa_for_analysts = models.BooleanField(
        default=False,
        help_text="Analysts must sign in with a second factor too (liaison officers and admins always do)",
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
        # set_password() leaves the new password here until the save: the admin, the password
        # forms, `changepassword` and the API all change it that way.
        password_changed = self._password is not None and self.pk is not None
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_agency_group()
            if password_changed:
                # Imported here: agencies.tokens imports this module.
                from agencies.tokens import revoke_all_tokens

                revoke_all_tokens(user=self, reason="password changed")

    def sync_agency_group(self) -> None:
        """Keeps the user in exactly their agency's group, which carries the object permissions."""
        agency_groups = Group.objects.filter(agency__isnull=False)
        self.groups.remove(*agency_groups.exclude(agency=self.agency_id))
        if self.agency_id:
            self.groups.add(self.agency.group)


class ApiToken(models.Model):
    """An API token: only its public id and a digest of the whole token are kept, so a
    copy of this table authenticates no one. See `agencies/tokens.py`."""

    id = models.CharField(primary_key=True, max_length=16, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, editable=False)
    # A keyed hash of the password hash the token was issued under: a token stops working
    # once the password changes, on whatever path it was changed.
    password_mark = models.CharField(max_length=64, editable=False)
    mfa_verified = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"token {self.id} of {self.user_id}"
