"""Reads of records, entities, mentions and links, always through the visibility choke
point (`visible_to`), and the audit of reads of other agencies' records."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from intel.models import Entity, EntityMerge, Link, Mention, Record, ResolutionCandidate
from sharing.audit import Event, record_events


def visible_records(user) -> QuerySet[Record]:
    return Record.objects.visible_to(user).select_related("owner")


def visible_mentions(user) -> QuerySet[Mention]:
    return Mention.objects.visible_to(user)


def visible_links(user) -> QuerySet[Link]:
    return Link.objects.visible_to(user)


def visible_entities(user) -> QuerySet[Entity]:
    """Entities the user may see, each with its visible mentions (and their records) prefetched."""
    mentions = visible_mentions(user).select_related("record__owner").order_by("record_id", "role")
    return Entity.objects.visible_to(user).prefetch_related(
        Prefetch("mentions", queryset=mentions, to_attr="visible_mentions")
    )


def normalize_query(query: str) -> str:
    return " ".join(query.lower().split())


def search_entities(user, query: str) -> QuerySet[Entity]:
    """Entities whose names or identifiers, as stated by records the user may see, contain the query."""
    matching = visible_mentions(user).filter(
        entity=OuterRef("pk"), search_text__contains=normalize_query(query)
    )
    return visible_entities(user).filter(Exists(matching))


def entity_key_for(entity: Entity) -> str | None:
    """The canonical key, only when one of the viewer's mentions resolves to it by itself."""
    if any(mention.resolved_key == entity.key for mention in entity.visible_mentions):
        return entity.key
    return None


def audit_reads(user, record_ids: Iterable[int], owner_ids: dict[int, int], via: str) -> None:
    """Logs each read of a record that is not the reader's own agency's."""
    agency_id = getattr(user, "agency_id", None)
    events = [
        Event(
            action="record.read",
            actor=user,
            agency_id=agency_id,
            object_type="intel.record",
            object_id=str(record_id),
            details={"via": via, "owner": owner_ids[record_id]},
        )
        for record_id in dict.fromkeys(record_ids)
        if owner_ids[record_id] != agency_id
    ]
    record_events(events)


def visible_candidates(user) -> QuerySet[ResolutionCandidate]:
    """Candidates whose two entities the user may both see; names come from their visible mentions."""
    visible = Entity.objects.visible_to(user)
    return ResolutionCandidate.objects.filter(entity_a__in=visible, entity_b__in=visible).prefetch_related(
        Prefetch("entity_a", queryset=visible_entities(user)),
        Prefetch("entity_b", queryset=visible_entities(user)),
    )


def visible_merges(user) -> QuerySet[EntityMerge]:
    """Merges whose surviving entity the user may see (the merged one has no mentions left)."""
    return EntityMerge.objects.filter(survivor__in=Entity.objects.visible_to(user)).order_by("-merged_at")
