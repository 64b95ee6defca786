"""A deterministic demo scenario: four agencies, a user of each role in each, and a year
of shipment, seizure and inspection records in which two smuggling networks are hidden
among innocent traffic.

Every row is a dict in the import format (docs/import.md) and is written through
`intel.import_writing.import_file`, so resolution, candidates, the owner's guardian
permissions and the audit event happen exactly as for an agency's own import. Rows are
generated one at a time from a random generator seeded by (seed, agency, position), so
the same seed and scale give the same rows on every machine, and memory stays flat as
the scale grows: only the pools of background traders and vessels are cached, and they
grow with the square root of the scale.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import random
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import phonenumbers
from django.apps import apps
from django.contrib.auth import get_user_model
from django.db.models import Count
from stdnum import imo as imo_number
from stdnum import iso6346
from stdnum.nl import bsn

from intel.import_writing import ImportResult, import_file
from intel.models import Entity, Record, ResolutionCandidate

# A fixed year, not "the last twelve months": the same seed must give the same rows tomorrow.
YEAR_START = date(2025, 1, 1)


def _rng(*parts: object) -> random.Random:
    # A string seed goes through SHA-512, not Python's per-process hash salt, so the
    # stream is identical across runs and machines. Demo data, not secrets.
    return random.Random(":".join(str(part) for part in parts))  # noqa: S311


def _day(rng: random.Random, first: int = 0, last: int = 364) -> str:
    return (YEAR_START + timedelta(days=rng.randint(first, last))).isoformat()


# --- identifiers with valid check digits ------------------------------------------------


def make_imo(stem: int) -> str:
    digits = f"{stem:06d}"
    return digits + imo_number.calc_check_digit(digits)


def make_container(owner: str, serial: int) -> str:
    base = f"{owner}{serial:06d}"
    return base + iso6346.calc_check_digit(base)


def make_nl_vat(rng: random.Random) -> str:
    """A Dutch VAT number (NL + 9-digit RSIN + B01) whose RSIN passes the 11-check."""
    while True:
        body = f"{rng.randint(1, 99_999_999):08d}"
        check = sum(int(digit) * (9 - index) for index, digit in enumerate(body)) % 11
        if check < 10 and bsn.checksum(body + str(check)) == 0:
            return f"NL{body}{check}B01"


def make_phone(rng: random.Random, country: str, area: str = "") -> str:
    """A valid fixed-line number of the country in E.164: phonenumbers' example number,
    so it has the country's real length, with the area code given and random digits."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
    # The significant number keeps a leading zero that is part of it (Italy's "02 ...").
    national = phonenumbers.national_significant_number(example)
    prefix = area or national[: max(len(national) - 6, 1)]
    for _ in range(50):
        tail = "".join(str(rng.randint(0, 9)) for _ in range(len(national) - len(prefix)))
        candidate = phonenumbers.parse(f"+{example.country_code}{prefix}{tail}")
        if phonenumbers.is_valid_number(candidate):
            return phonenumbers.format_number(candidate, phonenumbers.PhoneNumberFormat.E164)
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)


@cache
def _phone_spellings(e164: str) -> tuple[str, str, str]:
    parsed = phonenumbers.parse(e164)
    return (
        e164,
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
    )


def _nl_postcode(rng: random.Random, low: int, high: int) -> str:
    # Dutch postcodes never use the letter pairs SA, SD and SS; these letters avoid them.
    letters = "ABCEGHJKLMNPRTVWXZ"
    return f"{rng.randint(low, high)} {rng.choice(letters)}{rng.choice(letters)}"


# --- the parties ----------------------------------------------------------------------


@dataclass(frozen=True)
class Party:
    name: str
    country: str
    address: str = ""
    postcode: str = ""
    phone: str = ""
    email: str = ""
    reg_no: str = ""


@dataclass(frozen=True)
class Vessel:
    name: str
    imo: str
    flag: str
    carrier: Party


def party_columns(
    role: str,
    party: Party,
    rng: random.Random,
    *,
    name: str | None = None,
    reg_no: bool = True,
    contact: bool = True,
) -> dict[str, str]:
    """The `{role}_*` columns stating a party, spelled the way clerks spell things: the
    address sometimes in capitals, the postcode with or without its space, the phone
    international, E.164 or national. Resolution reads every spelling as one."""
    columns = {f"{role}_name": name or party.name, f"{role}_country": party.country}
    if reg_no and party.reg_no:
        columns[f"{role}_reg_no"] = party.reg_no
    if not contact:
        return columns
    if party.address:
        columns[f"{role}_address"] = party.address.upper() if rng.random() < 0.2 else party.address
        if party.postcode:
            spaced = rng.random() < 0.7
            columns[f"{role}_postcode"] = party.postcode if spaced else party.postcode.replace(" ", "")
    if party.phone:
        columns[f"{role}_phone"] = rng.choice(_phone_spellings(party.phone))
    if party.email:
        columns[f"{role}_email"] = party.email
    return columns


def vessel_columns(vessel: Vessel, rng: random.Random) -> dict[str, str]:
    imo = vessel.imo if rng.random() < 0.5 else f"IMO {vessel.imo}"
    return {"vessel_imo": imo, "vessel_name": vessel.name, "vessel_flag": vessel.flag}


# --- the planted networks -------------------------------------------------------------

BRIDGE_BROKER = Party(
    "Delta Customs Brokers B.V.",
    "NL",
    "Waalhaven Zuidzijde 19, Rotterdam",
    "3089 JH",
    "+31102941870",
    "declarations@deltacustoms.example",
    # Not docs/examples' Harbourline Fresh B.V. (NL004495445B01): importing the examples into
    # the demo merged the two companies on the number.
    "NL061648681B01",
)
SHARED_VESSEL = Vessel(
    "MV Amber Tide",
    make_imo(991234),
    "MT",
    Party("Amber Line Shipping Ltd", "MT", "Triq il-Port 14, Marsaxlokk", "MXK 1250", "+35621651234"),
)


@dataclass(frozen=True)
class Ring:
    key: str
    title: str
    story: str
    fronts: tuple[Party, ...]
    front_weights: tuple[int, ...]
    exporter: Party
    vessel: Vessel
    containers: tuple[str, ...]
    loading_ports: tuple[str, ...]
    discharge_ports: tuple[str, ...]
    cover_goods: tuple[tuple[str, tuple[str, ...]], ...]
    contraband: str
    contraband_unit: str
    contraband_quantity: tuple[int, int]
    # The primary front as each agency spells it; a spelling that resolves elsewhere
    # than the customs one is meant to become a POSSIBLY_SAME_AS candidate.
    spellings: dict[str, str]


