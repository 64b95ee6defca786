"""The embedded mode's append-only triggers, made again: SQLite dropped them with the table
when 0004 and 0005 rebuilt it to change its constraints (`audit.sqlite_triggers`)."""

from django.db import migrations

from audit import sqlite_triggers
from core.vendor_sql import run_by_vendor


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_audit_reads_write_fewer_indexes")]

    operations = [run_by_vendor({"sqlite": sqlite_triggers.CREATE}, {"sqlite": sqlite_triggers.DROP})]
