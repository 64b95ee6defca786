"""A scenario for evaluating risk-based targeting, with the customs violations known and
kept apart from the records.

Four agencies (customs, police, coast guard, tax) write about one population of traders,
brokers, vessels and persons over a fixed year: a history window, then a test window. Customs
declares shipments in both; its inspections and seizures (the outcomes it learns from) lie
in the history window only. The partners provide to customs under agreements in force, so
customs may read their seizures, investigations, boardings, VAT declarations and tips for
risk assessment.

A few per cent of the test window's declarations are violations, of two kinds:

- network: smuggling organisations run front importers that share a registered address or
  phone with a company named in one of the organisation's seizures, are named beside the
  organisation's persons in police investigations, file through the organisation's broker
  and ship on its vessel and in its containers, both named in coast guard seizures. Their
  declarations look clean on the rules: common goods, values near the median, routes mostly
  off the watch-lists; some fronts were registered weeks before. Honest traders stand near
  the seizures too (the organisations' brokers and vessels serve honest clients; a business
  centre registers a seized company among many honest ones), so network signals misfire.
- undervaluation: an ordinary importer declares far below the usual value, more often on
  watch-listed routes and goods; most watch-listed shipments are compliant, and some honest
  declarations state odd values too.

The truth (`TargetingScenario.truth`) is drawn from the seed alone: no record, summary or
field of the test window says which declaration is a violation. Rows are generated position
by position from generators seeded by (seed, stream, position), so a seed and a size give
the same rows on every machine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import cached_property, lru_cache
from itertools import count
from random import Random

from django.apps import apps
from django.contrib.auth import get_user_model
from django.utils import timezone

from demo.resolution_scenario import Person, Population, mrn, spell_person_name
from demo.scenario import (
    CONTAINER_OWNERS,
    DISCHARGE_PORTS,
    FINDINGS,
    PORTS,
    SEIZED_GOODS,
    Credential,
    Goods,
    Party,
    Scenario,
    Vessel,
    _rng,
    ensure_users,
    import_files,
    make_container,
    party_columns,
    vessel_columns,
)
from intel.import_writing import ImportResult

# A fixed calendar, not "the last year": the same seed must give the same rows tomorrow.
START = date(2025, 3, 1)
HISTORY_DAYS = 300
TEST_DAYS = 60
TEST_START = START + timedelta(days=HISTORY_DAYS)
VIOLATION_SHARE = 0.03
NETWORK_SHARE = 0.65
# A front's cover loads (clean declarations in the test window) per network violation.
COVER_SHARE = 0.4
FRONTS_PER_ORGANISATION = 4

WATCHLISTS = {
    "ports": ("COCTG", "CRLIO", "VNHPH"),
    "countries": ("MA", "PE"),
    "hs_prefixes": ("6403", "2204", "851762", "950300"),
}


@dataclass(frozen=True)
class AgencySpec:
    key: str
    code: str
    name: str
    prefix: str
    # What it provides to customs under its agreement (none for customs itself).
    provides: tuple[str, ...]


AGENCIES = (
    AgencySpec("customs", "tc-cus", "Targeting Customs (evaluation)", "TC-CUS", ()),
    AgencySpec("police", "tc-pol", "Targeting Police (evaluation)", "TC-POL", ("seizure", "investigation")),
    AgencySpec(
        "coast_guard", "tc-cg", "Targeting Coast Guard (evaluation)", "TC-CG", ("inspection", "seizure")
    ),
    AgencySpec("tax", "tc-tax", "Targeting Tax (evaluation)", "TC-TAX", ("shipment", "tip", "investigation")),
)
AGENCY_BY_KEY = {spec.key: spec for spec in AGENCIES}
AGENCY_BY_CODE = {spec.code: spec for spec in AGENCIES}
PURPOSES = ("risk_assessment", "intelligence")
# Where many companies rent a registered office: one address, many honest names.
BUSINESS_CENTRE = ("Weena 505, Rotterdam", "3013 AL")


def _day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


def watch_listed(hs_codes: list[str], port_of_loading: str) -> bool:
    return (
        port_of_loading in WATCHLISTS["ports"]
        or port_of_loading[:2] in WATCHLISTS["countries"]
        or any(code.startswith(WATCHLISTS["hs_prefixes"]) for code in hs_codes)
    )


@dataclass(frozen=True)
class TargetingTruth:
    test_refs: tuple[str, ...]
    violations: dict[str, str]
    test_window: tuple[date, date]


@dataclass(frozen=True)
class Profile:
    """An honest importer's habits: since when it trades, its suppliers, its usual broker
    (and the one it turns to now and then), the vessels its lines sail."""

    importer: Party
    since: int
    suppliers: tuple[int, ...]
    broker: int
    other_broker: int
    vessels: tuple[int, ...]


@dataclass(frozen=True)
class Organisation:
    key: int
    persons: tuple[Person, ...]
    burned: tuple[Party, Party]  # named in its seizures in the history window
    fronts: tuple[Party, ...]
    front_since: tuple[int, ...]
    exporters: tuple[tuple[Party, Goods], ...]
    broker: int
    vessel: int
    containers: tuple[str, ...]


@dataclass(frozen=True)
class Declaration:
    ref: str
    day: int
    reference: str  # its MRN
    importer: Party
    exporter: Party
    goods: Goods
    hs_codes: tuple[str, ...]
    port_of_loading: str
    value: int
    # What the goods are worth, where the declaration says otherwise (undervaluation).
    true_value: int
    broker: Party | None
    vessel: Vessel
    containers: tuple[str, ...]
    kind: str | None  # "network", "undervaluation" or None


class TargetingScenario:
    """The rows of one (seed, shipments): `shipments` customs declarations in the test
    window, five times as many in the history window (the same daily traffic), the partners'
    records in proportion."""

    def __init__(self, seed: int, shipments: int = 3000):
        if shipments < 20:
            raise ValueError("shipments must be at least 20")
        self.seed = seed
        self.tests = shipments
        self.history = shipments * HISTORY_DAYS // TEST_DAYS
        # A seed string of its own (the pools only join it into their generators' seeds), so
        # the traders are not the demo's: both may be loaded into one database, where
        # companies resolve by name and number across agencies.
        self.pool = Scenario(f"targeting-{seed}", 1.0)
        self.people = Population(f"targeting-{seed}", shipments)
        self.importers = max(40, shipments // 5)
        self.exporters = max(30, shipments // 8)
        self.brokers = max(8, shipments // 200)
        self.vessels = max(15, shipments // 60)
        self.organisations = tuple(self._organisation(o) for o in range(max(3, shipments // 600)))
        self.profile = lru_cache(maxsize=65_536)(self._profile)
        self._plan = self._draw_plan()

    # --- the population ------------------------------------------------------------------

    def rng(self, *parts: object) -> Random:
        return _rng("targeting", self.seed, *parts)

    def broker(self, k: int) -> Party:
        # Index 0 is the demo's planted broker (and vessel): the pools start at 1.
        return self.pool.broker(k + 1)

    def vessel(self, k: int) -> Vessel:
        return self.pool.vessel(k + 1)

    def exporter(self, k: int) -> tuple[Party, Goods]:
        return self.pool.exporter(k)

    def _profile(self, k: int) -> Profile:
        rng = self.rng("profile", k)
        importer = self.pool.importer(k + 1)
        if k % 40 == 7:
            # A business centre where many honest companies are registered, one of them once
            # named in a seizure (the first, see `seizure_at`).
            importer = replace(importer, address=BUSINESS_CENTRE[0], postcode=BUSINESS_CENTRE[1])
        new = k > 0 and rng.random() < 0.1
        skew = self.pool.skewed
        return Profile(
            importer,
            rng.randint(HISTORY_DAYS - 120, HISTORY_DAYS + 45) if new else 0,
            tuple(rng.randrange(self.exporters) for _ in range(rng.randint(1, 3))),
            skew(rng, self.brokers),
            rng.randrange(self.brokers),
            tuple(skew(rng, self.vessels) for _ in range(rng.randint(1, 3))),
        )

    def _organisation(self, o: int) -> Organisation:
        rng = self.rng("organisation", o)
        # Companies of the organisation take importer names past the honest pool's, Dutch
        # ones: a shared phone is written in national form too, read in the front's country.
        companies = (
            party
            for k in range(self.importers + 1 + o * 100, self.importers + 1 + (o + 1) * 100)
            if (party := self.pool.importer(k)).country == "NL"
        )
        burned = (next(companies), next(companies))
        fronts, since = [], []
        for _ in range(FRONTS_PER_ORGANISATION):
            front = next(companies)
            tie = rng.choice(("address", "phone", "address", "both", "none"))
            if tie in ("address", "both"):
                front = replace(front, address=burned[0].address, postcode=burned[0].postcode)
            if tie in ("phone", "both"):
                front = replace(front, phone=burned[1].phone)
            fronts.append(front)
            new = rng.random() < 0.4
            since.append(HISTORY_DAYS - rng.randint(10, 80) if new else rng.randint(0, 150))
        # Suppliers of goods and from ports off the watch-lists, past the honest pool's.
        exporters = []
        for k in count(self.exporters + o * 40):
            party, goods = self.exporter(k)
            if not any(watch_listed(list(goods.hs_codes), port) for port in PORTS[party.country]):
                exporters.append((party, goods))
            if len(exporters) == 2:
                break
        return Organisation(
            o,
            tuple(self.people.person(o * 3 + n) for n in range(3)),
            burned,
            tuple(fronts),
            tuple(since),
            tuple(exporters),
            # A small broker and a mid-sized line: both serve honest clients too.
            self.brokers - 1 - o % self.brokers,
            self.vessels // 2 + o,
            tuple(make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000)) for _ in range(3)),
        )

    # --- the plan: which declaration is whose --------------------------------------------

    def _draw_plan(self) -> dict[int, tuple]:
        """Position -> ("network" | "cover", organisation, front) or ("undervaluation",).
        Positions run over the history window, then the test window."""
        rng = self.rng("plan")
        violations = round(self.tests * VIOLATION_SHARE)
        network = round(violations * NETWORK_SHARE)
        cover = round(network * COVER_SHARE)
        picked = rng.sample(range(self.tests), violations + cover)
        fronts = [(o, f) for o in range(len(self.organisations)) for f in range(FRONTS_PER_ORGANISATION)]
        rng.shuffle(fronts)
        plan: dict[int, tuple] = {}
        for n, position in enumerate(picked):
            where = self.history + position
            if n < network:
                plan[where] = ("network", *fronts[n % len(fronts)])
            elif n < violations:
                plan[where] = ("undervaluation",)
            else:
                plan[where] = ("cover", *fronts[(n - violations) % len(fronts)])
        # Before the test window, each front files a few clean declarations after it started.
        for organisation in self.organisations:
            for f, since in enumerate(organisation.front_since):
                first = math.ceil(since * self.history / HISTORY_DAYS)
                filed = rng.randint(1, 2) if since > HISTORY_DAYS - 90 else rng.randint(3, 8)
                for _ in range(filed):
                    position = rng.randrange(first, self.history)
                    plan.setdefault(position, ("cover", organisation.key, f))
        return plan

    def day_of(self, position: int) -> int:
        if position < self.history:
            return position * HISTORY_DAYS // self.history
        return HISTORY_DAYS + (position - self.history) * TEST_DAYS // self.tests

    @staticmethod
    def ref(position: int) -> str:
        return f"TC-CUS-SHP-{position + 1:07d}"

    @cached_property
    def truth(self) -> TargetingTruth:
        refs = tuple(self.ref(p) for p in range(self.history, self.history + self.tests))
        violations = {
            self.ref(position): slot[0]
            for position, slot in sorted(self._plan.items())
            if slot[0] in ("network", "undervaluation")
        }
        return TargetingTruth(refs, violations, (TEST_START, TEST_START + timedelta(days=TEST_DAYS - 1)))

    @property
    def watchlists(self) -> dict[str, list[str]]:
        return {key: list(values) for key, values in WATCHLISTS.items()}

    # --- declarations ----------------------------------------------------------------------

    def declaration(self, position: int) -> Declaration:
        rng = self.rng("declaration", position)
        day = self.day_of(position)
        slot = self._plan.get(position, (None,))
        if slot[0] in ("network", "cover"):
            return self._front_declaration(position, day, slot, rng)
        if slot[0] == "undervaluation":
            # Undervaluers favour goods and routes the watch-lists name, not only them.
            wanted = rng.random() < 0.6
            for _ in range(8):
                declaration = self._honest_declaration(position, day, rng)
                if watch_listed(list(declaration.hs_codes), declaration.port_of_loading) == wanted:
                    break
            value = max(100, round(declaration.value * rng.uniform(0.12, 0.45)))
            return replace(declaration, value=value, kind="undervaluation")
        declaration = self._honest_declaration(position, day, rng)
        if position < self.history and rng.random() < self._history_undervaluation(declaration):
            # The history has undervaluation too, found (or not) by past inspections.
            value = max(100, round(declaration.value * rng.uniform(0.12, 0.45)))
            return replace(declaration, value=value, kind="undervaluation")
        return declaration

    @staticmethod
    def _history_undervaluation(declaration: Declaration) -> float:
        return 0.03 if watch_listed(list(declaration.hs_codes), declaration.port_of_loading) else 0.008

    def _value(self, goods: Goods, rng: Random, spread: float) -> int:
        low, high = goods.value
        return round(math.sqrt(low * high) * math.exp(rng.gauss(0, spread)))

    def _honest_declaration(self, position: int, day: int, rng: Random) -> Declaration:
        for _ in range(10):
            k = self.pool.skewed(rng, self.importers)
            if self.profile(k).since <= day:
                break
        else:
            k = 0
        profile = self.profile(k)
        exporter, goods = self.exporter(rng.choice(profile.suppliers))
        value = self._value(goods, rng, 0.3)
        if rng.random() < 0.015:
            # Samples, part loads, a luxury line: honest values far from the usual.
            value = round(value * (rng.uniform(0.15, 0.32) if rng.random() < 0.5 else rng.uniform(3.2, 5)))
        roll = rng.random()
        broker = (
            None
            if roll < 0.08
            else self.broker(profile.broker)
            if roll < 0.92
            else self.broker(profile.other_broker)
            if roll < 0.97
            else self.broker(rng.randrange(self.brokers))
        )
        vessel_index = (
            rng.choice(profile.vessels) if rng.random() < 0.85 else self.pool.skewed(rng, self.vessels)
        )
        return Declaration(
            self.ref(position),
            day,
            mrn(rng),
            profile.importer,
            exporter,
            goods,
            self._hs_codes(goods, rng),
            rng.choice(PORTS[exporter.country]),
            value,
            value,
            broker,
            self.vessel(vessel_index),
            self._containers(rng),
            None,
        )

    def _front_declaration(self, position: int, day: int, slot: tuple, rng: Random) -> Declaration:
        kind, o, f = slot
        organisation = self.organisations[o]
        exporter, goods = organisation.exporters[0 if rng.random() < 0.6 else 1]
        port = rng.choice(PORTS[exporter.country])
        if rng.random() < 0.15:
            port = rng.choice(WATCHLISTS["ports"])
        containers = self._containers(rng)
        if rng.random() < 0.45:
            containers = (rng.choice(organisation.containers),)
        value = self._value(goods, rng, 0.2)
        broker = organisation.broker if rng.random() < 0.85 else rng.randrange(self.brokers)
        vessel = organisation.vessel if rng.random() < 0.55 else self.pool.skewed(rng, self.vessels)
        return Declaration(
            self.ref(position),
            day,
            mrn(rng),
            organisation.fronts[f],
            exporter,
            goods,
            self._hs_codes(goods, rng),
            port,
            value,
            value,
            self.broker(broker),
            self.vessel(vessel),
            containers,
            "network" if kind == "network" else None,
        )

    @staticmethod
    def _hs_codes(goods: Goods, rng: Random) -> tuple[str, ...]:
        codes = goods.hs_codes[: rng.randint(1, len(goods.hs_codes))]
        # Some declarants state the 8-digit CN subheading.
        return tuple(code + rng.choice(("00", "10", "90")) if rng.random() < 0.3 else code for code in codes)

    @staticmethod
    def _containers(rng: Random) -> tuple[str, ...]:
        return tuple(
            make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000))
            for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))
        )

    # --- rows ----------------------------------------------------------------------------------

    def rows(self, code: str) -> Iterator[dict]:
        """The rows of the agency `code` in the import format (docs/import.md)."""
        key = AGENCY_BY_CODE[code].key
        rows = {
            "customs": self._customs_rows,
            "police": self._police_rows,
            "coast_guard": self._coast_guard_rows,
            "tax": self._tax_rows,
        }[key]()
        if key == "customs":
            return rows  # customs' own: it receives, it provides to no one
        return ({**row, "releasability": "covering"} for row in rows)

    def _trade_columns(self, d: Declaration, rng: Random, *, value: bool = True, broker: bool = True) -> dict:
        row = {
            "consignment_ref": d.reference,
            **party_columns("importer", d.importer, rng),
            **party_columns("exporter", d.exporter, rng),
            **party_columns("carrier", d.vessel.carrier, rng, contact=rng.random() < 0.3),
            **vessel_columns(d.vessel, rng),
            "container_numbers": list(d.containers),
            "port_of_loading": d.port_of_loading,
            "port_of_discharge": rng.choice(DISCHARGE_PORTS),
            "hs_codes": list(d.hs_codes),
        }
        if d.broker and broker:
            row.update(party_columns("broker", d.broker, rng))
        if value:
            row.update(declared_value=f"{d.value}.00", currency="EUR")
        return row

    def _customs_rows(self) -> Iterator[dict]:
        outcomes = 0
        for position in range(self.history + self.tests):
            d = self.declaration(position)
            rng = self.rng("customs-row", position)
            yield {
                "external_ref": d.ref,
                "category": "shipment",
                "classification": "restricted",
                "occurred_on": _day(d.day),
                "summary": f"Import of {d.goods.description}",
                **self._trade_columns(d, rng),
            }
            if position >= self.history:
                continue  # the test window's outcomes are the truth, not records
            for row in self._customs_outcomes(position, d, rng):
                outcomes += 1
                yield {"external_ref": f"TC-CUS-OUT-{outcomes:07d}", **row}
        for organisation in self.organisations:
            rng = self.rng("customs-organisation", organisation.key)
            yield {
                "external_ref": f"TC-CUS-SZR-{organisation.key + 1:04d}",
                **self._organisation_seizure(organisation, rng),
            }

    def _customs_outcomes(self, position: int, d: Declaration, rng: Random) -> Iterator[dict]:
        """Past inspections, chosen as a customs office chooses: more on the watch-lists."""
        listed = watch_listed(list(d.hs_codes), d.port_of_loading)
        seized_here = position == self.seizure_at
        if not seized_here and rng.random() >= (0.12 if listed else 0.04):
            return
        base = {
            "classification": "restricted",
            "occurred_on": _day(min(d.day + rng.randint(0, 3), HISTORY_DAYS - 1)),
            # A seizure report seldom names the declarant's broker.
            **self._trade_columns(d, rng, value=False, broker=rng.random() < 0.3),
        }
        if d.kind == "undervaluation":
            result = "discrepancy"
            findings = "Declared value well below the market price."
        else:
            result = rng.choices(("clear", "discrepancy", "referred_for_seizure"), (90, 9, 1))[0]
            findings = rng.choice(FINDINGS[result])
        if seized_here or result == "referred_for_seizure":
            goods, unit, (low, high), summary = rng.choice(SEIZED_GOODS["cus-nl"])
            yield {
                **base,
                "category": "seizure",
                "goods_description": goods,
                "quantity": str(rng.randint(low, high)),
                "unit": unit,
                "summary": summary,
            }
            return
        yield {
            **base,
            "category": "inspection",
            "inspection_result": result,
            "findings": findings,
            "summary": f"Physical inspection: {d.goods.description}",
        }

    @cached_property
    def seizure_at(self) -> int:
        """A history declaration of the business centre's first company, which customs seized."""
        for position in range(self.history // 3, self.history):
            if position not in self._plan and self.declaration(position).importer == self.profile(7).importer:
                return position
        return -1

    def _organisation_seizure(self, organisation: Organisation, rng: Random) -> dict:
        exporter, goods = organisation.exporters[0]
        vessel = self.vessel(organisation.vessel)
        return {
            "category": "seizure",
            "classification": "confidential",
            "occurred_on": _day(rng.randint(20, HISTORY_DAYS - 60)),
            "consignment_ref": mrn(rng),
            **party_columns("importer", organisation.burned[0], rng),
            **party_columns("exporter", exporter, rng),
            **party_columns("broker", self.broker(organisation.broker), rng),
            **party_columns("carrier", vessel.carrier, rng, contact=False),
            **vessel_columns(vessel, rng),
            "container_numbers": [organisation.containers[0]],
            "port_of_loading": rng.choice(PORTS[exporter.country]),
            "port_of_discharge": "NLRTM",
            "hs_codes": list(goods.hs_codes),
            "goods_description": "cocaine",
            "quantity": str(rng.randint(40, 600)),
            "unit": "kg",
            "summary": f"Drugs found in a load of {goods.description}",
        }

    # --- the partners --------------------------------------------------------------------------

    def _person_columns(self, number: int, person: Person, rng: Random) -> dict:
        columns = {
            f"subject{number}_name": spell_person_name(person, rng),
            f"subject{number}_nationality": person.nationality,
            f"subject{number}_date_of_birth": person.date_of_birth,
        }
        if person.national_id:
            columns[f"subject{number}_id_numbers"] = [person.national_id]
        return columns

    def _company_subject(self, number: int, party: Party, rng: Random) -> dict:
        return {f"subject{number}_type": "company", **party_columns(f"subject{number}", party, rng)}

    def _honest_importer(self, rng: Random) -> Party:
        # Any trader, not mostly the busy ones: partners' business is not customs' traffic.
        return self.profile(rng.randrange(self.importers)).importer

    def _police_rows(self) -> Iterator[dict]:
        n = 0

        def ref(kind: str) -> str:
            nonlocal n
            n += 1
            return f"TC-POL-{kind}-{n:06d}"

        for organisation in self.organisations:
            rng = self.rng("police-organisation", organisation.key)
            case = f"TC-ZD-{organisation.key + 1:03d}"
            for m in range(2):
                row = {
                    "external_ref": ref("INV"),
                    "category": "investigation",
                    "classification": "confidential",
                    "occurred_on": _day(rng.randint(30, HISTORY_DAYS - 20)),
                    "case_reference": case,
                    "offences": ["drug_trafficking", "money_laundering"],
                    "summary": "Investigation into the import of drugs through the port",
                }
                number = 0
                for person in organisation.persons[m : m + 2]:
                    number += 1
                    row.update(self._person_columns(number, person, rng))
                named = [organisation.burned[m]] + [
                    front for front in organisation.fronts if rng.random() < 0.35
                ]
                for party in named:
                    number += 1
                    row.update(self._company_subject(number, party, rng))
                yield row
            yield {
                "external_ref": ref("SZR"),
                "category": "seizure",
                "classification": "confidential",
                "occurred_on": _day(rng.randint(30, HISTORY_DAYS - 20)),
                **party_columns("consignee", organisation.burned[1], rng),
                **self._person_columns(1, organisation.persons[0], rng),
                "goods_description": "cocaine",
                "quantity": str(rng.randint(5, 90)),
                "unit": "kg",
                "summary": "Found in a unit rented by the consignee",
            }
        # Background: investigations and seizures about other persons and, now and then,
        # honest companies.
        for position in range(self.history // 50):
            rng = self.rng("police-investigation", position)
            row = {
                "external_ref": ref("INV"),
                "category": "investigation",
                "classification": rng.choice(("restricted", "confidential")),
                "occurred_on": _day(rng.randrange(HISTORY_DAYS + TEST_DAYS)),
                "case_reference": f"TC-ZD-{900 + position}",
                "offences": [rng.choice(("drug_trafficking", "money_laundering", "counterfeiting", "other"))],
                "summary": "Investigation following a report",
                **self._person_columns(1, self.people.pick_person(rng), rng),
            }
            if rng.random() < 0.3:
                row.update(self._company_subject(2, self._honest_importer(rng), rng))
            yield row
        for position in range(self.history // 100):
            rng = self.rng("police-seizure", position)
            goods, unit, (low, high), summary = rng.choice(SEIZED_GOODS["pol-nl"])
            row = {
                "external_ref": ref("SZR"),
                "category": "seizure",
                "classification": rng.choice(("restricted", "confidential")),
                "occurred_on": _day(rng.randrange(HISTORY_DAYS + TEST_DAYS)),
                "goods_description": goods,
                "quantity": str(rng.randint(low, high)),
                "unit": unit,
                "summary": summary,
                **self._person_columns(1, self.people.pick_person(rng), rng),
            }
            if rng.random() < 0.1:
                row.update(party_columns("consignee", self._honest_importer(rng), rng))
            yield row

    def _coast_guard_rows(self) -> Iterator[dict]:
        n = 0
        for organisation in self.organisations:
            rng = self.rng("coast-guard-organisation", organisation.key)
            vessel = self.vessel(organisation.vessel)
            n += 1
            yield {
                "external_ref": f"TC-CG-{n:06d}",
                "category": "seizure",
                "classification": "restricted",
                "occurred_on": _day(rng.randint(30, HISTORY_DAYS - 20)),
                **party_columns("carrier", vessel.carrier, rng, contact=False),
                **vessel_columns(vessel, rng),
                "container_numbers": list(organisation.containers),
                "port_of_discharge": "NLRTM",
                "goods_description": "cocaine",
                "quantity": str(rng.randint(20, 300)),
                "unit": "kg",
                "summary": f"Packages found in containers during a boarding of {vessel.name}",
            }
        boardings = self.history // 20
        for position in range(boardings + self.history // 1000):
            rng = self.rng("coast-guard", position)
            # Boardings follow the traffic; what they seize (fuel, ship's stores) any vessel.
            busy = position < boardings
            vessel = self.vessel(self.pool.skewed(rng, self.vessels) if busy else rng.randrange(self.vessels))
            n += 1
            row = {
                "external_ref": f"TC-CG-{n:06d}",
                "classification": "restricted",
                "occurred_on": _day(rng.randrange(HISTORY_DAYS + TEST_DAYS)),
                **party_columns("carrier", vessel.carrier, rng, contact=False),
                **vessel_columns(vessel, rng),
                "port_of_discharge": rng.choice(DISCHARGE_PORTS),
            }
            if busy:
                result = rng.choices(("clear", "discrepancy", "referred_for_seizure"), (88, 10, 2))[0]
                row.update(
                    category="inspection",
                    inspection_result=result,
                    findings=rng.choice(FINDINGS[result]),
                    summary=f"Boarding of {vessel.name} in the approaches to {row['port_of_discharge']}",
                )
            else:
                goods, unit, (low, high), summary = rng.choice(SEIZED_GOODS["cg-nl"])
                row.update(
                    category="seizure",
                    goods_description=goods,
                    quantity=str(rng.randint(low, high)),
                    unit=unit,
                    summary=summary,
                )
            yield row

    def _tax_rows(self) -> Iterator[dict]:
        """Import VAT declarations of some consignments (the invoice value where an
        importer undervalued to customs, now and then), tips and investigations."""
        for position in range(self.history + self.tests):
            rng = self.rng("tax-vat", position)
            if rng.random() >= 0.08:
                continue
            d = self.declaration(position)
            value = d.value
            if d.kind == "undervaluation" and rng.random() < 0.5:
                value = round(value / rng.uniform(0.2, 0.45))
            elif rng.random() < 0.03:
                value = round(value * rng.uniform(1.25, 1.5))
            yield {
                "external_ref": f"TC-TAX-VAT-{position + 1:07d}",
                "category": "shipment",
                "classification": "restricted",
                "occurred_on": _day(d.day + rng.randint(1, 10)),
                "consignment_ref": d.reference,
                **party_columns("importer", d.importer, rng),
                "hs_codes": [code[:6] for code in d.hs_codes],
                "declared_value": f"{value}.00",
                "currency": "EUR",
                "summary": f"Import VAT declaration: {d.goods.description}",
            }
        n = 0
        for organisation in self.organisations:
            rng = self.rng("tax-organisation", organisation.key)
            for front in organisation.fronts:
                if rng.random() < 0.4:
                    n += 1
                    yield self._tax_tip(f"TC-TAX-TIP-{n:06d}", front, rng)
        for position in range(self.history // 100):
            rng = self.rng("tax-tip", position)
            n += 1
            yield self._tax_tip(f"TC-TAX-TIP-{n:06d}", self._honest_importer(rng), rng)
        for position in range(self.history // 200 + len(self.organisations)):
            rng = self.rng("tax-investigation", position)
            background = position >= len(self.organisations)
            company = (
                self._honest_importer(rng) if background else rng.choice(self.organisations[position].fronts)
            )
            yield {
                "external_ref": f"TC-TAX-INV-{position + 1:06d}",
                "category": "investigation",
                "classification": "restricted",
                "occurred_on": _day(rng.randrange(HISTORY_DAYS)),
                "case_reference": f"TC-FIOD-{position + 1:04d}",
                "offences": ["vat_fraud"],
                "summary": "VAT audit opened on the importer",
                **self._company_subject(1, company, rng),
            }

    def _tax_tip(self, ref: str, company: Party, rng: Random) -> dict:
        return {
            "external_ref": ref,
            "category": "tip",
            "classification": "restricted",
            "occurred_on": _day(rng.randrange(HISTORY_DAYS)),
            "source_reliability": rng.choice("BCDF"),
            "information_credibility": rng.choice("2346"),
            "summary": "Report of a company trading from an address it does not use",
            **self._company_subject(1, company, rng),
        }


# --- loading ------------------------------------------------------------------------------------


@dataclass
class LoadedScenario:
    agencies: dict  # role key ("customs", "police", "coast_guard", "tax") -> Agency
    credentials: list[Credential]
    agreements: dict  # partner's role key -> Agreement in force
    imports: dict[str, ImportResult]  # role key -> its import


def ensure_agencies() -> dict:
    agency_model = apps.get_model("agencies", "Agency")
    return {
        spec.key: agency_model.objects.get_or_create(
            code=spec.code, defaults={"name": spec.name, "country": "NL", "kind": spec.key}
        )[0]
        for spec in AGENCIES
    }


def ensure_agreements(agencies: dict) -> dict:
    """One agreement in force per partner: it provides its categories to customs, which
    reads them for risk assessment and intelligence; made through sharing's services."""
    from sharing import agreements as services
    from sharing.models import Agreement

    user_model = get_user_model()
    made = {}
    for spec in AGENCIES[1:]:
        reference = f"TC-{spec.key.upper().replace('_', '-')}-CUS"
        agreement = Agreement.objects.filter(reference=reference, status=Agreement.Status.ACTIVE).first()
        if agreement is None:
            admins = [
                user_model.objects.get(username=f"{code}-admin")
                for code in (AGENCY_BY_KEY["customs"].code, spec.code)
            ]
            starts_at = timezone.now() - timedelta(minutes=1)
            agreement = services.create_agreement(
                admins[0],
                reference=reference,
                title=f"Risk assessment: {spec.name} to customs",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(days=365),
                parties=[(agencies["customs"], False, True), (agencies[spec.key], True, False)],
                categories=list(spec.provides),
                classification_ceiling=2,
                purposes=list(PURPOSES),
            )
            services.propose(agreement, admins[0])
            for admin in admins:
                agreement = services.sign(agreement, admin)
            agreement = Agreement.objects.get(pk=agreement.pk)
        made[spec.key] = agreement
    return made


def load(scenario: TargetingScenario, progress: Callable[[int], None] | None = None) -> LoadedScenario:
    """Writes the scenario: agencies, users, agreements, then each agency's rows as one JSON
    Lines file, customs' by its analyst, the partners' by their liaison officers (who may
    release: every partner record is released to the agreements that cover it). Each import
    is atomic; a caller's outer transaction makes the whole load one."""
    agencies = ensure_agencies()
    credentials = ensure_users(scenario.seed, {spec.code: agencies[spec.key] for spec in AGENCIES})
    agreements = ensure_agreements(agencies)
    user_model = get_user_model()
    imports = import_files(
        (
            (
                spec.key,
                agencies[spec.key],
                user_model.objects.get(
                    username=f"{spec.code}-{'analyst' if spec.key == 'customs' else 'liaison'}"
                ),
                scenario.rows(spec.code),
            )
            for spec in AGENCIES
        ),
        progress=progress,
    )
    return LoadedScenario(agencies, credentials, agreements, imports)
