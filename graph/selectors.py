"""The graph analytics as reads: each operation asks the backend (`graph.analytics.backend`)
for internal ids, confirms every relationship and entity against PostgreSQL's choke point
(`Link.objects.visible_to`, `selectors.visible_entities`), drops what fails, computes the
answer over what is left and names it from the records the viewer may see. The graph is
never the authority: a lagging sync can hide too much for a moment, never show too much.

Each answer carries the records it shows (`records_shown`, record id to owner), for the
view to audit as every read of another agency's records is."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import NamedTuple
from uuid import UUID

from django.db.models import Q, QuerySet

from audit.log import Event, record_events
from graph.analytics import (
    EXPAND_LIMIT,
    IDENTIFIER_LINKS,
    IDENTIFIER_TYPES,
    MAX_PATH_LENGTH,
    PARTY_TYPES,
    GraphBackend,
    NeighboursPage,
    Scope,
    TooLarge,
    Triple,
    algorithms,
    backend,
)
from intel import selectors
from intel.models import Category, Entity, Link, Mention, Record
from intel.presentation import entity_key, entity_label, entity_names
from intel.selectors import BadInput, Reader

# Records listed per relationship, the most recent first (a busy broker's relationship rests
# on thousands; `record_count` says how many).
RECORDS_PER_RELATIONSHIP = 20
MAX_PATHS = 100
# Shortest paths between two hubs can be many: the first this many by public id are
# confirmed at a time (an answer shows the first MAX_PATHS of those confirmed; when refused
# ones leave fewer, the next are taken without what was refused).
PATHS_LIMIT = 1_000
# Paths confirmation refused (a graph lagging PostgreSQL; a purpose narrower than the
# graph's "for some purpose", which may refuse much of it) give way to others: at most this
# many confirmations of up to PATHS_LIMIT paths in all, each after a search or after taking
# the refused out of the one before.
PATH_ROUNDS = 4
# Relationships looked up per statement: three parameters each, within SQLite's limit.
TRIPLES_PER_QUERY = 5_000
IDS_PER_QUERY = 10_000
# A node's left-out neighbours are counted up to this many; past it the answer says "more
# than LEFT_OUT_CAP" (the chart: "25+ more"). The chart needs to tell a few from many, and
# a hub has thousands, each to be confirmed against the rule: counting them all was most of
# a walk's time, and counting a hundred of each node of a walk still its largest part.
LEFT_OUT_CAP = 25
# A shortest-path search that finds nothing reads everything within reach of both ends (from
# a hub, most of the graph): it stops past this many relationships read, the bound a walk is
# refused past, and answers that no path was found within its budget (`search_complete`).
PATH_SEARCH_BUDGET = EXPAND_LIMIT
# A walk over a graph that lags PostgreSQL takes its nearest nodes again, without what the
# choke point refused, at most this many times before it confirms the whole walk instead.
LAG_RETRIES = 2


class EntityNotFound(Exception):
    """No entity by that public id that the reader may see: hidden and missing alike."""


@dataclass(frozen=True)
class LeftOut:
    """A node's neighbours not in an answer: `count` of them, at most LEFT_OUT_CAP, and
    whether there are more (`capped`)."""

    count: int
    capped: bool


@dataclass
class ShownEntity:
    entity: Entity
    distance: int | None = None
    left_out: LeftOut | None = None

    def data(self) -> dict:
        entity = self.entity
        shown = {"id": str(entity.public_id), "type": entity.type, "key": entity_key(entity)}
        shown["names"] = entity_names(entity)
        shown["label"] = entity_label(entity)
        if self.distance is not None:
            shown["distance"] = self.distance
        if self.left_out is not None:
            shown["left_out"] = self.left_out.count
            shown["left_out_capped"] = self.left_out.capped
        return shown


@dataclass
class Confirmed:
    """What the choke point confirmed of what a backend returned: each relationship with
    the visible records (ids, most recent first) behind it, and the entities visible. Only
    the entities an answer shows are named (`shown`): their names come from their visible
    mentions, which for a hub are thousands, and a walk confirms many more than it shows."""

    reader: Reader
    records: dict[Triple, list[int]]
    entities: dict[int, Entity]
    record_rows: dict[int, tuple[str, int]] = field(default_factory=dict)
    named: set[int] = field(default_factory=set)
    spans: dict[Triple, tuple[date, date]] = field(default_factory=dict)

    def name(self, pks: Iterable[int]) -> None:
        """Reads, in one go, the visible mentions of the entities about to be shown."""
        wanted = sorted(set(pks) - self.named)
        if wanted:
            selectors.label(self.reader, [self.entities[pk] for pk in wanted])
            self.named.update(wanted)

    def shown(self, pk: int, distance: int | None = None, left_out: LeftOut | None = None) -> dict:
        self.name([pk])
        return ShownEntity(self.entities[pk], distance, left_out).data()

    def relationship(self, triple: Triple) -> dict:
        s, t, type_ = triple
        behind = self.records[triple]
        first, last = self.spans.get(triple, (None, None))
        return {
            "source": str(self.entities[s].public_id),
            "target": str(self.entities[t].public_id),
            "type": type_,
            "records": [self.record_rows[pk][0] for pk in behind[:RECORDS_PER_RELATIONSHIP]],
            "record_count": len(behind),
            "first_date": first.isoformat() if first else None,
            "last_date": last.isoformat() if last else None,
        }

    def records_shown(self, triples: Iterable[Triple], entities: Iterable[int]) -> dict[int, int]:
        shown = {
            pk: self.record_rows[pk][1]
            for triple in triples
            for pk in self.records[triple][:RECORDS_PER_RELATIONSHIP]
        }
        entities = list(entities)
        self.name(entities)
        for pk in entities:
            shown.update((m.record_id, m.record.owner_id) for m in self.entities[pk].visible_mentions)
        return shown


@dataclass
class Answer:
    data: dict
    records_shown: dict[int, int]


def visible_entity(reader: Reader, public_id: UUID | str, *, named: bool = True) -> Entity:
    """The entity by its public id if the reader may see it (else EntityNotFound, hidden and
    missing alike); `named=False` when its answer names it (`Confirmed.name`)."""
    entity = selectors.visible_entities(reader, named=named).filter(public_id=public_id).first()
    if entity is None:
        raise EntityNotFound
    return entity


def visible_link_rows(scope: Scope, triples: Collection[Triple], *fields: str) -> Iterator[tuple]:
    """The `fields` of the links of these relationships that the reader may see in the
    scope, a chunk of relationships at a time: the links are found by their triples and the
    rule asked of each as it is read (`visible_in_scope`)."""
    wanted = sorted(set(triples))
    for start in range(0, len(wanted), TRIPLES_PER_QUERY):
        yield from visible_in_scope(
            scope, Link.objects.of_triples(wanted[start : start + TRIPLES_PER_QUERY]), fields
        )


def visible_in_scope(scope: Scope, links: QuerySet[Link], fields: tuple[str, ...]) -> list[tuple]:
    """The `fields` of these links whose records pass the scope's filter and which the
    reader may see, the rule asked of each link as it is read."""
    reader = scope.reader
    links = links.filter(**scope.records.lookups())
    return links.visible_values(reader.user, reader.purpose, reader.access, fields=fields)


# What a relationship's confirmation reads of each visible link behind it.
BEHIND_FIELDS = ("source_id", "target_id", "type", "record_id", "record__occurred_on")


def relationships_behind(
    rows: Iterable[tuple],
) -> tuple[dict[Triple, list[int]], dict[Triple, tuple[date, date]]]:
    """From visible links (their BEHIND_FIELDS), the records behind each relationship that
    has any, and the span of their dates (earliest, latest; none where no record has a
    date), which a chart's timeline needs of every record behind a relationship, not only
    of those listed."""
    behind: dict[Triple, set[int]] = defaultdict(set)
    spans: dict[Triple, tuple[date, date]] = {}
    for s, t, type_, record, occurred_on in rows:
        triple = (s, t, type_)
        behind[triple].add(record)
        if occurred_on is not None:
            first, last = spans.get(triple, (occurred_on, occurred_on))
            spans[triple] = (min(first, occurred_on), max(last, occurred_on))
    return {triple: sorted(records, reverse=True) for triple, records in behind.items()}, spans


def confirm(scope: Scope, triples: Collection[Triple], seeds: Collection[int] = ()) -> Confirmed:
    """Keeps the relationships the choke point confirms whose two ends the reader may see."""
    return confirmed_from(scope, visible_link_rows(scope, triples, *BEHIND_FIELDS), seeds)


def confirmed_from(scope: Scope, rows: Iterable[tuple], seeds: Collection[int] = ()) -> Confirmed:
    """The relationships of these visible links (their BEHIND_FIELDS) whose two ends the
    reader may see."""
    records, spans = relationships_behind(rows)
    ends = {end for s, t, _ in records for end in (s, t)} | set(seeds)
    entities = {
        entity.pk: entity
        for entity in selectors.visible_entities(scope.reader, named=False).filter(pk__any_of=sorted(ends))
    }
    records = {
        triple: ids for triple, ids in records.items() if triple[0] in entities and triple[1] in entities
    }
    listed = {pk for ids in records.values() for pk in ids[:RECORDS_PER_RELATIONSHIP]}
    rows = Record.objects.filter(pk__any_of=sorted(listed)).values_list("pk", "public_id", "owner_id")
    record_rows = {pk: (str(public_id), owner) for pk, public_id, owner in rows}
    return Confirmed(scope.reader, records, entities, record_rows, spans=spans)


def left_out(
    scope: Scope,
    kept: Collection[int],
    seeds: Collection[int],
    graph: GraphBackend,
    *,
    meanwhile: Callable[[], None],
) -> dict[int, LeftOut]:
    """For each kept node, its neighbours outside `kept` a wider walk would show: through a
    relationship the reader may see (in the scope) to an entity the reader may see, counted
    up to LEFT_OUT_CAP. The backend offers each node's relationships a page at a time, as a
    walk would find them (LEFT_OUT_CAP + 1, then pages twice as wide), and each page is
    confirmed, until more than the cap are confirmed or the backend has no more: a hub
    costs about the cap, not its degree, and a page the graph offers is seldom refused.
    `meanwhile` runs while the backend reads the first page (Neo4j reads it on a thread of
    its own: a walk names its nodes from PostgreSQL in that time); the pages after it, few
    and with nothing to do meanwhile, are read on this thread."""
    kept = set(kept)
    found: dict[int, set[int]] = {node: set() for node in kept}
    read: dict[int, set[Triple]] = {node: set() for node in kept}
    size = LEFT_OUT_CAP + 1
    first = graph.ask_neighbours(scope, NeighboursPage(read, kept, seeds, size))
    try:
        meanwhile()
    except BaseException:
        first.cancel()  # if not yet begun; once begun, its answer is dropped
        raise
    page = first.result()
    while True:
        for node, other in confirmed_neighbours(scope, page, seeds):
            found[node].add(other)
        for node, rows in page.items():
            read[node].update(triple for _, triple in rows)
        read = {
            node: triples
            for node, triples in read.items()
            if len(page.get(node, ())) == size and len(found[node]) <= LEFT_OUT_CAP
        }
        if not read:
            break
        size *= 2
        page = graph.neighbours(scope, NeighboursPage(read, kept, seeds, size))
    return {
        node: LeftOut(min(len(others), LEFT_OUT_CAP), len(others) > LEFT_OUT_CAP)
        for node, others in found.items()
    }


def confirmed_neighbours(
    scope: Scope, page: dict[int, list[tuple[int, Triple]]], seeds: Collection[int]
) -> set[tuple[int, int]]:
    """The (node, other) pairs of the page joined by a link of its relationships that the
    reader may see (in the scope) whose other end the reader may see too. The rule is asked
    of the links, as `confirm` asks it. A far end that a visible link's record
    names is visible by that mention (the same record, and the type the link's visibility
    was judged by), found by key (`Mention.objects.naming`); only the far ends no visible
    link's record names, which no write path makes, are asked the rule: asking it of every
    mention of each far end was most of a walk's time. A row linking an entity its record
    does not name must not make a visible link of a hidden entity."""
    triples = {triple for rows in page.values() for _, triple in rows}
    window = {node: {other for other, _ in rows} for node, rows in page.items()}
    fields = ("record_id", "source_id", "target_id", "source_type", "target_type")
    ends: dict[tuple[int, int, str], set[tuple[int, int]]] = defaultdict(set)
    for record, s, t, s_type, t_type in visible_link_rows(scope, triples, *fields):
        if scope.entity_types is not None and not (
            (s_type in scope.entity_types or s in seeds) and (t_type in scope.entity_types or t in seeds)
        ):
            continue
        node, other, other_type = (s, t, t_type) if t in window.get(s, ()) else (t, s, s_type)
        ends[(record, other, other_type)].add((node, other))
    wanted = sorted(ends)
    joined: set[tuple[int, int]] = set()
    for start in range(0, len(wanted), TRIPLES_PER_QUERY):
        named = Mention.objects.naming(wanted[start : start + TRIPLES_PER_QUERY])
        for row in named.values_list("record_id", "entity_id", "entity_type"):
            joined |= ends[row]
    unnamed = {pair for pairs in ends.values() for pair in pairs} - joined
    others = sorted({other for _, other in unnamed})
    shown: set[int] = set()
    for start in range(0, len(others), IDS_PER_QUERY):
        shown |= set(
            selectors.visible_entities(scope.reader, named=False)
            .filter(pk__any_of=others[start : start + IDS_PER_QUERY])
            .values_list("pk", flat=True)
        )
    return joined | {(node, other) for node, other in unnamed if other in shown}


def public_ids(pks: Collection[int]) -> dict[int, str]:
    """The public ids of entities, whether or not the reader may see them: only to order
    candidates, never shown (a node is shown only once confirmed)."""
    wanted = sorted(set(pks))
    found = {}
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        rows = Entity.objects.filter(pk__any_of=chunk).values_list("pk", "public_id")
        found.update((pk, str(public_id)) for pk, public_id in rows)
    return found


def links_walked(scope: Scope, nodes: Collection[int], inner: Collection[int]) -> list[tuple]:
    """The BEHIND_FIELDS of the links the reader may see (in the scope, of its link types)
    between two of `nodes`, one of them in `inner` (the nodes a walk steps on from: between
    two nodes at its edge, none is walked). One statement, the rule asked of each link it
    finds: the relationships found first, whoever may see them, were then looked up again
    by their triples to ask it."""
    nodes, inner = sorted(set(nodes)), sorted(set(inner))
    from_inner = Q(source_id__any_of=inner, target_id__any_of=nodes)
    links = Link.objects.filter(from_inner | Q(source_id__any_of=nodes, target_id__any_of=inner))
    if scope.link_types is not None:
        links = links.filter(type__in=scope.link_types)
    return visible_in_scope(scope, links, BEHIND_FIELDS)


def relationships_between(scope: Scope, pairs: Collection[tuple[int, int]]) -> set[Triple]:
    """The relationships of the scope's link types joining these pairs of entities, either
    way, whoever may see them (`confirm` keeps those with records the reader may see): by
    the pairs, where the relationships among their entities read every link of a hub."""
    either_way = sorted({pair for a, b in pairs for pair in ((a, b), (b, a))})
    found: set[Triple] = set()
    for start in range(0, len(either_way), TRIPLES_PER_QUERY):
        links = Link.objects.between(either_way[start : start + TRIPLES_PER_QUERY])
        if scope.link_types is not None:
            links = links.filter(type__in=scope.link_types)
        found.update(links.values_list("source_id", "target_id", "type").distinct())
    return found


def nearest_confirmed(
    scope: Scope, seeds: Collection[int], hops: int, limit: int, graph: GraphBackend
) -> tuple[Confirmed, dict[int, int]] | None:
    """The walk as far as its node limit needs (`GraphBackend.expand` with a limit): the
    nearest `limit` + 1 nodes found (by distance, then public id) and the relationships
    between them, confirmed. When their confirmed distances are the graph's, no node beyond
    can come before them. When the graph lags PostgreSQL and offers what the reader may no
    longer see (a confirmed distance is longer, or none), what the choke point refused is
    taken out of what the walk found and the nearest are taken again, up to LAG_RETRIES
    times (`without_refused`). None when that does not settle it, when what is left of the
    walk may be too short to tell, or when the graph lacks what the reader may now see (a
    confirmed distance is shorter), which taking elements out cannot mend."""
    found = graph.expand(scope, seeds=seeds, hops=hops, limit=limit)
    reached = algorithms.distances(found, seeds, hops)
    order = public_ids(reached)
    if set(order) != set(reached):
        return None
    # The expansion stopped at a depth past `limit` nodes (all of it within `hops` when it
    # reached no more than `limit`): whatever is left of it is complete to that depth.
    whole = len(reached) <= limit
    depth = max(reached.values())
    for _ in range(LAG_RETRIES + 1):
        candidates = algorithms.nearest_first(reached, order.__getitem__, limit + 1)
        if not whole and (len(candidates) <= limit or reached[candidates[-1]] > depth):
            return None
        inner = [node for node in candidates if reached[node] < hops]
        confirmed = confirmed_from(scope, links_walked(scope, candidates, inner), seeds)
        distance = algorithms.distances(confirmed.records, seeds, hops)
        if all(distance.get(node) == reached[node] for node in candidates):
            return confirmed, distance
        if any(distance.get(node, reached[node]) < reached[node] for node in candidates):
            return None
        found = without_refused(found, candidates, confirmed)
        reached = algorithms.distances(found, seeds, hops)
    return None


def without_refused(found: set[Triple], candidates: Collection[int], confirmed: Confirmed) -> set[Triple]:
    """What a walk found less what confirming its candidates refused: the candidates not
    confirmed, with their relationships, and the relationships between candidates not
    confirmed. Taking elements out leaves the distances within the walk's depth exact."""
    asked = set(candidates)
    refused = asked - confirmed.entities.keys()
    return {
        (s, t, type_)
        for s, t, type_ in found
        if s not in refused
        and t not in refused
        and not (s in asked and t in asked and (s, t, type_) not in confirmed.records)
    }