RING_A_ADDRESS = ("Waalhaven Oostzijde 85, Rotterdam", "3087 BM")
RING_A_PHONE = "+31104296655"
RING_B_ADDRESS = ("Keileweg 18, Rotterdam", "3029 BS")
RING_B_PHONE = "+31107851402"

RING_A = Ring(
    key="A",
    title="Pacific reefers",
    story="cocaine hidden in banana and fish reefers from Ecuador and Colombia",
    fronts=tuple(
        Party(name, "NL", *RING_A_ADDRESS, RING_A_PHONE, "", make_nl_vat(_rng("ring-a-vat", name)))
        for name in ("Nordic Fresh Fish B.V.", "Zeeland Fruit Import B.V.", "Rijnmond Reefer Services B.V.")
    ),
    front_weights=(5, 3, 2),
    exporter=Party(
        "Frutas del Pacifico S.A.",
        "EC",
        "Av. Juan Tanca Marengo km 4.5, Guayaquil",
        "090512",
        "+59342591234",
        "ventas@frutaspacifico.example",
    ),
    vessel=Vessel(
        "MV Cordillera Star",
        make_imo(993456),
        "PA",
        Party("Cordillera Shipping S.A.", "PA", "Calle 50, Torre Global, Panama City", "", "+5072101234"),
    ),
    containers=tuple(
        make_container(owner, serial)
        for owner, serial in (
            ("SEGU", 918204),
            ("TRIU", 881370),
            ("CAIU", 554019),
            ("TGHU", 730266),
            ("SZLU", 902118),
            ("TTNU", 846605),
        )
    ),
    loading_ports=("ECGYE", "ECGYE", "COTRB"),
    discharge_ports=("NLRTM",),
    cover_goods=(
        ("fresh bananas", ("080390",)),
        ("frozen fish fillets", ("030389",)),
        ("fresh avocados", ("080440",)),
    ),
    contraband="cocaine",
    contraband_unit="kg",
    contraband_quantity=(40, 480),
    spellings={
        "cus-nl": "Nordic Fresh Fish B.V.",
        "pol-nl": "Nordic Fresh Fish BV",
        "cg-nl": "NORDIC FRESH FISH",
        "tax-nl": "Nordic Fresh Fish B.V.",
    },
)
RING_B = Ring(
    key="B",
    title="Eastgate cigarettes",
    story="untaxed cigarettes declared as furniture and plastics from Jebel Ali",
    fronts=(
        Party("Eastgate Trading B.V.", "NL", *RING_B_ADDRESS, RING_B_PHONE, "info@eastgate-trading.example"),
        Party("Baltic Star Logistics B.V.", "NL", *RING_B_ADDRESS, RING_B_PHONE),
    ),
    front_weights=(3, 2),
    exporter=Party(
        "Al Noor General Trading LLC",
        "AE",
        "Jebel Ali Free Zone, South Zone, Dubai",
        "",
        "+97148871234",
        "export@alnoor-trading.example",
    ),
    vessel=Vessel(
        "MV Gulf Meridian",
        make_imo(995678),
        "LR",
        Party("Meridian Feeder Services Inc.", "LR", "80 Broad Street, Monrovia", "", "+23177012345"),
    ),
    containers=tuple(
        make_container(owner, serial)
        for owner, serial in (("BMOU", 604417), ("FCIU", 372958), ("GESU", 519063), ("TCNU", 287741))
    ),
    loading_ports=("AEJEA",),
    discharge_ports=("NLRTM", "NLRTM", "BEANR"),
    cover_goods=(("wooden furniture", ("940360",)), ("plastic household articles", ("392690",))),
    contraband="cigarettes without excise stamps",
    contraband_unit="sticks",
    contraband_quantity=(400_000, 6_000_000),
    spellings={
        "cus-nl": "Eastgate Trading B.V.",
        "tax-nl": "EASTGATE TRADING BV",
        "pol-nl": "Eastgate Tradng B.V.",
        "cg-nl": "Eastgate Trading B.V.",
    },
)
RINGS = (RING_A, RING_B)


def describe_networks() -> list[str]:
    """What to look for in the demo, for the command's summary."""
    lines = []
    for ring in RINGS:
        front = ring.fronts[0]
        lines += [
            f'Ring {ring.key} "{ring.title}": {ring.story}',
            f"  front companies: {', '.join(party.name for party in ring.fronts)}",
            f"    sharing the address {front.address} ({front.postcode})"
            f" and the phone {_phone_spellings(front.phone)[1]}",
            f"  exporter: {ring.exporter.name} ({ring.exporter.country});"
            f" own vessel: {ring.vessel.name} (IMO {ring.vessel.imo})",
            f"  reused containers: {', '.join(ring.containers)}",
        ]
    a, b = RING_A.spellings, RING_B.spellings
    return [
        *lines,
        "Bridges between the rings",
        f"  broker {BRIDGE_BROKER.name} files for both rings (and for innocent clients)",
        f"  vessel {SHARED_VESSEL.name} (IMO {SHARED_VESSEL.imo}) carries cargo of both rings",
        "Name variants across agencies",
        f'  one company: "{a["cus-nl"]}" (cus-nl) = "{a["pol-nl"]}" (pol-nl)',
        f'    candidates: "{a["cg-nl"]}" (cg-nl); "{a["tax-nl"]}" with its VAT number (tax-nl)',
        f'  one company: "{b["cus-nl"]}" (cus-nl) = "{b["tax-nl"]}" (tax-nl)',
        f'    candidate: "{b["pol-nl"]}" (pol-nl)',
    ]


# --- background traffic ---------------------------------------------------------------


@dataclass(frozen=True)
class Goods:
    description: str
    word: str
    hs_codes: tuple[str, ...]
    origins: tuple[str, ...]
    value: tuple[int, int]


