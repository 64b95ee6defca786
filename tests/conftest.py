"""The suite runs in two tiers, each in a pytest of its own. The full tier (tests/, as
`pytest` collects it) runs on the real full stack: PostgreSQL, Redis, a Celery worker
process, Neo4j over Bolt and headless Chromium. Nothing there is mocked; a missing service
fails the run loudly instead of skipping it. The fast tier (tests/fast, `make check`) needs
no service: pure tests and the embedded default (SQLite, eager tasks, networkx).
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from kombu.exceptions import ChannelError

pytest_plugins = ["tests.agencies"]

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ROOT / "platform" / "services"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


FAST_TIER = ROOT / "tests" / "fast"
# How long a transactional test's teardown waits for the shared worker to finish its tasks
# before stopping it instead.
QUIET_SECONDS = 30


def in_fast_tier(path: Path) -> bool:
    return path.is_relative_to(FAST_TIER)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # The fast tier needs the embedded default's settings, which a process holds for its
    # whole life: it runs in a pytest of its own, only when named (`pytest tests/fast`).
    if collection_path == FAST_TIER and not any(
        in_fast_tier((config.invocation_params.dir / arg.split("::")[0]).resolve()) for arg in config.args
    ):
        return True
    return None


# `make full-tests` runs the full tier as two pytest processes side by side
# (platform/full-tier), each on a database, a Celery queue and cache keys of its own. Neo4j,
# the Celery workers tests start, the live server and Chromium are one per machine: every
# test that needs one of them is marked `shared_services` and runs in one of the two, in
# the order one process would run it; the other runs the rest.
SHARED_FIXTURES = frozenset(
    {
        "transactional_db",
        "live_server",
        "browser",
        "celery_worker",
        "session_worker",
        "without_session_worker",
        "neo4j_driver",
    }
)


def uses_shared_services(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return (
        item.get_closest_marker("shared_services") is not None
        or (marker is not None and marker.kwargs.get("transaction", False))
        or not SHARED_FIXTURES.isdisjoint(item.fixturenames)
    )


# platform/full-tier names the half each process runs here, not with `-m`: pytest keeps the
# last `-m` it is given, and one in ARGS would have both processes run the same tests.
HALVES = {"shared": True, "apart": False}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # First, so that a `-m shared_services` (or its negation) selects by it.
    halves: dict[bool, list[pytest.Item]] = {True: [], False: []}
    for item in items:
        shared = uses_shared_services(item)
        if shared and item.get_closest_marker("shared_services") is None:
            item.add_marker(pytest.mark.shared_services)
        halves[shared].append(item)
    half = os.environ.get("INTERLINK_TESTS_HALF")
    if half is None:
        return
    if half not in HALVES:
        raise pytest.UsageError(f"INTERLINK_TESTS_HALF must be one of {', '.join(HALVES)}, not {half!r}")
    config.hook.pytest_deselected(items=halves[not HALVES[half]])
    items[:] = halves[HALVES[half]]


@pytest.fixture(autouse=True)
def neo4j_only_for_shared_services(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test not marked `shared_services` runs beside the tests that write and empty Neo4j:
    one that reaches Neo4j fails, however the tier is run, naming the marker it lacks."""
    if request.node.get_closest_marker("shared_services") is not None:  # given at collection
        return
    from graph import driver

    def refused(*_: object, **__: object) -> None:
        # pytest.fail, not an AssertionError: code that reports any exception as the graph
        # being down (the health check) would swallow that.
        pytest.fail(f"{request.node.nodeid} reaches Neo4j: mark it shared_services")

    monkeypatch.setattr(driver, "_driver", None)
    monkeypatch.setattr(driver.GraphDatabase, "driver", refused)


def pytest_collection_finish(session: pytest.Session) -> None:
    # Checked once, before any test: the full tier must not quietly fall back to the embedded
    # default, and the fast tier must not quietly reach a server.
    tiers = {in_fast_tier(item.path) for item in session.items}
    if tiers == {True, False}:
        pytest.exit("run the fast tier (tests/fast) and the full tier apart: `make test` runs both", 4)
    configured = {
        "DATABASE_URL (PostgreSQL)": connection.vendor == "postgresql",
        "CELERY_BROKER_URL (Redis)": not settings.CELERY_TASK_ALWAYS_EAGER,
        "NEO4J_URI (Neo4j)": bool(settings.NEO4J_URI),
    }
    if True in tiers and any(configured.values()):
        pytest.exit(
            "the fast tier runs on the embedded default; set: "
            + ", ".join(name for name, on in configured.items() if on)
            + ". Run `make check`, or unset those variables.",
            4,
        )
    if False in tiers and not all(configured.values()):
        pytest.exit(
            "the full tier runs on the full stack; not configured: "
            + ", ".join(name for name, on in configured.items() if not on)
            + ". Run `make test`, or export the variables of tests/test.env and .env.example.",
            4,
        )


def services(action: str, *names: str) -> str:
    result = subprocess.run(
        [str(SERVICES), action, *names], capture_output=True, text=True, timeout=300, check=False
    )
    if action != "status" and result.returncode != 0:
        raise RuntimeError(f"platform/services {action} {' '.join(names)} failed:\n{result.stderr}")
    return result.stdout


def worker_database_url() -> str:
    """DATABASE_URL with the database name swapped for the one the test runner created."""
    base, _, _ = os.environ["DATABASE_URL"].rpartition("/")
    return f"{base}/{connection.settings_dict['NAME']}"


