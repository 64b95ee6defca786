"""Cypher on Neo4j: every node and relationship a query crosses or returns is filtered on
`visible_to` (a platform admin, who sees every record, is not filtered). `visible_to` says
who may see an element for some purpose, as last synced: `graph.selectors` confirms
whatever comes back against PostgreSQL before anything is shown."""

from __future__ import annotations

import os
from collections.abc import Collection
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from neo4j import Driver, Record

from graph.analytics import EXPAND_LIMIT, Neighbours, NeighboursPage, Scope, TooLarge, Triple
from graph.driver import get_driver
from graph.schema import ENTITY_LABEL

VISIBLE = "($everyone OR $agency IN {0}.visible_to)"
IN_SCOPE_NODE = "($entity_types IS NULL OR {0}.type IN $entity_types)"
IN_SCOPE_RELATIONSHIP = "($link_types IS NULL OR type({0}) IN $link_types)"

# One row per relationship (one joining two nodes of the frontier is met from both), and
# none back to the step before's frontier, read then from the other end: so the rows a step
# may read are the relationships it adds, and its limit is exact. A step that reaches its
# limit returns how many it read and no rows: it is refused whatever they hold, and their
# ends' ids were most of its time.
STEP = f"""
    UNWIND $frontier AS id
    MATCH (a:{ENTITY_LABEL} {{entity_id: id}})-[r]-(b:{ENTITY_LABEL})
    WHERE NOT b.entity_id IN $before
      AND {VISIBLE.format("a")} AND {VISIBLE.format("r")} AND {VISIBLE.format("b")}
      AND {IN_SCOPE_RELATIONSHIP.format("r")}
      AND ({IN_SCOPE_NODE.format("b")} OR b.entity_id IN $seeds)
    WITH DISTINCT r
    LIMIT $limit
    WITH collect(r) AS read
    RETURN size(read) AS count,
        CASE WHEN size(read) < $limit
            THEN [r IN read | [startNode(r).entity_id, endNode(r).entity_id, type(r)]]
            ELSE []
        END AS rows
"""

# Per node, a page of its relationships: in the order the store keeps them, so that the page
# ends the read (in id order, a hub's every relationship was read to sort them). A
# relationship is told by its far end, type and direction, which need no property of its
# near end; those of earlier pages are skipped (`{read}`, left out of a first page).
NEIGHBOURS = f"""
    UNWIND $pages AS page
    MATCH (a:{ENTITY_LABEL} {{entity_id: page.node}})
    CALL (a, page) {{
        MATCH (a)-[r]-(b:{ENTITY_LABEL})
        WHERE NOT b.entity_id IN $outside
          AND {VISIBLE.format("r")} AND {VISIBLE.format("b")} AND {IN_SCOPE_RELATIONSHIP.format("r")}
          AND ({IN_SCOPE_NODE.format("b")} OR b.entity_id IN $seeds)
          {{read}}
        RETURN b.entity_id AS other, type(r) AS type, startNode(r) = a AS outgoing
        LIMIT $limit
    }}
    RETURN collect([a.entity_id, other, type, outgoing]) AS rows
"""
NOT_READ = "AND NOT [b.entity_id, type(r), startNode(r) = a] IN page.read"


def as_seen_from(node: int, triple: Triple) -> list:
    """A relationship of the node as NOT_READ tells it: far end, type, leaving the node."""
    source, target, type_ = triple
    return [target, type_, True] if source == node else [source, type_, False]


RELATIONSHIPS = f"""
    MATCH (a:{ENTITY_LABEL})-[r]->(b:{ENTITY_LABEL})
    WHERE {IN_SCOPE_RELATIONSHIP.format("r")} AND {IN_SCOPE_NODE.format("a")} AND {IN_SCOPE_NODE.format("b")}
      AND {VISIBLE.format("r")} AND {VISIBLE.format("a")} AND {VISIBLE.format("b")}
    RETURN collect([a.entity_id, b.entity_id, type(r)]) AS rows
"""


# A walk asks Neo4j for its nodes' first page of left-out neighbours while it names them from
# PostgreSQL (`GraphBackend.ask_neighbours`). The thread is given the driver, the database's
# name and the parameters, and touches nothing else: Django's database connections are per
# thread (a test's transaction is the calling thread's), and a scope's parameters may be
# read from the database. Threads are started as walks need them, one at a time in a
# process serving one request at a time; more where requests share a process.
ASKING_THREADS = 8
_asking: ThreadPoolExecutor