GOODS = (
    Goods("frozen fish fillets", "Seafood", ("030389",), ("VN", "EC", "CN", "IN"), (18_000, 90_000)),
    Goods("frozen shrimps", "Aquaculture", ("030617",), ("VN", "IN", "EC"), (40_000, 160_000)),
    Goods("fresh bananas", "Banana", ("080390",), ("EC", "CO", "CR"), (12_000, 35_000)),
    Goods("fresh avocados", "Agro", ("080440",), ("PE", "CL", "ZA", "CO"), (25_000, 70_000)),
    Goods("oranges", "Citrus", ("080510",), ("ZA", "MA", "BR"), (10_000, 30_000)),
    Goods("green coffee beans", "Coffee", ("090111",), ("BR", "CO", "VN"), (60_000, 220_000)),
    Goods("canned tuna", "Canning", ("160414",), ("EC", "VN"), (30_000, 95_000)),
    Goods("laptop computers", "Electronics", ("847130",), ("CN",), (150_000, 900_000)),
    Goods("network equipment", "Telecom", ("851762",), ("CN", "SG"), (80_000, 600_000)),
    Goods("cotton garments", "Textiles", ("610910", "620342"), ("TR", "IN", "CN", "VN"), (20_000, 120_000)),
    Goods("leather footwear", "Footwear", ("640399",), ("VN", "IN", "CN"), (30_000, 150_000)),
    Goods("wooden furniture", "Furniture", ("940360",), ("VN", "CN", "TR"), (15_000, 80_000)),
    Goods("plastic household articles", "Plastics", ("392690",), ("CN", "TR"), (8_000, 40_000)),
    Goods("bottled wine", "Wines", ("220421",), ("ZA", "CL"), (20_000, 110_000)),
    Goods("sawn softwood", "Timber", ("440710",), ("BR", "US"), (25_000, 75_000)),
    Goods("hot-rolled steel coils", "Steel", ("720839",), ("TR", "IN", "CN"), (90_000, 400_000)),
    Goods("car tyres", "Tyres", ("401110",), ("CN", "TR"), (30_000, 140_000)),
    Goods("toys", "Toys", ("950300",), ("CN",), (15_000, 90_000)),
)
GOODS_WORDS = tuple(goods.word for goods in GOODS)
PORTS = {
    "VN": ("VNSGN", "VNHPH"),
    "EC": ("ECGYE",),
    "CN": ("CNSHA", "CNNGB", "CNYTN"),
    "IN": ("INNSA",),
    "CO": ("COCTG", "COBUN"),
    "CR": ("CRLIO",),
    "PE": ("PECLL",),
    "CL": ("CLSAI",),
    "ZA": ("ZADUR", "ZACPT"),
    "MA": ("MAPTM",),
    "BR": ("BRSSZ",),
    "US": ("USNYC", "USSAV"),
    "TR": ("TRMER", "TRAMB"),
    "SG": ("SGSIN",),
}
DISCHARGE_PORTS = ("NLRTM", "NLRTM", "NLRTM", "NLAMS", "NLVLI", "NLMOE", "BEANR")
CITIES = {
    "VN": "Ho Chi Minh City",
    "EC": "Guayaquil",
    "CN": "Ningbo",
    "IN": "Mumbai",
    "CO": "Cartagena",
    "CR": "Limon",
    "PE": "Lima",
    "CL": "San Antonio",
    "ZA": "Durban",
    "MA": "Tangier",
    "BR": "Santos",
    "US": "Savannah",
    "TR": "Mersin",
    "SG": "Singapore",
}
FOREIGN_STREETS = (
    "Harbour Road",
    "Industrial Avenue",
    "Port Boulevard",
    "Export Zone Road",
    "Free Zone Street",
)
FOREIGN_LEGAL_FORMS = {
    "VN": "Co., Ltd",
    "EC": "S.A.",
    "CN": "Co., Ltd.",
    "IN": "Pvt. Ltd.",
    "CO": "S.A.S.",
    "CR": "S.A.",
    "PE": "S.A.C.",
    "CL": "SpA",
    "ZA": "(Pty) Ltd",
    "MA": "SARL",
    "BR": "Ltda.",
    "US": "Inc.",
    "TR": "A.S.",
    "SG": "Pte. Ltd.",
}
# Domestic importers: (country, weight, legal form, city, area code, postcode range, streets).
DOMESTIC = (
    ("NL", 6, "B.V.", "Rotterdam", "10", (3011, 3089), ("Havenweg", "Vasteland", "Schiedamseweg")),
    ("NL", 3, "B.V.", "Venlo", "77", (5911, 5928), ("Celsiusweg", "Edisonstraat", "Transportweg")),
    ("NL", 2, "B.V.", "Amsterdam", "20", (1011, 1109), ("Westpoortweg", "Kabelweg", "Hornweg")),
    ("BE", 2, "NV", "Antwerpen", "3", (2000, 2060), ("Noorderlaan", "Kaaistraat", "Industrieweg")),
    ("DE", 2, "GmbH", "Hamburg", "40", (20095, 22769), ("Am Sandtorkai", "Ballindamm", "Hafenstrasse")),
)
IMPORTER_WORDS = (
    "Hollandia", "Maasland", "Delfshaven", "Waterweg", "Lekstroom", "Noordzee", "Polder", "Kempen",
    "Veluwe", "Brabant", "Scheldt", "Flevo", "Oranje", "Dintel", "IJssel", "Merwede", "Botlek",
    "Europoort", "Hanze", "Lowlands", "Kinderdijk", "Texel", "Wadden", "Limburg", "Twente", "Drenthe",
    "Amstel", "Westland", "Betuwe", "Biesbosch", "Haringvliet", "Volkerak", "Voorne", "Gooi",
    "Kennemer", "Vecht", "Zaan", "Eem", "Mosa", "Utrecht", "Alblas", "Achterhoek", "Salland",
    "Groenhart", "Duinrand", "Heuvelland", "Peelland", "Langstraat", "Bommelerwaard", "Krimpen",
    "Lingewaard", "Overmaas", "Rivierenland", "Schouwen", "Tholen", "Walcheren", "Goeree",
    "Hoeksche", "Ameland", "Vlieland", "Terschelling", "Schiermonnik", "Friesland", "Gelre",
    "Holland Poort", "Kroonhaven", "Zuidwal", "Noordkaap", "Oostvaarder", "Westerschelde",

)  # fmt: skip
IMPORTER_TRADES = (
    "Foods", "Logistics", "Import", "Distribution", "Fresh Produce", "Cold Store", "Wholesale",
    "Supply", "Commodities", "Forwarding", "Warehousing", "Retail", "Packaging", "Electronics",
    "Textiles", "Beverages", "Interiors", "Motors", "Tyres", "Toys", "Coffee Roasters", "Seafood",
    "Steel", "Timber", "Wines", "Footwear",
)  # fmt: skip
EXPORTER_WORDS = (
    "Golden", "Sunrise", "Orient", "Silverline", "Green Valley", "Royal", "Blue Ocean", "Evergreen",
    "Lotus", "Atlas", "Phoenix", "Jade", "Horizon", "Summit", "Andina", "Coastal", "Unity", "Prosper",
    "Heritage", "Lucky", "Grand", "Sierra", "Oasis", "Crown", "Pearl", "Vista", "Northstar",
    "Everbright", "Harvest", "Sunshine",
)  # fmt: skip
EXPORTER_KINDS = ("Export", "Trading", "Industries", "International", "Group")
BROKER_WORDS = (
    "Kade", "Sluis", "Pier", "Boei", "Anker", "Kompas", "Getij", "Kaai", "Dok", "Loods", "Baken",
    "Roer", "Zeil", "Meerpaal", "Steiger", "Haven", "Kraan", "Lichtbaken", "Golfbreker", "Vuurtoren",
    "Stuurhut", "Kielzog", "Ebstroom", "Vloedlijn", "Zandbank", "Waterlijn", "Binnenhaven", "Buitenhaven",
    "Havenhoofd", "Zeegat", "Strekdam", "Ankerplaats", "Wachtpost", "Loodskotter", "Sleepboot",
    "Dekhuis", "Rederij", "Vaargeul", "Havenkom", "Kademuur",

)  # fmt: skip
BROKER_KINDS = ("Customs Services", "Douane Expediteurs", "Customs Agency", "Clearance")
CARRIER_WORDS = (
    "Hanse", "Northsea", "Skagerrak", "Biscay", "Kattegat", "Dogger", "Holland Feeder", "Oceanic",
    "Sealink", "Bluewater", "Channel", "Iberian", "Levant", "Cape", "Fjord", "Bothnia", "Aegean",
    "Adriatic", "Ligurian", "Tyrrhenian", "Azores", "Canary", "Hebrides", "Shetland",

)  # fmt: skip
CARRIER_KINDS = ("Shipping", "Lines", "Maritime", "Container Line", "Feeder Services")
# (country, legal form, streets, city, postcodes): random numbers along these streets, so
# innocent carriers do not share an address the way the rings' fronts do.
CARRIER_FLAGS = (
    ("DK", "A/S", ("Esplanaden", "Amaliegade", "Strandvejen"), "Kobenhavn", ("1098", "1256", "2100")),
    ("MT", "Ltd", ("Triq il-Mediterran", "Triq San Pawl", "Xatt is-Sajjieda"), "Valletta", ("VLT 1100",)),
    (
        "CY",
        "Ltd",
        ("Franklin Roosevelt", "Spyrou Araouzou", "Arch. Makariou III"),
        "Limassol",
        ("3011", "3036"),
    ),
    ("DE", "GmbH", ("Grosse Elbstrasse", "Van-der-Smissen-Strasse", "Neumuehlen"), "Hamburg", ("22767",)),
    (
        "NL",
        "B.V.",
        ("Boompjes", "Wilhelminakade", "Parklaan"),
        "Rotterdam",
        ("3011 XB", "3072 AP", "3016 BB"),
    ),
)
VESSEL_WORDS = (
    "Northern", "Silver", "Morning", "Atlantic", "Coral", "Golden", "Crystal", "Polar", "Emerald",
    "Ocean", "Harbour", "Sapphire", "Coastal", "Royal", "Steady", "Swift", "Bright", "Iron", "Western",
    "Southern", "Evening", "Ruby", "Ivory", "Jade",

)  # fmt: skip
VESSEL_NOUNS = (
    "Star", "Wave", "Spirit", "Horizon", "Breeze", "Pioneer", "Voyager", "Trader", "Express", "Dawn",
    "Crest", "Harmony", "Venture", "Mariner", "Glory", "Bay", "Falcon", "Current", "Endeavour", "Compass",

)  # fmt: skip
VESSEL_FLAGS = ("PA", "LR", "MH", "MT", "DK", "CY", "NL", "DE", "SG")
CONTAINER_OWNERS = (
    "MSKU", "MSCU", "MRKU", "CMAU", "HLXU", "HLBU", "OOLU", "EGHU", "EISU", "TEMU", "TCLU", "GLDU",
    "CSNU", "ONEU", "YMLU", "HDMU", "ZIMU", "SUDU",
)  # fmt: skip

