"""Trigram index for entity search on PostgreSQL: `search_text LIKE '%query%'` then uses
the index instead of scanning every mention. pg_trgm is a trusted extension, so the
database owner may create it. SQLite (the embedded default) scans, which is fine at demo size."""

from django.db import migrations

from core.vendor_sql import run_by_vendor

UP = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS intel_mention_search_trgm ON intel_mention USING gin (search_text gin_trgm_ops)",
]
DOWN = ["DROP INDEX IF EXISTS intel_mention_search_trgm"]


class Migration(migrations.Migration):
    dependencies = [("intel", "0001_initial")]

    operations = [run_by_vendor({"postgresql": UP}, {"postgresql": DOWN})]
