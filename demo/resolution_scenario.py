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

The police, tax and port files also hold investigations and tips about their subjects
(`subject1_...` to `subject4_...` in CSV, an array under `subject` in JSON): companies, and
persons named in several spellings ("Jürgen Müller", "Juergen Mueller", "MÜLLER, Jürgen",
"Mohamed"/"Mohammed"), with or without their date of birth, national ID number and
passport number; some persons share their name and nationality with another born on
another day. Some consignments are recorded by several agencies (a declaration, an
inspection, a seizure, a tip), each stating its MRN or UCR as written (case, spaces) or,
now and then, leaving it out.

Every row is in the import format of docs/import.md and is built by one `RowBuilder`, so
a new column is one method there. What each row's mentions really are is written to a
separate truth file, never into the rows: per row, the agency, the reference and, for each
column that names an entity (`importer_name`, `subject2_name`, `importer_address`,
`vessel_imo`, ...), the entity's type and true id (and, for a party, the name the row
states, which tells several parties of one role apart), and under `shipment` the
consignment the row is about (its own shipment when none). `bench/resolution.py` scores an
import against it.

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
from stdnum import get_cc_module, iso6346, luhn
from stdnum.es import dni
from stdnum.fr import siren
from stdnum.iso7064 import mod_11_10
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.tr import tckimlik

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
        (("seizure", 45), ("inspection", 15), ("investigation", 40)),
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
        (("shipment", 70), ("inspection", 10), ("investigation", 20)),
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
        (("shipment", 55), ("inspection", 25), ("tip", 20)),
        0.4,
        0.4,
        0.4,
    ),
)
STREAM_BY_CODE = {stream.code: stream for stream in STREAMS}

