"""Hit/no-hit discovery: which partners hold records on an entity that the user cannot see,
told as agency and count only (with the purposes the user's agency may ask a disclosure of
them for, its own agreements' terms).

Its own module because it is the one place that counts records the user may not see: which
ones count (made releasable by their owner under a discovery agreement that does not redact
the entity's type) is decided here alone, and a disclosure request asks for exactly those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from agencies.models import Agency, User
from audit.log import record_event
from intel.models import Entity, EntityType, Mention, Record, Releasability
from intel.selectors import Reader, audit_reads
from sharing.models import Agreement, AgreementParty, RecordRelease
from sharing.selectors import granted_disclosures


def discovery_agreements(agency_id: int) -> QuerySet[Agreement]:
    """Agreements in force that allow hit/no-hit discovery and under which the agency receives."""
    return Agreement.objects.in_force().filter(
        discovery_allowed=True, parties__agency_id=agency_id, parties__receives=True
    )


def requestable_purposes(agency_id: int, owner_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each owner, the purposes a disclosure of its records may be asked for by the
    agency: those the agreements in force permit under which the owner provides to it and
    which allow discovery (empty when none does). One query whatever the owners."""
    owners = list(owner_ids)
    providing = AgreementParty.objects.filter(
        agreement__in=discovery_agreements(agency_id), agency_id__in=owners, provides=True
    )
    permitted: dict[int, set[str]] = defaultdict(set)
    for owner_id, purposes in providing.values_list("agency_id", "agreement__purposes"):
        permitted[owner_id].update(purposes)
    return {owner_id: sorted(permitted[owner_id]) for owner_id in owners}


def discoverable(agreement: Agreement, agency_id: int, via: str = "") -> Q:
    """Records another party provides to the agency under this agreement and that their
    owner made releasable under it: to every agreement, or to this one by name. Scope is not
    asked: a record beyond the agreement's ceiling or categories is exactly what a hit tells
    of, for the asker to request. Records released to no one, or by name only to other
    agreements, never count; nor do onward releases and grants: discovery speaks for owners.
    `via` is the path to the record from the rows filtered (`record__` for mentions)."""
    providers = [
        party.agency_id
        for party in agreement.parties.all()
        if party.provides and party.agency_id != agency_id
    ]
    named = RecordRelease.objects.filter(
        record_id=OuterRef(f"{via}pk"), agreement=agreement, released_by_id=OuterRef(f"{via}owner_id")
    )
    return Q(**{f"{via}owner_id__in": providers}) & (
        Q(**{f"{via}releasability": Releasability.COVERING})
        | Q(Exists(named), **{f"{via}releasability": Releasability.NAMED})
    )


def hidden_mentions(user: User, entity_ids: Iterable[int], purpose: str | None = None) -> QuerySet[Mention]:
    """Mentions of the entities in records that the user may not see and that discovery may
    count: made releasable by their owner under a discovery agreement in which the owner
    provides to the user's agency, and which does not redact the entity's type (a hit would
    tell that the owner's record names, say, a phone that even full sharing under it would
    hide). With a `purpose`, only agreements that permit it count (a disclosure asked for that
    purpose is asked under them). The agreements are read once, whatever the number of entities."""
    countable = Q(pk__in=[])
    for agreement in discovery_agreements(user.agency_id).prefetch_related("parties"):
        if purpose is not None and purpose not in agreement.purposes:
            continue
        terms = discoverable(agreement, user.agency_id, via="record__")
        if agreement.redacted_fields:
            terms &= Q(entity_type__in=sorted(set(EntityType.values) - set(agreement.redacted_fields)))
        countable |= terms
    visible = Record.objects.visible_to(user).filter(pk=OuterRef("record_id"))
    return Mention.objects.filter(countable, ~Exists(visible), entity_id__in=list(entity_ids))


def hidden_matches(
    user: User, entity_id: int, owner_id: int | None = None, purpose: str | None = None
) -> QuerySet[Record]:
    """The records behind the entity's hidden mentions (`hidden_mentions`): what a hit
    counts and a disclosure request (for `purpose`) asks for."""
    records = Record.objects.filter(pk__in=hidden_mentions(user, [entity_id], purpose).values("record_id"))
    if owner_id is not None:
        records = records.filter(owner_id=owner_id)
    return records


