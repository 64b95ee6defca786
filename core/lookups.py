"""`field__any_of=values`: what `__in` selects, with the values as one array parameter on
PostgreSQL (`= ANY(%s)`, which PostgreSQL plans as it plans an IN list) instead of one
placeholder each; elsewhere (SQLite) it is `__in`. For the long lists of ids and keys an
import chunk asks about, Django's compiling of a placeholder per value and psycopg's
parsing of the statement they make cost more than the database spent answering. For a
page's keys, one parameter keeps the statement the same for every page, which PostgreSQL
may then keep a plan for. Registered on every field when this module is imported."""

from collections.abc import Iterable

from django.core.exceptions import EmptyResultSet
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