FINDINGS = {
    "clear": (
        "Documents and cargo in order.",
        "Seal intact; cargo matches the manifest.",
        "Scan image consistent with the declared goods.",
    ),
    "discrepancy": (
        "Gross weight differs from the manifest.",
        "Goods partly misdescribed on the declaration.",
        "Seal number differs from the one on the bill of lading.",
        "Declared value well below the market price.",
    ),
    "referred_for_seizure": ("Anomalies on the scan image; container held for a physical search.",),
}
SEIZED_GOODS = {
    "cus-nl": (
        ("counterfeit sportswear", "pieces", (200, 5000), "Counterfeit branded garments in a mixed load"),
        ("counterfeit handbags", "pieces", (50, 800), "Handbags bearing protected trade marks"),
        ("undeclared cigarettes", "sticks", (2000, 200_000), "Cigarettes not on the declaration"),
        ("cannabis resin", "kg", (5, 120), "Resin blocks found behind the cargo"),
        ("counterfeit medicines", "packs", (100, 3000), "Unlicensed medicines in postal consolidation"),
    ),
    "cg-nl": (
        ("undeclared marine diesel", "litres", (2000, 40_000), "Fuel in an undeclared tank"),
        ("ship's stores cigarettes above the allowance", "sticks", (4000, 60_000), "Excess ship's stores"),
        ("undersized cod", "kg", (100, 2500), "Catch below minimum landing size"),
        ("undeclared spirits", "litres", (50, 900), "Spirits not entered in the stores list"),
    ),
    "pol-nl": (
        ("cannabis", "kg", (1, 60), "Found during a search of business premises"),
        ("MDMA tablets", "pieces", (500, 40_000), "Found in a parcel at a distribution centre"),
        ("cash", "EUR", (15_000, 400_000), "Cash without a plausible origin"),
        ("stolen car parts", "pieces", (20, 400), "Parts traced to reported thefts"),
        ("counterfeit watches", "pieces", (30, 900), "Watches bearing protected trade marks"),
    ),
}


# --- agencies and their streams ----------------------------------------------------------


