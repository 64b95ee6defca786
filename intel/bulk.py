"""Inserting many rows at once. On PostgreSQL through COPY: no ORM objects to build and no
SQL to compile for each of the hundreds of thousands of mentions and links a large import
writes (the import profile in docs/benchmarks.md showed those dominating). Elsewhere
(SQLite, the embedded default) through bulk_create."""

import json
from collections.abc import Iterable

from django.db import connection, models
from psycopg import sql
from psycopg.types.json import Jsonb


def insert_rows(model: type[models.Model], columns: list[str], rows: Iterable[tuple]) -> None:
    """Inserts rows of values for `columns` (model field names, FK fields by their `_id`
    attname). The caller guarantees the rows break no unique constraint. A field left out
    that has a default in Python (a public id) gets it per row, as the ORM would give it."""
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows])
        return
    # get_field knows a foreign key by its attname too ("record_id").
    fields = [model._meta.get_field(name) for name in columns]
    defaulted = [
        field
        for field in model._meta.concrete_fields
        if field not in fields and not field.primary_key and field.has_default()
    ]
    fields += defaulted
    rows = [(*row, *(field.get_default() for field in defaulted)) for row in rows]
    json_columns = {i for i, f in enumerate(fields) if isinstance(f, models.JSONField)}
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json.dumps(value) if i in json_columns else value for i, value in enumerate(row)])


def set_column(model: type[models.Model], name: str, values: dict[int, object]) -> None:
    """Sets the field `name` (an FK by its attname, "entity_id") of each row whose primary key
    is a key of `values` to that key's value: on PostgreSQL in one statement whatever the
    number of distinct values, elsewhere one statement per value."""
    if not values:
        return
    field = model._meta.get_field(name)
    is_json = isinstance(field, models.JSONField)
    if connection.vendor != "postgresql":
        grouped: dict[object, tuple[object, list[int]]] = {}
        for pk, value in values.items():
            # A JSON value (a list) is grouped by its text: it cannot be a key itself.
            grouped.setdefault(json.dumps(value) if is_json else value, (value, []))[1].append(pk)
        for value, pks in grouped.values():
            model.objects.filter(pk__in=pks).update(**{field.attname: value})
        return
    pk_field = model._meta.pk
    statement = sql.SQL(
        "UPDATE {table} SET {column} = v.value"
        " FROM unnest(%s::{pk_type}[], %s::{value_type}[]) AS v(pk, value)"
        # The primary keys once more as an index condition: joined to unnest alone, the
        # planner may read the whole table to hash it.
        " WHERE {table}.{pk} = v.pk AND {table}.{pk} = ANY(%s::{pk_type}[])"
    ).format(
        table=sql.Identifier(model._meta.db_table),
        column=sql.Identifier(field.column),
        pk=sql.Identifier(pk_field.column),
        pk_type=sql.SQL(pk_field.rel_db_type(connection)),
        value_type=sql.SQL(field.db_type(connection)),
    )
    with connection.cursor() as cursor:
        pks = list(values)
        given = [Jsonb(value) for value in values.values()] if is_json else list(values.values())
        cursor.execute(statement.as_string(cursor.cursor), [pks, given, pks])
