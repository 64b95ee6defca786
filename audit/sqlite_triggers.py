"""The SQLite triggers that keep the audit log append-only in the embedded mode (PostgreSQL's
is in migration audit 0002). Here, not in a migration, because SQLite loses a table's
triggers whenever Django rebuilds the table (to change a constraint, for one), and each
migration that rebuilds `audit_auditevent` must create them again: 0002 made them, 0004 and
0005 rebuilt the table, 0006 makes them again."""

CREATE = [
    "CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_update BEFORE UPDATE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;",
    "CREATE TRIGGER IF NOT EXISTS audit_auditevent_no_delete BEFORE DELETE ON audit_auditevent "
    "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;",
]
DROP = [
    "DROP TRIGGER IF EXISTS audit_auditevent_no_update;",
    "DROP TRIGGER IF EXISTS audit_auditevent_no_delete;",
]
