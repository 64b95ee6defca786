"""Settings at start-up, each in a fresh `manage.py` process with nothing but what the test
gives it: the embedded default boots and serves /health/ with no environment at all, and
production refuses to start without what it needs and passes Django's deployment checklist."""

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def bare_environment(**extra: str) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **extra}


def test_embedded_default_boots_with_no_environment_and_serves_health():
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=bare_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        body = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/", timeout=5) as response:
                    assert response.status == 200
                    body = json.load(response)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.3)
        assert body is not None, "the embedded server did not answer /health/ within 30 s"
        assert body["status"] == "up" and body["down"] == []
    finally:
        server.terminate()
        server.wait(timeout=30)
    # What answered, which the public answer leaves out: the embedded stand-ins.
    checks = run_manage(
        bare_environment(),
        "shell",
        "-c",
        "import json; from config.health import run_checks; print(json.dumps(run_checks()))",
    )
    assert checks.returncode == 0, checks.stderr
    details = {name: check["detail"] for name, check in json.loads(checks.stdout.splitlines()[-1]).items()}
    assert details["database"] == "sqlite"
    assert details["broker"].startswith("eager")
    assert details["graph"] == "networkx (embedded)"


def test_production_refuses_to_start_without_a_secret_key_or_allowed_hosts():
    no_key = run_manage(
        bare_environment(DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="intel.example"), "check"
    )
    assert no_key.returncode != 0
    assert "DJANGO_SECRET_KEY" in no_key.stderr

    no_hosts = run_manage(
        bare_environment(DJANGO_ENV="production", DJANGO_SECRET_KEY="x" * 20 + "k" * 40), "check"
    )
    assert no_hosts.returncode != 0
    assert "DJANGO_ALLOWED_HOSTS" in no_hosts.stderr


def test_production_settings_pass_the_deployment_checklist_and_refuse_debug():
    """`check --deploy` reports nothing, not even at the DEBUG level, and silences nothing."""
    env = bare_environment(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(64),
        DJANGO_ALLOWED_HOSTS="interlink.example.org",
        AUDIT_HEAD_KEY=secrets.token_urlsafe(48),
    )
    result = run_manage(env, "check", "--deploy", "--fail-level", "DEBUG")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout + result.stderr

    debug = run_manage({**env, "DJANGO_DEBUG": "true"}, "check")
    assert debug.returncode != 0
    assert "DJANGO_DEBUG" in debug.stderr


def test_development_may_turn_debug_off():
    show = ["shell", "--no-imports", "-c", "from django.conf import settings; print(settings.DEBUG)"]
    assert run_manage(bare_environment(), *show).stdout.strip() == "True"
    assert run_manage(bare_environment(DJANGO_DEBUG="false"), *show).stdout.strip() == "False"


@pytest.mark.parametrize("key", [None, "too short"])
def test_production_refuses_to_start_without_a_head_key(key):
    env = bare_environment(
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY="s3cr3t-" + "q8Zr!v2Lp#x9Wm4Tn7Yb1Kd6Hf0Gj5Rc" * 2,
        DJANGO_ALLOWED_HOSTS="intel.example",
    )
    if key is not None:
        env["AUDIT_HEAD_KEY"] = key
    result = run_manage(env, "check")
    assert result.returncode != 0 and "AUDIT_HEAD_KEY" in result.stderr


SETTLED_PROBE = """
import gc
import config.wsgi
from django.urls import get_resolver
left = len(gc.get_objects())
get_resolver().url_patterns
print(left, len(gc.get_objects()))
"""


def test_the_application_settles_its_heap_with_every_view_loaded():
    # Everything the application loads before its first request is frozen out of Python's
    # full collections; the views (and the analytics libraries they import) are part of it,
    # so loading them afterwards finds them loaded and leaves nothing new to scan.
    env = bare_environment(DJANGO_SETTINGS_MODULE="config.settings")
    probe = subprocess.run(
        [sys.executable, "-c", SETTLED_PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert probe.returncode == 0, probe.stderr
    left, after_views = map(int, probe.stdout.split())
    assert left < 1_000, "objects left for the full collections after start-up"
    assert after_views - left < 1_000, "loading the views after start-up added objects to scan"
