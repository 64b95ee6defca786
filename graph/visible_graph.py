"""One agency's graph for the analytics, read from PostgreSQL through the choke point
(`visible_to_agency` of mentions and links), never from Neo4j: the entities the agency may
see through a mention (with whether a visible seizure record mentions them and the date of
the earliest visible record that does), and the links it may see."""

from __future__ import annotations

import networkx as nx
from django.db.models import Case, IntegerField, Max, Min, Value, When

from graph.algorithms import EntityRow, LinkRow, build_graph
from intel.access import PurposeAsked, access_policy
from intel.models import Category, Link, Mention

CHUNK = 5_000


def visible_graph(*, agency_id: int, purpose: PurposeAsked) -> nx.MultiDiGraph:
    """What `agency_id` may see now for `purpose`, as `graph.algorithms.build_graph` takes it.
    The entity rows are grouped in the database, one per entity; the links are streamed."""
    access = access_policy().access(agency_id=agency_id, purpose=purpose)
    mentions = Mention.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)
    entities = (
        mentions.order_by()
        .values("entity_id", "entity_type")
        .annotate(
            seized=Max(
                Case(
                    When(record__category=Category.SEIZURE, then=Value(1)),
                    default=Value(0),
                    output_field=IntegerField(),
                )
            ),
            first_seen=Min("record__occurred_on"),
        )
    )
    links = (
        Link.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)
        .order_by()
        .values_list("source_id", "target_id", "type", "record_id")
    )
    return build_graph(
        (
            EntityRow(row["entity_id"], row["entity_type"], bool(row["seized"]), row["first_seen"])
            for row in entities.iterator(chunk_size=CHUNK)
        ),
        (LinkRow(*row) for row in links.iterator(chunk_size=CHUNK)),
    )
