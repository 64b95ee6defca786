"""Hit/no-hit discovery: which partners hold records on an entity that the user cannot see,
told as agency and count only.

Its own module because it is the one place that counts records the user may not see: which
ones count (made releasable by their owner under a discovery agreement that does not redact
the entity's type) is decided here alone, and a disclosure request asks for exactly those.
"""

from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from agencies.models import Agency, User
from audit.log import record_event
from intel.models import Entity, Mention, Record, Releasability
from sharing.models import (
    Agreement,
    RecordRelease,
)


def discovery_agreements(agency_id: int) -> QuerySet[Agreement]:
    """Agreements in force that allow hit/no-hit discovery and under which the agency receives."""
    return Agreement.objects.in_force().filter(
        discovery_allowed=True, parties__agency_id=agency_id, parties__receives=True
    )


def discoverable(agreement: Agreement, agency_id: int) -> Q:
    """Records another party provides to the agency under this agreement and that their
    owner made releasable under it: to every agreement, or to this one by name. Scope is not
    asked: a record beyond the agreement's ceiling or categories is exactly what a hit tells
    of, for the asker to request. Records released to no one, or by name only to other
    agreements, never count; nor do onward releases and grants: discovery speaks for owners."""
    providers = [
        party.agency_id
        for party in agreement.parties.all()
        if party.provides and party.agency_id != agency_id
    ]
    named = RecordRelease.objects.filter(agreement=agreement, released_by_id=OuterRef("owner_id"))
    return Q(owner_id__in=providers) & (
        Q(releasability=Releasability.COVERING) | Q(Exists(named), releasability=Releasability.NAMED)
    )


def hidden_matches(user: User, entity_id: int, owner_id: int | None = None) -> QuerySet[Record]:
    """Records mentioning the entity that the user may not see and that discovery may count:
    made releasable by their owner under a discovery agreement in which the owner provides to
    the user's agency, and which does not redact the entity's type (a hit would tell that the
    owner's record names, say, a phone that even full sharing under it would hide)."""
    entity_type = Entity.objects.filter(pk=entity_id).values_list("type", flat=True).first()
    releasable = Q(pk__in=[])
    for agreement in discovery_agreements(user.agency_id).prefetch_related("parties"):
        if entity_type not in agreement.redacted_fields:
            releasable |= discoverable(agreement, user.agency_id)
    records = Record.objects.filter(
        releasable, Exists(Mention.objects.filter(record=OuterRef("pk"), entity_id=entity_id))
    )
    if owner_id is not None:
        records = records.filter(owner_id=owner_id)
    return records.exclude(pk__in=Record.objects.visible_to(user).values("pk"))


def discover(user: User, entity_id: int) -> list[dict]:
    """Hit/no-hit: for each partner that provides to the user's agency under a discovery
    agreement in force, how many of its records mentioning the entity, made releasable under
    such an agreement, the user cannot see. Agency and count only; nothing else about those
    records. The caller has checked that the user may see the entity."""
    counts = {
        row["owner_id"]: row["count"]
        for row in hidden_matches(user, entity_id).order_by().values("owner_id").annotate(count=Count("pk"))
    }
    hits = [
        {"agency": agency.code, "agency_name": agency.name, "count": counts[agency.pk]}
        for agency in Agency.objects.filter(pk__in=counts).order_by("code")
    ]
    record_event("discovery.query", actor=user, details={"entity": entity_id, "hits": hits})
    return hits
