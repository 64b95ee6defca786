"""The stamp of the agreements and their parties (`AccessStamp`): one row, changed to a
random value by the database with every write of either table, raw SQL and loaders' COPY
included, in the writer's transaction, so that a reader sees the change with the rows."""

from django.db import migrations, models

from core.vendor_sql import run_by_vendor

TABLES = ("sharing_agreement", "sharing_agreementparty")

POSTGRES_UP = [
    """
CREATE OR REPLACE FUNCTION sharing_access_changed() RETURNS trigger AS $$
BEGIN
    INSERT INTO sharing_accessstamp (id, stamp) VALUES (1, gen_random_uuid()::text)
    ON CONFLICT (id) DO UPDATE SET stamp = EXCLUDED.stamp;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
""",
    *(
        f"CREATE TRIGGER {table}_access_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION sharing_access_changed();"
        for table in TABLES
    ),
    "INSERT INTO sharing_accessstamp (id, stamp) VALUES (1, gen_random_uuid()::text);",
]
POSTGRES_DOWN = [
    *(f"DROP TRIGGER IF EXISTS {table}_access_changed ON {table};" for table in TABLES),
    "DROP FUNCTION IF EXISTS sharing_access_changed();",
]
# SQLite has no statement triggers: one per row and kind of write.
SQLITE_UP = [
    *(
        f"CREATE TRIGGER {table}_access_{event.lower()} AFTER {event} ON {table} FOR EACH ROW BEGIN "
        "INSERT INTO sharing_accessstamp (id, stamp) VALUES (1, hex(randomblob(16))) "
        "ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp; END;"
        for table in TABLES
        for event in ("INSERT", "UPDATE", "DELETE")
    ),
    "INSERT INTO sharing_accessstamp (id, stamp) VALUES (1, hex(randomblob(16)));",
]
SQLITE_DOWN = [
    f"DROP TRIGGER IF EXISTS {table}_access_{event.lower()};"
    for table in TABLES
    for event in ("INSERT", "UPDATE", "DELETE")
]


class Migration(migrations.Migration):
    dependencies = [("sharing", "0003_foreign_keys_indexed_by_their_constraints")]

    operations = [
        migrations.CreateModel(
            name="AccessStamp",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("stamp", models.CharField(max_length=64)),
            ],
        ),
        run_by_vendor(
            {"postgresql": POSTGRES_UP, "sqlite": SQLITE_UP},
            {"postgresql": POSTGRES_DOWN, "sqlite": SQLITE_DOWN},
        ),
    ]
