"""The indicators of a declaration's risk and the score they add up to. Pure: facts in,
fired indicators out, no database; `targeting.facts` reads the facts (only what the scoring
agency may see) and `targeting.network` the graph's.

An indicator that fires gives a value in (0, 1] and says why, naming the records, entities
and graph paths behind it; the score is the sum over the fired indicators of weight times
value, each product rounded as shown, so the parts of an explanation always add up to it.
Rule indicators read the declaration, the agency's other declarations and partners' records
of the same consignment; network indicators read the agency's graph."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

RULES = "rules"
NETWORK = "network"

NEW_IMPORTER_DAYS = 90
REGULAR_IMPORTER_SHIPMENTS = 3
VALUE_OUTLIER_RATIO = 3.0
VALUE_GROUP_MIN = 5
PARTNER_VALUE_TOLERANCE = 0.2
# Network risk is how many times more often the walk from the seizures stops at an entity
# than the same walk from anywhere: 2 is where it starts to count, 100 where it counts fully.
RISK_FLOOR = 2.0
RISK_FULL = 100.0
SEIZURE_DISTANCE_MAX = 3
# A community counts fully when one member in ten is named in a seizure.
COMMUNITY_SEIZED_SHARE_FULL = 0.1
DIGITS = 4


@dataclass(frozen=True)
class Indicator:
    name: str
    kind: str
    label: str
    default_weight: float


INDICATORS = (
    Indicator("watch_route", RULES, "Route on a watch-list", 10),
    Indicator("watch_hs", RULES, "Goods on a watch-list", 10),
    Indicator("value_outlier", RULES, "Declared value far from the usual", 30),
    Indicator("new_importer", RULES, "Importer first seen recently", 10),
    Indicator("logistics_change", RULES, "Regular importer with a new broker or carrier", 10),
    Indicator("partner_mismatch", RULES, "Partner records disagree with the declaration", 30),
    Indicator("network_risk", NETWORK, "Network risk of a party", 25),
    Indicator("seized_identifier", NETWORK, "Shares an address or phone with a seized company", 30),
    Indicator("seizure_distance", NETWORK, "Close to a seizure in the network", 20),
    Indicator("seized_community", NETWORK, "Community with seizures", 15),
)
BY_NAME = {indicator.name: indicator for indicator in INDICATORS}
DEFAULT_WEIGHTS = {indicator.name: indicator.default_weight for indicator in INDICATORS}
NETWORK_NAMES = frozenset(i.name for i in INDICATORS if i.kind == NETWORK)


@dataclass(frozen=True)
class Shipment:
    """A declaration of the scoring agency, with the entities it names by role."""

    record_id: int
    occurred_on: date | None
    port_of_loading: str = ""
    port_of_discharge: str = ""
    hs_codes: tuple[str, ...] = ()
    value: float | None = None
    currency: str = ""
    importers: tuple[int, ...] = ()
    exporters: tuple[int, ...] = ()
    consignees: tuple[int, ...] = ()
    brokers: tuple[int, ...] = ()
    carriers: tuple[int, ...] = ()
    vessels: tuple[int, ...] = ()
    consignment: int | None = None

    @property
    def origin(self) -> str:
        return self.port_of_loading[:2]

    @property
    def traders(self) -> tuple[int, ...]:
        return (*self.importers, *self.exporters, *self.consignees)


@dataclass(frozen=True)
class PartnerStatement:
    """What a partner's record, visible to the scoring agency, states of the same consignment."""

    record_id: int
    hs_codes: tuple[str, ...] = ()
    value: float | None = None
    currency: str = ""
    importers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Watchlists:
    ports: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()
    hs_prefixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, stored: Mapping) -> Watchlists:
        return cls(
            ports=frozenset(stored.get("ports", ())),
            countries=frozenset(stored.get("countries", ())),
            hs_prefixes=tuple(sorted(stored.get("hs_prefixes", ()))),
        )


@dataclass(frozen=True)
class Fired:
    value: float
    explanation: str
    records: tuple[int, ...] = ()
    entities: tuple[int, ...] = ()
    paths: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class Earlier:
    """An earlier declaration of an importer, for the logistics-change indicator."""

    occurred_on: date
    record_id: int
    brokers: frozenset[int]
    carriers: frozenset[int]