def _ask_afresh() -> None:
    """A pool of the process's own, also in a forked one: a child has none of its parent's
    threads, but a pool it inherited would count them as its own and start no other, and
    what it was given would wait forever (a server that loads the project before it forks
    its workers, a Celery worker whose parent walked)."""
    global _asking
    _asking = ThreadPoolExecutor(max_workers=ASKING_THREADS, thread_name_prefix="cypher")


_ask_afresh()
os.register_at_fork(after_in_child=_ask_afresh)


def _collected(query: str, scope: Scope, **params) -> list[list]:
    """The rows of a query that returns them collected into one list: the driver decodes a
    record message by message, and ten thousand records cost it ten times what one list of
    ten thousand does."""
    return _rows(_run(query, scope, **params))


def _rows(records: list[Record]) -> list[list]:
    (record,) = records
    return record["rows"]


def _run(query: str, scope: Scope, **params) -> list[Record]:
    return _read(get_driver(), settings.NEO4J_DATABASE, query, _parameters(scope, **params))


def _parameters(scope: Scope, **params) -> dict[str, object]:
    return {
        "everyone": scope.everything,
        "agency": scope.agency_id,
        "link_types": list(scope.link_types) if scope.link_types is not None else None,
        "entity_types": list(scope.entity_types) if scope.entity_types is not None else None,
        **params,
    }


def _read(driver: Driver, database: str, query: str, params: dict[str, object]) -> list[Record]:
    records, _, _ = driver.execute_query(query, params, database_=database, routing_="r")
    return records


class CypherBackend:
    def expand(
        self,
        scope: Scope,
        *,
        seeds: Collection[int],
        hops: int,
        limit: int | None = None,
        at_most: int = EXPAND_LIMIT,
    ) -> set[Triple]:
        at_most = min(at_most, EXPAND_LIMIT)
        seeds = sorted(set(seeds))
        seen, before, frontier, triples = set(seeds), [], seeds, set()
        for _ in range(hops):
            if not frontier or (limit is not None and len(seen) > limit):
                break
            rows_at_most = at_most + 1 - len(triples)
            (step,) = _run(STEP, scope, frontier=frontier, before=before, seeds=seeds, limit=rows_at_most)
            # A step cut at its limit may have left relationships unread: too large either way.
            if step["count"] >= rows_at_most:
                raise TooLarge
            rows = step["rows"]
            triples.update(map(tuple, rows))
            before, frontier = (
                frontier,
                sorted({end for source, target, _ in rows for end in (source, target)} - seen),
            )
            seen.update(frontier)
        return triples

    def relationships(self, scope: Scope) -> set[Triple]:
        return {(s, t, type_) for s, t, type_ in _collected(RELATIONSHIPS, scope)}

    def neighbours(self, scope: Scope, page: NeighboursPage) -> Neighbours:
        query, params = _neighbours_asked(scope, page)
        return _neighbours_found(get_driver(), settings.NEO4J_DATABASE, query, params)

    def ask_neighbours(self, scope: Scope, page: NeighboursPage) -> Future[Neighbours]:
        query, params = _neighbours_asked(scope, page)
        return _asking.submit(_neighbours_found, get_driver(), settings.NEO4J_DATABASE, query, params)


def _neighbours_asked(scope: Scope, page: NeighboursPage) -> tuple[str, dict[str, object]]:
    pages = [
        {"node": node, "read": sorted(as_seen_from(node, triple) for triple in triples)}
        for node, triples in sorted(page.read.items())
    ]
    query = NEIGHBOURS.replace("{read}", NOT_READ if any(page.read.values()) else "")
    params = _parameters(
        scope, pages=pages, outside=sorted(page.outside), seeds=sorted(page.seeds), limit=page.limit
    )
    return query, params


def _neighbours_found(driver: Driver, database: str, query: str, params: dict[str, object]) -> Neighbours:
    found: Neighbours = {}
    for node, other, type_, outgoing in _rows(_read(driver, database, query, params)):
        triple = (node, other, type_) if outgoing else (other, node, type_)
        found.setdefault(node, []).append((other, triple))
    return found
