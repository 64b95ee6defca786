"""The targeting queue, its explanations, decisions and outcomes (the world is
tests/targeting_scene.py's; what cus may see is written out here by hand from it).

cus may see, for risk assessment while MOU-T is in force: its own CQ-1 and CQ-2, and pol's
PZ-1 and PZ-2; never tax's TX-1. Once MOU-T is suspended, only CQ-1 and CQ-2."""

import uuid
from datetime import date

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from graph import algorithms
from graph.drain import drain
from intel.models import Mention, Record
from sharing import agreements
from targeting import decisions, facts
from targeting.models import Decision, ScoringRun, ShipmentScore
from tests.auth_helpers import signed_in
from tests.sharing_helpers import platform_admin, staff
from tests.targeting_scene import build

pytestmark = pytest.mark.django_db

API = "/api/targeting/queue/"
# What cus may see of the scene's records, by hand (see the module's docstring).
CUS_SEES_WITH_MOU = {"CQ-1", "CQ-2", "PZ-1", "PZ-2"}
CUS_SEES_WITHOUT_MOU = {"CQ-1", "CQ-2"}


@pytest.fixture
def scene(tmp_path):
    return build(tmp_path)


def explained(scene, ref: str, role: str = "analyst") -> dict:
    answer = scene.cus.client(role).get(f"{API}{scene.record(ref).public_id}/")
    assert answer.status_code == 200, answer.content
    return answer.json()


def by_name(explanation: dict) -> dict[str, dict]:
    return {part["name"]: part for part in explanation["parts"]}


def shown_records(explanation: dict) -> set[str]:
    return {record["external_ref"] for part in explanation["parts"] for record in part["records"]}


def shown_names(explanation: dict) -> set[str]:
    entities = [entity for part in explanation["parts"] for entity in part["entities"]]
    entities += [entity for part in explanation["parts"] for path in part["paths"] for entity in path]
    return {name for entity in entities for name in entity["names"]}


# --- the queue ---------------------------------------------------------------------------


def test_the_queue_lists_only_the_agencys_own_declarations_ranked(scene):
    rows = scene.cus.client().get(API).json()["results"]
    assert [row["external_ref"] for row in rows] == ["CQ-1", "CQ-2"]
    assert rows[0]["score"] > rows[1]["score"]
    assert rows[0]["id"] == str(scene.record("CQ-1").public_id)
    parts = explained(scene, "CQ-1")["parts"]
    contributions = [part["contribution"] for part in parts]
    assert contributions == sorted(contributions, reverse=True)
    assert rows[0]["top_indicators"] == [
        {key: part[key] for key in ("name", "label", "contribution")} for part in parts[:3]
    ]
    assert [row["external_ref"] for row in scene.pol.client().get(API).json()["results"]] == ["PZ-2"]
    assert scene.tax.client().get(API).json()["results"] == []


def test_the_budget_covers_the_share_of_scored_declarations_rounded_down(scene):
    from targeting import profiles

    # 2 scored: 0.5 covers the first, 0.49 none, 1 both.
    for budget, inside in ((0.5, ["CQ-1"]), (0.49, []), (1.0, ["CQ-1", "CQ-2"])):
        profiles.change_profile(scene.cus.admin, reason="budget", budget=budget)
        rows = scene.cus.client().get(API).json()["results"]
        assert [row["external_ref"] for row in rows if row["in_budget"]] == inside


