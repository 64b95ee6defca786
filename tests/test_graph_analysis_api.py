"""The global analyses over the API (POST /api/graph/analytics/{operation}/) on the real
stack: 202 while the job runs, then 200 with the answer, entities named by public id; each
agency gets its own; an entity of a stored result that the caller may not see now is
dropped, and a risk path through it is dropped whole (a result lagging the sync shows no
more than the choke point allows); bad input is a 400 naming the field."""

from __future__ import annotations

import json
import uuid

import pytest

from audit.models import AuditEvent
from graph.models import AnalyticsResult
from intel.import_writing import import_file
from intel.models import Entity
from tests.test_graph_jobs import synced, world  # noqa: F401 - the fixture
from tests.test_import_batches import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/api/graph/analytics/{}/"
RISK_BODY = {"parameters": {"limit": 50, "paths": 3}}


def ask(member, operation: str, body: dict, purpose: str = "investigation"):
    return member.client(purpose=purpose).post(URL.format(operation), body, format="json")


def answered(member, operation: str = "network_risk", body: dict = RISK_BODY) -> dict:
    def done():
        response = ask(member, operation, body)
        assert response.status_code in (200, 202), response.content
        return response.status_code == 200 and response.json()

    return wait_for(done, f"the {operation} answer")


def public(entity: Entity) -> str:
    return str(entity.public_id)


def test_the_answer_follows_the_job_and_names_entities_by_public_id(celery_worker, world):  # noqa: F811
    cus, alpha = world["cus"], world["alpha"]
    synced()
    first = ask(cus, "network_risk", RISK_BODY)
    assert first.status_code == 202 and first.json()["status"] in ("pending", "running", "done")
    body = answered(cus)
    assert body["status"] == "done" and body["progress"] == 100
    # What the seizure customs may see names (Alpha, the seized shipment) is where the risk
    # starts; their neighbours are ranked.
    seeds = {seed["id"] for seed in body["result"]["seeds"]}
    assert public(alpha) in seeds
    assert seeds == {public(e) for e in Entity.objects.filter(mentions__record__category="seizure")}
    assert body["result"]["ranking"], "entities near the seizure are scored"
    assert all(isinstance(row["entity"]["names"], list) for row in body["result"]["ranking"])
    assert str(alpha.pk) not in json.dumps(body["result"]).replace(public(alpha), "")
    assert AuditEvent.objects.filter(action="graph.query", object_id="analysis.network_risk").exists()


def test_each_agency_gets_its_own_answer(celery_worker, world):  # noqa: F811
    synced()
    theirs = answered(world["tax"])
    assert (theirs["result"]["seeds"], theirs["result"]["ranking"]) == ([], [])
    ours = answered(world["cus"])
    assert public(world["alpha"]) in {seed["id"] for seed in ours["result"]["seeds"]}


def test_an_entity_the_caller_may_not_see_now_is_dropped_with_the_paths_through_it(
    celery_worker,
    world,  # noqa: F811
    tmp_path,
):
    cus, tax, alpha = world["cus"], world["tax"], world["alpha"]
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "tax.csv"
    path.write_text(
        "external_ref,category,occurred_on,summary,importer_name,importer_country\n"
        f"T-1,shipment,2026-03-05,tax only,Hidden {tag} Holding,NL\n"
    )
    import_file(path, tax.agency)
    hidden = Entity.objects.get(type="company", mentions__record__owner=tax.agency)
    synced()
    answered(cus)
    row = AnalyticsResult.objects.get(agency=cus.agency, operation="network_risk")
    # As if the job had read a graph in which customs could see the tax record.
    result = row.result
    result["ranking"].insert(0, {"entity_id": hidden.pk, "score": 0.99, "paths": []})
    scored = next(r for r in result["ranking"] if r["entity_id"] != hidden.pk)
    scored["paths"] = [
        {"entities": [alpha.pk, hidden.pk, scored["entity_id"]], "contribution": 0.5},
        {"entities": [alpha.pk, scored["entity_id"]], "contribution": 0.4},
    ]
    AnalyticsResult.objects.filter(pk=row.pk).update(result=result)

    body = answered(cus)
    text = json.dumps(body)
    assert public(hidden) not in text and "Hidden" not in text
    kept = Entity.objects.get(pk=scored["entity_id"])
    shown = next(r for r in body["result"]["ranking"] if r["entity"]["id"] == public(kept))
    assert [[e["id"] for e in p["entities"]] for p in shown["paths"]] == [[public(alpha), public(kept)]]


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("no_such_analysis", {}, "operation"),
        ("network_risk", {"parameters": {"limit": 0}}, "limit"),
        ("betweenness", {"parameters": {"limit": "many"}}, "limit"),
        ("network_risk", {"parameters": ["limit"]}, "parameters"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(world, operation, body, field):  # noqa: F811
    response = ask(world["cus"], operation, body)
    assert response.status_code == 400, response.content
    assert field in response.json()
