"""Record projections: what each record asserts (its entities and links) and which agencies
may see each of them there, read now from the records or as stored at the last sync
(`graph.RecordProjection`). The difference between the two is what a sync applies."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils import timezone

from graph.bulk_sql import bulk_cursor
from graph.element_states import Triple
from graph.models import RecordProjection
from intel.access import access_policy
from intel.models import Link, Mention, Record
from intel.querysets import among


@dataclass
class Projection:
    """What one record asserts, each element with the agencies that may see it there (a
    record's phone may be hidden from a partner whose agreement redacts phones): as
    stored at the last sync, or as read now."""

    entities: dict[int, set[int]]
    links: dict[Triple, set[int]]

    @property
    def agencies(self) -> set[int]:
        return set().union(*self.entities.values(), *self.links.values())


def current_projections(record_ids: list[int]) -> dict[int, Projection]:
    """What each existing record asserts now, each mention and link with who may see it
    now (`viewer_agencies()` of the mentions and links: the visibility rule, redaction
    included). An entity is seen only through the mentions that name it, as the choke point
    sees it (`Entity.objects.visible_to`): the two ends of a link are among the record's
    entities (their nodes must exist for the relationship) without the link's agencies.
    Deleted records are absent."""
    existing = Record.objects.filter(pk__in=among(record_ids)).values_list("pk", flat=True)
    projections = {pk: Projection({}, {}) for pk in existing}
    # One moment's access of every agency, and the answers mentions and links share.
    context = access_policy().viewers_context()
    mentions = Mention.objects.filter(record_id__in=among(projections))
    viewers = mentions.viewer_agencies(context)
    for pk, record_id, entity_id in mentions.values_list("pk", "record_id", "entity_id"):
        projections[record_id].entities.setdefault(entity_id, set()).update(viewers[pk])
    links = Link.objects.filter(record_id__in=among(projections))
    viewers = links.viewer_agencies(context)
    for pk, record_id, source, target, type_ in links.values_list(
        "pk", "record_id", "source_id", "target_id", "type"
    ):
        projection = projections[record_id]
        projection.links.setdefault((source, target, type_), set()).update(viewers[pk])
        for end in (source, target):
            projection.entities.setdefault(end, set())
    return projections


def projection_of(entities: dict, links: list) -> Projection:
    """A projection as stored (`RecordProjection`'s JSON columns)."""
    return Projection(
        {int(entity): set(agencies) for entity, agencies in entities.items()},
        {(s, t, type_): set(agencies) for s, t, type_, agencies in links},
    )


def stored_projections(record_ids: list[int]) -> dict[int, Projection]:
    return {
        pk: projection_of(entities, links)
        for pk, entities, links in RecordProjection.objects.filter(record_id__in=record_ids).values_list(
            "record_id", "entities", "links"
        )
    }


def touched(*projection_maps: dict[int, Projection]) -> tuple[set[int], set[Triple]]:
    entities: set[int] = set()
    triples: set[Triple] = set()
    for projections in projection_maps:
        for projection in projections.values():
            entities.update(projection.entities)
            triples.update(projection.links)
    return entities, triples


def store_projections(current: dict[int, Projection], removed: Iterable[int]) -> None:
    ids = sorted(current)
    with bulk_cursor() as cursor:
        if ids:
            # One statement for the whole batch, the rows as parallel arrays.
            cursor.execute(
                """
                INSERT INTO graph_recordprojection (record_id, agencies, entities, links, synced_at)
                SELECT pk, agencies::jsonb, entities::jsonb, links::jsonb, %s
                FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[])
                    AS r(pk, agencies, entities, links)
                ON CONFLICT (record_id) DO UPDATE SET agencies = EXCLUDED.agencies,
                    entities = EXCLUDED.entities, links = EXCLUDED.links, synced_at = EXCLUDED.synced_at
                """,
                [
                    timezone.now(),
                    ids,
                    [json.dumps(sorted(current[pk].agencies)) for pk in ids],
                    [
                        json.dumps({str(e): sorted(a) for e, a in sorted(current[pk].entities.items())})
                        for pk in ids
                    ],
                    [
                        json.dumps([[*link, sorted(a)] for link, a in sorted(current[pk].links.items())])
                        for pk in ids
                    ],
                ],
            )
        removed = sorted(removed)
        if removed:
            cursor.execute("DELETE FROM graph_recordprojection WHERE record_id = ANY(%s)", [removed])
