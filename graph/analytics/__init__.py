"""Graph analytics: one interface (`GraphBackend`), two implementations.

A backend answers a traversal over what the viewer's agency may see: `cypher.CypherBackend`
on Neo4j (when NEO4J_URI is set), filtering every node and relationship on `visible_to`;
`reference.ReferenceBackend` on networkx built from the links the viewer may see through the
choke point (the embedded default, and the reference the Cypher side is tested against).
A backend returns only internal ids: relationships as (source, target, type) triples, paths
as entity id sequences. What it returns is never shown as it is: `graph.selectors` confirms
every relationship and entity against PostgreSQL's choke point, drops what fails, computes
the answer over what is left (`algorithms`) and names it from the records the viewer may see.

Adding an operation: a method here (returning triples or ids), one in each backend, a
selector in `graph.selectors` that confirms and presents it, a view in `graph.views`.
"""

from __future__ import annotations

from collections.abc import Collection
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Protocol

from graph.element_states import Triple
from intel.access import sees_everything
from intel.models import EntityType, LinkType
from intel.selectors import Reader

# Companies and persons are the parties; the rest identify them when two share one.
PARTY_TYPES: tuple[str, ...] = (EntityType.COMPANY, EntityType.PERSON)
IDENTIFIER_TYPES: tuple[str, ...] = (EntityType.ADDRESS, EntityType.PHONE, EntityType.EMAIL)
# A registration is part of a company's key (two records stating one registration name one
# entity); a director is a person who OWNS a company.
IDENTIFIER_LINKS: tuple[str, ...] = (LinkType.REGISTERED_AT, LinkType.CONTACT, LinkType.OWNS)

MAX_HOPS = 3
MAX_PATH_LENGTH = 6
# Past this many relationships a walk is refused (narrow it): a backend raises TooLarge as soon
# as it knows, without reading the rest.
EXPAND_LIMIT = 20_000


class TooLarge(Exception):
    """A walk crossing more than EXPAND_LIMIT relationships."""


@dataclass(frozen=True)
class RecordFilter:
    """Which of the visible records a relationship may rest on: by date, by owning agency."""

    date_from: date | None = None
    date_to: date | None = None
    owner_id: int | None = None

    def lookups(self, prefix: str = "record__") -> dict:
        wanted = {
            "occurred_on__gte": self.date_from,
            "occurred_on__lte": self.date_to,
            "owner_id": self.owner_id,
        }
        return {prefix + name: value for name, value in wanted.items() if value is not None}


@dataclass(frozen=True)
class Scope:
    """Whose graph: the reader (and so the agency and purpose) and the records' filter.
    `link_types` and `entity_types`, when given, narrow the relationships and nodes (the
    seeds of an expansion are never narrowed away)."""

    reader: Reader
    records: RecordFilter = RecordFilter()
    link_types: tuple[str, ...] | None = None
    entity_types: tuple[str, ...] | None = None

    @cached_property
    def everything(self) -> bool:
        return sees_everything(self.reader.user)

    @property
    def agency_id(self) -> int | None:
        return self.reader.agency_id


@dataclass(frozen=True)
class NeighboursPage:
    """A page of left-out neighbours asked of a backend (`GraphBackend.neighbours`)."""

    read: dict[int, set[Triple]]
    outside: Collection[int]
    seeds: Collection[int]
    limit: int


# Per node, (neighbour, relationship) pairs.
Neighbours = dict[int, list[tuple[int, Triple]]]


class GraphBackend(Protocol):
    def expand(
        self,
        scope: Scope,
        *,
        seeds: Collection[int],
        hops: int,
        limit: int | None = None,
        at_most: int = EXPAND_LIMIT,
    ) -> set[Triple]:
        """The relationships leaving the nodes within `hops - 1` of the seeds, reached
        through relationships and nodes of the scope: what a breadth-first walk of `hops`
        steps crosses. With a `limit`, the walk stops after the first step that reaches
        more than `limit` nodes (the nearest `limit` are then known, whatever lies further).
        Raises TooLarge past `at_most` relationships (at most EXPAND_LIMIT)."""

    def relationships(self, scope: Scope) -> set[Triple]:
        """Every relationship of the scope's link types between nodes of its entity types."""

    def neighbours(self, scope: Scope, page: NeighboursPage) -> Neighbours:
        """For each node of the page (a key of `read`), at most `limit` of its relationships
        of the scope not in `read[node]` (those of earlier pages), to neighbours of the scope
        (a seed is never narrowed away) not in `outside`: (neighbour, relationship) pairs,
        in no set order. Fewer than `limit` means the node has no more."""

    def ask_neighbours(self, scope: Scope, page: NeighboursPage) -> Future[Neighbours]:
        """`neighbours`, read while the caller does other work (`Future.result` waits for
        it): a backend that does not use this thread's database connection reads it on a
        thread of its own, one that does answers at once."""


def backend() -> GraphBackend:
    """Cypher when the platform has Neo4j, networkx otherwise (the embedded default)."""
    from graph.driver import graph_enabled

    if graph_enabled():
        from graph.analytics.cypher import CypherBackend

        return CypherBackend()
    from graph.analytics.reference import ReferenceBackend

    return ReferenceBackend()
