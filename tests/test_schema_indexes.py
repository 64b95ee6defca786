"""No index of the project's own tables is the leading part of another index of its table:
every row written keeps each index up to date, and a btree that leads with a column serves
every lookup by that column, so the shorter one only costs. Django gives every foreign key
an index of its own, which a unique constraint or an index beginning with that key makes
redundant: an import wrote three such indexes for each record, mention and link.

Read from PostgreSQL's catalog of the migrated test database, not from the models."""

from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.django_db

# Each btree index without a predicate: its table and its columns in order (expression
# columns, attnum 0, have no name and make an index nobody's prefix).
INDEXES = """
SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, i.indisunique,
       array_agg(a.attname ORDER BY k.ord)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am am ON am.oid = c.relam AND am.amname = 'btree'
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
WHERE i.indpred IS NULL AND i.indexprs IS NULL AND i.indrelid::regclass::text = ANY(%s)
GROUP BY 1, 2, 3
"""


def project_tables() -> list[str]:
    """The tables of the models of the project's own apps (those under its directory); not
    the join tables Django makes for a many-to-many field, whose indexes are Django's."""
    return [
        model._meta.db_table
        for app in apps.get_app_configs()
        if Path(app.path).is_relative_to(settings.BASE_DIR) and "site-packages" not in Path(app.path).parts
        for model in app.get_models()
        if model._meta.managed and not model._meta.auto_created
    ]


def redundant_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """(index, the longer index of its table it leads) pairs. A unique index is kept: it
    is a constraint, not only a way in."""
    with connection.cursor() as cursor:
        cursor.execute(INDEXES, [tables])
        indexes = cursor.fetchall()
    return sorted(
        (shorter, longer)
        for table, shorter, unique, columns in indexes
        if not unique
        for other_table, longer, _, other_columns in indexes
        if other_table == table
        and len(other_columns) > len(columns)
        and other_columns[: len(columns)] == columns
    )


def test_no_index_of_a_project_table_is_the_leading_part_of_another():
    tables = project_tables()
    assert len(tables) >= 20
    redundant = redundant_indexes(tables)
    assert not redundant, "\n".join(f"{shorter} leads {longer}" for shorter, longer in redundant)


def test_the_check_finds_an_index_that_leads_another():
    """Made in the test's transaction, gone with it."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE schema_probe (a int, b int, c int)")
        cursor.execute("CREATE INDEX schema_probe_a ON schema_probe (a)")
        cursor.execute("CREATE INDEX schema_probe_b ON schema_probe (b)")
        cursor.execute("CREATE INDEX schema_probe_ba_half ON schema_probe (b, a) WHERE c > 0")
        cursor.execute("CREATE UNIQUE INDEX schema_probe_ab ON schema_probe (a, b)")
        cursor.execute("CREATE UNIQUE INDEX schema_probe_abc ON schema_probe (a, b, c)")
    assert redundant_indexes(["schema_probe"]) == [
        ("schema_probe_a", "schema_probe_ab"),
        ("schema_probe_a", "schema_probe_abc"),
    ]
