from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from agencies.models import Agency, User
from core.identity import PublicIdentity
from intel.models import Purpose
from sharing.querysets import SIGNED_TERMS, AgreementQuerySet


class Agreement(PublicIdentity):
    """A memorandum of understanding under which parties release records to each other.

    Whether it is in force is computed live (see `AgreementQuerySet.in_force`): signed by
    every party, not suspended or terminated, and inside its validity dates. `status` is
    what people see; a beat task moves it to active or expired as dates pass, but access
    never waits for that task.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROPOSED = "proposed", "Proposed"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        EXPIRED = "expired", "Expired"
        TERMINATED = "terminated", "Terminated"
        SUPERSEDED = "superseded", "Superseded by an amendment"

    reference = models.CharField(max_length=40, unique=True)
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    document = models.FileField(upload_to="agreements/%Y/", blank=True)
    categories = models.JSONField(default=list, help_text="Record categories it covers")
    classification_ceiling = models.PositiveSmallIntegerField(default=1, help_text="Highest level it covers")
    purposes = models.JSONField(default=list, help_text="Purposes for which shared records may be read")
    discovery_allowed = models.BooleanField(
        default=False, help_text="Hit/no-hit discovery between the parties"
    )
    onward_sharing_allowed = models.BooleanField(default=False)
    redacted_fields = models.JSONField(default=list, blank=True, help_text="Fields recipients do not see")
    fully_signed_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    amends = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="amendments",
        help_text="The version this one replaces once every party has signed it",
    )
    version = models.PositiveSmallIntegerField(default=1, editable=False)
    superseded_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["reference"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="agreement_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.title}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            update_fields = kwargs.get("update_fields")
            touched = SIGNED_TERMS if update_fields is None else SIGNED_TERMS & set(update_fields)
            if touched and self.is_signed():
                stored = type(self).objects.filter(pk=self.pk).values(*touched).first() or {}
                changed = sorted(f for f in touched if f in stored and stored[f] != _stored_value(self, f))
                if changed:
                    raise SignedTermsError(self, changed)
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_signed():
            raise SignedTermsError(self, ["parties"], verb="delete")
        return super().delete(*args, **kwargs)

    def is_signed(self) -> bool:
        """Whether any party has signed: from then on its terms are fixed."""
        return self.pk is not None and self.parties.filter(signed_at__isnull=False).exists()

    def versions(self) -> list[Agreement]:
        """Every version of this agreement, first to last (amendments left unsigned included)."""
        root = self
        while root.amends_id is not None:
            root = type(self).objects.get(pk=root.amends_id)
        lineage, frontier = [root], [root.pk]
        while frontier:
            found = list(type(self).objects.filter(amends_id__in=frontier).order_by("version", "pk"))
            lineage.extend(found)
            frontier = [a.pk for a in found]
        return sorted(lineage, key=lambda a: (a.version, a.pk))


PARTY_TERMS = frozenset({"agreement", "agency", "provides", "receives"})


def _stored_value(obj: models.Model, name: str):
    field = obj._meta.get_field(name)
    value = getattr(obj, field.attname)
    return value.name if isinstance(field, models.FileField) else value


class SignedTermsError(ValidationError):
    """A write that would change what a party has already signed."""

    def __init__(self, agreement: Agreement, fields: list[str], verb: str = "change") -> None:
        super().__init__(
            {
                name: f"agreement {agreement.reference} is signed: its terms cannot {verb}; "
                "amend it (a new version every party signs)"
                for name in fields
            }
        )


class AgreementPartyQuerySet(models.QuerySet):
    def update(self, **kwargs) -> int:
        if PARTY_TERMS & set(kwargs) and self.filter(agreement__parties__signed_at__isnull=False).exists():
            raise ValidationError({"parties": "the parties of a signed agreement cannot change"})
        return super().update(**kwargs)


class AgreementParty(models.Model):
    # Indexed by `party_once_per_agreement`, which leads with it.
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="parties", db_index=False)
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="agreement_parties")
    provides = models.BooleanField(default=True)
    receives = models.BooleanField(default=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    objects = AgreementPartyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "agreement parties"
        constraints = [
            models.UniqueConstraint(fields=["agreement", "agency"], name="party_once_per_agreement")
        ]

    def __str__(self) -> str:
        return f"{self.agency.code} in {self.agreement.reference}"

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        touches_terms = update_fields is None or PARTY_TERMS & set(update_fields)
        if touches_terms and self.agreement.is_signed():
            stored = type(self).objects.filter(pk=self.pk).values(*PARTY_TERMS).first()
            if stored != {f: getattr(self, self._meta.get_field(f).attname) for f in PARTY_TERMS}:
                raise SignedTermsError(self.agreement, ["parties"])
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.agreement.is_signed():
            raise SignedTermsError(self.agreement, ["parties"], verb="change")
        return super().delete(*args, **kwargs)


class RecordRelease(models.Model):
    """A record released under a named agreement: by its owner, or onward by a recipient
    where the agreement it came under allows that.

    An onward release names its basis: the agreement the releasing agency received the
    record under, and the release that brought it (none when it came from the owner's
    covering releasability). The choke point follows that chain live, so an onward release
    stops the instant anything upstream stops; `inherited_redactions` is the union of what
    the agreements up the chain redact (their signed terms never change)."""

    # Indexed by `release_once`, which leads with it.
    record = models.ForeignKey(
        "intel.Record", on_delete=models.CASCADE, related_name="releases", db_index=False
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="releases")
    released_by = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(auto_now_add=True)
    basis_agreement = models.ForeignKey(
        Agreement, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    basis = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="onward_releases"
    )
    hops = models.PositiveSmallIntegerField(default=0, help_text="Onward steps from the owner")
    inherited_redactions = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["record", "agreement", "released_by"], name="release_once")
        ]

    def __str__(self) -> str:
        return f"record {self.record_id} under {self.agreement_id} by {self.released_by_id}"


class DisclosureRequest(PublicIdentity):
    """An analyst asks the owner of records it cannot see (found by hit/no-hit discovery)
    to disclose them, or asks consent to use a record beyond its handling code."""

    class Kind(models.TextChoices):
        DISCLOSURE = "disclosure", "Disclosure"
        ONWARD_SHARING = "onward_sharing", "Consent to onward sharing"
        EVIDENCE = "evidence", "Consent to use as evidence"

    class Urgency(models.TextChoices):
        URGENT = "urgent", "Urgent"
        ROUTINE = "routine", "Routine"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        APPROVED = "approved", "Approved"
        REFUSED = "refused", "Refused"
        WITHDRAWN = "withdrawn", "Withdrawn"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.DISCLOSURE)
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="disclosure_requests")
    requesting_agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="requests_made")
    owner = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="requests_received")
    entity = models.ForeignKey(
        "intel.Entity", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    records = models.ManyToManyField("intel.Record", related_name="+")
    purpose = models.CharField(max_length=30, choices=Purpose.choices)
    justification = models.TextField()
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.ROUTINE)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    due_at = models.DateTimeField()
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    grant_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.reference} {self.requesting_agency.code} → {self.owner.code}"

    @property
    def reference(self) -> str:
        """What people call the request by: the start of its public id, not a count of requests."""
        return str(self.public_id)[:8]


class Consent(models.Model):
    """The owner's recorded consent to use a record beyond one of its handling codes."""

    # Indexed by `consent_once`, which leads with it.
    record = models.ForeignKey(
        "intel.Record", on_delete=models.CASCADE, related_name="consents", db_index=False
    )
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    caveat = models.CharField(max_length=30)
    request = models.ForeignKey(DisclosureRequest, on_delete=models.PROTECT, related_name="consents")
    given_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["record", "agency", "caveat"], name="consent_once")]

    def __str__(self) -> str:
        return f"{self.caveat} for record {self.record_id} to {self.agency_id}"


class Notification(PublicIdentity):
    """An in-app message to a user (a decision on their request, a new request to decide)."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.message


class AccessStamp(models.Model):
    """One row whose `stamp` the database changes, to a random value never used before, with
    every write of agreements or their parties (triggers, migration sharing 0004): what a
    process's copy of the agreements in force (`access.terms_in_force`) is checked against on
    every read, in one small query. Random rather than counted: a count a rolled-back write
    raised would be raised to the same value again by the next."""

    stamp = models.CharField(max_length=64)

    def __str__(self) -> str:
        return self.stamp