def walk(scope: Scope, *, seeds: Collection[int], hops: int, limit: int) -> Answer:
    """The nodes within `hops` of the seeds (at most `limit`, nearest first), the
    relationships walked between them, and for each node how many neighbours were left out."""
    seeds = set(seeds)
    graph = backend()
    try:
        # The graph holds no record dates: under a record filter its nearest nodes are seldom
        # the nearest confirmed, and the whole walk is confirmed at once.
        nearest = None if scope.records.lookups() else nearest_confirmed(scope, seeds, hops, limit, graph)
        if nearest is None:
            confirmed = confirm(scope, graph.expand(scope, seeds=seeds, hops=hops), seeds)
            nearest = confirmed, algorithms.distances(confirmed.records, seeds, hops)
    except TooLarge as too_large:
        raise BadInput(
            "hops", f"more than {EXPAND_LIMIT} relationships: narrow the walk with filters or fewer hops"
        ) from too_large
    confirmed, distance = nearest
    kept = algorithms.nearest_first(distance, lambda pk: str(confirmed.entities[pk].public_id), limit)
    kept_set = set(kept)
    walked = sorted(
        (s, t, type_)
        for s, t, type_ in algorithms.crossed_relationships(confirmed.records, distance, hops)
        if s in kept_set and t in kept_set
    )
    outside = left_out(scope, kept, seeds, graph, meanwhile=lambda: confirmed.name(kept))
    nodes = [confirmed.shown(pk, distance[pk], outside[pk]) for pk in kept]
    relationships = sorted(
        (confirmed.relationship(triple) for triple in walked),
        key=lambda r: (r["source"], r["target"], r["type"]),
    )
    return Answer(
        {"nodes": nodes, "relationships": relationships, "truncated": len(distance) > len(kept)},
        confirmed.records_shown(walked, kept),
    )


