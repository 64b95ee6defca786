"""Import files for measuring entity resolution, with the truth kept apart.

Five agencies (customs declarations, coast guard boardings, police, tax, the port
authority) write about one population of companies, addresses, phones and vessels, each
spelling them the way its clerks do: legal forms in several languages and spellings
("GmbH", "Gesellschaft mit beschränkter Haftung", "Gesellschaft mit beschraenkter
Haftung"), names in capitals or with their accents stripped or transliterated, the
registration number often left off (and written with or without its country prefix),
phones in national, international and E.164 form, addresses with their street types
abbreviated, IMO numbers with and without their prefix. Some companies share their name,
legal form and country with another company that has another registration number and
another address; some share an address with another company.

Every row is in the import format of docs/import.md and is built by one `RowBuilder`, so
a new column is one method there. What each row's mentions really are is written to a
separate truth file, never into the rows: per row, the agency, the reference and, for each
column that names an entity (`importer_name`, `importer_address`, `vessel_imo`, ...), the
entity's type and true id. `bench/resolution.py` scores an import against it.

Rows are generated one at a time from a random generator seeded by (seed, position), and
each entity of the population from one seeded by (seed, pool, index), so a seed and a
size give the same files on every machine and the writer's memory does not grow with the
file beyond a bounded cache of entities.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import phonenumbers
from normality import ascii_text
from stdnum import get_cc_module, luhn
from stdnum.fr import siren
from stdnum.iso7064 import mod_11_10

from demo.scenario import (
    CONTAINER_OWNERS,
    DISCHARGE_PORTS,
    EXPORTER_WORDS,
    FINDINGS,
    GOODS,
    IMPORTER_TRADES,
    IMPORTER_WORDS,
    PORTS,
    SEIZED_GOODS,
    VESSEL_FLAGS,
    VESSEL_NOUNS,
    VESSEL_WORDS,
    _affine,
    _day,
    _nl_postcode,
    _phone_spellings,
    _rng,
    make_container,
    make_imo,
    make_nl_vat,
    make_phone,
)

# --- the agencies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Stream:
    """One agency's file: its share of the rows, its categories, and how often its clerks
    state a registered company's number, its address and its phone."""

    code: str
    name: str
    kind: str
    prefix: str
    weight: int
    mix: tuple[tuple[str, int], ...]
    reg_no_rate: float
    address_rate: float
    phone_rate: float


STREAMS = (
    Stream(
        "rq-cus",
        "Customs (resolution scenario)",
        "customs",
        "CUS",
        40,
        (("shipment", 75), ("inspection", 18), ("seizure", 7)),
        0.6,
        0.7,
        0.5,
    ),
    Stream(
        "rq-cg",
        "Coast guard (resolution scenario)",
        "coast_guard",
        "CG",
        12,
        (("inspection", 85), ("seizure", 15)),
        0.3,
        0.3,
        0.3,
    ),
    Stream(
        "rq-pol",
        "Police (resolution scenario)",
        "police",
        "POL",
        12,
        (("seizure", 70), ("inspection", 30)),
        0.3,
        0.6,
        0.6,
    ),
    Stream(
        "rq-tax",
        "Tax administration (resolution scenario)",
        "tax",
        "TAX",
        20,
        (("shipment", 85), ("inspection", 15)),
        0.9,
        0.8,
        0.3,
    ),
    Stream(
        "rq-port",
        "Port authority (resolution scenario)",
        "port_authority",
        "PORT",
        16,
        (("shipment", 70), ("inspection", 30)),
        0.4,
        0.4,
        0.4,
    ),
)
STREAM_BY_CODE = {stream.code: stream for stream in STREAMS}