@dataclass(frozen=True)
class AgencySpec:
    code: str
    name: str
    kind: str
    prefix: str
    records: int
    mix: tuple[tuple[str, int], ...]
    # (ring, category, records at scale 1, at least): the rings' share of this agency's stream.
    ring_rows: tuple[tuple[Ring, str, int, int], ...]


AGENCIES = (
    AgencySpec(
        "cus-nl",
        "Customs Administration (NL)",
        "customs",
        "CUS",
        1500,
        (("shipment", 75), ("inspection", 20), ("seizure", 5)),
        (
            (RING_A, "shipment", 28, 6),
            (RING_A, "inspection", 4, 2),
            (RING_A, "seizure", 3, 1),
            (RING_B, "shipment", 20, 5),
            (RING_B, "inspection", 2, 1),
            (RING_B, "seizure", 2, 1),
        ),
    ),
    AgencySpec(
        "cg-nl",
        "Coast Guard (NL)",
        "coast_guard",
        "CG",
        400,
        (("inspection", 85), ("seizure", 15)),
        ((RING_A, "inspection", 3, 1), (RING_B, "inspection", 1, 1)),
    ),
    AgencySpec(
        "pol-nl",
        "National Police (NL)",
        "police",
        "POL",
        350,
        (("seizure", 70), ("inspection", 30)),
        ((RING_A, "seizure", 3, 1), (RING_B, "seizure", 2, 1)),
    ),
    AgencySpec(
        "tax-nl",
        "Tax Administration (NL)",
        "tax",
        "TAX",
        650,
        (("shipment", 90), ("inspection", 10)),
        ((RING_A, "shipment", 5, 1), (RING_B, "shipment", 6, 1)),
    ),
)
CATEGORY_CODES = {"shipment": "SHP", "seizure": "SZR", "inspection": "INS"}


def _affine(seed: int, pool: str, size: int) -> tuple[int, int]:
    """A permutation k -> (a*k + b) mod size of the pool's name space, so consecutive
    pool entries get unrelated names and no two entries share one."""
    rng = _rng(seed, pool, "permutation")
    a = rng.randrange(1, size) if size > 1 else 1
    while math.gcd(a, size) != 1:
        a = rng.randrange(1, size)
    return a, rng.randrange(size)


def _slot(slots: list[tuple[Ring, str, int]], index: int) -> tuple[Ring, str, int]:
    """The ring and category of the agency's `index`th planted row, and its index among them."""
    for ring, category, count in slots:
        if index < count:
            return ring, category, index
        index -= count
    raise IndexError(index)


@dataclass(frozen=True)
class Plant:
    front: Party
    vessel: Vessel
    container: str
    cover: str
    hs_codes: tuple[str, ...]


@dataclass(frozen=True)
class PlantedRow:
    """The truth about one planted row, kept apart from the rows: which agency wrote it,
    under which reference, for which ring, and what it names."""

    agency: str
    external_ref: str
    ring: Ring
    category: str
    plant: Plant


def _external_ref(spec: AgencySpec, category: str, position: int) -> str:
    return f"{spec.prefix}-{CATEGORY_CODES[category]}-{position + 1:06d}"


