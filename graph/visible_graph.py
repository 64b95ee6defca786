"""One agency's graph for the analytics, read from PostgreSQL through the choke point
(`visible_to_agency` of mentions and links), never from Neo4j: the entities the agency may
see through a mention (with whether a visible seizure record mentions them and the date of
the earliest visible record that does), and the links it may see. `visible_graph` builds
all of it, for the patterns and targeting; `visible_network` only the undirected network
with the seizures, for communities, betweenness and network risk. `seen_digest` sums up
what those read, as the embedded default's basis of stored results. Every entity comes with
its public id, the order the algorithms break ties by (`graph.algorithms.ranked`), never its
age."""

from __future__ import annotations

import hashlib

import networkx as nx
from django.db.models import Case, IntegerField, Max, Min, QuerySet, Value, When

from graph.algorithms import EntityRow, LinkRow, build_graph, build_network
from intel.access import PurposeAsked, access_policy
from intel.models import Category, Link, Mention, Record

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
    entities = mentions.values("entity_id", "entity_type", "entity__public_id").annotate(
        seized=SEIZED, first_seen=Min("record__occurred_on")
    )
    return build_graph(
        (
            EntityRow(
                row["entity_id"],
                row["entity_type"],
                bool(row["seized"]),
                row["first_seen"],
                str(row["entity__public_id"]),
            )
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
    entities = mentions.values_list("entity_id", "entity__public_id").annotate(seized=SEIZED)
    return build_network(
        (
            (entity, bool(seized), str(public_id))
            for entity, public_id, seized in entities.iterator(chunk_size=CHUNK)
        ),
        links.values_list("source_id", "target_id").iterator(chunk_size=CHUNK),
    )


def seen_digest(*, agency_id: int, purpose: PurposeAsked) -> int:
    """A number that changes whenever anything changes of what `agency_id` may see now for
    `purpose` and the analytics and scores read: which records (their content, and what of
    another agency's is redacted for it, which targeting's partner statements leave out),
    which of their mentions (naming which entity: a merge moves them) and which links
    (between which entities). Asked of the choke point as the reads themselves ask it, so
    every part of the rule counts (an agreement ending or losing the purpose, a redaction,
    a grant expiring by the clock) without being spelt out again. A positive 63-bit number,
    kept where the sync keeps its versions; equal digests of different contents are as
    unlikely as a collision of SHA-256's first 63 bits."""
    policy = access_policy()
    access = policy.access(agency_id=agency_id, purpose=purpose)
    records = policy.annotate_holding(
        Record.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access),
        agency_id=agency_id,
        access=access,
    ).only("pk", "owner_id", "content_hash", "updated_at", "category", "occurred_on")
    digest = hashlib.sha256()
    for record in records.order_by("pk").iterator(chunk_size=CHUNK):
        held = (record.content_hash, record.updated_at, record.category, record.occurred_on)
        digest.update(repr((record.pk, *held, access.redacted_for(record))).encode())
    for rows in (
        Mention.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access).values_list(
            "pk", "record_id", "entity_id", "entity_type"
        ),
        Link.objects.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access).values_list(
            "pk", "record_id", "source_id", "target_id", "type"
        ),
    ):
        digest.update(b"|")
        for row in rows.order_by("pk").iterator(chunk_size=CHUNK):
            digest.update(repr(row).encode())
    return int.from_bytes(digest.digest()[:8], "big") >> 1