# The columns of the import format (docs/import.md), in the order a CSV file has them.
PARTY_ROLES = ("importer", "exporter", "broker", "carrier", "consignee")
PARTY_FIELDS = ("name", "country", "reg_no", "address", "postcode", "phone", "email")
COLUMNS = (
    "external_ref",
    "category",
    "classification",
    "caveats",
    "occurred_on",
    "summary",
    *(f"{role}_{name}" for role in PARTY_ROLES for name in PARTY_FIELDS),
    "vessel_imo",
    "vessel_name",
    "vessel_flag",
    "container_numbers",
    "port_of_loading",
    "port_of_discharge",
    "hs_codes",
    "declared_value",
    "currency",
    "goods_description",
    "quantity",
    "unit",
    "inspection_result",
    "findings",
)
COLUMN_SET = frozenset(COLUMNS)

# --- how names, numbers and addresses are written ------------------------------------------

# Each country's legal form, its usual spelling first, then the others clerks write.
LEGAL_FORMS = {
    "NL": ("B.V.", "BV", "besloten vennootschap", "Besloten Vennootschap"),
    "BE": ("BV", "B.V.", "besloten vennootschap"),
    "DE": (
        "GmbH",
        "G.m.b.H.",
        "Gesellschaft mit beschränkter Haftung",
        "Gesellschaft mit beschraenkter Haftung",
    ),
    "FR": ("SARL", "S.A.R.L.", "société à responsabilité limitée", "Societe a responsabilite limitee"),
    "ES": ("S.L.", "SL", "Sociedad Limitada", "Sociedad de Responsabilidad Limitada"),
    "IT": ("S.r.l.", "SRL", "società a responsabilità limitata", "Societa a responsabilita limitata"),
    "PL": (
        "sp. z o.o.",
        "Sp. z o.o.",
        "spółka z ograniczoną odpowiedzialnością",
        "spolka z ograniczona odpowiedzialnoscia",
    ),
    "GB": ("Ltd", "Ltd.", "Limited"),
    "DK": ("A/S", "AS", "Aktieselskab"),
    "CN": ("Co., Ltd.", "Co. Ltd", "Company Limited"),
    "VN": ("Co., Ltd", "Company Limited"),
    "TR": ("Ltd. Şti.", "Ltd. Sti.", "Limited Şirketi"),
    "AE": ("LLC", "L.L.C.", "Limited Liability Company"),
    "IN": ("Pvt. Ltd.", "Private Limited"),
    "US": ("Inc.", "Incorporated"),
}
# Words with accents that some companies carry in their names, by country.
LOCAL_WORDS = {
    "DE": ("Müller", "Schröder", "Küstenhandel", "Großhandel", "Fährhaus", "Bäckerei Nord"),
    "FR": ("Société Générale", "Côte", "Frères", "Épices", "Océane"),
    "ES": ("Peña", "Ibérica", "Logística Atlántica"),
    "IT": ("Città", "Ligure", "Adriatica"),
    "PL": ("Łódź", "Gdańsk", "Żuraw", "Bałtyk"),
}
GERMAN_TRANSLITERATION = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)

# (country, weight) of the domestic companies: importers, consignees, brokers, carriers.
DOMESTIC_COUNTRIES = (("NL", 4), ("DE", 3), ("BE", 2), ("FR", 2), ("GB", 2), ("ES", 1), ("IT", 1), ("PL", 1))
FOREIGN_COUNTRIES = ("CN", "VN", "TR", "AE", "IN", "US")
CARRIER_COUNTRIES = ("DK", "DE", "NL", "GB")

