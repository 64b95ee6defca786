from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone


class AgreementQuerySet(models.QuerySet):
    def in_force(self, at: datetime | None = None) -> AgreementQuerySet:
        """Agreements in force at this instant: signed by every party, inside their validity
        dates, neither suspended nor terminated. Computed from facts and the clock, so an
        agreement stops at its end date with nobody acting."""
        now = at or timezone.now()
        return self.filter(fully_signed_at__isnull=False, starts_at__lte=now, ends_at__gt=now).exclude(
            status__in=["draft", "suspended", "terminated"]
        )

    def between(self, agency_a: int, agency_b: int) -> AgreementQuerySet:
        return self.filter(parties__agency_id=agency_a).filter(parties__agency_id=agency_b)