# The columns of the import format (docs/import.md), in the order a CSV file has them.
PARTY_ROLES = ("importer", "exporter", "broker", "carrier", "consignee")
PARTY_FIELDS = ("name", "country", "reg_no", "address", "postcode", "phone", "email")
# Subjects are numbered (`subject1_name`, `subject2_name`, ...), companies or persons.
MAX_SUBJECTS = 4
SUBJECT_FIELDS = ("type", *PARTY_FIELDS, "nationality", "date_of_birth", "id_numbers", "passport_numbers")
COLUMNS = (
    "external_ref",
    "category",
    "classification",
    "caveats",
    "occurred_on",
    "summary",
    "consignment_ref",
    *(f"{role}_{name}" for role in PARTY_ROLES for name in PARTY_FIELDS),
    *(f"subject{n}_{name}" for n in range(1, MAX_SUBJECTS + 1) for name in SUBJECT_FIELDS),
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
    "case_reference",
    "offences",
    "source_reliability",
    "information_credibility",
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

# Persons by nationality: given names and surnames, each a tuple of its spellings, the usual
# first, the others transliterations clerks write ("Mohamed", "Mohammed", "Muhammad"); then
# second given names, never a first one, so no two persons' names are one in another order.
PERSON_NAMES = {
    "NL": (
        (("Jan",), ("Pieter",), ("Kees",), ("Sanne",), ("Anouk",), ("Daan",), ("Bram",), ("Lotte",),
         ("Ruud",), ("Joost",), ("Femke",), ("Wouter",)),
        (("de Vries",), ("Bakker",), ("Visser",), ("Jansen",), ("van den Berg",), ("de Jong",), ("Smit",),
         ("Meijer",), ("van Dijk",), ("Mulder",), ("de Boer",), ("Vermeulen",)),
        ("Johannes", "Maria", "Cornelis", "Hendrik"),
    ),
    "DE": (
        (("Jürgen",), ("Jörg",), ("Günter",), ("Anna",), ("Lukas",), ("Björn",), ("Käthe",), ("Uwe",)),
        (("Müller",), ("Schröder",), ("Groß",), ("Weiß",), ("Köhler",), ("Schmidt",), ("Bäcker",),
         ("Krüger",)),
        ("Maria", "Friedrich", "Karl", "Elisabeth"),
    ),
    "PL": (
        (("Łukasz",), ("Paweł",), ("Małgorzata",), ("Agnieszka",), ("Wojciech",), ("Krzysztof",)),
        (("Wójcik",), ("Kowalski",), ("Lewandowski",), ("Zieliński",), ("Woźniak",), ("Dąbrowski",)),
        ("Maria", "Józef", "Jan", "Stanisław"),
    ),
    "TR": (
        (("Şükrü",), ("Çağlar",), ("Ömer",), ("Ayşe",), ("Gökhan",), ("İbrahim",)),
        # Turkish spells these with a dotless i (U+0131), which ASCII folding must meet.
        (("Yılmaz",), ("Çelik",), ("Öztürk",), ("Şahin",), ("Doğan",), ("Kılıç",)),  # noqa: RUF001
        ("Ali", "Hüseyin", "Nur", "Mustafa"),
    ),
    "MA": (
        (("Mohamed", "Mohammed", "Muhammad"), ("Youssef", "Youssif", "Yusuf"), ("Khalid", "Khaled"),
         ("Fatima", "Fatma"), ("Rachid", "Rashid"), ("Abdelkader", "Abdelkadir")),
        (("El Amrani", "Elamrani"), ("Benali", "Ben Ali"), ("Alaoui",), ("Bouzid", "Bouzied"),
         ("Ouazzani", "Wazzani"), ("Chaoui",)),
        ("Ali", "Amine", "Zahra", "Hassan"),
    ),
    "ES": (
        (("José",), ("María",), ("Iñigo",), ("Jesús",), ("Begoña",), ("Raúl",)),
        (("Peña",), ("García",), ("Muñoz",), ("Ibáñez",), ("Martín",), ("Sánchez",)),
        ("Antonio", "Luis", "del Carmen", "Ángel"),
    ),
}  # fmt: skip
# (nationality, slots in PERSON_NATIONALITY_SLOTS): person k is of the nationality of slot k % 12.
PERSON_NATIONALITY_SLOTS = ("NL",) * 4 + ("DE", "DE", "PL", "PL", "TR", "MA", "MA", "ES")
# One person in NAMESAKE_EVERY shares the name and nationality of the one before it, with
# another date of birth and other documents.
NAMESAKE_EVERY = 20
OFFENCES = (
    "drug_trafficking",
    "tobacco_smuggling",
    "excise_fraud",
    "customs_fraud",
    "vat_fraud",
    "money_laundering",
)


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


@dataclass(frozen=True)
class Person:
    id: str
    given: tuple[str, ...]  # spellings of each given name, the usual first
    surname: tuple[str, ...]  # its spellings
    nationality: str
    date_of_birth: str
    national_id: str  # "" when none is known
    passport: str  # "" when none is known


@dataclass(frozen=True)
class Consignment:
    """One consignment: a declaration, and what other agencies record about it, state the
    same reference (or, now and then, none) and the same traders, vessel and containers."""

    id: str
    reference: str  # an MRN or a UCR
    importer: Company
    exporter: Company
    vessel: Vessel
    containers: tuple[str, ...]


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
        self.persons = max(30, rows // 25)
        self.consignments = max(10, rows // 15)
        self._names = _affine(seed, "names", len(IMPORTER_WORDS) * len(EXPORTER_WORDS) * len(IMPORTER_TRADES))
        self.company = lru_cache(maxsize=65_536)(self._company)
        self.vessel = lru_cache(maxsize=8_192)(self._vessel)
        self.person = lru_cache(maxsize=65_536)(self._person)
        self.consignment = lru_cache(maxsize=65_536)(self._consignment)

    def _base_name(self, k: int) -> str:
        # A permutation of the name space gives consecutive companies unrelated names.
        a, b = self._names
        size = len(IMPORTER_WORDS) * len(EXPORTER_WORDS) * len(IMPORTER_TRADES)
        return words_of(k, (a * k + b) % size, IMPORTER_WORDS, EXPORTER_WORDS, IMPORTER_TRADES)

    def address(self, rng: random.Random, address_id: str, country: str) -> Address:
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
            address = self.address(rng, f"address-{ident}", country)
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

    def _person(self, k: int) -> Person:
        """Person `k`: of the nationality of its slot, named by a permutation of the
        nationality's names (with or without a second given name), so no two persons share
        a name but the planted namesakes, while the names last (about 180 a nationality)."""
        rng = _rng(self.seed, "person", k)
        if k % NAMESAKE_EVERY == 1:
            elder = self.person(k - 1)
            nationality, given, surname = elder.nationality, elder.given, elder.surname
        else:
            nationality = PERSON_NATIONALITY_SLOTS[k % len(PERSON_NATIONALITY_SLOTS)]
            slots = [i for i, code in enumerate(PERSON_NATIONALITY_SLOTS) if code == nationality]
            index = (k // len(PERSON_NATIONALITY_SLOTS)) * len(slots) + slots.index(
                k % len(PERSON_NATIONALITY_SLOTS)
            )
            givens, surnames, seconds = PERSON_NAMES[nationality]
            size = len(givens) * len(surnames) * (len(seconds) + 1)
            a, b = _affine(self.seed, f"person-{nationality}", size)
            x = (a * index + b) % size
            given, x = givens[x % len(givens)], x // len(givens)
            surname, second = surnames[x % len(surnames)], x // len(surnames)
            if second:
                given = tuple(f"{spelling} {seconds[second - 1]}" for spelling in given)
        born = _day(rng, -365 * 60, -365 * 20)
        return Person(
            f"person-{k}",
            given,
            surname,
            nationality,
            born,
            national_id(rng, nationality, born) if rng.random() < 0.7 else "",
            passport_number(rng) if rng.random() < 0.5 else "",
        )

    def _consignment(self, k: int) -> Consignment:
        rng = _rng(self.seed, "consignment", k)
        importer = self.pick(rng, "domestic")
        return Consignment(
            f"consignment-{k}",
            mrn(rng) if rng.random() < 0.8 else ucr(rng, importer, k),
            importer,
            self.pick(rng, "foreign"),
            self.pick_vessel(rng),
            tuple(
                make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000))
                for _ in range(rng.choice((1, 1, 2)))
            ),
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

    def pick_person(self, rng: random.Random) -> Person:
        return self.person(self.skewed(rng, self.persons))

    def pick_consignment(self, rng: random.Random) -> Consignment:
        return self.consignment(rng.randrange(self.consignments))


def national_id(rng: random.Random, nationality: str, born: str) -> str:
    """A national identification number of the country, with valid check digits where
    python-stdnum checks it (BSN, PESEL, DNI, T.C. Kimlik No.); "" where the country has
    none this scenario writes (Germany's tax ID is not an identity document)."""
    if nationality == "NL":
        while True:
            number = f"{rng.randint(10**8, 10**9 - 1)}"
            if bsn.is_valid(number):
                return number
    if nationality == "PL":
        year, month, day = born.split("-")
        month = f"{int(month) + (20 if year >= '2000' else 0):02d}"
        body = f"{year[2:]}{month}{day}{rng.randint(0, 9999):04d}"
        return body + pesel.calc_check_digit(body)
    if nationality == "ES":
        body = f"{rng.randint(10**7, 10**8 - 1)}"
        return body + dni.calc_check_digit(body)
    if nationality == "TR":
        body = f"{rng.randint(10**8, 10**9 - 1)}"
        return body + tckimlik.calc_check_digits(body)
    if nationality == "MA":
        letters = rng.choice("ABCDGHIJKLMSTUWXYZ") + rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ")
        return f"{letters}{rng.randint(10**5, 10**6 - 1)}"
    return ""


def passport_number(rng: random.Random) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    tail = "".join(rng.choice(letters + "0123456789") for _ in range(5))
    return f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(0, 9)}{tail}{rng.randint(0, 9)}"


def mrn(rng: random.Random) -> str:
    """An EU Movement Reference Number declared in the Netherlands, its check digit
    computed as the EU specifies (ISO 6346's algorithm over the first 17 characters)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    body = f"{rng.choice(('25', '26'))}NL" + "".join(rng.choice(alphabet) for _ in range(12)) + "A"
    return body + iso6346.calc_check_digit(body)


def ucr(rng: random.Random, importer: Company, k: int) -> str:
    """A WCO UCR: year, country, the trader's identifier and its own reference."""
    trader = importer.reg_no[2:] if importer.reg_no else f"{rng.randint(10**8, 10**9 - 1)}"
    return f"{rng.choice('56')}NL{trader}-{k:05d}"


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


def spell_person_name(person: Person, rng: random.Random) -> str:
    """Given names and surname in a usual or a transliterated spelling, accents kept,
    stripped or (German) written out, "Given Surname" or "Surname, Given", surname or all in
    capitals now and then."""
    given = person.given[0] if rng.random() < 0.75 else rng.choice(person.given)
    surname = person.surname[0] if rng.random() < 0.75 else rng.choice(person.surname)
    roll = rng.random()
    if roll < 0.2:
        given, surname = ascii_text(given), ascii_text(surname)
    elif roll < 0.35 and person.nationality == "DE":
        given, surname = given.translate(GERMAN_TRANSLITERATION), surname.translate(GERMAN_TRANSLITERATION)
    roll = rng.random()
    if roll < 0.55:
        spelled = f"{given} {surname}"
    elif roll < 0.8:
        spelled = f"{surname}, {given}"
    elif roll < 0.9:
        spelled = f"{surname.upper()}, {given}"
    else:
        spelled = f"{given} {surname.upper()}"
    roll = rng.random()
    return spelled.upper() if roll < 0.1 else spelled.lower() if roll < 0.13 else spelled


def spell_reference(reference: str, rng: random.Random) -> str:
    """A consignment reference as written: as issued, in lower case, or in groups of four."""
    roll = rng.random()
    if roll < 0.7:
        return reference
    if roll < 0.8:
        return reference.lower()
    return " ".join(reference[i : i + 4] for i in range(0, len(reference), 4))


# --- rows -------------------------------------------------------------------------------

# How often a row of (agency kind, category) is about a consignment others record too, and
# how often such a row (other than the declaration) leaves its reference out.
CONSIGNMENT_RATES = {
    ("customs", "shipment"): 0.4,
    ("customs", "inspection"): 0.4,
    ("customs", "seizure"): 0.5,
    ("coast_guard", "inspection"): 0.35,
    ("coast_guard", "seizure"): 0.5,
    ("police", "seizure"): 0.5,
    ("tax", "shipment"): 0.2,
    ("port_authority", "shipment"): 0.3,
    ("port_authority", "tip"): 0.4,
}
REFERENCE_LEFT_OUT = 0.1
# Per agency kind: how often a person's date of birth, national ID and passport number are
# stated (when the person has them).
PERSON_RATES = {
    "police": (0.8, 0.5, 0.4),
    "tax": (0.7, 0.6, 0.1),
    "port_authority": (0.35, 0.1, 0.15),
}


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

    def states(self, column: str, entity_type: str, entity: str, **stated: str) -> None:
        """The truth: `column` of this row names `entity`, of `entity_type`; `stated` is what
        tells the row's parties of one role apart (the name as written)."""
        self.truth[column] = {"type": entity_type, "entity": entity, **stated}

    def party(
        self, role: str, company: Company, rng: random.Random, stream: Stream, *, contact: bool = True
    ) -> None:
        """A company in `role`, or, for a numbered subject (`subject2`), as that subject."""
        name = spell_name(company, rng)
        self.set(**{f"{role}_name": name, f"{role}_country": company.country})
        if role.startswith("subject"):
            self.set(**{f"{role}_type": "company"})
        self.states(f"{role}_name", "company", company.id, name=name)
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

    def containers(self, rng: random.Random, consignment: Consignment | None = None) -> None:
        if consignment:
            self.set(container_numbers=list(consignment.containers))
            return
        count = rng.choice((1, 1, 1, 2, 3))
        self.set(
            container_numbers=[
                make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000)) for _ in range(count)
            ]
        )

    def consignment(self, consignment: Consignment, rng: random.Random, *, declaration: bool) -> None:
        """The row is about `consignment`: it says so by its reference, which a declaration
        always states and another agency's record now and then leaves out."""
        if declaration or rng.random() >= REFERENCE_LEFT_OUT:
            self.set(consignment_ref=spell_reference(consignment.reference, rng))
        self.states("shipment", "shipment", consignment.id)

    def person(self, number: int, person: Person, rng: random.Random, stream: Stream) -> None:
        """Subject `number`, a person, with what this agency states of them."""
        dob_rate, id_rate, passport_rate = PERSON_RATES[stream.kind]
        prefix = f"subject{number}"
        name = spell_person_name(person, rng)
        self.set(**{f"{prefix}_name": name, f"{prefix}_nationality": person.nationality})
        if rng.random() < 0.2:
            self.set(**{f"{prefix}_type": "person"})
        if rng.random() < dob_rate:
            self.set(**{f"{prefix}_date_of_birth": person.date_of_birth})
        if person.national_id and rng.random() < id_rate:
            self.set(**{f"{prefix}_id_numbers": [person.national_id]})
        if person.passport and rng.random() < passport_rate:
            passport = person.passport.lower() if rng.random() < 0.1 else person.passport
            self.set(**{f"{prefix}_passport_numbers": [passport]})
        self.states(f"{prefix}_name", "person", person.id, name=name)

    def subjects(
        self, population: Population, rng: random.Random, stream: Stream, *, persons: int, companies: int
    ) -> None:
        """Up to `persons` persons, then up to `companies` companies, as numbered subjects.
        A draw sharing its name with one already named (itself, a namesake, a twin) is left
        out, so the row's subjects are told apart by the names it states."""
        names: set[tuple] = set()
        number = 0
        for _ in range(persons):
            person = population.pick_person(rng)
            if (person.nationality, person.given, person.surname) not in names:
                names.add((person.nationality, person.given, person.surname))
                number += 1
                self.person(number, person, rng, stream)
        for _ in range(companies):
            company = population.pick(rng, "domestic")
            if (company.country, company.name) not in names:
                names.add((company.country, company.name))
                number += 1
                self.party(f"subject{number}", company, rng, stream)

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
    consignment = None
    if rng.random() < CONSIGNMENT_RATES.get((stream.kind, category), 0.0):
        consignment = population.pick_consignment(rng)
        row.consignment(consignment, rng, declaration=category == "shipment" and stream.kind == "customs")

    def domestic() -> Company:
        return consignment.importer if consignment else population.pick(rng, "domestic")

    def foreign() -> Company:
        return consignment.exporter if consignment else population.pick(rng, "foreign")

    def vessel() -> Vessel:
        return consignment.vessel if consignment else population.pick_vessel(rng)

    if stream.kind == "customs":
        row.party("importer", domestic(), rng, stream)
        row.party("exporter", foreign(), rng, stream)
        if rng.random() < 0.85:
            row.party("broker", population.pick(rng, "broker"), rng, stream)
        if consignment or rng.random() < 0.8:
            row.vessel(vessel(), rng, stream)
        if consignment or rng.random() < 0.85:
            row.containers(rng, consignment)
        if rng.random() < 0.1:
            row.party("consignee", population.pick(rng, "domestic"), rng, stream, contact=False)
        description = row.goods(rng, value=category == "shipment")
        row.set(summary=f"Declaration: {description}")
    elif stream.kind == "tax" and category == "investigation":
        row.subjects(
            population, rng, stream, persons=int(rng.random() < 0.4), companies=rng.choice((1, 1, 2))
        )
        row.set(summary="VAT fraud investigation")
    elif stream.kind == "tax":
        row.party("importer", domestic(), rng, stream)
        if category == "shipment" and (consignment or rng.random() < 0.6):
            row.party("exporter", foreign(), rng, stream, contact=False)
        if category == "shipment":
            description = row.goods(rng, value=True)
            row.set(summary=f"Import VAT declaration: {description}")
        else:
            row.set(summary="VAT audit")
    elif stream.kind == "police" and category == "investigation":
        row.subjects(
            population,
            rng,
            stream,
            persons=rng.choices((1, 2, 3), (50, 35, 15))[0],
            companies=int(rng.random() < 0.25),
        )
        row.set(summary="Criminal investigation")
    elif stream.kind == "police":
        if consignment or rng.random() < 0.75:
            row.party("consignee", domestic(), rng, stream)
        if rng.random() < 0.3:
            row.party("importer", population.pick(rng, "domestic"), rng, stream)
        if consignment:
            row.containers(rng, consignment)
        if rng.random() < 0.3:
            row.subjects(population, rng, stream, persons=1, companies=0)
        row.set(summary="Search of business premises")
    elif stream.kind == "coast_guard":
        row.vessel(vessel(), rng, stream)
        if consignment or rng.random() < 0.3:
            row.party("consignee", domestic(), rng, stream, contact=False)
        row.set(port_of_discharge=rng.choice(DISCHARGE_PORTS), summary="Boarding before arrival")
    elif category == "tip":  # the port authority's workers report what they see
        row.subjects(population, rng, stream, persons=rng.choice((1, 1, 2)), companies=0)
        if consignment:
            row.containers(rng, consignment)
        row.set(summary="Information from a port worker")
    else:  # the port authority: vessel calls and their cargo manifests
        row.vessel(vessel(), rng, stream)
        if category == "shipment" and (consignment or rng.random() < 0.5):
            row.party("importer", domestic(), rng, stream)
        if consignment or rng.random() < 0.6:
            row.containers(rng, consignment)
        row.set(port_of_discharge=rng.choice(DISCHARGE_PORTS), summary="Vessel call")
    if category == "inspection":
        row.inspection(rng)
    elif category == "seizure":
        row.seizure(rng)
    elif category == "investigation":
        row.set(
            case_reference=f"{stream.prefix}-CASE-{rng.randint(1, 999):03d}",
            offences=rng.sample(OFFENCES, rng.choice((1, 1, 2))),
        )
    elif category == "tip":
        row.set(source_reliability=rng.choice("ABCDEF"), information_credibility=rng.choice("123456"))
    return row


