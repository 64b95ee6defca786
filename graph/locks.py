"""The sync's locks, and the version drawn under them, which keep two writers from
computing the same element at once.

Two batches must never compute the same element at once, or the later write could carry
the older state. A batch first locks its records' projection rows (a row lock, taken in
ascending order, an empty row made for a record never synced), so no two batches sync one
record at once; it then reads and stores their projections, which concern those records
alone. Only then does it take PostgreSQL advisory locks on the partitions of the entities
it touches, in ascending order (so two batches cannot deadlock), and hold them while it
moves the viewer counts, writes Neo4j and commits. A node is thus never in two concurrent
batches, and each relationship's endpoints are locked by the one batch writing it, so
Neo4j sees no lock cycles between sync batches either. Batches overlap in everything up to
the entity locks, and entirely when their entities fall in disjoint partitions. A resync's
ranges hold every entity partition, shared.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection

from graph.bulk_sql import bulk_cursor

# The advisory lock key space (the first int4 of pg_advisory_xact_lock(int4, int4)).
ENTITY_LOCK_SPACE = 0x6772_0002
ENTITY_PARTITIONS = 256


def _lock(space: int, keys: Iterable[int], shared: bool = False) -> None:
    # unnest yields the sorted array in order, so the locks are taken in that order.
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count({function}(%s, k)) FROM unnest(%s::int[]) AS k",  # noqa: S608 - a constant
            [space, sorted(set(keys))],
        )


def lock_records(record_ids: Iterable[int]) -> None:
    """Row locks on the records' projections, held to the end of the transaction. Not
    advisory locks on partitions of records: a batch's 2,000 records cover most of any
    small number of partitions, so every two batches would wait for each other. A record
    never synced gets an empty projection to lock (inserted in ascending order too, so two
    batches making the same rows wait rather than deadlock); the batch stores its real
    projection, or deletes the row, before committing."""
    ids = sorted(set(record_ids))
    with bulk_cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO graph_recordprojection (record_id, agencies, entities, links, synced_at)
            SELECT pk, '[]', '{}', '[]', clock_timestamp() FROM unnest(%s::bigint[]) AS pk
            ON CONFLICT (record_id) DO NOTHING
            """,
            [ids],
        )
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM graph_recordprojection WHERE record_id = ANY(%s) "
            "ORDER BY record_id FOR UPDATE) AS locked",
            [ids],
        )


def lock_entities(entity_ids: Iterable[int]) -> None:
    _lock(ENTITY_LOCK_SPACE, (pk % ENTITY_PARTITIONS for pk in entity_ids))


def lock_all_entities(shared: bool = False) -> None:
    """For work whose relationships may reach any node. A resync's ranges take them
    shared: their elements are disjoint, so they may run side by side, but no batch may
    run beside any of them."""
    _lock(ENTITY_LOCK_SPACE, range(ENTITY_PARTITIONS), shared)


def next_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('graph_sync_version')")
        return cursor.fetchone()[0]