def neighbourhood(*, scope: Scope, entity: UUID | str, hops: int, limit: int) -> Answer:
    centre = visible_entity(scope.reader, entity, named=False)
    return walk(scope, seeds=[centre.pk], hops=hops, limit=limit)


def seized_entities(scope: Scope, among: Collection[int] | None = None) -> set[int]:
    """Entities the reader's visible seizure records (of the scope's filter) mention."""
    mentions = selectors.visible_mentions(scope.reader).filter(
        record__category=Category.SEIZURE, **scope.records.lookups()
    )
    if among is not None:
        mentions = mentions.filter(entity_id__any_of=sorted(among))
    return set(mentions.values_list("entity_id", flat=True).distinct())


def seizure_network(*, scope: Scope, hops: int, limit: int) -> Answer:
    seeds = seized_entities(scope)
    if not seeds:
        return Answer({"nodes": [], "relationships": [], "truncated": False}, {})
    return walk(scope, seeds=seeds, hops=hops, limit=limit)


class SearchBudgetSpent(Exception):
    """A search for a path read more than PATH_SEARCH_BUDGET relationships without an answer."""


def explored_between(
    scope: Scope,
    *,
    source: int,
    target: int,
    max_length: int,
    avoiding: Collection[int],
    avoiding_relationships: Collection[Triple],
) -> set[Triple] | None:
    """Whether the backend's graph joins the two entities within `max_length` steps, avoiding
    those given: a breadth-first search from both ends, a whole layer of the side with the
    smaller frontier at a time. Once the two searches meet, the relationships they read (less
    those avoided), else None. What they read holds every shortest path: each step of one
    leaves a node that one side or the other expanded, and an expanded node's relationships
    were all read. The scope's entity types are set aside (they would keep an end of another
    type from being reached: a path is never narrowed by them). Raises SearchBudgetSpent
    past PATH_SEARCH_BUDGET relationships read."""
    unfiltered = Scope(reader=scope.reader, records=scope.records, link_types=scope.link_types)
    graph = backend()
    seen, frontiers, depth = [{source}, {target}], [{source}, {target}], [0, 0]
    read = 0
    explored: set[Triple] = set()
    while depth[0] + depth[1] < max_length:
        side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
        try:
            # Read no further than the budget left: the layer that spends it is often the
            # largest by far, and the search ends there whatever that layer holds.
            triples = graph.expand(
                unfiltered, seeds=frontiers[side], hops=1, at_most=PATH_SEARCH_BUDGET - read
            )
        except TooLarge as too_large:
            raise SearchBudgetSpent from too_large
        read += len(triples)
        crossed = {
            (s, t, type_)
            for s, t, type_ in triples
            if (s, t, type_) not in avoiding_relationships and s not in avoiding and t not in avoiding
        }
        explored |= crossed
        reached = {end for s, t, _ in crossed for end in (s, t)} - seen[side]
        if reached & seen[1 - side]:
            return explored
        if not reached:
            return None
        seen[side] |= reached
        frontiers[side] = reached
        depth[side] += 1
    return None