# Street types per country: (usual spelling, abbreviations), and where type, name and number
# stand. "{base}{type}" is a compound ("Hafenstraße"), "{type} {base}" two words.
STREETS = {
    "NL": ("{base}{type} {number}", ("Haven", "Kade", "Molen", "Dok"), (("straat", ("str.",)), ("weg", ()))),
    "BE": ("{base}{type} {number}", ("Haven", "Schelde", "Kaai"), (("straat", ("str.",)), ("lei", ()))),
    "DE": (
        "{base}{type} {number}",
        ("Hafen", "Elb", "Kai", "Speicher"),
        (("straße", ("strasse", "str.")), ("weg", ()), ("allee", ())),
    ),
    "DK": ("{base}{type} {number}", ("Havne", "Kaj", "Strand"), (("vej", ()), ("gade", ()))),
    "GB": (
        "{number} {base} {type}",
        ("Harbour", "Dock", "Station", "Mill"),
        (("Street", ("St", "St.")), ("Road", ("Rd", "Rd.")), ("Avenue", ("Ave",)), ("Lane", ("Ln",))),
    ),
    "FR": (
        "{number} {type} {base}",
        ("du Port", "de la Gare", "Jean Jaurès"),
        (("avenue", ("av.", "ave")), ("boulevard", ("bd",)), ("rue", ())),
    ),
    "ES": (
        "{type} {base} {number}",
        ("del Puerto", "Marítima", "de la Industria"),
        (("Calle", ("C/",)), ("Avenida", ("Avda.", "Av."))),
    ),
    "IT": (
        "{type} {base} {number}",
        ("del Porto", "Marittima", "Garibaldi"),
        (("Via", ()), ("Viale", ("V.le",)), ("Piazza", ("P.za",))),
    ),
    "PL": (
        "{type} {base} {number}",
        ("Portowa", "Morska", "Handlowa"),
        (("ulica", ("ul.",)), ("aleja", ("al.",))),
    ),
}
FOREIGN_STREET = (
    "{number} {base} {type}",
    ("Industrial", "Export Zone", "Harbour", "Free Zone"),
    (("Road", ("Rd",)), ("Street", ("St",)), ("Avenue", ("Ave",))),
)
CITIES = {
    "NL": ("Rotterdam", "Amsterdam", "Venlo"),
    "BE": ("Antwerpen", "Zeebrugge"),
    "DE": ("Hamburg", "Bremen", "Duisburg"),
    "DK": ("København", "Aarhus"),
    "GB": ("Felixstowe", "Southampton", "London"),
    "FR": ("Le Havre", "Marseille"),
    "ES": ("Valencia", "Algeciras"),
    "IT": ("Genova", "La Spezia"),
    "PL": ("Gdańsk", "Gdynia"),
    "CN": ("Ningbo", "Shanghai"),
    "VN": ("Ho Chi Minh City",),
    "TR": ("Mersin", "Istanbul"),
    "AE": ("Dubai",),
    "IN": ("Mumbai",),
    "US": ("Savannah", "Newark"),
}
CARRIER_WORDS = (
    "Hanse", "Northsea", "Skagerrak", "Biscay", "Kattegat", "Dogger", "Oceanic", "Sealink", "Bluewater",
    "Channel", "Fjord", "Bothnia",
)  # fmt: skip
CARRIER_KINDS = ("Shipping", "Lines", "Maritime", "Feeder Services")
BROKER_WORDS = (
    "Kade", "Sluis", "Pier", "Boei", "Anker", "Kompas", "Getij", "Kaai", "Dok", "Loods", "Baken", "Roer",
)  # fmt: skip
BROKER_KINDS = ("Customs Services", "Douane Expediteurs", "Customs Agency", "Clearance")

# One company in TWIN_EVERY is a twin of the one before it: same name, legal form and
# country, another registration number, address and phone.
TWIN_EVERY = 25
# One company in SHARED_ADDRESS_EVERY is registered at the address of the one before it.
SHARED_ADDRESS_EVERY = 17


# --- the population -----------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    id: str
    country: str
    template: str
    base: str
    street_type: tuple[str, tuple[str, ...]]
    number: int
    postcode: str
    city: str


@dataclass(frozen=True)
class Company:
    id: str
    name: str  # without the legal form, in its own spelling
    country: str
    reg_no: str  # "" when the company has none (or none its partners know)
    address: Address | None
    phone: str  # E.164, "" when none
    email: tuple[str, str] | None  # (true id, address)


@dataclass(frozen=True)
class Vessel:
    id: str
    imo: str
    name: str
    flag: str
    carrier: Company


