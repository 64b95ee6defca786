"""`field__any_of=values`: what `__in` selects, for the long lists of ids and keys an import
chunk asks about. On PostgreSQL the values travel as one array parameter (`= ANY(%s)`,
which PostgreSQL plans as it plans an IN list) instead of one placeholder each: with
thousands of values, Django's compiling of a placeholder per value and psycopg's parsing
of the statement they make cost an import more than the database spent answering.
Elsewhere (SQLite) it is `__in`."""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Field, ForeignObject
from django.db.models.lookups import In


class AnyOf(In):
    lookup_name = "any_of"

    def get_prep_lookup(self):
        if self.rhs_is_direct_value():
            # Given as the database stores them (ids, keys): not prepared one by one.
            self.rhs = list(dict.fromkeys(value for value in self.rhs if value is not None))
            return self.rhs
        return super().get_prep_lookup()

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        if not self.rhs:
            raise EmptyResultSet
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array = array_parameter(self.rhs, self.lhs.output_field.db_type(connection) or "")
        if array is None:
            return f"{lhs} = ANY(%s)", (*lhs_params, self.rhs)
        text, array_type = array
        return f"{lhs} = ANY(%s::{array_type})", (*lhs_params, text)


def array_parameter(values: list, column_type: str) -> tuple[str, str] | None:
    """(PostgreSQL's text of an array of `values`, its type) for ids in an integer column or
    strings in a text column; None otherwise, for psycopg to adapt the list. psycopg writes a
    list element by element in Python, escaping each string on its own (two microseconds a
    key, thousands of keys a chunk); joined here, the text is escaped once, as one string."""
    if column_type in ("bigint", "integer", "smallint") and all(type(value) is int for value in values):
        return id_array(values), "bigint[]"
    if (column_type == "text" or column_type.startswith("varchar")) and all(
        type(value) is str for value in values
    ):
        # Each element double-quoted, its backslashes and double quotes escaped; compared as
        # text, never cast to the column's varchar(n), which would cut a longer value to fit.
        elements = ('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
        return "{" + ",".join(elements) + "}", "text[]"
    return None


def id_array(ids: Iterable[int]) -> str:
    """`array_parameter`'s text of integer ids, to be cast `::bigint[]` in a statement."""
    return "{" + ",".join(map(str, ids)) + "}"


# Related fields take only the lookups registered from ForeignObject down.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


@contextmanager
def planned_as_lookups() -> Iterator[None]:
    """Inside a transaction: its statements are planned with no sequential scan where an
    index serves, each for its own values, and the settings are put back after them.

    For an import, whose every statement looks rows up by their keys. Statistics cannot
    count a transaction's own rows until it commits (autovacuum does not see them), so in
    a large import they describe the tables as they were before it, or as empty: a lookup
    of a few hundred keys in a column they know nothing of is estimated at the whole table,
    and was planned as a scan of it, a cost per chunk that grew with the table.

    Nor does psycopg prepare them (config/settings.py has the server prepare a statement
    run five times on a connection): PostgreSQL may keep a generic plan for a prepared
    statement, and one kept from the import's first chunks, planned when the tables looked
    empty, stayed as they grew. The foreign key checks of the rows copied keep theirs."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('enable_seqscan')")
        (previous,) = cursor.fetchone()
        cursor.execute("SET LOCAL enable_seqscan = off")
    driver = connection.connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('enable_seqscan', %s, true)", [previous])
