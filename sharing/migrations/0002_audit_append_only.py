"""The database itself refuses to change or remove an audit event.

Row-level triggers only: TRUNCATE stays possible so the test runner can flush tables;
in production, revoke TRUNCATE on sharing_auditevent from the application's role.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION sharing_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % of event % refused', TG_OP, OLD.id;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER sharing_auditevent_append_only
    BEFORE UPDATE OR DELETE ON sharing_auditevent
    FOR EACH ROW EXECUTE FUNCTION sharing_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS sharing_auditevent_append_only ON sharing_auditevent;
DROP FUNCTION IF EXISTS sharing_audit_append_only();
"""
SQLITE_UP = [
    "CREATE TRIGGER sharing_auditevent_no_update BEFORE UPDATE ON sharing_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;",
    "CREATE TRIGGER sharing_auditevent_no_delete BEFORE DELETE ON sharing_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS sharing_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS sharing_auditevent_no_delete;",
]


def run(statements_by_vendor):
    def apply(apps, schema_editor):
        # A raw cursor: the plpgsql body holds '%' placeholders of its own.
        with schema_editor.connection.cursor() as cursor:
            for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
                cursor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("sharing", "0001_initial")]

    operations = [
        migrations.RunPython(
            run({"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}),
            run({"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}),
        )
    ]