def registration_number(rng: random.Random, country: str) -> str:
    """A VAT number of the country with valid check digits, in stdnum's compact form with
    the country prefix (a reader must accept it with and without)."""
    if country == "NL":
        return make_nl_vat(rng)
    if country == "DE":
        body = f"{rng.randint(10**7, 10**8 - 1)}"
        return f"DE{body}{mod_11_10.calc_check_digit(body)}"
    if country == "FR":
        body = f"{rng.randint(10**7, 10**8 - 1)}"
        return "FR" + siren.to_tva(body + luhn.calc_check_digit(body))
    if country == "IT":
        body = f"{rng.randint(10**6, 10**7 - 1)}{rng.randint(1, 100):03d}"
        return f"IT{body}{luhn.calc_check_digit(body)}"
    if country == "BE":
        body = rng.randint(10**6, 10**7 - 1)
        return f"BE0{body}{97 - body % 97:02d}"
    module = get_cc_module(country.lower(), "vat")
    template = {"ES": "B" + "#" * 8, "PL": "#" * 10, "GB": "#" * 9, "DK": "#" * 8}[country]
    while True:  # a valid check digit turns up about one time in ten to fifty
        number = "".join(str(rng.randint(0, 9)) if ch == "#" else ch for ch in template)
        if number[0] != "0" and module.is_valid(number):
            return f"{country}{number}"


def _postcode(rng: random.Random, country: str) -> str:
    if country == "NL":
        return _nl_postcode(rng, 1011, 9999)
    if country == "GB":
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        outward = f"{rng.choice('BCEHLMNS')}{rng.choice('EN')}{rng.randint(1, 9)}"
        return f"{outward} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    if country == "PL":
        return f"{rng.randint(10, 99)}-{rng.randint(0, 999):03d}"
    digits = {
        "BE": 4,
        "DK": 4,
        "DE": 5,
        "FR": 5,
        "ES": 5,
        "IT": 5,
        "US": 5,
        "IN": 6,
        "CN": 6,
        "VN": 6,
        "TR": 5,
    }
    if country not in digits:
        return ""
    size = digits[country]
    return str(rng.randint(10 ** (size - 1), 10**size - 1))


def words_of(k: int, x: int, *pools: tuple[str, ...]) -> str:
    """Name `k`: one word of each pool, by the digits of `x` in their mixed radix; past the
    end of the name space a numbered sister ("Kade Clearance 2"), so no two names are one."""
    size = math.prod(len(pool) for pool in pools)
    words = []
    x %= size
    for pool in pools:
        words.append(pool[x % len(pool)])
        x //= len(pool)
    return " ".join(words) + (f" {k // size + 1}" if k >= size else "")