# --- planted networks -------------------------------------------------------------------
# Two smuggling rings declared by customs, planted only when asked for (`planted=True`), so
# the resolution benchmark's figures stay those of the scenario without them.

PLANTING_STREAM = "rq-cus"
RING_SHIPMENTS = 12
RING_SEIZURES = 2
RING_FRONTS = {
    "A": ("Nordvik Fresh Fish", "Zeeland Fruit Import", "Rijnmond Reefer Services"),
    "B": ("Eastgate Trading", "Baltic Star Logistics"),
}
RING_EXPORTERS = {"A": ("Frutas del Pacifico", "US"), "B": ("Al Noor General Trading", "AE")}
RING_VESSELS = {"A": ("Cordillera Star", 993_456), "B": ("Gulf Meridian", 995_678)}


@dataclass(frozen=True)
class PlantedRing:
    """A ring as the truth knows it: front companies registered at one address with one
    phone, their one foreign supplier, their own vessel and their reused containers."""

    key: str
    fronts: tuple[Company, ...]
    exporter: Company
    vessel: Vessel
    containers: tuple[str, ...]


@dataclass(frozen=True)
class PlantedRow:
    """The truth about one planted row: its reference, its ring, its category, its front."""

    external_ref: str
    ring: PlantedRing
    category: str
    front: Company


