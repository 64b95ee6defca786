"""Targeting attacked as another agency, a partner whose agreement changed, and a hostile
caller (the world is tests/targeting_scene.py's; what each agency may see is written out by
hand from it).

pol's PZ-2 states HS 240220 (heading 2402) for the consignment cus declared as HS 030617 in
CQ-1. While MOU-T is in force cus may see PZ-2 for risk assessment, and CQ-1's
partner_mismatch part rests on it. Once the agreement is suspended (or PZ-2's HS codes are
redacted), nothing PZ-2 states may reach cus, through the score's explanation either (nor
the date of an earlier pol record naming CQ-1's importer). Then hostile bodies (a NUL in a
partner's code, booleans for numbers) and a random draw racing a hand decision."""

import json
import threading
import time

import pytest
from django.db import connection, transaction
from django.test import Client

from intel.import_writing import import_file
from sharing import agreements, releases
from targeting import decisions, scoring
from targeting.models import Decision, RiskProfile, ScoringRun
from tests.auth_helpers import signed_in
from tests.sharing_helpers import in_force, platform_admin
from tests.targeting_scene import ADDRESS, build
from tests.test_attack_bulk_release import waiting_for_a_lock

pytestmark = pytest.mark.django_db

API = "/api/targeting/queue/"
# What pol's PZ-2 states of the consignment (its HS heading), from the scene's rows.
PZ2_HEADING = "2402"


@pytest.fixture
def scene(tmp_path):
    return build(tmp_path)


def explanation_api(scene, ref: str) -> str:
    answer = scene.cus.client().get(f"{API}{scene.record(ref).public_id}/")
    assert answer.status_code == 200, answer.content
    return answer.content.decode()


def explanation_page(scene, ref: str) -> str:
    answer = signed_in(Client(), scene.cus.analyst).get(f"/targeting/{scene.record(ref).public_id}/")
    assert answer.status_code == 200
    return answer.content.decode()


def parts_of(scene, ref: str) -> dict[str, dict]:
    answer = scene.cus.client().get(f"{API}{scene.record(ref).public_id}/")
    assert answer.status_code == 200, answer.content
    return {part["name"]: part for part in answer.json()["parts"]}


# --- explanations quote nothing the reader may no longer see ---------------------------------


def test_an_explanation_quotes_nothing_of_a_partner_record_once_the_agreement_is_suspended(scene):
    # The setup: while MOU-T is in force, CQ-1's partner_mismatch rests on PZ-2.
    assert [r["external_ref"] for r in parts_of(scene, "CQ-1")["partner_mismatch"]["records"]] == ["PZ-2"]
    agreements.suspend(scene.mou, platform_admin(), "review")
    # Not rescored: the part stays, its evidence withheld, and what PZ-2 states stays unsaid.
    assert parts_of(scene, "CQ-1")["partner_mismatch"]["withheld"] is True
    for shown in (explanation_api(scene, "CQ-1"), explanation_page(scene, "CQ-1")):
        assert PZ2_HEADING not in shown
        assert "PZ-2" not in shown


def test_an_explanation_quotes_no_detail_a_new_agreement_redacts(scene):
    agreements.suspend(scene.mou, platform_admin(), "review")
    in_force(
        (scene.cus, True, True),
        (scene.pol, True, True),
        reference="MOU-R",
        categories=("shipment", "seizure", "inspection"),
        purposes=("risk_assessment",),
        redacted_fields=["details.hs_codes"],
    )
    # The setup: cus sees PZ-2 again, without its HS codes.
    seen = scene.cus.client(purpose="risk_assessment").get(f"/api/records/{scene.record('PZ-2').public_id}/")
    assert seen.status_code == 200, seen.content
    assert "hs_codes" not in seen.json().get("details", {})
    assert PZ2_HEADING not in seen.content.decode()
    # The score, not yet recomputed, still names PZ-2; its text must not say what PZ-2's
    # redacted codes are.
    assert [r["external_ref"] for r in parts_of(scene, "CQ-1")["partner_mismatch"]["records"]] == ["PZ-2"]
    for shown in (explanation_api(scene, "CQ-1"), explanation_page(scene, "CQ-1")):
        assert PZ2_HEADING not in shown


def test_an_agreement_for_investigation_only_lends_nothing_to_risk_scores(scene):
    agreements.suspend(scene.mou, platform_admin(), "review")
    in_force(
        (scene.cus, True, True),
        (scene.pol, True, True),
        reference="MOU-I",
        categories=("shipment", "seizure", "inspection"),
        purposes=("investigation",),
    )
    ScoringRun.objects.filter(agency=scene.cus.agency).update(status=ScoringRun.Status.PENDING)
    assert scoring.run_scoring(scene.cus.agency.pk) == ScoringRun.Status.DONE
    # From cus's own rows alone: CQ-1 loads at the watched ECGYE, and its importer is first
    # seen in CQ-1 itself; nothing of pol's (no mismatch, no seizure nearby).
    parts = parts_of(scene, "CQ-1")
    assert set(parts) == {"watch_route", "new_importer"}
    assert {r["external_ref"] for part in parts.values() for r in part["records"]} == {"CQ-1"}
    assert PZ2_HEADING not in explanation_api(scene, "CQ-1")