class Population:
    """The companies, addresses, phones and vessels the agencies write about, sized for a
    number of rows: about one domestic company per eight rows, one foreign supplier per
    twelve, a few brokers and carriers; generated on demand and cached, boundedly."""

    def __init__(self, seed: int, rows: int):
        self.seed = seed
        self.domestic = max(40, rows // 8)
        self.foreign = max(30, rows // 12)
        self.brokers = max(6, rows // 300)
        self.carriers = max(5, rows // 800)
        self.vessels = max(15, rows // 150)
        self._names = _affine(seed, "names", len(IMPORTER_WORDS) * len(EXPORTER_WORDS) * len(IMPORTER_TRADES))
        self.company = lru_cache(maxsize=65_536)(self._company)
        self.vessel = lru_cache(maxsize=8_192)(self._vessel)

    def _base_name(self, k: int) -> str:
        # A permutation of the name space gives consecutive companies unrelated names.
        a, b = self._names
        size = len(IMPORTER_WORDS) * len(EXPORTER_WORDS) * len(IMPORTER_TRADES)
        return words_of(k, (a * k + b) % size, IMPORTER_WORDS, EXPORTER_WORDS, IMPORTER_TRADES)

    def _address(self, rng: random.Random, address_id: str, country: str) -> Address:
        template, bases, types = STREETS.get(country, FOREIGN_STREET)
        return Address(
            address_id,
            country,
            template,
            rng.choice(bases),
            rng.choice(types),
            rng.randint(1, 400),
            _postcode(rng, country),
            rng.choice(CITIES[country]),
        )

    def _company(self, pool: str, k: int) -> Company:
        """Company `k` of a pool: "domestic" (importers, consignees), "foreign" (suppliers,
        never registered here), "broker" or "carrier"."""
        rng = _rng(self.seed, pool, k)
        if pool == "domestic" and k % TWIN_EVERY == 1:
            # The twin: everything but the name, legal form and country is its own.
            elder = self.company(pool, k - 1)
            country, name, registered = elder.country, elder.name, True
        elif pool == "domestic":
            countries, weights = zip(*DOMESTIC_COUNTRIES, strict=True)
            country = rng.choices(countries, weights)[0]
            if k % SHARED_ADDRESS_EVERY == 2:
                # Registered at the office of the company before it, so in its country.
                country = self.company(pool, k - 1).country
            name = self._base_name(k)
            if country in LOCAL_WORDS and rng.random() < 0.4:
                name = f"{rng.choice(LOCAL_WORDS[country])} {name}"
            registered = k % TWIN_EVERY == 0 or rng.random() < 0.75
        elif pool == "foreign":
            country = rng.choice(FOREIGN_COUNTRIES)
            name = self._base_name(self.domestic + k)
            registered = False
        elif pool == "broker":
            country = rng.choice(("NL", "BE", "DE"))
            name = words_of(k, k, BROKER_WORDS, BROKER_KINDS)
            registered = True
        else:
            country = rng.choice(CARRIER_COUNTRIES)
            name = words_of(k, k, CARRIER_WORDS, CARRIER_KINDS)
            registered = rng.random() < 0.6
        ident = f"{pool}-{k}"
        if pool == "domestic" and k % SHARED_ADDRESS_EVERY == 2 and k % TWIN_EVERY != 1:
            address = self.company(pool, k - 1).address
        elif pool != "foreign" or rng.random() < 0.6:
            address = self._address(rng, f"address-{ident}", country)
        else:
            address = None
        has_phone = pool != "foreign" or rng.random() < 0.5
        slug = "".join(ch for ch in ascii_text(name).lower() if ch.isalnum())[:20]
        return Company(
            ident,
            name,
            country,
            registration_number(rng, country) if registered else "",
            address,
            make_phone(rng, country) if has_phone else "",
            (f"email-{ident}", f"info@{slug}{k}.example") if rng.random() < 0.5 else None,
        )

    def _vessel(self, k: int) -> Vessel:
        rng = _rng(self.seed, "vessel", k)
        a, b = _affine(self.seed, "imo", 70_000)
        return Vessel(
            f"vessel-{k}",
            make_imo(920_000 + (a * (k % 70_000) + b) % 70_000),
            words_of(k, k, VESSEL_WORDS, VESSEL_NOUNS),
            rng.choice(VESSEL_FLAGS),
            self.company("carrier", k % self.carriers),
        )

    @staticmethod
    def skewed(rng: random.Random, size: int) -> int:
        """Low indexes far more often: a few busy traders and many small ones."""
        return min(int(size * rng.random() ** 1.8), size - 1)

    def pick(self, rng: random.Random, pool: str) -> Company:
        size = {"domestic": self.domestic, "foreign": self.foreign, "broker": self.brokers}[pool]
        return self.company(pool, self.skewed(rng, size))

    def pick_vessel(self, rng: random.Random) -> Vessel:
        return self.vessel(self.skewed(rng, self.vessels))


# --- spelling what a row states -----------------------------------------------------------


def spell_name(company: Company, rng: random.Random) -> str:
    forms = LEGAL_FORMS[company.country]
    form = forms[0] if rng.random() < 0.55 else rng.choice(forms[1:])
    name = company.name
    if not name.isascii():
        roll = rng.random()
        if roll < 0.25:
            name = ascii_text(name)
        elif roll < 0.4 and company.country == "DE":
            name = name.translate(GERMAN_TRANSLITERATION)
    spelled = f"{name} {form}"
    roll = rng.random()
    return spelled.upper() if roll < 0.18 else spelled.lower() if roll < 0.25 else spelled


def spell_reg_no(number: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return number
    if roll < 0.8:
        return f"{number[:2]} {number[2:]}"
    return number[2:]


def spell_address(address: Address, rng: random.Random) -> tuple[str, str]:
    """(address text, postcode column): street type sometimes abbreviated, capitals
    sometimes, the postcode with or without its space."""
    full, abbreviations = address.street_type
    street_type = rng.choice(abbreviations) if abbreviations and rng.random() < 0.4 else full
    text = address.template.format(base=address.base, type=street_type, number=address.number)
    text = f"{text}, {address.city}"
    if rng.random() < 0.15:
        text = text.upper()
    postcode = address.postcode if rng.random() < 0.7 else address.postcode.replace(" ", "")
    return text, postcode


def spell_phone(e164: str, rng: random.Random) -> str:
    spellings = _phone_spellings(e164)
    region = phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    if phonenumbers.PhoneMetadata.metadata_for_region(region).international_prefix == "00":
        # Dialled from a country whose international prefix is 00: "0031 10 ...".
        spellings = (*spellings, "00" + spellings[1].removeprefix("+"))
    return rng.choice(spellings)


def spell_imo(imo: str, rng: random.Random) -> str:
    return rng.choice((imo, f"IMO {imo}", f"IMO{imo}", f"imo {imo}"))


def spell_vessel_name(name: str, rng: random.Random) -> str:
    return rng.choice((f"MV {name}", name.upper(), f"M/V {name}", name))


# --- rows -------------------------------------------------------------------------------


@dataclass
class RowBuilder:
    """One row of the import format and, apart, the true entity of each column that states
    one. Every column goes through `set`, which refuses a name the format does not have."""

    columns: dict = field(default_factory=dict)
    truth: dict[str, dict[str, str]] = field(default_factory=dict)

    def set(self, **columns) -> None:
        unknown = set(columns) - COLUMN_SET
        if unknown:
            raise KeyError(f"not a column of the import format: {', '.join(sorted(unknown))}")
        self.columns.update(columns)

    def states(self, column: str, entity_type: str, entity: str) -> None:
        """The truth: `column` of this row names `entity`, of `entity_type`."""
        self.truth[column] = {"type": entity_type, "entity": entity}

    def party(
        self, role: str, company: Company, rng: random.Random, stream: Stream, *, contact: bool = True
    ) -> None:
        self.set(**{f"{role}_name": spell_name(company, rng), f"{role}_country": company.country})
        self.states(f"{role}_name", "company", company.id)
        if company.reg_no and rng.random() < stream.reg_no_rate:
            self.set(**{f"{role}_reg_no": spell_reg_no(company.reg_no, rng)})
        if not contact:
            return
        if company.address and rng.random() < stream.address_rate:
            text, postcode = spell_address(company.address, rng)
            self.set(**{f"{role}_address": text})
            if postcode:
                self.set(**{f"{role}_postcode": postcode})
            self.states(f"{role}_address", "address", company.address.id)
        if company.phone and rng.random() < stream.phone_rate:
            self.set(**{f"{role}_phone": spell_phone(company.phone, rng)})
            # A phone is its number: two companies that happen to draw one number share it.
            self.states(f"{role}_phone", "phone", f"phone-{company.phone}")
        if company.email and rng.random() < 0.3:
            email = company.email[1]
            self.set(**{f"{role}_email": email.upper() if rng.random() < 0.2 else email})
            self.states(f"{role}_email", "email", company.email[0])

    def vessel(self, vessel: Vessel, rng: random.Random, stream: Stream) -> None:
        self.party("carrier", vessel.carrier, rng, stream, contact=rng.random() < 0.3)
        self.set(
            vessel_imo=spell_imo(vessel.imo, rng),
            vessel_name=spell_vessel_name(vessel.name, rng),
            vessel_flag=vessel.flag,
        )
        self.states("vessel_imo", "vessel", vessel.id)

    def containers(self, rng: random.Random) -> None:
        count = rng.choice((1, 1, 1, 2, 3))
        self.set(
            container_numbers=[
                make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000)) for _ in range(count)
            ]
        )

    def goods(self, rng: random.Random, *, value: bool) -> str:
        goods = rng.choice(GOODS)
        self.set(hs_codes=list(goods.hs_codes), port_of_loading=rng.choice(PORTS[rng.choice(goods.origins)]))
        self.set(port_of_discharge=rng.choice(DISCHARGE_PORTS))
        if value:
            self.set(declared_value=f"{rng.randint(*goods.value)}.00", currency=rng.choice(("EUR", "USD")))
        return goods.description

    def inspection(self, rng: random.Random) -> None:
        result = rng.choices(("clear", "discrepancy", "referred_for_seizure"), (80, 16, 4))[0]
        self.set(inspection_result=result, findings=rng.choice(FINDINGS[result]))

    def seizure(self, rng: random.Random) -> None:
        description, unit, (low, high), summary = rng.choice(
            [goods for per_agency in SEIZED_GOODS.values() for goods in per_agency]
        )
        self.set(
            goods_description=description, quantity=str(rng.randint(low, high)), unit=unit, summary=summary
        )


@dataclass(frozen=True)
class GeneratedRow:
    agency: str
    columns: dict
    truth: dict[str, dict[str, str]]


def build_row(population: Population, stream: Stream, category: str, rng: random.Random) -> RowBuilder:
    """What each kind of agency writes in a row of each category."""
    row = RowBuilder()
    row.set(
        category=category,
        occurred_on=_day(rng),
        classification=rng.choice(("unclassified", "restricted", "restricted", "confidential")),
    )
    if stream.kind == "customs":
        row.party("importer", population.pick(rng, "domestic"), rng, stream)
        row.party("exporter", population.pick(rng, "foreign"), rng, stream)
        if rng.random() < 0.85:
            row.party("broker", population.pick(rng, "broker"), rng, stream)
        if rng.random() < 0.8:
            row.vessel(population.pick_vessel(rng), rng, stream)
        if rng.random() < 0.85:
            row.containers(rng)
        if rng.random() < 0.1:
            row.party("consignee", population.pick(rng, "domestic"), rng, stream, contact=False)
        description = row.goods(rng, value=category == "shipment")
        row.set(summary=f"Declaration: {description}")
    elif stream.kind == "tax":
        row.party("importer", population.pick(rng, "domestic"), rng, stream)
        if category == "shipment" and rng.random() < 0.6:
            row.party("exporter", population.pick(rng, "foreign"), rng, stream, contact=False)
        if category == "shipment":
            description = row.goods(rng, value=True)
            row.set(summary=f"Import VAT declaration: {description}")
        else:
            row.set(summary="VAT audit")
    elif stream.kind == "police":
        if rng.random() < 0.75:
            row.party("consignee", population.pick(rng, "domestic"), rng, stream)
        if rng.random() < 0.3:
            row.party("importer", population.pick(rng, "domestic"), rng, stream)
        row.set(summary="Search of business premises")
    elif stream.kind == "coast_guard":
        row.vessel(population.pick_vessel(rng), rng, stream)
        if rng.random() < 0.3:
            row.party("consignee", population.pick(rng, "domestic"), rng, stream, contact=False)
        row.set(port_of_discharge=rng.choice(DISCHARGE_PORTS), summary="Boarding before arrival")
    else:  # the port authority: vessel calls and their cargo manifests
        row.vessel(population.pick_vessel(rng), rng, stream)
        if category == "shipment" and rng.random() < 0.5:
            row.party("importer", population.pick(rng, "domestic"), rng, stream)
        if rng.random() < 0.6:
            row.containers(rng)
        row.set(port_of_discharge=rng.choice(DISCHARGE_PORTS), summary="Vessel call")
    if category == "inspection":
        row.inspection(rng)
    elif category == "seizure":
        row.seizure(rng)
    return row


class ResolutionScenario:
    """`rows` rows of the five agencies, row `first` onwards, about a population sized for
    `population` rows (default `rows`): with the same seed and population, a later `first`
    gives more rows by the same companies under new references."""

    def __init__(self, seed: int, rows: int, *, population: int | None = None, first: int = 0):
        if rows < 1:
            raise ValueError("rows must be at least 1")
        self.seed = seed
        self.size = rows
        self.first = first
        self.population = Population(seed, population or rows)
        self._weights = [stream.weight for stream in STREAMS]

    def rows(self) -> Iterator[GeneratedRow]:
        for position in range(self.first, self.first + self.size):
            rng = _rng(self.seed, "row", position)
            stream = rng.choices(STREAMS, self._weights)[0]
            categories, weights = zip(*stream.mix, strict=True)
            category = rng.choices(categories, weights)[0]
            row = build_row(self.population, stream, category, rng)
            ref = f"{stream.prefix}-{position + 1:08d}"
            yield GeneratedRow(stream.code, {"external_ref": ref, **row.columns}, row.truth)

    def write(self, directory: Path, *, file_format: str = "csv") -> dict[str, Path]:
        """One file per agency (`<code>.csv` or `.jsonl`) and `truth.jsonl` beside them, a
        line per row: {"agency", "external_ref", "entities": {column: {"type", "entity"}}}."""
        directory.mkdir(parents=True, exist_ok=True)
        paths = {stream.code: directory / f"{stream.code}.{file_format}" for stream in STREAMS}
        with _Writers(paths, file_format) as writers, (directory / "truth.jsonl").open("w") as truth:
            for row in self.rows():
                writers.write(row.agency, row.columns)
                truth.write(
                    json.dumps(
                        {
                            "agency": row.agency,
                            "external_ref": row.columns["external_ref"],
                            "entities": row.truth,
                        },
                        sort_keys=True,
                    )
                    + "\n"
                )
        return paths

    def write_one_file(self, path: Path, *, file_format: str = "csv") -> Path:
        """Every agency's rows in one file, for one agency to import: the realistic mix the
        throughput benchmark imports. No truth: it measures cost, not quality."""
        with _Writers({"all": path}, file_format) as writers:
            for row in self.rows():
                writers.write("all", row.columns)
        return path


class _Writers:
    def __init__(self, paths: dict[str, Path], file_format: str):
        if file_format not in ("csv", "jsonl"):
            raise ValueError(f"file_format must be csv or jsonl, not {file_format!r}")
        self.paths = paths
        self.file_format = file_format

    def __enter__(self) -> _Writers:
        self.streams = {key: path.open("w", newline="", encoding="utf-8") for key, path in self.paths.items()}
        self.csv = {}
        if self.file_format == "csv":
            for key, stream in self.streams.items():
                self.csv[key] = csv.DictWriter(stream, COLUMNS, restval="", lineterminator="\n")
                self.csv[key].writeheader()
        return self

    def write(self, key: str, columns: dict) -> None:
        if self.file_format == "csv":
            self.csv[key].writerow(
                {
                    name: ";".join(value) if isinstance(value, list) else value
                    for name, value in columns.items()
                }
            )
        else:
            self.streams[key].write(json.dumps(columns, ensure_ascii=False) + "\n")

    def __exit__(self, *exc) -> None:
        for stream in self.streams.values():
            stream.close()


def truth_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            yield json.loads(line)
