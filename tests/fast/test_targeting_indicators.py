"""The indicators on hand-made facts: each fires exactly where its definition says, with the
value worked out by hand here, and the explanation's parts add up to the score."""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from graph.algorithms import EntityRow, LinkRow, build_graph
from targeting import indicators
from targeting.indicators import Context, Earlier, NetworkFacts, PartnerStatement, Shipment, Watchlists
from targeting.network import network_facts

DAY = date(2026, 6, 1)
IMPORTER, EXPORTER, BROKER, CARRIER, VESSEL, CONSIGNMENT = 1, 2, 3, 4, 5, 6


def shipment(**changes) -> Shipment:
    base = {
        "record_id": 100,
        "occurred_on": DAY,
        "port_of_loading": "ECGYE",
        "port_of_discharge": "NLRTM",
        "hs_codes": ("080390",),
        "value": 1000.0,
        "currency": "EUR",
        "importers": (IMPORTER,),
        "exporters": (EXPORTER,),
        "brokers": (BROKER,),
        "carriers": (CARRIER,),
        "vessels": (VESSEL,),
        "consignment": CONSIGNMENT,
    }
    return Shipment(**{**base, **changes})


def context(**changes) -> Context:
    return Context(watchlists=changes.pop("watchlists", Watchlists()), **changes)


@pytest.mark.parametrize(
    ("watch", "fires"),
    [
        (Watchlists(ports=frozenset({"ECGYE"})), True),
        (Watchlists(ports=frozenset({"NLRTM"})), True),
        (Watchlists(countries=frozenset({"EC"})), True),
        (Watchlists(countries=frozenset({"NL"})), False),  # the origin is the loading port's country
        (Watchlists(ports=frozenset({"PKKHI"})), False),
        (Watchlists(), False),
    ],
)
def test_watch_route(watch, fires):
    assert (indicators.watch_route(shipment(), context(watchlists=watch)) is not None) is fires


@pytest.mark.parametrize(("prefixes", "fires"), [(("08",), True), (("080390",), True), (("0804",), False)])
def test_watch_hs_matches_prefixes(prefixes, fires):
    found = indicators.watch_hs(shipment(), context(watchlists=Watchlists(hs_prefixes=prefixes)))
    assert (found is not None) is fires


def test_value_outlier_compares_with_the_median_of_its_group():
    group = [shipment(record_id=i, value=v) for i, v in enumerate([900.0, 1000.0, 1000.0, 1100.0, 5000.0])]
    medians = indicators.medians_of(group)
    assert medians[("080390", "EC", "EUR")] == (1000.0, 5)
    low = indicators.value_outlier(shipment(value=200.0), context(medians=medians))
    assert low is not None and low.value == pytest.approx(math.log10(5))
    high = indicators.value_outlier(shipment(value=30_000.0), context(medians=medians))
    assert high is not None and high.value == 1.0
    assert indicators.value_outlier(shipment(value=400.0), context(medians=medians)) is None  # 2.5 times
    # Another currency, origin or heading is another group; a group of four is too small.
    assert indicators.value_outlier(shipment(value=200.0, currency="USD"), context(medians=medians)) is None
    assert (
        indicators.value_outlier(shipment(value=200.0, port_of_loading="PKKHI"), context(medians=medians))
        is None
    )
    small = indicators.medians_of(group[:4])
    assert indicators.value_outlier(shipment(value=200.0), context(medians=small)) is None


@pytest.mark.parametrize(("days_before", "fires"), [(0, True), (90, True), (91, False), (400, False)])
def test_new_importer(days_before, fires):
    seen = {IMPORTER: DAY - timedelta(days=days_before)}
    assert (indicators.new_importer(shipment(), context(first_seen=seen)) is not None) is fires


def earlier(record_id: int, days: int, broker: int = BROKER, carrier: int = CARRIER) -> Earlier:
    return Earlier(DAY - timedelta(days=days), record_id, frozenset({broker}), frozenset({carrier}))


@pytest.mark.parametrize(
    ("history", "changes", "fires"),
    [
        ([earlier(1, 30), earlier(2, 20), earlier(3, 10)], {"brokers": (99,)}, True),
        ([earlier(1, 30), earlier(2, 20), earlier(3, 10)], {"carriers": (99,)}, True),
        ([earlier(1, 30), earlier(2, 20), earlier(3, 10)], {}, False),
        ([earlier(1, 30), earlier(2, 20)], {"brokers": (99,)}, False),  # not yet a regular importer
        ([earlier(1, 30), earlier(2, 20), earlier(3, -5)], {"brokers": (99,)}, False),  # one is later
    ],
)
def test_logistics_change(history, changes, fires):
    found = indicators.logistics_change(shipment(**changes), context(history={IMPORTER: history}))
    assert (found is not None) is fires


@pytest.mark.parametrize(
    ("statement", "fires"),
    [
        (PartnerStatement(7, hs_codes=("030389",)), True),
        (PartnerStatement(7, hs_codes=("080310",)), False),  # the same heading
        (PartnerStatement(7, value=1150.0, currency="EUR"), False),
        (PartnerStatement(7, value=1300.0, currency="EUR"), True),
        (PartnerStatement(7, value=1300.0, currency="USD"), False),
        (PartnerStatement(7, importers=(42,)), True),
        (PartnerStatement(7, importers=(IMPORTER,)), False),
    ],
)
def test_partner_mismatch(statement, fires):
    found = indicators.partner_mismatch(shipment(), context(partners={CONSIGNMENT: [statement]}))
    assert (found is not None) is fires
    if fires:
        assert found.records == (7,)