def test_an_explanation_dates_no_partner_record_once_the_agreement_is_suspended(scene, tmp_path):
    """pol's PZ-3 names CQ-1's importer on 2026-03-01, before cus's own first record of it
    (CQ-1, 2026-05-02): scored while MOU-T is in force, the importer was first seen that
    day. Once the agreement is suspended, that date is PZ-3's, which cus may no longer see."""
    row = {
        "external_ref": "PZ-3",
        "category": "shipment",
        "occurred_on": "2026-03-01",
        "summary": "an earlier consignment",
        "importer": {"name": "Front Trading BV", "country": "NL", **ADDRESS},
    }
    path = tmp_path / "pol-more.jsonl"
    path.write_text(json.dumps(row) + "\n")
    import_file(path, scene.pol.agency)
    releases.set_releasability(scene.record("PZ-3"), scene.pol.analyst, "covering")
    assert scene.entity("PZ-3", "importer") == scene.entity("CQ-1", "importer")
    ScoringRun.objects.filter(agency=scene.cus.agency).update(status=ScoringRun.Status.PENDING)
    assert scoring.run_scoring(scene.cus.agency.pk) == ScoringRun.Status.DONE
    assert "new_importer" in parts_of(scene, "CQ-1")
    agreements.suspend(scene.mou, platform_admin(), "review")
    for shown in (explanation_api(scene, "CQ-1"), explanation_page(scene, "CQ-1")):
        assert "2026-03-01" not in shown
        assert "PZ-3" not in shown


# --- hostile bodies ----------------------------------------------------------------------


def test_a_partner_code_holding_nul_is_refused_as_an_unknown_agency(scene):
    url = f"{API}{scene.record('CQ-1').public_id}/decision/"
    client = scene.cus.client()
    client.raise_request_exception = False
    answer = client.post(url, {"action": "refer", "reason": "theirs", "partner": "po\x00l"}, format="json")
    assert answer.status_code == 400, answer.content
    assert "partner" in answer.json()
    page = signed_in(Client(raise_request_exception=False), scene.cus.analyst).post(
        f"/targeting/{scene.record('CQ-1').public_id}/",
        {"action": "decide", "decision": "refer", "reason": "theirs", "partner": "po\x00l"},
    )
    assert page.status_code == 400
    assert "partner" in page.content.decode()
    assert not Decision.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x", "budget": True}, "budget"),
        ({"reason": "x", "random_share": False}, "random_share"),
        ({"reason": "x", "weights": {"watch_route": True}}, "weights"),
    ],
)
def test_a_boolean_is_not_a_number_in_a_profile_change(scene, body, field):
    versions = RiskProfile.objects.filter(agency=scene.cus.agency).count()
    answer = scene.cus.client("admin").post("/api/targeting/profiles/active/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert field in answer.json()
    assert RiskProfile.objects.filter(agency=scene.cus.agency).count() == versions


# --- a hand decision and the random draw at once ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_draw_that_waited_for_a_hand_decision_leaves_that_declaration_to_it(tmp_path):
    """The draw reads the undecided declarations, then locks the drawn ones' scores. An
    analyst deciding CQ-1 holds its score's lock; the draw waits, and once the decision is
    committed it must leave CQ-1 to it and still draw CQ-2, not fail on the second decision."""
    scene = build(tmp_path)
    decided, commit = threading.Event(), threading.Event()

    def decide_by_hand() -> None:
        try:
            with transaction.atomic():
                decisions.decide(scene.cus.analyst, scene.record("CQ-1"), action="release", reason="known")
                decided.set()
                commit.wait(30)
        finally:
            connection.close()

    answers = []

    def draw() -> None:
        client = scene.cus.client()
        client.raise_request_exception = False
        try:
            answers.append(client.post(f"{API}random-draw/", {"count": 2}, format="json"))
        finally:
            connection.close()

    hand = threading.Thread(target=decide_by_hand)
    hand.start()
    assert decided.wait(30)
    drawing = threading.Thread(target=draw)
    drawing.start()
    for _ in range(300):
        if waiting_for_a_lock():
            break
        time.sleep(0.05)
    commit.set()
    hand.join(30)
    drawing.join(30)
    assert answers and answers[0].status_code == 201, answers[0].content if answers else answers
    assert [pick["declaration"] for pick in answers[0].json()["picked"]] == [
        str(scene.record("CQ-2").public_id)
    ]
    made = {
        decision.record.external_ref: (decision.action, decision.random_pick)
        for decision in Decision.objects.select_related("record")
    }
    assert made == {"CQ-1": ("release", False), "CQ-2": ("inspect", True)}
