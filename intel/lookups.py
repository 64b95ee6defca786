"""How an import's statements are planned: each key lookup for its own values, on statistics
gathered again as its transaction fills the tables."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import OperationalError, connection, transaction

from core.postgresql.planning import planned_for_their_values


@contextmanager
def planned_as_lookups() -> Iterator[None]:
    """Inside a transaction: its statements are planned with no sequential scan where an
    index serves, each for its own values, and the settings are put back after them.

    For an import, whose every statement looks rows up by their keys. Autovacuum cannot
    count a transaction's own rows until it commits, so in a large import the statistics
    describe the tables as they were before it, or as empty, unless gathered in the
    transaction (`GrowingTables`): a lookup of a few hundred keys in a column they know
    nothing of is estimated at the whole table, and was planned as a scan of it, a cost per
    chunk that grew with the table.

    Nor are they prepared (`planned_for_their_values`): a generic plan kept from the
    import's first chunks, planned when the tables looked empty, stayed as they grew. The
    foreign key checks of the rows copied keep theirs."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan')")
        (previous,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = off")
    with planned_for_their_values():
        yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [previous])


# The statistics are gathered again each time the rows written reach this many times what
# they were last gathered over (the first time at ANALYZED_FIRST rows).
ANALYZE_GROWTH = 2
ANALYZED_FIRST = 1000
# ANALYZE waits no longer than this for a table another transaction holds (an import of
# its own, a vacuum): the import goes on with the statistics it has.
ANALYZE_LOCK_TIMEOUT = "100ms"


class GrowingTables:
    """The planner's statistics of the tables a long transaction fills, gathered again, in
    that transaction, each time its rows multiply (by ANALYZE_GROWTH).

    Statistics gathered before an import describe the tables as they were, and planned on
    them, a lookup of a chunk's keys in tables the import has since filled was planned as a
    scan of a whole index (sequential scans being off, `planned_as_lookups`), a cost per
    chunk that grew with the import. ANALYZE in the transaction counts and samples its own
    rows. It stores the tables' sizes at once, for every session, even if the transaction
    rolls back; autovacuum corrects them afterwards. On PostgreSQL only."""

    def __init__(self, models: list[type]) -> None:
        """`models`: the tables, the first of them the one whose rows `grown_by` counts (an
        import's records), whose statistics say how many rows they were gathered over."""
        self.tables = [model._meta.db_table for model in models]
        self.enabled = connection.vendor == "postgresql"
        self.described = _estimated_rows(self.tables[0]) if self.enabled else 0
        self.written = 0

    def grown_by(self, count: int) -> None:
        """Counts `count` more rows written; gathers the statistics if they have multiplied."""
        self.written += count
        if not self.enabled or self.described + self.written < max(
            ANALYZED_FIRST, ANALYZE_GROWTH * self.described
        ):
            return
        self.described += self.written
        self.written = 0
        quoted = ", ".join(connection.ops.quote_name(table) for table in self.tables)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('lock_timeout')")
                (previous,) = cursor.fetchone()
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [ANALYZE_LOCK_TIMEOUT])
                # Every table locked as ANALYZE would lock it before any is analyzed: ANALYZE
                # stores a table's size at once, and would leave the tables before a held one
                # gathered when it gives up. Only the tables' quoted names are formatted in.
                cursor.execute(f"LOCK TABLE {quoted} IN SHARE UPDATE EXCLUSIVE MODE")
                cursor.execute(f"ANALYZE {quoted}")
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
        except OperationalError:
            # Held by another transaction: tried again once the rows have multiplied again.
            return


def _estimated_rows(table: str) -> int:
    """The rows the statistics say the table holds (0 when never gathered)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [table])
        (rows,) = cursor.fetchone()
    return max(int(rows), 0)