class Scenario:
    """The rows of one (seed, scale): agency by agency, position by position."""

    def __init__(self, seed: int, scale: float):
        if not scale > 0:
            raise ValueError("scale must be a positive number")
        self.seed = seed
        self.scale = scale
        self._importers: dict[int, Party] = {}
        self._exporters: dict[int, tuple[Party, Goods]] = {}
        self._brokers: dict[int, Party] = {}
        self._carriers: dict[int, Party] = {}
        self._vessels: dict[int, Vessel] = {}
        self._permutations: dict[str, tuple[int, int]] = {}
        # Traffic grows with the scale, the population of traders more slowly: a larger
        # scenario has more repeat business, as a longer stretch of real traffic would.
        self.importers = self.pool(160, 12)
        self.exporters = self.pool(140, 12)
        self.brokers = self.pool(14, 4)
        self.carriers = self.pool(10, 4)
        self.vessels = self.pool(45, 8)

    def size(self, base: int, minimum: int) -> int:
        return max(minimum, round(base * self.scale))

    def pool(self, base: int, minimum: int) -> int:
        return max(minimum, round(base * math.sqrt(self.scale)))

    def ring_slots(self, spec: AgencySpec) -> list[tuple[Ring, str, int]]:
        return [(ring, category, self.size(base, least)) for ring, category, base, least in spec.ring_rows]

    def agency_total(self, spec: AgencySpec) -> int:
        return self.size(spec.records, 10) + sum(count for _, _, count in self.ring_slots(spec))

    def total(self) -> int:
        return sum(self.agency_total(spec) for spec in AGENCIES)

    def rows(self) -> Iterator[tuple[str, dict]]:
        for spec in AGENCIES:
            for row in self.agency_rows(spec):
                yield spec.code, row

    def slots(self, spec: AgencySpec) -> Iterator[tuple[Ring, str, int] | None]:
        """For each position of the agency's stream, the ring, category and index among
        them of the planted row there, or None for background traffic."""
        slots = self.ring_slots(spec)
        planted = sum(count for _, _, count in slots)
        total = self.agency_total(spec)
        for position in range(total):
            # Spreads the planted rows evenly through the stream: position i is planted when
            # floor(i * planted / total) steps, which happens exactly `planted` times.
            index = position * planted // total
            yield _slot(slots, index) if (position + 1) * planted // total > index else None

    def agency_rows(self, spec: AgencySpec) -> Iterator[dict]:
        for position, slot in enumerate(self.slots(spec)):
            rng = _rng(self.seed, spec.code, position)
            if slot is not None:
                ring, category, nth = slot
                row = self.ring_row(spec, ring, category, self.plant(ring, nth, rng), rng)
            else:
                categories, weights = zip(*spec.mix, strict=True)
                category = rng.choices(categories, weights)[0]
                row = self.background_row(spec, category, rng)
            yield {"external_ref": _external_ref(spec, category, position), **row}

    def truth(self) -> Iterator[PlantedRow]:
        """Every planted row of every agency, drawn as `agency_rows` draws it (the same
        generator, the same draws), without writing or reading a row: what the tests of
        the analytics expect to find, never derived from what the pipeline made of it."""
        for spec in AGENCIES:
            for position, slot in enumerate(self.slots(spec)):
                if slot is not None:
                    ring, category, nth = slot
                    plant = self.plant(ring, nth, _rng(self.seed, spec.code, position))
                    yield PlantedRow(
                        spec.code, _external_ref(spec, category, position), ring, category, plant
                    )

    # --- pools, generated on demand and cached ---------------------------------------

    def _permute(self, pool: str, k: int, size: int) -> int:
        if pool not in self._permutations:
            self._permutations[pool] = _affine(self.seed, pool, size)
        a, b = self._permutations[pool]
        return (a * k + b) % size

    def _name_words(self, pool: str, k: int, *lists: tuple[str, ...]) -> list[str]:
        size = math.prod(len(words) for words in lists)
        x = self._permute(pool, k, size)
        picked = []
        for words in lists:
            picked.append(words[x % len(words)])
            x //= len(words)
        if k >= size:
            # Past the name space (scales above 100): a numbered sister, "Star 2".
            picked[-1] = f"{picked[-1]} {k // size + 1}"
        return picked

    def importer(self, k: int) -> Party:
        if k not in self._importers:
            rng = _rng(self.seed, "importer", k)
            country, _, legal, city, area, (low, high), streets = rng.choices(
                DOMESTIC, [entry[1] for entry in DOMESTIC]
            )[0]
            words = self._name_words("importer", k, IMPORTER_WORDS, IMPORTER_TRADES)
            name = f"{' '.join(words)} {legal}"
            postcode = _nl_postcode(rng, low, high) if country == "NL" else str(rng.randint(low, high))
            slug = "".join(ch for ch in " ".join(words).lower() if ch.isalnum())
            self._importers[k] = Party(
                name,
                country,
                f"{rng.choice(streets)} {rng.randint(1, 240)}, {city}",
                postcode,
                make_phone(rng, country, area),
                f"info@{slug}.example" if rng.random() < 0.7 else "",
                # Each agency states a company's number whenever the company has one, so
                # innocent companies resolve to one entity; only the rings are misspelled.
                make_nl_vat(rng) if country == "NL" and rng.random() < 0.8 else "",
            )
        return self._importers[k]

    def exporter(self, k: int) -> tuple[Party, Goods]:
        """A foreign supplier and the goods it ships."""
        if k not in self._exporters:
            rng = _rng(self.seed, "exporter", k)
            first, word, kind = self._name_words("exporter", k, EXPORTER_WORDS, GOODS_WORDS, EXPORTER_KINDS)
            goods = GOODS[GOODS_WORDS.index(word)]
            country = rng.choice(goods.origins)
            has_address = rng.random() < 0.6
            party = Party(
                f"{first} {word} {kind} {FOREIGN_LEGAL_FORMS[country]}",
                country,
                f"{rng.randint(1, 2000)} {rng.choice(FOREIGN_STREETS)}, {CITIES[country]}"
                if has_address
                else "",
                "",
                make_phone(rng, country) if rng.random() < 0.5 else "",
            )
            self._exporters[k] = (party, goods)
        return self._exporters[k]

    def broker(self, k: int) -> Party:
        if k == 0:
            return BRIDGE_BROKER
        if k not in self._brokers:
            rng = _rng(self.seed, "broker", k)
            word, kind = self._name_words("broker", k, BROKER_WORDS, BROKER_KINDS)
            self._brokers[k] = Party(
                f"{word} {kind} B.V.",
                "NL",
                f"{rng.choice(('Blaak', 'Coolsingel', 'Parkhaven', 'Wilhelminakade'))} {rng.randint(1, 99)},"
                " Rotterdam",
                _nl_postcode(rng, 3011, 3089),
                make_phone(rng, "NL", "10"),
                f"declarations@{word.lower()}customs.example",
                make_nl_vat(rng),
            )
        return self._brokers[k]

    def carrier(self, k: int) -> Party:
        if k == 0:
            return SHARED_VESSEL.carrier
        if k not in self._carriers:
            rng = _rng(self.seed, "carrier", k)
            word, kind = self._name_words("carrier", k, CARRIER_WORDS, CARRIER_KINDS)
            country, legal, streets, city, postcodes = rng.choice(CARRIER_FLAGS)
            self._carriers[k] = Party(
                f"{word} {kind} {legal}",
                country,
                f"{rng.choice(streets)} {rng.randint(1, 400)}, {city}",
                rng.choice(postcodes),
                make_phone(rng, country),
            )
        return self._carriers[k]

    def vessel(self, k: int) -> Vessel:
        if k == 0:
            return SHARED_VESSEL
        if k not in self._vessels:
            rng = _rng(self.seed, "vessel", k)
            first, noun = self._name_words("vessel", k, VESSEL_WORDS, VESSEL_NOUNS)
            self._vessels[k] = Vessel(
                f"MV {first} {noun}",
                # Stems 920000-989999, one per vessel, clear of the planted vessels' 99xxxx.
                make_imo(920_000 + self._permute("imo", k, 70_000)),
                rng.choice(VESSEL_FLAGS),
                self.carrier(k % self.carriers),
            )
        return self._vessels[k]

    @staticmethod
    def skewed(rng: random.Random, size: int) -> int:
        """An index in range(size), low indexes far more often: a few big traders and
        many small ones, as in real traffic."""
        return min(int(size * rng.random() ** 1.8), size - 1)

    # --- background rows --------------------------------------------------------------

    def trade(self, rng: random.Random) -> tuple[Party, Party, Goods]:
        """An importer and one of its few regular suppliers."""
        k = self.skewed(rng, self.importers)
        partner = _rng(self.seed, "partners", k, rng.randrange(3)).randrange(self.exporters)
        exporter, goods = self.exporter(partner)
        return self.importer(k), exporter, goods

    def shipment_columns(self, rng: random.Random, *, logistics: bool = True) -> tuple[dict, Goods, Party]:
        importer, exporter, goods = self.trade(rng)
        row = {
            **party_columns("importer", importer, rng),
            **party_columns("exporter", exporter, rng),
            "hs_codes": list(goods.hs_codes[: rng.randint(1, len(goods.hs_codes))]),
            "declared_value": f"{rng.randint(*goods.value)}.00",
            "currency": "EUR" if rng.random() < 0.7 else "USD",
        }
        if logistics:
            # Importers stick to one broker; the bridging broker is one of them.
            usual = _rng(self.seed, "usual-broker", importer.name).randrange(self.brokers)
            if rng.random() < 0.85:
                row.update(party_columns("broker", self.broker(usual), rng))
            if rng.random() < 0.8:
                vessel = self.vessel(self.skewed(rng, self.vessels))
                row.update(party_columns("carrier", vessel.carrier, rng, contact=rng.random() < 0.3))
                row.update(vessel_columns(vessel, rng))
            if rng.random() < 0.85:
                row["container_numbers"] = [
                    make_container(rng.choice(CONTAINER_OWNERS), rng.randrange(1_000_000))
                    for _ in range(rng.choice((1, 1, 1, 2, 2, 3)))
                ]
            row["port_of_loading"] = rng.choice(PORTS[exporter.country])
            row["port_of_discharge"] = rng.choice(DISCHARGE_PORTS)
            if rng.random() < 0.1:
                consignee = self.importer(self.skewed(rng, self.importers))
                row.update(party_columns("consignee", consignee, rng, contact=False))
        return row, goods, exporter

    def background_row(self, spec: AgencySpec, category: str, rng: random.Random) -> dict:
        row: dict = {"category": category, "occurred_on": _day(rng)}
        level = rng.random()
        row["classification"] = (
            "unclassified" if level < 0.15 else "confidential" if level > 0.85 else "restricted"
        )
        if spec.kind == "police":
            row["classification"] = "confidential" if level < 0.6 else "restricted"
            if rng.random() < 0.3:
                row["caveats"] = ["no_onward_sharing"]

        if category == "shipment":
            columns, goods, exporter = self.shipment_columns(rng, logistics=spec.kind != "tax")
            place = CITIES[exporter.country]
            summary = (
                f"Import VAT declaration: {goods.description} from {place}"
                if spec.kind == "tax"
                else f"Import of {goods.description} from {place}"
            )
            return {**row, **columns, "summary": summary}

        if category == "inspection":
            result = rng.choices(("clear", "discrepancy", "referred_for_seizure"), (85, 12, 3))[0]
            row["inspection_result"] = result
            row["findings"] = rng.choice(FINDINGS[result])
            if spec.kind == "coast_guard":
                vessel = self.vessel(self.skewed(rng, self.vessels))
                row.update(party_columns("carrier", vessel.carrier, rng, contact=False))
                row.update(vessel_columns(vessel, rng))
                row["port_of_discharge"] = rng.choice(DISCHARGE_PORTS)
                row["summary"] = f"Boarding of {vessel.name} in the approaches to {row['port_of_discharge']}"
            elif spec.kind == "tax":
                importer = self.importer(self.skewed(rng, self.importers))
                row.update(party_columns("importer", importer, rng))
                row["summary"] = f"VAT audit of {importer.name}"
            elif spec.kind == "police":
                importer = self.importer(self.skewed(rng, self.importers))
                row.update(party_columns("consignee", importer, rng))
                row["summary"] = f"Administrative check of the premises of {importer.name}"
            else:
                columns, goods, _ = self.shipment_columns(rng)
                row.update(columns)
                row["summary"] = f"Physical inspection: {goods.description}"
            return row

        goods_description, unit, (low, high), summary = rng.choice(SEIZED_GOODS[spec.code])
        row.update(
            goods_description=goods_description,
            quantity=str(rng.randint(low, high)),
            unit=unit,
            summary=summary,
        )
        if spec.kind == "coast_guard":
            vessel = self.vessel(self.skewed(rng, self.vessels))
            row.update(party_columns("carrier", vessel.carrier, rng, contact=False))
            row.update(vessel_columns(vessel, rng))
        elif spec.kind == "police":
            if rng.random() < 0.4:
                row.update(party_columns("consignee", self.importer(self.skewed(rng, self.importers)), rng))
        else:
            columns, _, _ = self.shipment_columns(rng)
            row.update(
                {key: value for key, value in columns.items() if key not in ("declared_value", "currency")}
            )
        return row

    # --- planted rows -----------------------------------------------------------------

    @staticmethod
    def plant(ring: Ring, nth: int, rng: random.Random) -> Plant:
        """What the `nth` planted row of a kind names, drawn before the row is written, so
        that `truth` draws the same without reading any row."""
        # The first rows of each kind name every front in turn and the first one sails on
        # the shared vessel, so the patterns are planted even at the smallest scale.
        if nth < len(ring.fronts):
            front = ring.fronts[nth]
        else:
            front = rng.choices(ring.fronts, ring.front_weights)[0]
        vessel = SHARED_VESSEL if nth == 0 or rng.random() < 0.5 else ring.vessel
        container = rng.choice(ring.containers)
        cover, hs_codes = rng.choice(ring.cover_goods)
        return Plant(front, vessel, container, cover, hs_codes)

    def ring_row(self, spec: AgencySpec, ring: Ring, category: str, plant: Plant, rng: random.Random) -> dict:
        front, vessel = plant.front, plant.vessel
        spelled = ring.spellings[spec.code] if front is ring.fronts[0] else front.name
        row: dict = {
            "category": category,
            "occurred_on": _day(rng, 40, 330),
            "classification": "restricted",
        }
        if spec.kind == "customs":
            row.update(party_columns("importer", front, rng, name=spelled, reg_no=False))
            row.update(party_columns("exporter", ring.exporter, rng))
            if rng.random() < 0.85 or category != "shipment":
                row.update(party_columns("broker", BRIDGE_BROKER, rng))
            row.update(party_columns("carrier", vessel.carrier, rng, contact=False))
            row.update(vessel_columns(vessel, rng))
            row.update(
                container_numbers=[plant.container],
                port_of_loading=rng.choice(ring.loading_ports),
                port_of_discharge=rng.choice(ring.discharge_ports),
                hs_codes=list(plant.hs_codes),
            )
            if category == "shipment":
                row.update(
                    declared_value=f"{rng.randint(9_000, 26_000)}.00",
                    currency="USD",
                    summary=f"Import of {plant.cover}",
                )
            elif category == "inspection":
                result = rng.choice(("discrepancy", "referred_for_seizure"))
                row.update(
                    inspection_result=result,
                    findings=rng.choice(FINDINGS[result]),
                    summary=f"Physical inspection: {plant.cover}",
                )
            else:
                row.update(self.contraband(ring, rng), classification="confidential")
                row["summary"] = f"{ring.contraband.capitalize()} found in a load of {plant.cover}"
        elif spec.kind == "coast_guard":
            row.update(party_columns("consignee", front, rng, name=spelled, reg_no=False, contact=False))
            row.update(party_columns("carrier", vessel.carrier, rng, contact=False))
            row.update(vessel_columns(vessel, rng))
            row.update(
                container_numbers=[plant.container],
                port_of_discharge="NLRTM",
                inspection_result="discrepancy",
                findings="Container seal differs from the manifest; reported to customs.",
                summary=f"Boarding of {vessel.name} before arrival",
            )
        elif spec.kind == "police":
            row.update(party_columns("consignee", front, rng, name=spelled, reg_no=False))
            row.update(
                self.contraband(ring, rng), classification="confidential", caveats=["no_onward_sharing"]
            )
            row["summary"] = f"{ring.contraband.capitalize()} found in a unit rented by the consignee"
        else:
            # The tax office knows ring A's fronts by their VAT numbers, which the ring
            # leaves off its customs declarations; ring B's fronts it knows by name only.
            row.update(party_columns("importer", front, rng, name=spelled, reg_no=ring is RING_A))
            row.update(party_columns("exporter", ring.exporter, rng, contact=False))
            row.update(
                hs_codes=list(plant.hs_codes),
                declared_value=f"{rng.randint(9_000, 26_000)}.00",
                currency="EUR",
                summary=f"Import VAT declaration: {plant.cover}; VAT deferred, not paid",
            )
        return row

    @staticmethod
    def contraband(ring: Ring, rng: random.Random) -> dict[str, str]:
        return {
            "goods_description": ring.contraband,
            "quantity": str(rng.randint(*ring.contraband_quantity)),
            "unit": ring.contraband_unit,
        }