def test_the_queue_filters(scene):
    client = scene.cus.client()

    def refs(query: str) -> list[str]:
        answer = client.get(API + query)
        assert answer.status_code == 200, answer.content
        return [row["external_ref"] for row in answer.json()["results"]]

    assert refs("?indicator=watch_route") == ["CQ-1"]
    assert refs("?indicator=value_outlier") == []
    assert refs("?since=2026-05-03") == ["CQ-2"]
    assert refs("?until=2026-05-02") == ["CQ-1"]
    top = client.get(API).json()["results"][0]["score"]
    assert refs(f"?min_score={top}") == ["CQ-1"]
    decisions.decide(scene.cus.analyst, scene.record("CQ-2"), action="release", reason="known trader")
    assert refs("?decided=true") == ["CQ-2"]
    assert refs("?decided=false") == ["CQ-1"]
    assert refs("?action=release") == ["CQ-2"]
    assert refs("?action=inspect") == []
    for query, field in (
        ("?min_score=lots", "min_score"),
        ("?since=2026-13-01", "since"),
        ("?indicator=gut_feeling", "indicator"),
        ("?decided=maybe", "decided"),
        ("?action=ignore", "action"),
        ("?min_score=1%00", "min_score"),
    ):
        answer = client.get(API + query)
        assert answer.status_code == 400, query
        assert field in answer.json(), (query, answer.json())


# --- the explanation --------------------------------------------------------------------


def test_another_agencys_declaration_answers_as_a_missing_one(scene):
    client = scene.cus.client()
    missing = client.get(f"{API}{uuid.uuid4()}/")
    # PZ-2 is a record cus may see, but pol's declaration with pol's score.
    partners = client.get(f"{API}{scene.record('PZ-2').public_id}/")
    tax = client.get(f"{API}{scene.record('TX-1').public_id}/")
    assert missing.status_code == partners.status_code == tax.status_code == 404
    assert missing.json() == partners.json() == tax.json()
    pol_reads_cus = scene.pol.client().get(f"{API}{scene.record('CQ-1').public_id}/")
    assert pol_reads_cus.status_code == 404
    assert pol_reads_cus.json() == missing.json()
    # Nor any of its writes.
    for action, body in (
        ("decision", {"action": "inspect", "reason": "x"}),
        ("outcome", {"outcome": "seizure"}),
    ):
        answer = scene.pol.client().post(
            f"{API}{scene.record('CQ-1').public_id}/{action}/", body, format="json"
        )
        assert answer.status_code == 404
    assert scene.cus.client().get(f"{API}not-a-uuid/").status_code == 404
    bad_id = scene.cus.client().post(
        f"{API}12/decision/", {"action": "inspect", "reason": "x"}, format="json"
    )
    assert bad_id.status_code == 404


def test_the_parts_add_up_to_the_score_and_the_evidence_is_what_cus_may_see(scene):
    shown = explained(scene, "CQ-1")
    assert round(sum(part["contribution"] for part in shown["parts"]), 4) == shown["score"]
    parts = by_name(shown)
    assert [r["external_ref"] for r in parts["watch_route"]["records"]] == ["CQ-1"]
    assert [r["external_ref"] for r in parts["partner_mismatch"]["records"]] == ["PZ-2"]
    assert parts["partner_mismatch"]["records"][0]["owner"] == "pol"
    identifier = parts["seized_identifier"]
    assert {tuple(entity["names"]) for entity in identifier["entities"] if entity["type"] == "company"} == {
        ("Front Trading BV",),
        ("Shadow Holding BV",),
    }
    assert [[entity["type"] for entity in path] for path in identifier["paths"]] == [
        ["company", "address", "company"]
    ]
    assert shown_records(shown) <= CUS_SEES_WITH_MOU
    assert shown_names(shown) <= {
        "Front Trading BV",
        "Quay Brokers BV",
        "Clean Imports BV",
        "Shadow Holding BV",
    }
    assert "TX-1" not in str(shown)
    assert shown["chart"].startswith("/chart/?entity=")
    # pol's record was shown to cus: audited as every read of another agency's record.
    assert AuditEvent.objects.filter(
        action="record.read", object_id=str(scene.record("PZ-2").pk), agency_id=scene.cus.agency.pk
    ).exists()


