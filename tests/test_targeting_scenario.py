"""Loading the targeting scenario (demo/targeting_scenario.py) into PostgreSQL: agencies,
users and agreements in force through the real services, every row imported, partners'
records visible to customs for risk assessment, and the whole load undone by the caller's
rollback."""

from collections import Counter

import pytest
from django.db import transaction

from agencies.models import Agency, User
from demo.targeting_scenario import TargetingScenario, load
from intel.models import Record
from sharing.models import Agreement

pytestmark = pytest.mark.django_db

CODES = {"customs": "tc-cus", "police": "tc-pol", "coast_guard": "tc-cg", "tax": "tc-tax"}


@pytest.fixture(scope="module")
def scenario() -> TargetingScenario:
    return TargetingScenario(seed=3, shipments=150)


def expected_counts(scenario: TargetingScenario) -> dict[str, Counter]:
    return {code: Counter(row["category"] for row in scenario.rows(code)) for code in CODES.values()}


def test_the_load_writes_agencies_agreements_and_every_record(scenario):
    with transaction.atomic():
        loaded = load(scenario)

    assert {key: agency.code for key, agency in loaded.agencies.items()} == CODES
    assert {agency.code: agency.kind for agency in Agency.objects.filter(code__in=CODES.values())} == {
        "tc-cus": "customs",
        "tc-pol": "police",
        "tc-cg": "coast_guard",
        "tc-tax": "tax",
    }
    roles = Counter(
        (user.agency.code, user.role) for user in User.objects.filter(agency__code__in=CODES.values())
    )
    assert roles == Counter(
        {(code, role): 1 for code in CODES.values() for role in ("analyst", "liaison", "agency_admin")}
    )

    # Each partner provides to customs, which only receives, for risk assessment.
    agreements = Agreement.objects.filter(parties__agency__code="tc-cus").distinct()
    assert agreements.count() == 3
    for agreement in agreements:
        assert agreement.status == Agreement.Status.ACTIVE
        assert {"risk_assessment", "intelligence"} <= set(agreement.purposes)
        sides = {party.agency.code: (party.provides, party.receives) for party in agreement.parties.all()}
        assert sides.pop("tc-cus") == (False, True)
        assert list(sides.values()) == [(True, False)]

    counts = {
        code: Counter(Record.objects.filter(owner__code=code).values_list("category", flat=True))
        for code in CODES.values()
    }
    assert counts == expected_counts(scenario)
    # 150 declarations in the test window and five times as many before it.
    assert counts["tc-cus"]["shipment"] == 900
    assert {key: result.rows for key, result in loaded.imports.items()} == {
        key: sum(counts[code].values()) for key, code in CODES.items()
    }

    test_refs = set(scenario.truth.test_refs)
    declared = Record.objects.filter(owner__code="tc-cus", category="shipment", external_ref__in=test_refs)
    assert declared.count() == 150
    assert set(scenario.truth.violations) <= set(declared.values_list("external_ref", flat=True))


def test_customs_sees_the_partners_records_for_risk_assessment_and_they_see_none_of_its(scenario):
    with transaction.atomic():
        load(scenario)
    expected = expected_counts(scenario)
    analyst = User.objects.get(username="tc-cus-analyst")
    visible = Record.objects.visible_to(analyst, "risk_assessment")
    seen = Counter(visible.exclude(owner__code="tc-cus").values_list("owner__code", "category"))
    assert seen[("tc-pol", "seizure")] == expected["tc-pol"]["seizure"] > 0
    assert seen[("tc-cg", "seizure")] == expected["tc-cg"]["seizure"] > 0
    assert seen[("tc-pol", "investigation")] == expected["tc-pol"]["investigation"] > 0
    assert seen[("tc-tax", "tip")] == expected["tc-tax"]["tip"] > 0
    # The coast guard's inspections are within its agreement, the tax office's VAT
    # declarations within its own.
    assert seen[("tc-cg", "inspection")] == expected["tc-cg"]["inspection"]
    assert seen[("tc-tax", "shipment")] == expected["tc-tax"]["shipment"]
    # Customs provides nothing: a partner sees only its own records.
    police = User.objects.get(username="tc-pol-analyst")
    assert not Record.objects.visible_to(police, "risk_assessment").filter(owner__code="tc-cus").exists()


class Undone(Exception):
    pass


def test_a_rolled_back_load_leaves_nothing(scenario):
    with pytest.raises(Undone), transaction.atomic():
        load(scenario)
        assert Record.objects.filter(owner__code="tc-cus").exists()
        raise Undone
    assert not Agency.objects.filter(code__in=CODES.values()).exists()
    assert not User.objects.filter(username__startswith="tc-").exists()
    assert not Agreement.objects.filter(reference__startswith="TC-").exists()
    assert not Record.objects.filter(owner__code__in=CODES.values()).exists()
