"""One agency's graph for the analytics, read from PostgreSQL through the choke point
(`visible_to_agency` of mentions and links), never from Neo4j: the entities the agency may
see through a mention (with whether a visible seizure record mentions them and the date of
the earliest visible record that does), and the links it may see. `visible_graph` builds
all of it, for the patterns and targeting; `visible_network` only the undirected network
with the seizures, for communities, betweenness and network risk."""

from __future__ import annotations

import networkx as nx
from django.db.models import Case, IntegerField, Max, Min, QuerySet, Value, When

from graph.algorithms import EntityRow, LinkRow, build_graph, build_network
from intel.access import PurposeAsked, access_policy
from intel.models import Category, Link, Mention

CHUNK = 5_000

SEIZED = Max(
    Case(
        When(record__category=Category.SEIZURE, then=Value(1)), default=Value(0), output_field=IntegerField()
    )
)


def _visible(agency_id: int, purpose: PurposeAsked) -> tuple[QuerySet[Mention], QuerySet[Link]]:
    """The mentions and the links `agency_id` may see now for `purpose`, unordered."""
    access = access_policy().access(agency_id=agency_id, purpose=purpose)
    mentions = Mention.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)
    links = Link.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)
    return mentions.order_by(), links.order_by()


def visible_graph(*, agency_id: int, purpose: PurposeAsked) -> nx.MultiDiGraph:
    """What `agency_id` may see now for `purpose`, as `graph.algorithms.build_graph` takes it.
    The entity rows are grouped in the database, one per entity; the links are streamed."""
    mentions, links = _visible(agency_id, purpose)
    entities = mentions.values("entity_id", "entity_type").annotate(
        seized=SEIZED, first_seen=Min("record__occurred_on")
    )
    return build_graph(
        (
            EntityRow(row["entity_id"], row["entity_type"], bool(row["seized"]), row["first_seen"])
            for row in entities.iterator(chunk_size=CHUNK)
        ),
        (
            LinkRow(*row)
            for row in links.values_list("source_id", "target_id", "type", "record_id").iterator(
                chunk_size=CHUNK
            )
        ),
    )


def visible_network(*, agency_id: int, purpose: PurposeAsked) -> nx.Graph:
    """The network of what `agency_id` may see now for `purpose`, as
    `graph.algorithms.build_network` takes it: one row per entity, the links' ends streamed."""
    mentions, links = _visible(agency_id, purpose)
    entities = mentions.values_list("entity_id").annotate(seized=SEIZED)
    return build_network(
        ((entity, bool(seized)) for entity, seized in entities.iterator(chunk_size=CHUNK)),
        links.values_list("source_id", "target_id").iterator(chunk_size=CHUNK),
    )