def hidden_counts(user: User, entity_ids: Iterable[int]) -> dict[int, list[dict]]:
    """For each entity that has hits, its partners (by agency code) with how many of their
    records discovery counts, in one query for all the entities, and the purposes a
    disclosure of them may be asked for."""
    rows = (
        hidden_mentions(user, entity_ids)
        .order_by()
        .values("entity_id", "record__owner_id")
        .annotate(count=Count("record_id", distinct=True))
    )
    counts = [(row["entity_id"], row["record__owner_id"], row["count"]) for row in rows]
    agencies = Agency.objects.in_bulk({owner for _, owner, _ in counts})
    # What a disclosure of each partner's records may be asked for: the request's form offers
    # these alone (one that is not permitted was refused only once sent).
    purposes = requestable_purposes(user.agency_id, agencies)
    hits: dict[int, list[dict]] = {}
    for entity_id, owner, count in sorted(counts, key=lambda row: (row[0], agencies[row[1]].code)):
        agency = agencies[owner]
        hits.setdefault(entity_id, []).append(
            {"agency": agency.code, "agency_name": agency.name, "count": count, "purposes": purposes[owner]}
        )
    return hits


def discover(user: User, entity_id: int) -> list[dict]:
    """Hit/no-hit: for each partner that provides to the user's agency under a discovery
    agreement in force, how many of its records mentioning the entity, made releasable under
    such an agreement, the user cannot see. Agency and count only; nothing else about those
    records. The caller has checked that the user may see the entity."""
    hits = hidden_counts(user, [entity_id]).get(entity_id, [])
    record_event("discovery.query", actor=user, details={"entity": entity_id, "hits": hits})
    return hits


def holdings(user: User, *, entities: list[UUID], disclosed_since: datetime | None = None) -> dict:
    """Hit/no-hit for a link chart: for each of the entities the user may see, the partners
    holding records on it that the user cannot see (as `discover`: agency, count, purposes),
    and the disclosures granted to the user's agency on them (`granted_disclosures`). An
    entity the user may not see, or that does not exist, is left out, either way alike.
    At most DISCOVERY_HOLDINGS_MAX_ENTITIES entities; the queries do not grow with them."""
    if user.agency_id is None:
        raise PermissionDenied("discovery is for members of an agency")
    limit = settings.DISCOVERY_HOLDINGS_MAX_ENTITIES
    if len(entities) > limit:
        raise ValidationError({"entities": f"at most {limit} entities at a time"})
    # Taken before the reads: a grant decided meanwhile is listed again by the next question
    # (since this time), rather than by neither.
    checked_at = timezone.now()
    asked = list(dict.fromkeys(entities))
    visible = dict(Entity.objects.visible_to(user).filter(public_id__in=asked).values_list("public_id", "pk"))
    shown = [public_id for public_id in asked if public_id in visible]
    hits = hidden_counts(user, visible.values()) if visible else {}
    disclosures = granted_disclosures(user, entity_ids=list(visible.values()), since=disclosed_since)
    # Which entities a granted record names is its content: each one listed is a read.
    audit_reads(
        Reader(user),
        {record.pk: record.owner_id for disclosure in disclosures for record in disclosure.records},
        via="discovery.holdings",
    )
    record_event(
        "discovery.holdings",
        actor=user,
        details={
            "entities": [visible[public_id] for public_id in shown],
            "hits": [
                {"entity": entity_id, "agency": hit["agency"], "count": hit["count"]}
                for entity_id, entity_hits in sorted(hits.items())
                for hit in entity_hits
            ],
            "disclosures": [disclosure.request.pk for disclosure in disclosures],
        },
    )
    return {
        "checked_at": checked_at,
        "holdings": [
            {"entity": public_id, "partners": hits.get(visible[public_id], [])} for public_id in shown
        ],
        "disclosures": [
            {
                "request": disclosure.request.public_id,
                "reference": disclosure.request.reference,
                "entity": disclosure.request.entity.public_id,
                "owner": disclosure.request.owner.code,
                "owner_name": disclosure.request.owner.name,
                "decided_at": disclosure.request.decided_at,
                "grant_expires_at": disclosure.request.grant_expires_at,
                "records": [record.public_id for record in disclosure.records],
                "entities": disclosure.entities,
            }
            for disclosure in disclosures
        ],
    }