@dataclass(frozen=True)
class PlantedNetworks:
    rings: tuple[PlantedRing, ...]
    # The busiest broker files for both rings (and for innocent importers); the busiest
    # vessel carries cargo of both (and of innocent traders).
    broker: Company
    shared_vessel: Vessel
    rows: tuple[PlantedRow, ...]


def planted_networks(population: Population, *, first_ref: int) -> PlantedNetworks:
    """The rings and their rows, drawn from the seed alone; row references run on from
    `first_ref` (after the background rows), each ring's shipments then its seizures, the
    fronts named in turn."""
    rings = []
    for key, names in RING_FRONTS.items():
        rng = _rng(population.seed, "ring", key)
        address = population.address(rng, f"address-ring-{key}", "NL")
        phone = make_phone(rng, "NL")
        fronts = tuple(
            Company(f"ring-{key}-front-{n}", name, "NL", registration_number(rng, "NL"), address, phone, None)
            for n, name in enumerate(names)
        )
        exporter_name, country = RING_EXPORTERS[key]
        exporter = Company(
            f"ring-{key}-exporter",
            exporter_name,
            country,
            "",
            population.address(rng, f"address-ring-{key}-exporter", country),
            make_phone(rng, country),
            None,
        )
        vessel_name, stem = RING_VESSELS[key]
        # Stems 99xxxx, clear of the population's 920000-989999; an ordinary line's ship.
        carrier = population.company("carrier", rng.randrange(population.carriers))
        vessel = Vessel(f"vessel-ring-{key}", make_imo(stem), vessel_name, "PA", carrier)
        containers = tuple(
            make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000)) for _ in range(4)
        )
        rings.append(PlantedRing(key, fronts, exporter, vessel, containers))
    stream = STREAM_BY_CODE[PLANTING_STREAM]
    categories = ("shipment",) * RING_SHIPMENTS + ("seizure",) * RING_SEIZURES
    rows = []
    for ring in rings:
        for nth, category in enumerate(categories):
            ref = f"{stream.prefix}-{first_ref + len(rows) + 1:08d}"
            rows.append(PlantedRow(ref, ring, category, ring.fronts[nth % len(ring.fronts)]))
    return PlantedNetworks(tuple(rings), population.company("broker", 0), population.vessel(0), tuple(rows))