class ConfirmedPaths(NamedTuple):
    confirmed: Confirmed
    kept: list[tuple[tuple[int, ...], list]]
    refused: set[int]
    refused_relationships: set[Triple]
    # Whether PATHS_LIMIT cut the paths taken: there may be more of the same length.
    cut: bool


def confirmed_paths(scope: Scope, explored: set[Triple] | None, source: int, target: int) -> ConfirmedPaths:
    """The first PATHS_LIMIT shortest paths of what a search explored, confirmed: the
    confirmation, the paths it confirms whole (each with its steps' confirmed
    relationships), and what it refused on them: the entities the reader may not see, and
    the relationships the search crossed between a path's two nodes that it does not confirm
    (a graph lagging PostgreSQL may hold one PostgreSQL has no longer)."""
    # One more than the limit: whether the limit cut them.
    paths = (
        []
        if explored is None
        else algorithms.all_shortest_paths(explored, source, target, PATHS_LIMIT + 1, public_ids)
    )
    cut = len(paths) > PATHS_LIMIT
    paths = paths[:PATHS_LIMIT]
    steps = {(a, b) for path in paths for a, b in itertools.pairwise(path)}
    candidates = relationships_between(scope, steps) if steps else set()
    confirmed = confirm(scope, candidates, seeds=[source, target])
    kept = []
    between = algorithms.relationships_by_pair(confirmed.records)
    for path in paths:
        path_steps = algorithms.steps_of(path, between)
        if path_steps is not None and all(node in confirmed.entities for node in path):
            kept.append((path, path_steps))
    if len(kept) == len(paths):
        return ConfirmedPaths(confirmed, kept, set(), set(), cut)
    # An entity the reader may see is left out of the confirmation when every relationship
    # of its on these paths was refused; it may still be on a path past the limit.
    unconfirmed = sorted({node for path in paths for node in path} - set(confirmed.entities))
    visible = selectors.visible_entities(scope.reader, named=False).filter(pk__any_of=unconfirmed)
    refused = set(unconfirmed) - set(visible.values_list("pk", flat=True))
    either_way = steps | {(b, a) for a, b in steps}
    refused_relationships = {
        triple for triple in explored or () if triple[:2] in either_way and triple not in confirmed.records
    }
    return ConfirmedPaths(confirmed, kept, refused, refused_relationships, cut)


