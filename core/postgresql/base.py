"""Django's PostgreSQL backend, reading timestamps with psycopg's compiled loader.

Django registers, on every connection, a `timestamptz` loader of its own that subclasses
psycopg's pure-Python one (so that each value carries Django's zone): it parses every
timestamp with a regular expression in Python, which cost a list of entities and their
records' dates more than a millisecond a page. Where Django's zone is UTC, as it always is
with USE_TZ and no database TIME_ZONE, the compiled loader of psycopg's binary package gives
the same values, in the session's zone, which Django has set to UTC."""

from datetime import UTC, datetime

from django.db.backends.postgresql import base
from psycopg import adapters
from psycopg.abc import AdaptContext, Buffer
from psycopg.adapt import Loader
from psycopg.postgres import types
from psycopg.pq import Format

TIMESTAMPTZ_OID = types["timestamptz"].oid
COMPILED_LOADER = adapters.get_loader(TIMESTAMPTZ_OID, Format.TEXT)


class CompiledUtcLoader(Loader):
    """Hands each value to psycopg's compiled loader (a class that cannot be subclassed)."""

    # What Django compares with its zone before it registers its own loader on a cursor.
    timezone = UTC

    def __init__(self, oid: int, context: AdaptContext | None = None):
        super().__init__(oid, context)
        self.compiled = COMPILED_LOADER(oid, context)

    def load(self, data: Buffer) -> datetime:
        return self.compiled.load(data)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict):
        connection = super().get_new_connection(conn_params)
        if self.timezone == UTC and self.timezone_name == "UTC":
            connection.adapters.register_loader(TIMESTAMPTZ_OID, CompiledUtcLoader)
        return connection
