"""The load test (bench/run.py, stage `load`): analysts reading and liaison officers
working their agency's queue, against the gunicorn of the HTTP stage.

    locust -f bench/locustfile.py --headless --host http://127.0.0.1:PORT ...

BENCH_USERS names a JSON file of who signs in (bench/api.py `credentials`); BENCH_ANALYSTS
and BENCH_LIAISONS how many of each run at once. Every id comes from an answer of the API.
Analysts sign in with an API token; liaison officers with a token for the API and through
the sign-in pages (password, then the TOTP code) for the pages of their queue and of what
their agency shares.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from datetime import datetime

import pyotp
from locust import HttpUser, between, events, task

PURPOSE = {"X-Interlink-Purpose": "risk_assessment"}
USERS = json.loads(open(os.environ["BENCH_USERS"]).read()) if os.environ.get("BENCH_USERS") else {}
_analysts = itertools.cycle(USERS.get("analysts", [{}]))
_liaisons = itertools.cycle(USERS.get("liaisons", [{}]))
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@events.init_command_line_parser.add_listener
def _(parser) -> None:
    parser.add_argument("--export-query", default="category=seizure&occurred_after=2026-01-01")


# Every request's start, time and outcome, one JSON line each, for figures locust's CSV files
# cannot give: those of the steady state once every user has signed in (bench/report.py).
_request_log = open(os.environ["BENCH_REQUEST_LOG"], "w") if os.environ.get("BENCH_REQUEST_LOG") else None


@events.request.add_listener
def _(request_type, name, response_time, start_time, exception, **kwargs) -> None:
    if _request_log is not None:
        row = [round(start_time, 3), round(response_time, 1), request_type, name, exception is not None]
        _request_log.write(json.dumps(row) + "\n")


@events.quitting.add_listener
def _(environment, **kwargs) -> None:
    if _request_log is not None:
        _request_log.close()


class Reader(HttpUser):
    abstract = True
    wait_time = between(1, 3)

    def sign_in_api(self, user: dict, code: str | None = None) -> None:
        body = {"username": user["username"], "password": user["password"]}
        if code:
            body["otp_token"] = code
        with self.client.post(
            "/api/auth/token/", json=body, name="sign in (token)", catch_response=True
        ) as r:
            if r.status_code != 201:
                r.failure(f"HTTP {r.status_code}")
                raise RuntimeError(f"sign-in of {user['username']} refused: {r.text[:200]}")
            self.client.headers.update({"Authorization": f"Token {r.json()['token']}", **PURPOSE})

    def get_json(self, path: str, name: str) -> dict:
        with self.client.get(path, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
                return {}
            return response.json()


class Analyst(Reader):
    fixed_count = int(os.environ.get("BENCH_ANALYSTS", "50"))

    def on_start(self) -> None:
        self.user = next(_analysts)
        self.sign_in_api(self.user)
        self.records: list = []
        self.entities: list = []
        self.names: list[str] = []
        self.list_records()
        self.list_entities()

    @task(6)
    def list_records(self) -> None:
        page = random.choice((1, 1, 1, 2, 3))
        body = self.get_json(f"/api/records/?page={page}", "records")
        self.records = [row["id"] for row in body.get("results", [])] or self.records

    @task(3)
    def filtered_records(self) -> None:
        query = random.choice(("category=seizure", "category=inspection&occurred_after=2025-01-01"))
        self.get_json(f"/api/records/?{query}", "records, filtered")

    @task(1)
    def deep_page(self) -> None:
        with self.client.get("/api/records/?page=50", name="records, page 50", catch_response=True) as r:
            if r.status_code not in (200, 404):  # 404: fewer pages than that
                r.failure(f"HTTP {r.status_code}")

    @task(6)
    def record_detail(self) -> None:
        if not self.records:
            return
        pk = random.choice(self.records)
        with self.client.get(f"/api/records/{pk}/", name="record detail", catch_response=True) as r:
            if r.status_code == 404:
                # The liaison officers withdraw releases (releasability "none") as they work: a
                # partner's record listed a moment ago may be hidden now, and hidden answers 404.
                # Counted apart, as the right answer it is, not mixed into the detail's times.
                r.request_meta["name"] = "record detail, hidden since listed"
                r.success()
                self.records.remove(pk)
            elif r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")

    @task(2)
    def list_entities(self) -> None:
        body = self.get_json("/api/entities/", "entities")
        rows = body.get("results", [])
        self.entities = [row["id"] for row in rows] or self.entities
        self.names = [w for row in rows for n in row.get("names", []) for w in n.split() if len(w) >= 4]

    @task(3)
    def entity_detail(self) -> None:
        if self.entities:
            self.get_json(f"/api/entities/{random.choice(self.entities)}/", "entity detail")

    @task(2)
    def links(self) -> None:
        if self.entities:
            self.get_json(f"/api/links/?entity={random.choice(self.entities)}", "links of an entity")

    @task(3)
    def search(self) -> None:
        if self.names:
            self.get_json(f"/api/search/?q={random.choice(self.names)}", "search")

    @task(1)
    def export(self) -> None:
        query = self.environment.parsed_options.export_query
        with self.client.get(f"/api/records/export/?{query}", name="export", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")


class Liaison(Reader):
    fixed_count = int(os.environ.get("BENCH_LIAISONS", "5"))

    def on_start(self) -> None:
        self.user = next(_liaisons)
        self.totp = pyotp.TOTP(self.user["totp"])
        self.token_step = self.totp.timecode(datetime.now())
        self.sign_in_api(self.user, self.totp.at(self.token_step * self.totp.interval))
        self.sign_in_pages()
        self.pending: list = []
        self.own_records: list = []
        self.queue()

    def sign_in_pages(self) -> None:
        login = self.client.get("/accounts/login/", name="sign in (page)")
        token = CSRF.search(login.text)
        answer = self.client.post(
            "/accounts/login/",
            data={
                "username": self.user["username"],
                "password": self.user["password"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
            },
            name="sign in (page)",
        )
        token = CSRF.search(answer.text)
        # One code per time step (a code used twice is refused as a replay): the token took
        # its step's, the pages wait for a later one to begin. A code of a step still to come
        # was accepted, but taught the device that this phone's clock runs a step ahead
        # (django-otp's drift), and a later sign-in whose code reached a loaded server in the
        # next step was then refused.
        step = self.token_step + 1
        time.sleep(max(0.0, step * self.totp.interval - time.time()))
        code = self.totp.at(max(self.totp.timecode(datetime.now()), step) * self.totp.interval)
        with self.client.post(
            answer.url,
            data={"code": code, "csrfmiddlewaretoken": token.group(1) if token else ""},
            name="sign in (second factor)",
            catch_response=True,
        ) as verified:
            if "/accounts/" in verified.url:
                verified.failure(f"still at {verified.url}")

    @task(4)
    def queue(self) -> None:
        body = self.get_json("/api/requests/?box=incoming", "request queue (API)")
        self.pending = [row["id"] for row in body.get("results", []) if row.get("status") == "pending"]

    @task(2)
    def queue_page(self) -> None:
        self.page("/liaison/requests/", "request queue (page)")

    @task(2)
    def shared_page(self) -> None:
        self.page("/liaison/shared/", "shared (page)")

    def page(self, path: str, name: str) -> None:
        with self.client.get(path, name=name, catch_response=True) as r:
            if r.status_code != 200 or "/accounts/" in r.url:
                r.failure(f"HTTP {r.status_code} at {r.url}")

    @task(3)
    def decide(self) -> None:
        if not self.pending:
            return
        pk = self.pending.pop(random.randrange(len(self.pending)))
        if random.random() < 0.6:
            self.post(f"/api/requests/{pk}/approve/", {"grant_days": 30}, "approve a request")
        else:
            self.post(f"/api/requests/{pk}/refuse/", {"reason": "Not for this purpose."}, "refuse a request")

    @task(2)
    def release(self) -> None:
        if not self.own_records:
            body = self.get_json(f"/api/records/?owner={self.user['agency']}", "records, own")
            self.own_records = [row["id"] for row in body.get("results", [])]
        if self.own_records:
            choice = random.choice(("covering", "none"))
            pk = random.choice(self.own_records)
            self.post(f"/api/records/{pk}/release/", {"releasability": choice}, "release a record")

    def post(self, path: str, body: dict, name: str) -> None:
        with self.client.post(path, json=body, name=name, catch_response=True) as r:
            if r.status_code >= 300:
                r.failure(f"HTTP {r.status_code}: {r.text[:120]}")