class Usage:
    """An importer's earlier declarations in order, with the brokers and carriers used by the
    first n of them, so that each declaration asks "what came before" by bisection instead of
    rereading the importer's whole history."""

    def __init__(self, history: list[Earlier]) -> None:
        self.keys = [(e.occurred_on, e.record_id) for e in history]
        self.record_ids = [e.record_id for e in history]
        self.brokers: list[frozenset[int]] = []
        self.carriers: list[frozenset[int]] = []
        brokers: frozenset[int] = frozenset()
        carriers: frozenset[int] = frozenset()
        for e in history:
            # An unchanged union is shared, not copied: a regular importer's brokers rarely change.
            brokers = brokers if e.brokers <= brokers else brokers | e.brokers
            carriers = carriers if e.carriers <= carriers else carriers | e.carriers
            self.brokers.append(brokers)
            self.carriers.append(carriers)

    def before(self, key: tuple[date, int]) -> int:
        """How many of the declarations come before `key` (date, record id)."""
        return bisect.bisect_left(self.keys, key)


@dataclass
class NetworkFacts:
    """What the agency's graph says of each entity (`targeting.network` computes it)."""

    seized: frozenset[int] = frozenset()
    risk: dict[int, float] = field(default_factory=dict)
    distance: dict[int, int] = field(default_factory=dict)
    # Paths from a seizure, found only for the entities an explanation names: the path that
    # carries most of the risk walk to an entity, and a shortest one.
    risk_path: Callable[[int], tuple[int, ...] | None] = lambda entity: None
    distance_path: Callable[[int], tuple[int, ...] | None] = lambda entity: None
    # A trader's address, phone or e-mail to the other parties there named in a seizure.
    seized_neighbours: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    # An entity's community: (number, size, members named in a seizure).
    community: dict[int, tuple[int, int, int]] = field(default_factory=dict)


@dataclass
class Context:
    """What scoring one agency's declarations reads besides each declaration."""

    watchlists: Watchlists
    medians: dict[tuple[str, str, str], tuple[float, int]] = field(default_factory=dict)
    history: dict[int, list[Earlier]] = field(default_factory=dict)
    first_seen: dict[int, date] = field(default_factory=dict)
    partners: dict[int, list[PartnerStatement]] = field(default_factory=dict)
    network: NetworkFacts | None = None
    usage_by_importer: dict[int, Usage] = field(default_factory=dict, repr=False)

    def usage(self, importer: int) -> Usage:
        if importer not in self.usage_by_importer:
            self.usage_by_importer[importer] = Usage(self.history.get(importer, []))
        return self.usage_by_importer[importer]


def value_key(shipment: Shipment) -> tuple[str, str, str] | None:
    """The group whose median a declared value is compared with: 6-digit HS, origin, currency."""
    if shipment.value is None or not shipment.hs_codes or not shipment.origin:
        return None
    return (shipment.hs_codes[0][:6], shipment.origin, shipment.currency)


def medians_of(shipments: list[Shipment]) -> dict[tuple[str, str, str], tuple[float, int]]:
    groups: dict[tuple[str, str, str], list[float]] = {}
    for shipment in shipments:
        key = value_key(shipment)
        if key is not None:
            groups.setdefault(key, []).append(shipment.value)
    medians = {}
    for key, values in groups.items():
        values.sort()
        middle = len(values) // 2
        median = values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
        medians[key] = (median, len(values))
    return medians


def history_of(shipments: list[Shipment]) -> dict[int, list[Earlier]]:
    history: dict[int, list[Earlier]] = {}
    for shipment in shipments:
        if shipment.occurred_on is None:
            continue
        earlier = Earlier(
            shipment.occurred_on,
            shipment.record_id,
            frozenset(shipment.brokers),
            frozenset(shipment.carriers),
        )
        for importer in shipment.importers:
            history.setdefault(importer, []).append(earlier)
    for listed in history.values():
        listed.sort(key=lambda e: (e.occurred_on, e.record_id))
    return history


# --- rule indicators ---------------------------------------------------------------------


def watch_route(shipment: Shipment, context: Context) -> Fired | None:
    watch = context.watchlists
    reasons = [
        f"{label} {port} is on the watch-list"
        for label, port in (
            ("port of loading", shipment.port_of_loading),
            ("port of discharge", shipment.port_of_discharge),
        )
        if port and port in watch.ports
    ]
    if shipment.origin and shipment.origin in watch.countries:
        reasons.append(f"origin country {shipment.origin} is on the watch-list")
    if not reasons:
        return None
    return Fired(1.0, "; ".join(reasons), records=(shipment.record_id,))


def watch_hs(shipment: Shipment, context: Context) -> Fired | None:
    matched = sorted(
        {
            f"HS {code} (watched: {prefix})"
            for code in shipment.hs_codes
            for prefix in context.watchlists.hs_prefixes
            if code.startswith(prefix)
        }
    )
    if not matched:
        return None
    return Fired(1.0, "goods on the watch-list: " + ", ".join(matched), records=(shipment.record_id,))


