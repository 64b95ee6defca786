"""The embedded default's SQLite database as a served process uses it: several requests'
transactions at once (a link chart reopened asks for its nodes' neighbourhoods together,
each writing an audit event), each on its own connection to one database file."""

import threading

import pytest
from django.db import connections, transaction

from core.time_limits import statements_limited_to

ALIAS = "embedded_file"


@pytest.fixture
def file_database(tmp_path, django_db_blocker):
    """A database alias configured as the embedded default is, on a file of its own."""
    connections.settings[ALIAS] = {**connections.settings["default"], "NAME": str(tmp_path / "db.sqlite3")}
    with django_db_blocker.unblock():
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("CREATE TABLE events (writer TEXT)")
        yield
        connections[ALIAS].close()
    del connections[ALIAS]
    del connections.settings[ALIAS]


def test_two_transactions_that_read_then_write_both_commit(file_database, django_db_blocker):
    first_read, second_read = threading.Event(), threading.Event()
    failures: list[Exception] = []

    def write(name: str, started: threading.Event | None, done_reading: threading.Event, wait_for):
        if started is not None:
            started.wait(5)
        try:
            with django_db_blocker.unblock(), transaction.atomic(using=ALIAS):
                with connections[ALIAS].cursor() as cursor:
                    cursor.execute("SELECT count(*) FROM events")
                    done_reading.set()
                    # The other one reads meanwhile, where the database lets it begin.
                    wait_for.wait(1)
                    cursor.execute("INSERT INTO events VALUES (%s)", [name])
        except Exception as failure:  # noqa: BLE001 - what the test reports
            failures.append(failure)
        finally:
            done_reading.set()
            with django_db_blocker.unblock():
                connections[ALIAS].close()

    threads = [
        threading.Thread(target=write, args=("first", None, first_read, second_read)),
        threading.Thread(target=write, args=("second", first_read, second_read, threading.Event())),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    with django_db_blocker.unblock(), connections[ALIAS].cursor() as cursor:
        cursor.execute("SELECT writer FROM events ORDER BY writer")
        assert cursor.fetchall() == [("first",), ("second",)]
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)


def test_a_time_limited_read_does_not_wait_for_a_writer(file_database, django_db_blocker):
    """A search's reads (`statements_limited_to`, in a transaction of their own) while
    another transaction holds the write lock, as an import holds it for the whole file:
    begun as a reader, they read what was committed and do not wait for it."""
    writing, read = threading.Event(), threading.Event()

    def import_file() -> None:
        with django_db_blocker.unblock():
            try:
                with transaction.atomic(using=ALIAS), connections[ALIAS].cursor() as cursor:
                    cursor.execute("INSERT INTO events VALUES ('importing')")
                    writing.set()
                    read.wait(30)
            finally:
                connections[ALIAS].close()

    with django_db_blocker.unblock():
        with connections[ALIAS].cursor() as cursor:
            cursor.execute("INSERT INTO events VALUES ('committed')")
        writer = threading.Thread(target=import_file)
        writer.start()
        assert writing.wait(10)
        try:
            # Within a second where the write lock is waited for up to its timeout.
            with statements_limited_to(1, using=ALIAS), connections[ALIAS].cursor() as cursor:
                cursor.execute("SELECT writer FROM events")
                assert cursor.fetchall() == [("committed",)]
        finally:
            read.set()
            writer.join(30)
