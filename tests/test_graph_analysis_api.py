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
from graph import jobs
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


def company_of_tax_alone(tmp_path, tax) -> Entity:
    """A company ("Hidden ... Holding") named only by a shipment record of tax's, which
    customs may not see."""
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "tax.csv"
    path.write_text(
        "external_ref,category,occurred_on,summary,importer_name,importer_country\n"
        f"T-1,shipment,2026-03-05,tax only,Hidden {tag} Holding,NL\n"
    )
    import_file(path, tax.agency)
    return Entity.objects.get(type="company", mentions__record__owner=tax.agency)


def test_an_entity_the_caller_may_not_see_now_is_dropped_with_the_paths_through_it(
    celery_worker,
    world,  # noqa: F811
    tmp_path,
):
    cus, tax, alpha = world["cus"], world["tax"], world["alpha"]
    hidden = company_of_tax_alone(tmp_path, tax)
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


def test_an_agency_queues_at_most_its_fill_of_analyses(without_session_worker, world, monkeypatch, settings):  # noqa: F811
    """Every distinct parameter is a job of its own over the agency's whole graph: past
    ANALYTICS_JOBS_PER_AGENCY queued or running, another is refused with 429 (and nothing
    written), while polling one already queued, and another agency, are not."""
    settings.ANALYTICS_JOBS_PER_AGENCY = 2
    monkeypatch.setattr(jobs, "_send", lambda pk: None)  # queued, never run
    cus, tax = world["cus"], world["tax"]
    assert ask(cus, "communities", {}).status_code == 202
    assert ask(cus, "betweenness", {"parameters": {"community": 3}}).status_code == 202
    refused = ask(cus, "betweenness", {"parameters": {"community": 4}})
    assert refused.status_code == 429, refused.content
    assert "2 analyses queued or running" in refused.json()["detail"]
    assert AnalyticsResult.objects.filter(agency=cus.agency).count() == 2
    assert ask(cus, "communities", {}).status_code == 202
    assert ask(tax, "betweenness", {"parameters": {"community": 4}}).status_code == 202
    AnalyticsResult.objects.filter(agency=cus.agency, operation="communities").update(status="failed")
    assert ask(cus, "betweenness", {"parameters": {"community": 4}}).status_code == 202
    asked = AuditEvent.objects.filter(action="graph.query", object_id="analysis.betweenness")
    outcomes = [event.details["outcome"] for event in asked.filter(agency_id=cus.agency.pk).order_by("id")]
    assert outcomes == ["pending", "refused", "pending"]


def test_the_pairs_of_a_stored_pattern_are_public_ids_and_shown_only_whole(
    celery_worker,
    world,  # noqa: F811
    tmp_path,
):
    cus, tax = world["cus"], world["tax"]
    hidden = company_of_tax_alone(tmp_path, tax)
    importers = sorted(
        Entity.objects.filter(type="company", mentions__record__owner=cus.agency, mentions__role="importer")
        .distinct()
        .values_list("pk", flat=True)
    )
    container = Entity.objects.filter(mentions__record__owner=cus.agency).exclude(pk__in=importers).first()
    synced()
    operation = "containers_across_unrelated_importers"
    answered(cus, operation, {})
    # As if the job had read a graph in which customs could see the tax record.
    pairs = [importers, [importers[0], hidden.pk]]
    match = {"container": container.pk, "importers": [*importers, hidden.pk], "unrelated_pairs": pairs}
    AnalyticsResult.objects.filter(agency=cus.agency, operation=operation).update(result={"matches": [match]})

    (shown,) = answered(cus, operation, {})["result"]["matches"]
    named = [[e["id"] for e in pair] for pair in shown["unrelated_pairs"]]
    assert named == [[public(Entity.objects.get(pk=pk)) for pk in importers]]
    text = json.dumps(shown)
    assert public(hidden) not in text and "Hidden" not in text
    assert not [value for value in leaves(shown) if isinstance(value, int)], "no internal id leaves"


def leaves(value):
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from leaves(item)
    else:
        yield value
