"""Scoring the targeting scenario's test window by each method, for `evaluate_targeting` and
the benchmark: one seed is loaded inside a transaction that is rolled back afterwards, so
seeds never meet and nothing stays behind. The truth comes from the generator only; the
scorer reads the records, through the choke point, as customs would."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction

from agencies.models import User
from demo.targeting_scenario import TargetingScenario, load
from intel.models import Entity, Record
from targeting import indicators, profiles, scoring
from targeting.indicators import Watchlists

RULES_ONLY = "rules"
RULES_AND_NETWORK = "rules_network"


@dataclass(frozen=True)
class SeedScores:
    """One seed's test-window declarations (by external reference, in the generator's order),
    whether each violates, and each method's scores in the same order."""

    seed: int
    refs: tuple[str, ...]
    violating: tuple[bool, ...]
    scores: dict[str, tuple[float, ...]]
    fired: dict[str, int]


# What the scorer reads. Their statistics are of before the load (empty, or a rolled-back
# seed's), and the planner then joins the choke point's rows by nested loops over tables it
# believes empty: ANALYZE in the same transaction counts the rows it inserted.
ANALYZED_TABLES = (
    "intel_record",
    "intel_mention",
    "intel_link",
    "intel_entity",
    "intel_recordgroupobjectpermission",
    "sharing_recordrelease",
    "sharing_agreement",
    "sharing_agreementparty",
    "agencies_agency",
)


def analyze_loaded() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(ANALYZED_TABLES)}")


def method_weights(weights: dict[str, float]) -> dict[str, dict[str, float]]:
    """The profile's weights as they are, and with every network indicator at zero."""
    rules = {name: (0.0 if name in indicators.NETWORK_NAMES else weight) for name, weight in weights.items()}
    return {RULES_ONLY: rules, RULES_AND_NETWORK: dict(weights)}


def public_ids_of_the_seed(seed: int, agencies: Iterable) -> None:
    """Gives the scenario's entities public ids that follow from the seed and their keys. The
    network analytics break ties, and lay the graph out, by public id, which is random when
    written: the same seed must give the same ids for its scores to be the same."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"interlink targeting evaluation {seed}")
    entities = list(
        Entity.objects.filter(mentions__record__owner__in=list(agencies)).distinct().only("pk", "type", "key")
    )
    for entity in entities:
        entity.public_id = uuid.uuid5(namespace, f"{entity.type}:{entity.key}")
    Entity.objects.bulk_update(entities, ["public_id"], batch_size=2_000)


def score_seed(seed: int, *, shipments: int, progress: Callable[[str], None] | None = None) -> SeedScores:
    """Loads the scenario of `seed`, scores customs' test window with the customs admin's
    profile set to the scenario's watch-lists (the default weights otherwise), and rolls
    everything back."""
    say = progress or (lambda message: None)
    scenario = TargetingScenario(seed=seed, shipments=shipments)
    truth = scenario.truth
    with transaction.atomic():
        say(f"seed {seed}: loading")
        loaded = load(scenario)
        public_ids_of_the_seed(seed, loaded.agencies.values())
        analyze_loaded()
        customs = loaded.agencies["customs"]
        admin = User.objects.get(agency=customs, role=User.Role.AGENCY_ADMIN)
        profile = profiles.change_profile(
            admin, reason="the scenario's watch-lists", watchlists=scenario.watchlists
        )
        ids = dict(
            Record.objects.filter(owner=customs, external_ref__in=truth.test_refs).values_list(
                "external_ref", "pk"
            )
        )
        say(f"seed {seed}: scoring")
        assessed = scoring.assess(
            agency_id=customs.pk, watchlists=Watchlists.of(profile.watchlists), records=ids.values()
        )
        by_record = {found.shipment.record_id: found for found in assessed}
        methods = method_weights(profile.weights)
        scores = {
            method: tuple(
                indicators.total(indicators.parts_of(by_record[ids[ref]].fired, weights))
                for ref in truth.test_refs
            )
            for method, weights in methods.items()
        }
        fired: dict[str, int] = {}
        for found in assessed:
            for name in found.fired:
                fired[name] = fired.get(name, 0) + 1
        outcome = SeedScores(
            seed=seed,
            refs=truth.test_refs,
            violating=tuple(ref in truth.violations for ref in truth.test_refs),
            scores=scores,
            fired=dict(sorted(fired.items())),
        )
        transaction.set_rollback(True)
    return outcome
