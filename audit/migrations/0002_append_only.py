"""The database itself refuses to change or remove an audit event.

Row-level triggers only: TRUNCATE stays possible so the test runner can flush tables;
in production, revoke TRUNCATE on audit_auditevent from the application's role.
"""

from django.db import migrations

from audit import sqlite_triggers
from core.vendor_sql import run_by_vendor

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % of event % refused', TG_OP, OLD.id;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER audit_auditevent_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS audit_auditevent_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_append_only();
"""
class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        run_by_vendor(
            {"postgresql": [POSTGRES_UP], "sqlite": sqlite_triggers.CREATE},
            {"postgresql": [POSTGRES_DOWN], "sqlite": sqlite_triggers.DROP},
        )
    ]
