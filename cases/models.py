from __future__ import annotations

from django.db import models

from agencies.models import Agency, User
from core.identity import PublicIdentity


class Case(PublicIdentity):
    """A saved link chart with notes, owned by an agency: seen by its creator and the
    colleagues of that agency it is shared with. The chart (`cases.charts`) names entities by
    public id only; what a reader is shown of it follows the visibility rule of the moment
    it is opened, never the moment it was saved."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    # Indexed by `case_agency_recent`, which leads with it.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+", db_index=False)
    name = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    chart = models.JSONField(default=dict)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    shared_with = models.ManyToManyField(User, related_name="+", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "-updated_at"], name="case_agency_recent")]

    def __str__(self) -> str:
        return self.name
