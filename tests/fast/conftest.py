"""The fast tier: no PostgreSQL, Redis, Neo4j or Chromium. Its tests are pure, or run on the
embedded default a newcomer's `make demo` starts (SQLite, tasks run eagerly in process,
graph queries on networkx), which the root conftest checks before any test runs. Django
reads its settings once, before any conftest: the caller leaves the server variables unset
(`make check` does).

`make fast-tests` runs the tier on two test processes (pytest-xdist), each module on one, and
each scenario of the planted networks on one: those scenarios' module-wide setups are most
of the tier's time."""

import re

import pytest
from xdist.scheduler import LoadScopeScheduling

PLANTED_SCENARIO = re.compile(r"test_planted_networks\.py::.*\[((?:demo|resolution)-[0-9.]+)")


class ModuleAndScenarioScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        scope = super()._split_scope(nodeid)
        scenario = PLANTED_SCENARIO.search(nodeid)
        return f"{scope}[{scenario[1]}]" if scenario else scope


def pytest_xdist_make_scheduler(config: pytest.Config, log) -> ModuleAndScenarioScheduling:
    return ModuleAndScenarioScheduling(config, log)


@pytest.fixture
def fast_password_hashing(settings) -> None:
    """Argon2 is slow by design; for tests that set passwords but are not about the hasher
    (tests/test_foundation.py checks it on the full stack)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def own_lock_files(settings, tmp_path_factory) -> None:
    """Each test process its own session locks (files on the embedded default): the two
    processes' databases number their rows alike, and batch 1 of one must not wait for, or
    be taken for running by, batch 1 of the other."""
    settings.LOCK_DIR = tmp_path_factory.getbasetemp() / "locks"