def test_network_indicators_on_given_facts():
    network = NetworkFacts(
        seized=frozenset({BROKER}),
        risk={IMPORTER: 10.0, VESSEL: 1.5, BROKER: 100.0},
        distance={EXPORTER: 2},
        seized_neighbours={IMPORTER: ((50, 51),)},
        community={IMPORTER: (3, 20, 1)},
    )
    fired = indicators.fire(shipment(), context(network=network))
    assert fired["network_risk"].value == 1.0  # the broker's, the highest
    assert "named in a seizure itself" in fired["network_risk"].explanation
    assert fired["seizure_distance"].value == pytest.approx(1 / 3)
    assert fired["seized_identifier"].paths == ((IMPORTER, 50, 51),)
    assert fired["seized_community"].value == pytest.approx(0.5)  # 1 in 20 of a full 1 in 10

    quieter = indicators.fire(shipment(brokers=()), context(network=network))
    assert quieter["network_risk"].value == pytest.approx(0.5)  # log 10 / log 100
    assert "network_risk" not in indicators.fire(
        shipment(brokers=(), importers=(9,)), context(network=network)
    )


def test_equal_parties_are_explained_by_the_one_the_row_named_first():
    """Not by the lower id: an entity another agency named first is older, and an
    explanation naming the oldest party told the scoring agency so."""
    young, old = 40, 8
    network = NetworkFacts(risk={young: 10.0, old: 10.0}, distance={young: 1, old: 1})
    for importers in ((young, old), (old, young)):
        fired = indicators.fire(shipment(importers=importers, exporters=()), context(network=network))
        assert fired["network_risk"].entities == (importers[0],)
        assert fired["seizure_distance"].entities == (importers[0],)


def test_no_network_facts_no_network_indicator():
    assert not indicators.NETWORK_NAMES & set(indicators.fire(shipment(), context()))


def test_parts_add_up_and_follow_the_weights():
    fired = {
        "watch_route": indicators.Fired(1.0, "route"),
        "value_outlier": indicators.Fired(0.40001, "value"),
        "seized_community": indicators.Fired(0.5, "community"),
    }
    weights = {**indicators.DEFAULT_WEIGHTS, "watch_route": 10, "value_outlier": 15, "seized_community": 15}
    parts = indicators.parts_of(fired, weights)
    assert [p.name for p in parts] == ["watch_route", "seized_community", "value_outlier"]
    assert {p.name: p.contribution for p in parts} == {
        "watch_route": 10.0,
        "value_outlier": 6.0,
        "seized_community": 7.5,
    }
    assert indicators.total(parts) == 23.5  # each value shown to 4 decimals
    assert indicators.total(parts, kinds=frozenset({indicators.RULES})) == 16.0
    reweighted = indicators.parts_of(fired, {**weights, "watch_route": 0})
    assert indicators.total(reweighted) == 13.5


@pytest.mark.parametrize(
    "weights",
    [
        {"unknown": 1},
        {"watch_hs": -0.5},
        {"watch_hs": 1001},
        {"watch_hs": "5"},
        {"watch_hs": True},
        {"watch_hs": math.inf},
    ],
)
def test_weights_are_checked(weights):
    with pytest.raises(ValueError):
        indicators.clean_weights(weights)


def test_network_facts_of_a_small_graph():
    # Company 10 is in a seizure and registered at address 20, where company 11 is too;
    # company 12 is two steps further, through a shipment 30 it shares with 11.
    graph = build_graph(
        [
            EntityRow(10, "company", seized=True),
            EntityRow(11, "company"),
            EntityRow(12, "company"),
            EntityRow(20, "address"),
            EntityRow(30, "shipment"),
        ],
        [
            LinkRow(10, 20, "REGISTERED_AT", 1),
            LinkRow(11, 20, "REGISTERED_AT", 2),
            LinkRow(30, 11, "IMPORTED_BY", 3),
            LinkRow(30, 12, "EXPORTED_BY", 3),
        ],
    )
    facts = network_facts(graph)
    assert facts.seized == frozenset({10})
    assert facts.seized_neighbours == {11: ((20, 10),)}
    assert facts.distance == {10: 0, 20: 1, 11: 2, 30: 3}
    assert facts.distance_path(11) == (10, 20, 11)
    assert facts.risk[11] > facts.risk[12] > 0
    assert set(facts.community) == {10, 11, 12, 20, 30}


def test_logistics_change_names_the_count_and_last_five_earlier_declarations():
    # Eight earlier declarations (out of order, one of them after this one), the new broker
    # first used by the declaration after this one: it still counts as new here.
    history = [earlier(i, 100 - i) for i in (3, 1, 8, 2, 5, 4, 7, 6)] + [earlier(9, -5, broker=99)]
    history.sort(key=lambda e: (e.occurred_on, e.record_id))
    found = indicators.logistics_change(shipment(brokers=(99,)), context(history={IMPORTER: history}))
    assert found is not None
    assert found.records == (4, 5, 6, 7, 8)
    assert "8 earlier declarations never used this broker" in found.explanation
    assert found.entities == (IMPORTER, 99)
    # New brokers named as the row names them, not by id (the older first told who else knew it).
    found = indicators.logistics_change(shipment(brokers=(99, 50)), context(history={IMPORTER: history}))
    assert found.entities == (IMPORTER, 99, 50)