def build_planted_row(networks: PlantedNetworks, planted: PlantedRow, rng: random.Random) -> RowBuilder:
    """A customs declaration or seizure of a ring, as its clerks write any other."""
    stream, ring = STREAM_BY_CODE[PLANTING_STREAM], planted.ring
    row = RowBuilder()
    row.set(category=planted.category, occurred_on=_day(rng), classification="restricted")
    row.party("importer", planted.front, rng, stream)
    row.party("exporter", ring.exporter, rng, stream)
    if planted.category == "seizure" or rng.random() < 0.85:
        row.party("broker", networks.broker, rng, stream)
    row.vessel(networks.shared_vessel if rng.random() < 0.5 else ring.vessel, rng, stream)
    row.set(container_numbers=[rng.choice(ring.containers)])
    description = row.goods(rng, value=planted.category == "shipment")
    if planted.category == "seizure":
        row.seizure(rng)
    else:
        row.set(summary=f"Declaration: {description}")
    return row


class ResolutionScenario:
    """`rows` rows of the five agencies, row `first` onwards, about a population sized for
    `population` rows (default `rows`): with the same seed and population, a later `first`
    gives more rows by the same companies under new references. With `planted`, customs'
    file ends with the rows of two smuggling rings (`networks` is their truth)."""

    def __init__(
        self, seed: int, rows: int, *, population: int | None = None, first: int = 0, planted: bool = False
    ):
        if rows < 1:
            raise ValueError("rows must be at least 1")
        self.seed = seed
        self.size = rows
        self.first = first
        self.population = Population(seed, population or rows)
        self._weights = [stream.weight for stream in STREAMS]
        self.networks = planted_networks(self.population, first_ref=first + rows) if planted else None

    def rows(self) -> Iterator[GeneratedRow]:
        for position in range(self.first, self.first + self.size):
            rng = _rng(self.seed, "row", position)
            stream = rng.choices(STREAMS, self._weights)[0]
            categories, weights = zip(*stream.mix, strict=True)
            category = rng.choices(categories, weights)[0]
            row = build_row(self.population, stream, category, rng)
            ref = f"{stream.prefix}-{position + 1:08d}"
            if "shipment" not in row.truth:  # about no consignment others record: its own
                row.states("shipment", "shipment", f"shipment-{stream.code}-{ref}")
            yield GeneratedRow(stream.code, {"external_ref": ref, **row.columns}, row.truth)
        for planted in self.networks.rows if self.networks else ():
            row = build_planted_row(self.networks, planted, _rng(self.seed, "planted", planted.external_ref))
            row.states("shipment", "shipment", f"shipment-{PLANTING_STREAM}-{planted.external_ref}")
            yield GeneratedRow(
                PLANTING_STREAM, {"external_ref": planted.external_ref, **row.columns}, row.truth
            )

    def write(self, directory: Path, *, file_format: str = "csv") -> dict[str, Path]:
        """One file per agency (`<code>.csv` or `.jsonl`) and `truth.jsonl` beside them, a
        line per row: {"agency", "external_ref", "entities": {column: {"type", "entity"},
        party name column: {"type", "entity", "name"}, "shipment": {"type", "entity"}}}."""
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
            self.streams[key].write(json.dumps(as_json(columns), ensure_ascii=False) + "\n")

    def __exit__(self, *exc) -> None:
        for stream in self.streams.values():
            stream.close()


def as_json(columns: dict) -> dict:
    """The row as JSON writes it: the numbered subjects an array of party objects under
    `subject`, in their order (docs/import.md, "Parties")."""
    row, subjects = {}, {}
    for name, value in columns.items():
        if name.startswith("subject"):
            number, field_name = name.removeprefix("subject").split("_", 1)
            subjects.setdefault(int(number), {})[field_name] = value
        else:
            row[name] = value
    if subjects:
        row["subject"] = [subjects[number] for number in sorted(subjects)]
    return row


def truth_rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as stream:
        for line in stream:
            yield json.loads(line)
