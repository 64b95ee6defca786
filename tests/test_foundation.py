"""The platform on its real services: PostgreSQL, Redis with a Celery worker, Neo4j, health."""

import os
import subprocess
import time

import neo4j
import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder

from agencies.models import Agency, User
from config.celery import ping
from tests.auth_helpers import signed_in
from tests.sharing_helpers import platform_admin, staff


@pytest.mark.django_db
def test_migrations_applied_on_postgresql_and_a_row_round_trips():
    assert connection.vendor == "postgresql"
    applied = MigrationRecorder(connection).applied_migrations()
    assert ("sharing", "0001_initial") in applied

    Agency.objects.create(code="cus-nl", name="Customs NL", country="NL", kind=Agency.Kind.CUSTOMS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, country, kind FROM agencies_agency WHERE code = %s", ["cus-nl"])
        assert cursor.fetchone() == ("Customs NL", "NL", "customs")


def test_task_goes_through_redis_to_the_real_worker_process(celery_worker):
    assert not settings.CELERY_TASK_ALWAYS_EAGER
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    result = ping.delay()
    reply = result.get(timeout=30)
    assert result.successful()
    # The worker's pool processes are children of the worker we started, not this process.
    assert reply["pid"] != os.getpid()
    children = subprocess.run(
        ["pgrep", "-P", str(celery_worker.process.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert str(reply["pid"]) in children


def test_neo4j_over_bolt_writes_and_reads_with_the_configured_password(neo4j_driver):
    marker = f"foundation-{time.time_ns()}"
    neo4j_driver.execute_query("CREATE (:FoundationProbe {marker: $marker})", marker=marker)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (p:FoundationProbe {marker: $marker}) RETURN p.marker AS marker", marker=marker
    )
    assert [r["marker"] for r in records] == [marker]
    neo4j_driver.execute_query("MATCH (p:FoundationProbe) DETACH DELETE p")


@pytest.mark.shared_services
def test_neo4j_refuses_a_wrong_password():
    with neo4j.GraphDatabase.driver(settings.NEO4J_URI, auth=("neo4j", "not-the-password")) as driver:
        with pytest.raises(neo4j.exceptions.AuthError):
            driver.verify_connectivity()


DEPENDENCIES = {"database", "broker", "worker", "graph"}


@pytest.mark.django_db
def test_health_is_200_with_every_dependency_up(client, celery_worker):
    response = client.get("/health/")
    body = response.json()
    assert response.status_code == 200, body
    assert body == {"status": "up", "down": [], "checks": {name: {"state": "up"} for name in DEPENDENCIES}}
    # A platform admin, signed in with the second factor, sees what answered and how fast.
    body = signed_in(client, platform_admin()).get("/health/").json()
    assert body["status"] == "up"
    assert set(body["checks"]) == DEPENDENCIES
    for name, check in body["checks"].items():
        assert check["state"] == "up", name
        assert check["latency_ms"] >= 0
    assert body["checks"]["graph"]["detail"] == "neo4j"
    assert body["checks"]["database"]["detail"] == "postgresql"
    assert "backlog" in body["graph_sync"]


@pytest.mark.django_db
@pytest.mark.shared_services
@pytest.mark.parametrize("who", ["anonymous", "analyst", "agency admin", "staff"])
def test_health_tells_others_up_or_down_only(client, tmp_path, who):
    """An agency's import leaves changes for the graph sync: the public answer (and any
    agency's) says nothing about them, nor what answered or how fast."""
    from intel.import_writing import import_file
    from tests.test_import import EXAMPLES

    cus = staff("cus")
    import_file(EXAMPLES / "shipments.csv", cus.agency)
    users = {"analyst": cus.analyst, "agency admin": cus.admin, "staff": cus.admin}
    if who == "staff":
        User.objects.filter(pk=cus.admin.pk).update(is_staff=True)
        cus.admin.refresh_from_db()
    if who != "anonymous":
        signed_in(client, users[who])
    response = client.get("/health/")
    body = response.json()
    assert set(body) == {"status", "down", "checks"}, body
    assert body["checks"] == {name: {"state": body["checks"][name]["state"]} for name in DEPENDENCIES}
    assert b"backlog" not in response.content and b"latency" not in response.content


@pytest.mark.django_db
def test_a_failures_text_is_shown_to_platform_admins_only(client, monkeypatch):
    from config import health

    def refused() -> str:
        raise ConnectionRefusedError("bolt://graph-internal.example:7687 refused user neo4j")

    def sync_broken():
        raise RuntimeError("relation graph_outbox on db-internal.example is locked")

    monkeypatch.setitem(health.CHECKS, "graph", refused)
    monkeypatch.setattr(health, "sync_state", sync_broken)
    public = client.get("/health/")
    assert public.status_code == 503
    assert "graph" in public.json()["down"] and public.json()["checks"]["graph"] == {"state": "down"}
    assert b"internal.example" not in public.content and b"ConnectionRefused" not in public.content
    admin = signed_in(client, platform_admin()).get("/health/")
    assert admin.status_code == 503
    assert "graph-internal.example" in admin.json()["checks"]["graph"]["detail"]
    assert "db-internal.example" in admin.json()["graph_sync"]["error"]


@pytest.mark.django_db
def test_passwords_are_hashed_with_argon2(django_user_model):
    user = django_user_model.objects.create_user("hash-probe", password="a long passphrase here")
    assert user.password.startswith("argon2$")