def shortest_paths(*, scope: Scope, source: UUID | str, target: UUID | str) -> Answer:
    """Every shortest path (at most MAX_PATH_LENGTH steps) between two entities, each step
    with the relationships and visible records behind it, the first MAX_PATHS in order of
    their nodes' public ids; a path any element of which the choke point does not confirm
    is dropped whole. `search_complete` is false when the search stopped at its budget
    (PATH_SEARCH_BUDGET) or after PATH_ROUNDS rounds without finding a path: then there may
    be one, where an empty answer with a complete search means there is none."""
    start = visible_entity(scope.reader, source, named=False)
    end = visible_entity(scope.reader, target, named=False)
    if start.pk == end.pk:
        raise BadInput("target", "the target is the source; give two different entities")
    avoiding: set[int] = set()
    avoiding_relationships: set[Triple] = set()
    complete = True
    rounds = 0
    while True:
        asked = {
            "source": start.pk,
            "target": end.pk,
            "max_length": MAX_PATH_LENGTH,
            "avoiding": avoiding,
            "avoiding_relationships": avoiding_relationships,
        }
        try:
            explored = explored_between(scope, **asked)
        except SearchBudgetSpent:
            explored, complete = None, False
        while True:
            rounds += 1
            confirmed, kept, refused, refused_relationships, cut = confirmed_paths(
                scope, explored, start.pk, end.pk
            )
            refused -= avoiding
            refused_relationships -= avoiding_relationships
            avoiding |= refused
            avoiding_relationships |= refused_relationships
            # Paths cut at PATHS_LIMIT before confirmation, some of them refused, leave room
            # for more: what was searched, less what was refused, holds every shortest path of
            # the same length without it (the kept ones are such paths).
            if (
                rounds == PATH_ROUNDS
                or not kept
                or not cut
                or len(kept) > MAX_PATHS
                or not (refused or refused_relationships)
            ):
                break
            explored = {
                (s, t, type_)
                for s, t, type_ in explored
                if s not in avoiding and t not in avoiding and (s, t, type_) not in avoiding_relationships
            }
        # The graph may hold more than the choke point confirms (a lagging sync; a purpose
        # that admits fewer records than `visible_to`'s "some purpose"). When every shortest path
        # it found went through such an element, a longer one may be the reader's shortest:
        # asked again without them. Each round avoids more, so the rounds end.
        if kept or not (refused or refused_relationships):
            break
        if rounds == PATH_ROUNDS:
            # There may be a path the reader has, longer than those refused.
            complete = False
            break
    # Only from paths confirmed: one the graph offers may be one the reader may not see.
    more = len(kept) > MAX_PATHS
    kept = kept[:MAX_PATHS]
    confirmed.name(pk for path, _ in kept for pk in path)
    shown = [
        {
            "nodes": [confirmed.shown(pk) for pk in path],
            "steps": [[confirmed.relationship(triple) for triple in step] for step in path_steps],
        }
        for path, path_steps in kept
    ]
    used = [triple for _, path_steps in kept for step in path_steps for triple in step]
    return Answer(
        {
            "paths": shown,
            "length": len(kept[0][0]) - 1 if kept else None,
            "more_paths": more,
            "search_complete": complete,
        },
        confirmed.records_shown(used, {pk for path, _ in kept for pk in path} | {start.pk, end.pk}),
    )


