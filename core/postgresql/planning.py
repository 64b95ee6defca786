"""How PostgreSQL plans a block of statements, where the default does not serve."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def planned_for_their_values() -> Iterator[None]:
    """The block's statements are not prepared (config/settings.py has psycopg prepare a
    statement run five times on a connection), so PostgreSQL plans each for the values it
    is given. For a prepared statement PostgreSQL may keep a generic plan, priced without
    the values, which for some statements runs far slower than it was priced. Nothing
    changes on another database."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    driver = connection.connection
    threshold = driver.prepare_threshold
    driver.prepare_threshold = None
    try:
        yield
    finally:
        driver.prepare_threshold = threshold
