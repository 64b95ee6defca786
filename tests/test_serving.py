"""The application served as a deployment serves it: gunicorn with config/gunicorn.conf.py."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from agencies.tokens import issue_token
from tests.conftest import worker_database_url
from tests.fast.test_settings import free_port
from tests.sharing_helpers import staff

ROOT = Path(__file__).resolve().parent.parent
# Long beside what a request of an idle server takes, however slow the machine.
SEARCH_WAIT_SECONDS = 8


@pytest.fixture
def served(transactional_db):
    """One gunicorn worker process as the project's configuration makes it, on the test
    database, with searches waiting SEARCH_WAIT_SECONDS; its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": worker_database_url(),
        "SEARCH_MIN_SECONDS": str(SEARCH_WAIT_SECONDS),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--config", "config/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "gunicorn exited"
            try:
                requests.get(f"{base}/accounts/login/", timeout=30).raise_for_status()
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "gunicorn did not answer within a minute"
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_a_search_waiting_out_its_minimum_time_does_not_hold_the_server(served):
    """A search answers no sooner than SEARCH_MIN_SECONDS (so that time says nothing of
    records the reader may not see). Served one request per process, that wait held the
    process: a handful of searches held every one, using no processor."""
    cus = staff("cus")
    _, raw = issue_token(user=cus.analyst, mfa_verified=False, where={})
    headers = {"Authorization": f"Token {raw}", "X-Interlink-Purpose": "risk_assessment"}
    finished: list[str] = []

    def get(path: str, name: str) -> int:
        status = requests.get(f"{served}{path}", headers=headers, timeout=120).status_code
        finished.append(name)
        return status

    with ThreadPoolExecutor(max_workers=2) as pool:
        search = pool.submit(get, "/api/search/?q=nowhere%20trading", "search")
        # The search's own reads take a moment; it then waits out the rest of its time.
        time.sleep(1)
        records = pool.submit(get, "/api/records/", "records")
        assert (search.result(), records.result()) == (200, 200)
    assert finished == ["records", "search"]
