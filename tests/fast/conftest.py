"""The fast tier: no PostgreSQL, Redis, Neo4j or Chromium. Its tests are pure, or run on the
embedded default a newcomer's `make demo` starts (SQLite, tasks run eagerly in process,
graph queries on networkx), which the root conftest checks before any test runs. Django
reads its settings once, before any conftest: the caller leaves the server variables unset
(`make check` does)."""

import pytest


@pytest.fixture
def fast_password_hashing(settings) -> None:
    """Argon2 is slow by design; for tests that set passwords but are not about the hasher
    (tests/test_foundation.py checks it on the full stack)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