# --- writing the scenario into the database --------------------------------------------


@dataclass(frozen=True)
class Credential:
    username: str
    agency: str
    role: str
    password: str


@dataclass
class SeedResult:
    credentials: list[Credential]
    imports: dict[str, ImportResult]


def demo_password(seed: int, username: str) -> str:
    """The same password for a user on every run with this seed, so the printed table
    stays true; anyone who knows the seed knows it, which is why the command refuses to
    run in production."""
    digest = hmac.new(f"interlink-demo:{seed}".encode(), username.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:16].lower()


USERNAME_SUFFIXES = {"analyst": "analyst", "liaison": "liaison", "agency_admin": "admin"}


def ensure_agencies() -> dict:
    """The four demo agencies, created when missing; existing ones are left as they are."""
    agency_model = apps.get_model("agencies", "Agency")
    return {
        spec.code: agency_model.objects.get_or_create(
            code=spec.code,
            defaults={"name": spec.name, "country": "NL", "kind": agency_model.Kind(spec.kind)},
        )[0]
        for spec in AGENCIES
    }


def ensure_users(seed: int, agencies: dict) -> list[Credential]:
    """A user of each role in each agency of `agencies` (code -> agency); only what differs
    from the scenario is saved."""
    user_model = get_user_model()
    credentials = []
    for code, agency in agencies.items():
        for role in user_model.Role:
            username = f"{code}-{USERNAME_SUFFIXES[role.value]}"
            password = demo_password(seed, username)
            # Agency admins manage their agency's users and agreements in the admin site.
            staff = role == user_model.Role.AGENCY_ADMIN
            user = user_model.objects.filter(username=username).first()
            if user is None:
                user = user_model(
                    username=username,
                    first_name="Demo",
                    last_name=f"{role.label} ({code})",
                    email=f"{username}@demo.interlink.example",
                    agency=agency,
                    role=role,
                    is_staff=staff,
                )
                user.set_password(password)
                user.save()
            else:
                was = (user.agency_id, user.role, user.is_active, user.is_staff)
                changed = was != (agency.pk, role, True, staff)
                user.agency, user.role, user.is_active, user.is_staff = agency, role, True, staff
                if not user.check_password(password):
                    user.set_password(password)
                    changed = True
                if changed:
                    user.save()
            credentials.append(Credential(username, code, role.value, password))
    return credentials