def value_outlier(shipment: Shipment, context: Context) -> Fired | None:
    key = value_key(shipment)
    if key is None or key not in context.medians:
        return None
    median, count = context.medians[key]
    if count < VALUE_GROUP_MIN or median <= 0 or not shipment.value:
        return None
    ratio = shipment.value / median
    distance = abs(math.log10(ratio))
    if distance < math.log10(VALUE_OUTLIER_RATIO):
        return None
    hs6, origin, currency = key
    return Fired(
        min(1.0, distance),
        f"declared {shipment.value:,.0f} {currency}, {ratio:.2f} times the median {median:,.0f} "
        f"of {count} declarations of HS {hs6} from {origin}",
        records=(shipment.record_id,),
    )


def new_importer(shipment: Shipment, context: Context) -> Fired | None:
    if shipment.occurred_on is None:
        return None
    for importer in shipment.importers:
        first = context.first_seen.get(importer)
        if first is not None and first >= shipment.occurred_on - timedelta(days=NEW_IMPORTER_DAYS):
            # The first sighting is dated only when it is one of the agency's declarations,
            # named as evidence: a partner's record's date would outlive the agreement.
            own = context.history.get(importer, ())
            if own and own[0].occurred_on == first:
                days = (shipment.occurred_on - first).days
                return Fired(
                    1.0,
                    f"the importer was first seen on {first.isoformat()}, {days} days before this "
                    "declaration",
                    records=(own[0].record_id,),
                    entities=(importer,),
                )
            return Fired(
                1.0,
                f"the importer was first seen at most {NEW_IMPORTER_DAYS} days before this declaration",
                entities=(importer,),
            )
    return None


def logistics_change(shipment: Shipment, context: Context) -> Fired | None:
    if shipment.occurred_on is None:
        return None
    for importer in shipment.importers:
        usage = context.usage(importer)
        count = usage.before((shipment.occurred_on, shipment.record_id))
        if count < REGULAR_IMPORTER_SHIPMENTS:
            continue
        # As the row named them (not by id: the oldest first told who else had named them).
        new_brokers = [broker for broker in shipment.brokers if broker not in usage.brokers[count - 1]]
        new_carriers = [carrier for carrier in shipment.carriers if carrier not in usage.carriers[count - 1]]
        if new_brokers or new_carriers:
            changed = " and ".join(
                word for word, new in (("broker", new_brokers), ("carrier", new_carriers)) if new
            )
            return Fired(
                1.0,
                f"the importer's {count} earlier declarations never used this {changed}",
                records=tuple(usage.record_ids[max(0, count - 5) : count]),
                entities=(importer, *new_brokers, *new_carriers),
            )
    return None


def partner_mismatch(shipment: Shipment, context: Context) -> Fired | None:
    if shipment.consignment is None:
        return None
    differences = []
    records = []
    declared_headings = {code[:4] for code in shipment.hs_codes}
    for statement in context.partners.get(shipment.consignment, ()):
        found = []
        stated_headings = {code[:4] for code in statement.hs_codes}
        # Only the kind of disagreement is said, in the declaration's own terms: the stored
        # text outlives the partner's agreement and its redactions, while the record named
        # as evidence is shown, or not, as the reader may see it then.
        if declared_headings and stated_headings and not declared_headings & stated_headings:
            declared = ", ".join(sorted(declared_headings))
            found.append(f"other HS headings than the declaration's {declared}")
        if (
            statement.value is not None
            and shipment.value
            and statement.currency == shipment.currency
            and abs(statement.value - shipment.value) > PARTNER_VALUE_TOLERANCE * shipment.value
        ):
            found.append(f"a value more than {PARTNER_VALUE_TOLERANCE:.0%} from the declared one")
        if (
            statement.importers
            and shipment.importers
            and not set(statement.importers) & set(shipment.importers)
        ):
            found.append("another importer")
        if found:
            differences.append("; ".join(found))
            records.append(statement.record_id)
    if not differences:
        return None
    return Fired(
        1.0,
        f"{len(records)} partner record(s) of this consignment state " + " / ".join(differences),
        records=tuple(records),
    )


# --- network indicators -----------------------------------------------------------------


