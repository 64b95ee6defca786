from django.db import models


class Agency(models.Model):
    """An agency that keeps intelligence records and shares them under agreements."""

    class Kind(models.TextChoices):
        CUSTOMS = "customs", "Customs"
        COAST_GUARD = "coast_guard", "Coast guard"
        POLICE = "police", "Police"
        TAX = "tax", "Tax"
        PORT_AUTHORITY = "port_authority", "Port authority"
        OTHER = "other", "Other"

    code = models.SlugField(max_length=16, unique=True, help_text="Short unique code, e.g. CUS-NL")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 country code")
    kind = models.CharField(max_length=20, choices=Kind.choices)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return f"{self.code} · {self.name}"
