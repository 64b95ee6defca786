"""Building agencies, their staff and agreements through the real services, for tests."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from agencies.models import Agency, User
from sharing import agreements, releases
from sharing.models import Agreement


@dataclass
class Staff:
    agency: Agency
    analyst: User
    liaison: User
    admin: User

    def client(self, role: str = "analyst", purpose: str | None = None) -> APIClient:
        client = APIClient()
        client.force_authenticate(getattr(self, role))
        if purpose:
            client.credentials(HTTP_X_INTERLINK_PURPOSE=purpose)
        return client


def staff(code: str, kind: str = "customs", country: str = "NL") -> Staff:
    agency = Agency.objects.create(code=code, name=code.upper(), country=country, kind=kind)
    users = {
        role: User.objects.create(username=f"{code}-{role}", agency=agency, role=role)
        for role in ("analyst", "liaison", "agency_admin")
    }
    return Staff(agency, users["analyst"], users["liaison"], users["agency_admin"])


# Discovery counts records their owner made releasable under the agreement that the asker
# still cannot see. The tests that need such records use pol's seizures, released to every
# covering agreement, under agreements with cus that cover no seizures.
NO_SEIZURES = ("shipment", "inspection")


def seizures_beyond_scope(owner: Staff) -> None:
    from intel.import_writing import import_file
    from intel.models import Record
    from tests.test_import import EXAMPLES

    import_file(EXAMPLES / "seizures.jsonl", owner.agency)
    for record in Record.objects.filter(owner=owner.agency, category="seizure"):
        releases.set_releasability(record, owner.analyst, "covering")


def platform_admin() -> User:
    return User.objects.get_or_create(username="platform", defaults={"is_superuser": True, "is_staff": True})[
        0
    ]


def draft(
    *parties: tuple[Staff, bool, bool],
    reference: str = "MOU-1",
    starts_at: datetime | None = None,
    days: int = 30,
    categories: tuple[str, ...] = ("shipment", "seizure", "inspection"),
    ceiling: int = 2,
    purposes: tuple[str, ...] = ("risk_assessment", "investigation"),
    **scope,
) -> Agreement:
    starts_at = starts_at or timezone.now() - timedelta(minutes=1)
    return agreements.create_agreement(
        parties[0][0].admin,
        reference=reference,
        title=f"Agreement {reference}",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(days=days),
        parties=[(s.agency, provides, receives) for s, provides, receives in parties],
        categories=list(categories),
        classification_ceiling=ceiling,
        purposes=list(purposes),
        **scope,
    )


def in_force(*parties: tuple[Staff, bool, bool], **kwargs) -> Agreement:
    """Drafted, proposed and signed by every party."""
    agreement = draft(*parties, **kwargs)
    agreements.propose(agreement, parties[0][0].admin)
    for party, _, _ in parties:
        agreement = agreements.sign(agreement, party.admin)
    return Agreement.objects.get(pk=agreement.pk)
