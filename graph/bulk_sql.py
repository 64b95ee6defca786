"""The cursor that the sync's statements carrying a batch's arrays go through, shared by
its locks, projections, viewer counts and element states (why a cursor of its own: see
`bulk_cursor`)."""

from __future__ import annotations

import psycopg
from django.db import connection


def bulk_cursor(name: str | None = None) -> psycopg.Cursor | psycopg.ServerCursor:
    """A cursor in Django's connection and transaction that sends parameters apart from the
    statement: Django's own quotes every array element into the SQL text in Python, which
    for a batch's tens of thousands of ids cost more than running the statements. Named,
    a server-side cursor, whose rows arrive as they are read."""
    connection.ensure_connection()
    if name:
        return psycopg.ServerCursor(connection.connection, name)
    return psycopg.Cursor(connection.connection)