@pytest.mark.shared_services  # the sync drained to Neo4j moves the agency's basis
def test_evidence_no_longer_visible_is_dropped_and_the_parts_still_add_up(scene):
    before = explained(scene, "CQ-1")
    network = {part["name"] for part in before["parts"] if part["kind"] == "network"}
    assert network and not any(by_name(before)[name]["withheld"] for name in network)
    agreements.suspend(scene.mou, platform_admin(), "review")
    drain()
    shown = explained(scene, "CQ-1")
    assert shown["score"] == before["score"]
    assert [part["contribution"] for part in shown["parts"]] == [
        part["contribution"] for part in before["parts"]
    ]
    assert round(sum(part["contribution"] for part in shown["parts"]), 4) == shown["score"]
    assert shown_records(shown) <= CUS_SEES_WITHOUT_MOU
    parts = by_name(shown)
    assert parts["partner_mismatch"]["records"] == []
    assert parts["partner_mismatch"]["withheld"] is True
    assert parts["watch_route"]["withheld"] is False
    # The network parts were written from the network cus saw with pol's seizures.
    for name in network:
        assert parts[name]["withheld"] is True
        assert parts[name]["explanation"] == "Not shown: written from evidence your agency may no longer see."
    assert parts["seized_identifier"]["paths"] == []
    assert "Shadow Holding BV" not in shown_names(shown)
    assert "Shadow Holding BV" not in str(shown)
    assert "PZ-2" not in str(shown)


# --- decisions --------------------------------------------------------------------------


def decide(scene, ref: str, body: dict | str, role: str = "analyst"):
    """`body` as JSON text, to send what Python's encoder refuses (a lone surrogate's escape)."""
    url = f"{API}{scene.record(ref).public_id}/decision/"
    if isinstance(body, str):
        return scene.cus.client(role).post(url, body, content_type="application/json")
    return scene.cus.client(role).post(url, body, format="json")


def test_a_decision_records_the_score_indicators_and_profile_and_is_audited(scene):
    answer = decide(scene, "CQ-1", {"action": "inspect", "reason": "watched route and a partner disagrees"})
    assert answer.status_code == 200, answer.content
    decision = Decision.objects.get()
    score = ShipmentScore.objects.get(agency=scene.cus.agency, record=scene.record("CQ-1"))
    assert (decision.action, decision.score, decision.random_pick) == ("inspect", score.score, False)
    assert set(decision.indicators) == {part["name"] for part in score.parts}
    assert decision.profile.version == 2
    assert decision.decided_by == scene.cus.analyst
    again = decide(scene, "CQ-1", {"action": "refer", "reason": "pol's case", "partner": "pol"})
    assert again.status_code == 200, again.content
    assert Decision.objects.get().partner == scene.pol.agency
    actions = list(
        AuditEvent.objects.filter(action__startswith="targeting.decision").values_list("action", flat=True)
    )
    assert actions == ["targeting.decision.made", "targeting.decision.changed"]
    row = scene.cus.client().get(API).json()["results"][0]
    assert row["decision"] == {"action": "refer", "random_pick": False, "outcome": ""}