def shared_identifier_clusters(*, scope: Scope, limit: int) -> Answer:
    """Companies and persons joined through a shared address, phone, e-mail or owner, as
    connected components: largest first, then by how many members seizures name."""
    scope = Scope(
        reader=scope.reader,
        records=scope.records,
        link_types=IDENTIFIER_LINKS,
        entity_types=PARTY_TYPES + IDENTIFIER_TYPES,
    )
    confirmed = confirm(scope, backend().relationships(scope))
    types = {pk: entity.type for pk, entity in confirmed.entities.items()}
    clusters = algorithms.shared_identifier_clusters(confirmed.records, types, PARTY_TYPES)
    seized = seized_entities(scope, among={pk for members, _ in clusters for pk in members})

    def public(pk: int) -> str:
        return str(confirmed.entities[pk].public_id)

    ranked = sorted(
        clusters, key=lambda c: (-len(c[0]), -len(c[0] & seized), min(public(pk) for pk in c[0]))
    )[:limit]
    shown, entities = [], set()
    confirmed.name(pk for members, shared in ranked for pk in members | shared)
    for members, shared in ranked:
        entities |= members | shared
        shown.append(
            {
                "size": len(members),
                "seized_members": len(members & seized),
                "members": [
                    {**confirmed.shown(pk), "seized": pk in seized} for pk in sorted(members, key=public)
                ],
                "shared": [confirmed.shown(pk) for pk in sorted(shared, key=public)],
            }
        )
    return Answer(
        {"clusters": shown, "truncated": len(clusters) > len(ranked)}, confirmed.records_shown([], entities)
    )


def audit_query(
    reader: Reader,
    operation: str,
    answer: Answer | None,
    asked: Iterable[str] = (),
    *,
    outcome: str = "answered",
) -> None:
    """Every graph query is logged (who, which operation, the entities asked about, the
    purpose, and what came of it: answered, not found, refused naming the field, or the
    state of the job an analysis waits for), and each record of another agency an answer
    shows as a read."""
    record_events(
        [
            Event(
                action="graph.query",
                actor=reader.user if getattr(reader.user, "pk", None) else None,
                agency_id=reader.agency_id,
                object_type="graph",
                object_id=operation,
                details={
                    "entities": [str(pk) for pk in asked],
                    "purpose": reader.purpose,
                    "outcome": outcome,
                },
            )
        ]
    )
    if answer is not None:
        selectors.audit_reads(reader, answer.records_shown, f"graph.{operation}")