class WorkerProcess:
    """A real `celery worker` process consuming the suite's queue against the test database."""

    def __init__(self) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
        self.log = ROOT / "var" / "logs" / "test-worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        from config.celery import app

        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "DATABASE_URL": worker_database_url()}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.worker_app",
                "worker",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                self.name,
                "--without-gossip",
                "--without-mingle",
            ],
            cwd=ROOT,
            env=env,
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited with {self.process.returncode}; see {self.log}")
            if app.control.ping(destination=[self.name], timeout=0.5):
                return
        raise RuntimeError(f"celery worker {self.name} did not answer within 60 s; see {self.log}")

    def settles(self, *, within: float) -> bool:
        """Whether the worker comes to hold no task, with the suite's queue empty, within
        `within` seconds. Settled means so twice in a row with no task accepted in between:
        the worker's answers about what it runs, what it holds and what waits are asked one
        after the other, and a task can pass from one to the next between two of them. A task
        scheduled for later (a retry's countdown) never settles: it would run in a later test."""
        from config.celery import app

        inspect = app.control.inspect(destination=[self.name], timeout=2.0)
        accepted_before = None
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and self.process.poll() is None:
            answers = [inspect.scheduled(), inspect.active(), inspect.reserved(), inspect.stats()]
            if any(not answer for answer in answers):
                return False
            scheduled, active, reserved, stats = (answer[self.name] for answer in answers)
            if scheduled:
                return False
            with app.connection_for_read() as broker:
                try:
                    _, waiting, _ = broker.default_channel.queue_declare(
                        queue=app.conf.task_default_queue, passive=True
                    )
                except ChannelError:  # no such queue: nothing was sent to it yet
                    waiting = 0
            holds = bool(active or reserved or waiting)
            accepted = stats["total"]
            if not holds and accepted == accepted_before:
                return True
            accepted_before = None if holds else accepted
            time.sleep(0.05)
        return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class SessionWorker:
    """The suite's shared worker, started on first use. Tests that run workers of their own
    on the same queue (the graph sync's kill and drain tests) pause it, so that it takes
    none of their tasks; the next test that needs it starts it again."""

    def __init__(self, django_db_blocker) -> None:
        self.blocker = django_db_blocker
        self.worker: WorkerProcess | None = None

    def running(self) -> WorkerProcess:
        if self.worker is None or self.worker.process.poll() is not None:
            from config.celery import app

            # Tasks left on the suite's queue by an earlier, interrupted run would run against
            # a database that no longer exists.
            app.control.purge()
            self.worker = WorkerProcess()
            with self.blocker.unblock():
                self.worker.start()
        return self.worker

    def pause(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def quiet(self) -> None:
        """Lets the worker finish what the test gave it, and keeps it for the next test; one
        that does not settle is stopped, the way `pause` does (starting a worker again costs
        seconds, and most transactional tests leave it idle)."""
        if self.worker is not None and not self.worker.settles(within=QUIET_SECONDS):
            self.pause()


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker) -> Iterator[SessionWorker]:
    shared = SessionWorker(django_db_blocker)
    yield shared
    shared.pause()


@pytest.fixture
def celery_worker(session_worker) -> WorkerProcess:
    return session_worker.running()


@pytest.fixture
def without_session_worker(session_worker) -> None:
    session_worker.pause()


@pytest.fixture(autouse=True)
def searches_answer_at_once(settings) -> None:
    """SEARCH_MIN_SECONDS is a wait on every search; the tests of search's answers do not
    wait it (tests/fast/test_time_limits.py and tests/test_time_limits.py check the wait)."""
    settings.SEARCH_MIN_SECONDS = 0


@pytest.fixture(autouse=True)
def quiet_worker_before_flush(request) -> Iterator[None]:
    """A test that commits while the shared worker runs (a live-server test, or a
    transactional one that sends tasks) leaves work the worker may still be doing in the test
    database (an import, the graph drain its records start) when the test's tables are
    truncated: a deadlock. Set up after the test's database, this is torn down before its
    flush: it waits for the worker to finish what it holds and the queue to empty, or stops
    it when it does not; what a stopped worker left on the queue is purged on its restart."""
    marker = request.node.get_closest_marker("django_db")
    transactional = marker is not None and marker.kwargs.get("transaction", False)
    if "live_server" in request.fixturenames:
        request.getfixturevalue("live_server")
    elif transactional:
        # Whether or not the test asked for the worker: one an earlier test started still
        # takes the tasks this test's commits send (a graph drain after a release).
        request.getfixturevalue("transactional_db")
    else:
        yield
        return
    shared = request.getfixturevalue("session_worker")
    yield
    shared.quiet()


@pytest.fixture
def neo4j_driver():
    from graph.driver import get_driver

    driver = get_driver()
    driver.verify_connectivity()
    return driver


@pytest.fixture
def browser():
    """Debian's Chromium, headless, driven by Playwright; the browser download of test tools is not used."""
    from playwright.sync_api import sync_playwright

    if not shutil.which(CHROMIUM):
        pytest.fail(f"Chromium not found at {CHROMIUM}: `make system-packages` installs Debian's chromium")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
    # test body around it are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()
        # While Playwright's loop runs, Django keeps this thread's connections in a separate
        # context; close them here or they outlive the test and block the test database's drop.
        connections.close_all()


@pytest.fixture(autouse=True)
def audit_heads_file(settings, tmp_path) -> Path:
    """Each test publishes audit heads to a file of its own: heads left by an earlier test
    name events its flushed database no longer holds."""
    settings.AUDIT_HEAD_FILE = tmp_path / "audit-heads.jsonl"
    return settings.AUDIT_HEAD_FILE


@pytest.fixture
def sign_in():
    """`sign_in(client, user)`: a Django or DRF test client signed in as `user` with the
    second factor already given (a TOTP device, the session marked the way django_otp.login
    marks it), for tests that are not about signing in; tests/test_auth.py covers the flow."""
    from tests.auth_helpers import signed_in

    return signed_in
