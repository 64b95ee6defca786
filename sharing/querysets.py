from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils import timezone

# The terms of an agreement, in the order forms show them.
AGREEMENT_TERMS = (
    "reference",
    "title",
    "document",
    "starts_at",
    "ends_at",
    "categories",
    "classification_ceiling",
    "purposes",
    "discovery_allowed",
    "onward_sharing_allowed",
    "redacted_fields",
)
# What the parties sign: none of it changes once any party has signed (an amendment, a new
# version, changes it). Status and the signature bookkeeping are set by the services.
SIGNED_TERMS = frozenset({*AGREEMENT_TERMS, "created_by", "amends", "version"})


class AgreementQuerySet(models.QuerySet):
    def in_force(self, at: datetime | None = None) -> AgreementQuerySet:
        """Agreements in force at this instant: signed by every party, inside their validity
        dates, neither suspended nor terminated. Computed from facts and the clock, so an
        agreement stops at its end date with nobody acting."""
        now = at or timezone.now()
        # A version stops when an amendment of it is signed by every party (it is then
        # `superseded`, in the same transaction); the second test keeps two versions from
        # ever being in force together, whatever a status says.
        amended = self.model.objects.filter(amends=OuterRef("pk"), fully_signed_at__isnull=False)
        return (
            self.filter(fully_signed_at__isnull=False, starts_at__lte=now, ends_at__gt=now)
            .exclude(status__in=["draft", "suspended", "terminated", "superseded"])
            .exclude(Exists(amended))
        )

    def update(self, **kwargs) -> int:
        """Refuses to change the signed terms of any agreement in the set (`save()` does the
        same for one), so no write path can change what a party signed."""
        touched = SIGNED_TERMS & set(kwargs)
        if touched and self.filter(parties__signed_at__isnull=False).exists():
            raise ValidationError(
                {name: "a signed agreement's terms cannot change; amend it" for name in sorted(touched)}
            )
        return super().update(**kwargs)

    def between(self, agency_a: int, agency_b: int) -> AgreementQuerySet:
        return self.filter(parties__agency_id=agency_a).filter(parties__agency_id=agency_b)
