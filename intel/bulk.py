"""Inserting many rows at once. On PostgreSQL through COPY: no ORM objects to build and no
SQL to compile for each of the hundreds of thousands of mentions and links a large import
writes (the import profile in docs/benchmarks.md showed those dominating). Elsewhere
(SQLite, the embedded default) through bulk_create."""

import json
import zlib
from collections.abc import Iterable

import orjson
from django.db import connection, models
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb


def insert_rows(
    model: type[models.Model], columns: list[str], rows: Iterable[tuple], *, ignore_conflicts: bool = False
) -> None:
    """Inserts rows of values for `columns` (model field names, FK fields by their `_id`
    attname), in their order, so the ids they are given follow it. A field left out that
    the ORM fills itself (a default in Python, such as a public id, or the time of an
    `auto_now` or `auto_now_add` field) gets its value per row, as bulk_create would give it.
    The caller guarantees the rows break no unique constraint, unless `ignore_conflicts`:
    then a row that would is skipped, as bulk_create(ignore_conflicts=True) skips it."""
    rows = list(rows)
    if not rows:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**dict(zip(columns, row, strict=True))) for row in rows], ignore_conflicts=ignore_conflicts
        )
        return
    # get_field knows a foreign key by its attname too ("record_id").
    fields = [model._meta.get_field(name) for name in columns]
    filled = [
        field
        for field in model._meta.concrete_fields
        if field not in fields
        and not field.primary_key
        and (
            field.has_default() or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
        )
    ]
    fields += filled
    fill = [field.get_default if field.has_default() else timezone.now for field in filled]
    json_columns = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    names = sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
    table = sql.Identifier(model._meta.db_table)
    with connection.cursor() as cursor:
        target = table
        if ignore_conflicts:
            # COPY cannot skip a conflicting row: the rows are copied into a temporary table
            # of the same columns, then inserted from it in their order by one statement.
            # Named by its columns too: another caller may insert other columns of the model.
            target = sql.Identifier(
                f"bulk_{model._meta.db_table}_{zlib.crc32(' '.join(columns).encode()):08x}"
            )
            cursor.execute(
                sql.SQL(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS {target} AS"
                    " SELECT {names}, 0 AS position FROM {table} WITH NO DATA"
                )
                .format(target=target, names=names, table=table)
                .as_string(cursor.cursor)
            )
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            target, sql.SQL(", ").join([names, *([sql.Identifier("position")] if ignore_conflicts else [])])
        )
        with cursor.cursor.copy(statement) as copy:
            # Hundreds of thousands of rows in a large import: only the JSON values are visited,
            # and written by orjson, whose encoder is compiled where json's runs in Python.
            for position, row in enumerate(rows):
                values = [*row, *[make() for make in fill]]
                for i in json_columns:
                    values[i] = orjson.dumps(values[i]).decode()
                if ignore_conflicts:
                    values.append(position)
                copy.write_row(values)
        if ignore_conflicts:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {table} ({names}) SELECT {names} FROM {target} ORDER BY position"
                    " ON CONFLICT DO NOTHING"
                )
                .format(table=table, names=names, target=target)
                .as_string(cursor.cursor)
            )
            # Emptied by TRUNCATE, not DELETE: the rows a DELETE leaves dead cannot be
            # pruned before the import commits, and every later chunk's INSERT would scan them.
            cursor.execute(sql.SQL("TRUNCATE {}").format(target).as_string(cursor.cursor))


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