def network_risk(shipment: Shipment, context: Context) -> Fired | None:
    network = context.network
    if network is None:
        return None
    best: tuple[float, int, str, float] | None = None
    for role, ids in (
        ("importer", shipment.importers),
        ("broker", shipment.brokers),
        ("carrier", shipment.carriers),
        ("vessel", shipment.vessels),
    ):
        for entity in ids:
            score = network.risk.get(entity, 0.0)
            # Ties go to the party named first (roles in this order, parties as the row named them).
            if score >= RISK_FLOOR and (best is None or score > best[3]):
                best = (min(1.0, math.log(score) / math.log(RISK_FULL)), entity, role, score)
    if best is None:
        return None
    value, entity, role, score = best
    said = (
        f"the walk from the seizures stops at the {role} {score:,.1f} times as often as a walk from anywhere"
    )
    if entity in network.seized:
        said += " (it is named in a seizure itself; the walk's restarts there are not counted)"
    path = network.risk_path(entity)
    return Fired(value, said, entities=(entity,), paths=(path,) if path else ())


def seized_identifier(shipment: Shipment, context: Context) -> Fired | None:
    network = context.network
    if network is None:
        return None
    for trader in shipment.traders:
        shared = network.seized_neighbours.get(trader)
        if shared:
            identifier, seized = shared[0]
            return Fired(
                1.0,
                f"a trader shares an address, phone or e-mail with {len(shared)} "
                "part(ies) named in a seizure",
                entities=(trader, identifier, seized),
                paths=tuple((trader, via, other) for via, other in shared[:3]),
            )
    return None


def seizure_distance(shipment: Shipment, context: Context) -> Fired | None:
    network = context.network
    if network is None:
        return None
    reached = [
        (network.distance[trader], trader)
        for trader in shipment.traders
        if network.distance.get(trader, SEIZURE_DISTANCE_MAX + 1) <= SEIZURE_DISTANCE_MAX
    ]
    if not reached:
        return None
    hops, trader = min(reached, key=lambda found: found[0])  # the nearest; of those, named first
    path = network.distance_path(trader)
    said = (
        "a trader is named in a seizure record" if hops == 0 else f"a trader is {hops} step(s) from a seizure"
    )
    return Fired(1 / (1 + hops), said, entities=(trader,), paths=(path,) if path and len(path) > 1 else ())


def seized_community(shipment: Shipment, context: Context) -> Fired | None:
    network = context.network
    if network is None:
        return None
    for importer in shipment.importers:
        found = network.community.get(importer)
        if found and found[2]:
            number, size, seizures = found
            return Fired(
                min(1.0, seizures / size / COMMUNITY_SEIZED_SHARE_FULL),
                f"the importer's community #{number} has {seizures} of its {size} members named in seizures",
                entities=(importer,),
            )
    return None


CHECKS = {
    "watch_route": watch_route,
    "watch_hs": watch_hs,
    "value_outlier": value_outlier,
    "new_importer": new_importer,
    "logistics_change": logistics_change,
    "partner_mismatch": partner_mismatch,
    "network_risk": network_risk,
    "seized_identifier": seized_identifier,
    "seizure_distance": seizure_distance,
    "seized_community": seized_community,
}


def fire(shipment: Shipment, context: Context) -> dict[str, Fired]:
    """Every indicator that fires for the declaration, by name."""
    fired = {}
    for name, check in CHECKS.items():
        found = check(shipment, context)
        if found is not None:
            fired[name] = found
    return fired


@dataclass(frozen=True)
class Part:
    name: str
    weight: float
    value: float
    contribution: float
    fired: Fired


def parts_of(fired: Mapping[str, Fired], weights: Mapping[str, float]) -> list[Part]:
    """The explanation: each fired indicator's contribution, largest first."""
    parts = []
    for name, found in fired.items():
        weight = float(weights.get(name, 0.0))
        value = round(found.value, DIGITS)
        parts.append(Part(name, weight, value, round(weight * value, DIGITS), found))
    parts.sort(key=lambda p: (-p.contribution, p.name))
    return parts


def total(parts: list[Part], *, kinds: frozenset[str] | None = None) -> float:
    return round(sum(p.contribution for p in parts if kinds is None or BY_NAME[p.name].kind in kinds), DIGITS)


def clean_weights(weights: Mapping) -> dict[str, float]:
    """Weights for every indicator, each a finite number from 0 to 1,000; an unknown name is
    an error naming it."""
    unknown = sorted(set(weights) - set(BY_NAME))
    if unknown:
        raise ValueError(f"unknown indicator(s): {', '.join(map(str, unknown))}")
    cleaned = {}
    for name in BY_NAME:
        raw = weights.get(name, 0.0)
        if (
            isinstance(raw, bool)
            or not isinstance(raw, int | float)
            or not math.isfinite(raw)
            or not 0 <= raw <= 1000
        ):
            raise ValueError(f"{name}: a weight is a number from 0 to 1000")
        cleaned[name] = float(raw)
    return cleaned
