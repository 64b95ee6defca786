"""The API measured over HTTP, as a client of a deployment meets it: a gunicorn server
(`config.wsgi`, as a deployment runs it) on the bench database, signed in with an API
token (`Authorization: Token ...`, from POST /api/auth/token/), the purpose stated in the
X-Interlink-Purpose header, and every id taken from an earlier answer of the API (never
from the database, never built): the API's ids may be integers or strings.

Request kinds, each for the analysts of the agencies that see the most and the least:
the record list (plain, filtered, a deep page by its number and the same page reached by
the `next` link of the page before it), a record's detail, the entity list and an
entity's detail, the link list (plain and of one entity), search (common words, whole names, texts no record
contains), and a CSV export.
Cold: the first request of each kind to a freshly started server, in a shuffled order,
over several starts. Warm: after a warm-up, the kinds taking turns request by request.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import requests

from bench.common import ROOT, WORK_DIR, bench_env, percentile

PURPOSE_HEADER = "X-Interlink-Purpose"
DEEP_PAGE = 500
EXPORT_RECORDS = 1_000
KIND_GROUPS = {
    "list": (
        "records",
        "records_filtered",
        "records_deep",
        "records_deep_next",
        "entities",
        "links",
        "links_of_entity",
    ),
    "detail": ("record_detail", "entity_detail"),
    "search": ("search", "search_name", "search_absent"),
    "export": ("export",),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# How the project is served (README, "Production"); a revision without it is served as it was.
SERVING_CONFIG = "config/gunicorn.conf.py"


def server_command(
    port: int, workers: int | None, threads: int | None = None, root: Path = ROOT
) -> list[str]:
    """gunicorn as the checkout at `root` is served, with, when given, `workers` processes
    and `threads` per process (1: gunicorn's sync worker, one request per process)."""
    command = [str(Path(sys.executable).parent / "gunicorn"), "config.wsgi:application"]
    if (root / SERVING_CONFIG).exists():
        command += ["--config", SERVING_CONFIG]
    if workers is not None:
        command += ["--workers", str(workers)]
    if threads is not None:
        command += ["--threads", str(threads), *(["--worker-class", "sync"] if threads == 1 else [])]
    return [
        *command,
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--access-logfile",
        "-" if os.environ.get("BENCH_ACCESS_LOG") else "/dev/null",
    ]


def served_by(workers: int | None, threads: int | None = None) -> str:
    """The server's command line as the figures name it."""
    command = server_command(0, workers, threads)
    return shlex.join(["gunicorn", *command[1:]]).replace("127.0.0.1:0", "127.0.0.1:PORT")


@contextmanager
def server(
    workers: int | None, log_name: str = "gunicorn", root: Path = ROOT, threads: int | None = None
) -> Iterator[str]:
    """A gunicorn serving the project (the checkout at `root`, `server_command`) on the
    bench database; its base URL, once it answers."""
    port = free_port()
    log = (WORK_DIR / f"{log_name}.log").open("a")
    # Its own process group: a worker still busy with a long request when the master is
    # killed would otherwise live on.
    process = subprocess.Popen(
        server_command(port, workers, threads, root),
        cwd=root,
        env=bench_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: see {log.name}")
            try:
                # Not /health/: it waits on a Celery worker, which no worker of the bench queue is.
                requests.get(f"{base}/accounts/login/", timeout=30).raise_for_status()
                break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within a minute: see {log.name}")
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=40)  # gunicorn's graceful timeout is 30 s
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        log.close()


def sign_in(base: str, user: dict) -> requests.Session:
    """A session sending the API token a sign-in answered, and the purpose, on every request."""
    session = requests.Session()
    body = {"username": user["username"], "password": user["password"]}
    if user.get("totp"):
        import pyotp

        body["otp_token"] = pyotp.TOTP(user["totp"]).now()
    response = session.post(f"{base}/api/auth/token/", json=body, timeout=60)
    if response.status_code != 201:
        raise RuntimeError(
            f"sign-in of {user['username']}: HTTP {response.status_code} {response.text[:200]}"
        )
    session.headers.update(
        {"Authorization": f"Token {response.json()['token']}", PURPOSE_HEADER: "risk_assessment"}
    )
    return session


@dataclass
class Plan:
    """The URL of each request kind for one analyst, every id and search term from answers."""

    agency: str
    urls: dict[str, list[str]] = field(default_factory=dict)
    notes: dict[str, object] = field(default_factory=dict)


def plan_for(base: str, session: requests.Session, agency: str, scale: float) -> Plan:
    plan = Plan(agency)

    def get(path: str) -> requests.Response:
        response = session.get(base + path, timeout=REQUEST_TIMEOUT * 5)
        if response.status_code >= 500:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return response

    records = get("/api/records/").json()
    plan.notes["records_count"] = records["count"]
    plan.notes["records_count_exact"] = records["count_exact"]
    plan.urls["records"] = ["/api/records/"]
    plan.urls["records_filtered"] = [
        "/api/records/?category=seizure",
        "/api/records/?category=inspection&occurred_after=2025-01-01",
        "/api/records/?classification=2&occurred_before=2024-06-30",
    ]
    # The deepest page up to DEEP_PAGE that exists: a small run has fewer pages.
    page = DEEP_PAGE
    while page > 2 and get(f"/api/records/?page={page}").status_code == 404:
        page //= 2
    plan.notes["deep_page"] = page
    plan.urls["records_deep"] = [f"/api/records/?page={page}"]
    # The same page as a client walking the list reaches it: the `next` of the page before,
    # which continues after that page's last row.
    following = get(f"/api/records/?page={page - 1}").json()["next"]
    plan.urls["records_deep_next"] = [following[following.index("/api/") :]]
    # Detail of records of other agencies first (the audited, redacted path), from the pages.
    seen = records["results"] + get("/api/records/?page=2").json().get("results", [])
    shared = [row["id"] for row in seen if row.get("owner") != agency]
    own = [row["id"] for row in seen if row.get("owner") == agency]
    plan.notes["detail_records_shared"] = len(shared[:40])
    plan.urls["record_detail"] = [f"/api/records/{pk}/" for pk in (shared[:40] or own[:40])]
    entities = get("/api/entities/").json()["results"]
    plan.urls["entities"] = ["/api/entities/", "/api/entities/?type=company", "/api/entities/?page=3"]
    plan.urls["entity_detail"] = [f"/api/entities/{row['id']}/" for row in entities[:40]]
    plan.urls["links"] = ["/api/links/", "/api/links/?type=CONSIGNED_TO"]
    plan.urls["links_of_entity"] = [f"/api/links/?entity={row['id']}" for row in entities[:20]]
    words = sorted({word for row in entities for name in row.get("names", []) for word in name.split()})
    terms = [w for w in words if len(w) >= 4 and not w.isdigit()][:6] or ["trading"]
    plan.urls["search"] = [f"/api/search/?q={term}" for term in terms]
    # As analysts mostly search: a whole name the list showed (found among a few mentions),
    # and texts that no record contains (a name or number the analyst hoped to find).
    names = list(dict.fromkeys(name for row in entities for name in row.get("names", [])))[:6]
    plan.urls["search_name"] = [f"/api/search/?{urlencode({'q': name})}" for name in names]
    plan.urls["search_absent"] = [f"/api/search/?q=zqxj{index}wvk" for index in range(6)]
    # An analyst exports a filtered set: seizures of the last days, narrowed until the list
    # of them holds at most EXPORT_RECORDS records.
    days = 1200
    while True:
        filters = f"category=seizure&occurred_after={_days_before_end(days)}"
        listed = get(f"/api/records/?{filters}").json()
        if (listed["count_exact"] and listed["count"] <= EXPORT_RECORDS) or days < 2:
            break
        days //= 2
    url = f"/api/records/export/?{filters}"
    plan.notes["export_records"] = listed["count"]
    plan.notes["export_window_days"] = days
    plan.urls["export"] = [url]
    return plan


def _days_before_end(days: int) -> str:
    from datetime import date, timedelta

    # The records occur from 2023-01-01 for 1185 days (bench/api.py).
    return (date(2023, 1, 1) + timedelta(days=1185 - days)).isoformat()


@dataclass
class Sample:
    kind: str
    visibility: str
    phase: str
    ms: float
    status: int
    size: int


REQUEST_TIMEOUT = 120  # seconds; a request that takes longer counts as status 0


def timed(session: requests.Session, base: str, path: str) -> tuple[float, int, int]:
    started = time.perf_counter()
    try:
        response = session.get(base + path, timeout=REQUEST_TIMEOUT)
        size = len(response.content)  # the export streams: timed to its last byte
        status = response.status_code
    except requests.Timeout:
        size, status = 0, 0
    return (time.perf_counter() - started) * 1000, status, size


def measure(
    users: dict[str, dict],
    scale: float,
    requests_per_kind: int,
    warmup: int,
    cold_starts: int,
    workers: int | None,
) -> dict:
    """`users` maps a visibility class to the analyst that represents it."""
    rnd = random.Random(11)
    samples: list[Sample] = []
    plans: dict[str, Plan] = {}
    with server(workers) as base:
        sessions = {cls: sign_in(base, user) for cls, user in users.items()}
        for cls, user in users.items():
            plans[cls] = plan_for(base, sessions[cls], user["agency"], scale)
    for start in range(cold_starts):
        with server(workers) as base:
            # Signing in is not one of the kinds: a token from an earlier server still works.
            order = [(cls, kind) for cls in plans for kind in plans[cls].urls]
            rnd.shuffle(order)
            for cls, kind in order:
                urls = plans[cls].urls[kind]
                ms, status, size = timed(sessions[cls], base, urls[start % len(urls)])
                samples.append(Sample(kind, cls, "cold", ms, status, size))
    with server(workers) as base:
        order = [(cls, kind) for cls in plans for kind in plans[cls].urls]
        for round_ in range(warmup + requests_per_kind):
            rnd.shuffle(order)
            for cls, kind in order:
                urls = plans[cls].urls[kind]
                ms, status, size = timed(sessions[cls], base, urls[round_ % len(urls)])
                if round_ >= warmup:
                    samples.append(Sample(kind, cls, "warm", ms, status, size))
    return {
        "server": served_by(workers),
        "workers": workers,
        "requests_per_kind": requests_per_kind,
        "warmup": warmup,
        "cold_starts": cold_starts,
        "users": {cls: {"username": u["username"], "agency": u["agency"]} for cls, u in users.items()},
        "plans": {cls: {"urls": p.urls, **p.notes} for cls, p in plans.items()},
        "summary": summarize(samples),
    }


def summarize(samples: list[Sample]) -> list[dict]:
    groups: dict[tuple[str, str, str], list[Sample]] = {}
    for sample in samples:
        groups.setdefault((sample.kind, sample.visibility, sample.phase), []).append(sample)
    rows = []
    for (kind, visibility, phase), group in groups.items():
        times = [s.ms for s in group]
        statuses: dict[str, int] = {}
        for s in group:
            statuses[str(s.status)] = statuses.get(str(s.status), 0) + 1
        rows.append(
            {
                "kind": kind,
                "group": next((g for g, kinds in KIND_GROUPS.items() if kind in kinds), "other"),
                "visibility": visibility,
                "phase": phase,
                "n": len(group),
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "p99_ms": percentile(times, 99),
                "max_ms": max(times),
                "statuses": statuses,
                "mean_bytes": sum(s.size for s in group) / len(group),
            }
        )
    order = list(dict.fromkeys(k for kinds in KIND_GROUPS.values() for k in kinds))
    rows.sort(key=lambda r: (r["phase"] != "warm", order.index(r["kind"]), r["visibility"]))
    return rows
