"""An import keeps the planner's statistics of the tables it fills in step with its rows
(`intel.lookups.GrowingTables`): gathered again, inside its transaction, each time its
records double, and never waited for when another transaction holds a table. The oracle is
the catalogue's row count (`pg_class.reltuples`, exact for tables this small) against the
rows the file holds, counted here."""

from pathlib import Path

import psycopg
import pytest
from django.db import connection

from demo.resolution_scenario import ResolutionScenario
from intel import lookups
from intel.import_writing import IMPORTED_TABLES, import_file
from tests.sharing_helpers import staff

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module", autouse=True)
def no_autovacuum(django_db_setup, django_db_blocker):
    """A vacuum stores a table's row count too: the autovacuum daemon, cleaning up after an
    earlier test, set the records' to 0 in the middle of an import once; and one holding any
    table the import analyzes past ANALYZE_LOCK_TIMEOUT leaves the statistics ungathered.
    Off for those tables while this module runs (a table's own setting, committed: the
    daemon reads it)."""

    def autovacuum(enabled: bool) -> None:
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for table in (model._meta.db_table for model in IMPORTED_TABLES):
                cursor.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = {str(enabled).lower()})")

    autovacuum(False)
    yield
    autovacuum(True)


def counted_rows(table: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        return cursor.fetchone()[0]


@pytest.fixture
def scenario_file(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setattr(lookups, "ANALYZED_FIRST", 100)
    path = tmp_path / "mix.csv"
    ResolutionScenario(3, 250).write_one_file(path)
    return path


def test_statistics_are_gathered_each_time_the_records_double(scenario_file: Path) -> None:
    owner = staff("cus")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE intel_record")
    assert counted_rows("intel_record") in (0, -1)
    result = import_file(scenario_file, owner.agency, chunk_size=10)
    assert result.created == 250
    # Gathered at 100 records and at 200; not at 250, which has not doubled 200.
    assert counted_rows("intel_record") == 200
    assert counted_rows("intel_mention") > 200


@pytest.mark.parametrize(("table", "first"), [("intel_record", 150), ("intel_entityidentity", 130)])
def test_a_table_another_transaction_holds_is_not_waited_for(
    scenario_file: Path, table: str, first: int, monkeypatch
) -> None:
    """Nothing is gathered then, not even the tables not held."""
    owner = staff("cus")
    # Gathered, the records would count `first`: a size no other test leaves. Counted from
    # none, whatever size an earlier test stored.
    monkeypatch.setattr(lookups, "ANALYZED_FIRST", first)
    monkeypatch.setattr(lookups, "_estimated_rows", lambda table: 0)
    # Whatever an earlier test left: sizes are stored at once, whether or not it rolled back.
    before = counted_rows("intel_record")
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"],
        user=settings["USER"],
        password=settings["PASSWORD"],
        host=settings["HOST"],
        port=settings["PORT"] or None,
    )
    try:
        # What a vacuum or another import's ANALYZE holds until it ends.
        other.execute(f"LOCK TABLE {table} IN SHARE UPDATE EXCLUSIVE MODE")
        result = import_file(scenario_file, owner.agency, chunk_size=10)
    finally:
        other.rollback()
        other.close()
    assert result.created == 250
    assert counted_rows("intel_record") == before