def test_a_decision_by_another_role_or_agency_is_refused(scene):
    assert decide(scene, "CQ-1", {"action": "inspect", "reason": "x"}, role="liaison").status_code == 403
    assert decide(scene, "CQ-1", {"action": "inspect", "reason": "x"}, role="admin").status_code == 200
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        decisions.decide(scene.pol.analyst, scene.record("CQ-1"), action="inspect", reason="not ours")
    assert Decision.objects.get().decided_by == scene.cus.admin


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "ignore", "reason": "x"}, "action"),
        ({"action": "inspect"}, "reason"),
        ({"action": "inspect", "reason": "   "}, "reason"),
        ({"action": "inspect", "reason": "a\x00b"}, "reason"),
        ('{"action": "inspect", "reason": "a\\ud800b"}', "reason"),
        ({"action": "refer", "reason": "x"}, "partner"),
        ({"action": "refer", "reason": "x", "partner": "cus"}, "partner"),
        ({"action": "refer", "reason": "x", "partner": "nobody"}, "partner"),
        ({"action": "release", "reason": "x", "partner": "pol"}, "partner"),
    ],
)
def test_bad_decisions_answer_400_naming_the_field(scene, body, field):
    answer = decide(scene, "CQ-1", body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert not Decision.objects.exists()


# --- outcomes ---------------------------------------------------------------------------


def outcome(scene, ref: str, body: dict):
    return scene.cus.client().post(f"{API}{scene.record(ref).public_id}/outcome/", body, format="json")


def test_a_seizure_outcome_writes_the_agencys_records_naming_the_consignment_and_parties(scene):
    decide(scene, "CQ-1", {"action": "inspect", "reason": "watched route"})
    answer = outcome(scene, "CQ-1", {"outcome": "seizure", "findings": "cocaine in the reefer unit"})
    assert answer.status_code == 200, answer.content
    decision = Decision.objects.get()
    written = Record.objects.filter(owner=scene.cus.agency).exclude(external_ref__startswith="CQ-")
    assert sorted(written.values_list("category", flat=True)) == ["inspection", "seizure"]
    inspection = written.get(category="inspection")
    assert decision.outcome_record == inspection
    assert inspection.details == {
        "inspection_result": "referred_for_seizure",
        "findings": "cocaine in the reefer unit",
    }
    consignment = scene.entity("CQ-1", "shipment")
    assert Mention.objects.get(record=inspection, role="shipment").entity == consignment
    seizure = written.get(category="seizure")
    named = dict(Mention.objects.filter(record=seizure).values_list("role", "entity_id"))
    assert named == {
        "shipment": consignment.pk,
        "importer": scene.entity("CQ-1", "importer").pk,
        "broker": scene.entity("CQ-1", "broker").pk,
    }
    # The owner sees them (its analyst reads them through the API); tax, with no agreement, does not.
    seen = scene.cus.client().get("/api/records/", {"category": "seizure"}).json()["results"]
    assert str(seizure.public_id) in {row["id"] for row in seen}
    assert not Record.objects.visible_to(scene.tax.analyst, "risk_assessment").filter(pk=seizure.pk).exists()
    assert AuditEvent.objects.filter(action="targeting.outcome.recorded", object_id=str(decision.pk)).exists()
    # It feeds cus's graph: the importer is now named in a seizure cus sees.
    seized = set(algorithms.seeds(facts.agency_graph(agency_id=scene.cus.agency.pk)))
    assert scene.entity("CQ-1", "importer").pk in seized
    # The decision stands once its outcome is recorded.
    again = decide(scene, "CQ-1", {"action": "release", "reason": "changed my mind"})
    assert again.status_code == 400 and "decision" in again.json()
    twice = outcome(scene, "CQ-1", {"outcome": "nothing_found", "findings": "again"})
    assert twice.status_code == 400 and "outcome" in twice.json()


def test_outcomes_refused_write_nothing(scene):
    records = Record.objects.count()
    assert "decision" in outcome(scene, "CQ-1", {"outcome": "seizure", "findings": "x"}).json()
    decide(scene, "CQ-2", {"action": "release", "reason": "known trader"})
    released = outcome(scene, "CQ-2", {"outcome": "seizure", "findings": "x"})
    assert released.status_code == 400 and "decision" in released.json()
    decide(scene, "CQ-1", {"action": "inspect", "reason": "watched"})
    for body, field in (
        ({"outcome": "smuggled", "findings": "x"}, "outcome"),
        ({"outcome": "seizure"}, "findings"),
        ({"outcome": "seizure", "findings": "a\x00b"}, "findings"),
    ):
        answer = outcome(scene, "CQ-1", body)
        assert answer.status_code == 400 and field in answer.json(), (body, answer.content)
    assert Record.objects.count() == records
    assert not Decision.objects.exclude(outcome="").exists()


# --- the random draw --------------------------------------------------------------------


def test_the_random_draw_marks_its_picks_and_is_the_same_on_the_same_day(scene):
    def draw() -> list[str]:
        answer = scene.cus.client().post(f"{API}random-draw/", {"count": 1}, format="json")
        assert answer.status_code == 201, answer.content
        return [pick["declaration"] for pick in answer.json()["picked"]]

    with transaction.atomic():
        first = draw()
        transaction.set_rollback(True)
    assert not Decision.objects.exists()
    picked = draw()
    assert picked == first and len(picked) == 1
    decision = Decision.objects.get()
    assert (decision.action, decision.random_pick) == ("inspect", True)
    seed = decisions.draw_seed(scene.cus.agency, date.today())
    assert seed in decision.reason
    event = AuditEvent.objects.get(action="targeting.random_draw")
    assert (event.details["seed"], event.details["records"]) == (seed, picked)
    # Only the undecided are drawn: the other declaration is all that is left.
    assert draw() == [
        str(scene.record(ref).public_id)
        for ref in ("CQ-1", "CQ-2")
        if str(scene.record(ref).public_id) not in picked
    ]
    assert draw() == []
    bad = scene.cus.client().post(f"{API}random-draw/", {"count": -1}, format="json")
    assert bad.status_code == 400 and "count" in bad.json()
    assert scene.cus.client("liaison").post(f"{API}random-draw/", {}, format="json").status_code == 403


# --- profile and scoring ----------------------------------------------------------------


def test_the_profile_is_read_by_staff_and_changed_by_admins(scene):
    url = "/api/targeting/profiles/active/"
    assert scene.cus.client("liaison").get(url).json()["watchlists"]["ports"] == ["ECGYE"]
    refused = scene.cus.client().post(url, {"reason": "more", "budget": 0.1}, format="json")
    assert refused.status_code == 403
    changed = scene.cus.client("admin").post(url, {"reason": "more", "budget": 0.1}, format="json")
    assert changed.status_code == 201 and changed.json()["budget"] == 0.1
    bad = scene.cus.client("admin").post(url, {"reason": "x", "weights": {"gut": 1}}, format="json")
    assert bad.status_code == 400 and "weights" in bad.json()
    assert scene.pol.client().get(url).json()["watchlists"]["ports"] == []


def test_scoring_status_and_rescore(scene):
    status = scene.cus.client().get(f"{API}scoring/").json()
    assert (status["status"], status["current"], status["declarations"]) == ("done", True, 2)
    assert scene.cus.client("liaison").post(f"{API}scoring/").status_code == 403
    asked = scene.cus.client().post(f"{API}scoring/")
    assert asked.status_code == 202 and asked.json()["status"] == "pending"


# --- pages ------------------------------------------------------------------------------


def lined_rows(page: str) -> list[str]:
    """The declarations of a queue page whose row draws the budget line under it."""
    rows = page.split("<tr")[1:]
    return [
        ref for row in rows if "budget-line" in row.split(">", 1)[0] for ref in ("CQ-1", "CQ-2") if ref in row
    ]


def test_the_budget_line_is_drawn_under_the_last_declaration_inside_the_budget(scene, monkeypatch):
    from targeting import pages, profiles

    cus = signed_in(Client(), scene.cus.analyst)
    profiles.change_profile(scene.cus.admin, reason="budget", budget=0.5)
    page = cus.get("/targeting/").content.decode()
    assert lined_rows(page) == ["CQ-1"]
    assert "The inspection budget is 50% of 2 scored declarations: the first 1 in the queue." in page
    profiles.change_profile(scene.cus.admin, reason="budget", budget=1.0)
    assert lined_rows(cus.get("/targeting/").content.decode()) == ["CQ-2"]
    # A page of one: the budget goes on past the first page, and ends on the second.
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    assert lined_rows(cus.get("/targeting/").content.decode()) == []
    assert lined_rows(cus.get("/targeting/?page=2").content.decode()) == ["CQ-2"]
    profiles.change_profile(scene.cus.admin, reason="budget", budget=0.49)
    page = cus.get("/targeting/").content.decode()
    assert lined_rows(page) == []
    assert "The inspection budget is 49% of 2 scored declarations: the first 0 in the queue." in page


def test_the_budget_line_is_drawn_when_filters_hide_the_budgets_last_declaration(scene, monkeypatch):
    from targeting import pages, profiles

    cus = signed_in(Client(), scene.cus.analyst)
    profiles.change_profile(scene.cus.admin, reason="budget", budget=1.0)  # CQ-1, then CQ-2
    url = f"{API}{scene.record('CQ-2').public_id}/decision/"
    decided = scene.cus.client().post(url, {"action": "inspect", "reason": "x"}, format="json")
    assert decided.status_code == 200, decided.content
    # CQ-2 is the budget's last and filtered out: CQ-1 is the last listed inside the budget.
    assert lined_rows(cus.get("/targeting/?decided=false").content.decode()) == ["CQ-1"]
    assert lined_rows(cus.get("/targeting/?decided=true").content.decode()) == ["CQ-2"]
    # A page of one ending inside the budget, the next row listed inside it too: no line yet.
    monkeypatch.setattr(pages, "PAGE_SIZE", 1)
    assert lined_rows(cus.get("/targeting/").content.decode()) == []
    profiles.change_profile(scene.cus.admin, reason="budget", budget=0.5)  # CQ-1 alone
    assert lined_rows(cus.get("/targeting/").content.decode()) == ["CQ-1"]


def test_the_pages_show_the_queue_explanation_and_profile_to_their_agency_only(scene):
    cus = signed_in(Client(), scene.cus.analyst)
    queue = cus.get("/targeting/")
    assert queue.status_code == 200
    text = queue.content.decode()
    assert "CQ-1" in text and "CQ-2" in text and "PZ-2" not in text
    page = cus.get(f"/targeting/{scene.record('CQ-1').public_id}/")
    assert page.status_code == 200
    assert "PZ-2" in page.content.decode() and "TX-1" not in page.content.decode()
    assert cus.get(f"/targeting/{scene.record('PZ-2').public_id}/").status_code == 404
    assert cus.get(f"/targeting/{uuid.uuid4()}/").status_code == 404
    assert cus.get("/targeting/?min_score=lots").status_code == 400
    assert cus.get("/targeting/profile/").status_code == 200
    assert b"data-refresh" not in queue.content
    ScoringRun.objects.filter(agency=scene.cus.agency).update(status="running", progress=40)
    following = cus.get("/targeting/").content.decode()
    assert 'data-refresh="3"' in following and 'value="40"' in following
    posted = cus.post(
        f"/targeting/{scene.record('CQ-1').public_id}/", {"action": "decide", "decision": "inspect"}
    )
    assert posted.status_code == 400 and "reason" in posted.content.decode()
    # A refused form comes back as it was filled in: a referral with no partner named.
    posted = cus.post(
        f"/targeting/{scene.record('CQ-1').public_id}/",
        {"action": "decide", "decision": "refer", "partner": "", "reason": "ring <b>suspected</b>"},
    )
    text = posted.content.decode()
    assert posted.status_code == 400 and "partner" in text
    assert '<option value="refer" selected>' in text and '<option value="inspect">' in text
    assert ">ring &lt;b&gt;suspected&lt;/b&gt;</textarea>" in text


def test_the_profile_page_changes_the_profile_and_decides_proposals_for_admins_only(scene):
    from targeting import profiles
    from targeting.indicators import DEFAULT_WEIGHTS
    from targeting.models import RiskProfile

    form = {f"weight-{name}": str(weight) for name, weight in DEFAULT_WEIGHTS.items()}
    form.update(
        {
            "action": "change",
            "weight-watch_route": "40",
            "watch-ports": "ECGYE NLRTM",
            "watch-countries": "",
            "watch-hs_prefixes": "0306",
            "budget": "0.5",
            "random_share": "0.2",
            "reason": "Rotterdam too",
        }
    )
    analyst = signed_in(Client(), scene.cus.analyst)
    assert analyst.post("/targeting/profile/", form).status_code == 400
    admin = signed_in(Client(), scene.cus.admin)
    assert admin.post("/targeting/profile/", form).status_code == 302
    active = profiles.active_profile(agency_id=scene.cus.agency.pk)
    assert (active.version, active.weights["watch_route"], active.budget) == (3, 40.0, 0.5)
    assert active.watchlists == {"ports": ["ECGYE", "NLRTM"], "countries": [], "hs_prefixes": ["0306"]}
    assert AuditEvent.objects.filter(action="targeting.profile.changed", object_id=str(active.pk)).exists()
    assert admin.post("/targeting/profile/", {**form, "budget": "2"}).status_code == 400

    proposal = profiles.propose_weights(
        agency_id=scene.cus.agency.pk,
        weights={**DEFAULT_WEIGHTS, "partner_mismatch": 50},
        validation={"auc": 0.81},
        reason="fitted on 40 outcomes",
    )
    page = admin.get("/targeting/profile/").content.decode()
    assert "fitted on 40 outcomes" in page and "0.81" in page
    decided = {"action": "accept", "proposal": str(proposal.public_id), "reason": "better capture"}
    assert analyst.post("/targeting/profile/", decided).status_code == 400
    assert admin.post("/targeting/profile/", {**decided, "proposal": "12"}).status_code == 400
    assert admin.post("/targeting/profile/", decided).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == RiskProfile.Status.ACTIVE
    assert profiles.active_profile(agency_id=scene.cus.agency.pk).watchlists["ports"] == ["ECGYE", "NLRTM"]
    # pol's admin cannot name cus's proposal: it is not among pol's versions.
    other = profiles.propose_weights(
        agency_id=scene.cus.agency.pk, weights=DEFAULT_WEIGHTS, validation={}, reason="another"
    )
    pol_admin = signed_in(Client(), scene.pol.admin)
    answer = pol_admin.post("/targeting/profile/", {**decided, "proposal": str(other.public_id)})
    assert answer.status_code == 404
    api = scene.pol.client("admin").post(
        f"/api/targeting/profiles/{other.public_id}/accept/", {"reason": "x"}, format="json"
    )
    assert api.status_code == 404


@pytest.mark.parametrize("role", ["analyst", "liaison"])
def test_opening_an_empty_queue_asks_for_the_agencys_first_scoring(role):
    """An agency that has never been scored: the queue is empty, not an error, and opening
    it asks for the scoring (there is no beat to ask on the embedded default)."""
    lone = staff("lone")
    page = signed_in(Client(), getattr(lone, role)).get("/targeting/")
    assert page.status_code == 200
    assert ScoringRun.objects.filter(agency=lone.agency, status__in=["pending", "done"]).exists()
    assert not ShipmentScore.objects.filter(agency=lone.agency).exists()


def test_a_failed_scoring_waits_for_someone_to_ask_again(scene):
    ScoringRun.objects.filter(agency=scene.cus.agency).update(
        status="failed", error="the scoring failed; ask again"
    )
    page = signed_in(Client(), scene.cus.analyst).get("/targeting/")
    assert page.status_code == 200 and "The last scoring failed" in page.content.decode()
    assert ScoringRun.objects.get(agency=scene.cus.agency).status == "failed"


def test_a_queue_request_reads_the_budget_once(scene):
    """The budget (a count of the agency's scores and the row at its line) is read once per
    request, whether the page also shows the scoring state or the API decides on a row."""
    from targeting import profiles

    def budget_reads(client, method: str, url: str, **data) -> int:
        with CaptureQueriesContext(connection) as captured:
            answer = getattr(client, method)(url, data, content_type="application/json")
            assert answer.status_code < 300, answer.content
        # The budget's row at its line: the ranked scores offset to the budget's size.
        return sum(
            'FROM "targeting_shipmentscore"' in q["sql"] and "OFFSET" in q["sql"] and "LIMIT 1" in q["sql"]
            for q in captured.captured_queries
        )

    profiles.change_profile(scene.cus.admin, reason="budget", budget=1.0)
    page = signed_in(Client(), scene.cus.analyst)
    assert budget_reads(page, "get", "/targeting/") == 1
    api = scene.cus.client()
    assert budget_reads(api, "get", API) == 1
    cq1 = scene.record("CQ-1").public_id
    assert budget_reads(api, "post", f"{API}{cq1}/decision/", action="inspect", reason="checked") == 0