def import_files(
    files: Iterable[tuple[str, object, object, Iterable[dict]]],
    progress: Callable[[int], None] | None = None,
) -> dict[str, ImportResult]:
    """Imports each (key, agency, user, rows) as one JSON Lines file of that agency, written
    by that user, in turn; `progress` gets the rows imported so far over all of them."""
    imports: dict[str, ImportResult] = {}
    done = 0
    with tempfile.TemporaryDirectory(prefix="interlink-scenario-") as directory:
        for key, agency, user, rows in files:
            path = Path(directory) / f"{key}.jsonl"
            with path.open("w", encoding="utf-8") as stream:
                for row in rows:
                    stream.write(json.dumps(row, ensure_ascii=False) + "\n")

            def report(rows: int, offset: int = done) -> None:
                if progress:
                    progress(offset + rows)

            imports[key] = import_file(path, agency, user=user, progress=report)
            done += imports[key].rows
            path.unlink()
    return imports


def seed(scenario: Scenario, progress: Callable[[int], None] | None = None) -> SeedResult:
    """Writes the scenario: agencies, users, then each agency's rows as one JSON Lines
    file imported by that agency's analyst. `progress` gets the rows imported so far."""
    agencies = ensure_agencies()
    credentials = ensure_users(scenario.seed, agencies)
    user_model = get_user_model()
    imports = import_files(
        (
            (
                spec.code,
                agencies[spec.code],
                user_model.objects.get(username=f"{spec.code}-analyst"),
                scenario.agency_rows(spec),
            )
            for spec in AGENCIES
        ),
        progress=progress,
    )
    return SeedResult(credentials, imports)


@dataclass(frozen=True)
class DatabaseCounts:
    records: dict[str, dict[str, int]]
    entities: dict[str, int]
    candidates: dict[str, int]


def database_counts() -> DatabaseCounts:
    """The demo agencies' records per category, and every unmerged entity per type and
    every candidate per status in the database (the demo's and any imported besides)."""
    records: dict[str, dict[str, int]] = {}
    for code, category, n in (
        Record.objects.filter(owner__code__in=[spec.code for spec in AGENCIES])
        .values("owner__code", "category")
        .annotate(n=Count("id"))
        .order_by("owner__code", "category")
        .values_list("owner__code", "category", "n")
    ):
        records.setdefault(code, {})[category] = n
    entities = (
        Entity.objects.filter(merged_into__isnull=True)
        .values("type")
        .annotate(n=Count("id"))
        .order_by("type")
        .values_list("type", "n")
    )
    candidates = (
        ResolutionCandidate.objects.values("status")
        .annotate(n=Count("id"))
        .order_by("status")
        .values_list("status", "n")
    )
    return DatabaseCounts(records, dict(entities), dict(candidates))
