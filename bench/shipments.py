"""Synthetic shipment declarations in the import format of docs/import.md.

Rows are written to disk one at a time, so a file of a million rows costs no more
memory than one of a hundred. The parties, vessels and containers come from pools
sized to the file, so entities repeat the way they do in real declarations: a busy
importer appears on hundreds of rows, a liner vessel on thousands, and some names are
spelled in variants ("Ltd." / "Limited", upper case) or with a typo, which entity
resolution must fold together or propose as candidates.

Every value is valid: IMO numbers carry a check digit from stdnum.imo, container
numbers one from stdnum.iso6346, phones are numbers phonenumbers accepts, and each
pooled company is checked once with the importer's own resolvers, so an import of a
generated file never fails on a row.
"""

from __future__ import annotations

import csv
import random
import string
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import phonenumbers
from stdnum import imo, iso6346

HEADER = [
    "external_ref",
    "category",
    "classification",
    "caveats",
    "occurred_on",
    "summary",
    "importer_name",
    "importer_country",
    "importer_reg_no",
    "importer_address",
    "importer_postcode",
    "importer_phone",
    "importer_email",
    "exporter_name",
    "exporter_country",
    "exporter_address",
    "exporter_phone",
    "broker_name",
    "broker_country",
    "broker_phone",
    "broker_email",
    "carrier_name",
    "carrier_country",
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
]

# (country, legal forms as written, postcode pattern: 9 a digit, A a letter)
COUNTRIES = {
    "NL": (("B.V.", "BV", "N.V."), "9999 AA"),
    "DE": (("GmbH", "G.m.b.H.", "AG"), "99999"),
    "BE": (("BV", "NV", "SRL"), "9999"),
    "FR": (("SARL", "SAS", "S.A."), "99999"),
    "GB": (("Ltd.", "Limited", "PLC"), "AA9 9AA"),
    "ES": (("S.L.", "S.A."), "99999"),
    "IT": (("S.r.l.", "S.p.A."), "99999"),
    "PL": (("Sp. z o.o.", "S.A."), "99-999"),
    "CN": (("Co., Ltd.", "Company Limited"), "999999"),
    "VN": (("Co., Ltd.", "JSC"), "999999"),
    "IN": (("Pvt. Ltd.", "Private Limited"), "999999"),
    "US": (("Inc.", "LLC", "Corp."), "99999"),
    "TR": (("A.S.", "Ltd. Sti."), "99999"),
    "BR": (("Ltda.", "S.A."), "99999-999"),
    "AE": (("LLC", "FZE"), ""),
    "SG": (("Pte. Ltd.", "Private Limited"), "999999"),
    "MA": (("SARL", "S.A."), "99999"),
    "CO": (("S.A.S.", "Ltda."), "999999"),
    "PA": (("S.A.", "Corp."), ""),
    "ZA": (("(Pty) Ltd", "Proprietary Limited"), "9999"),
}
EU = ("NL", "DE", "BE", "FR", "ES", "IT", "PL")
PORTS = {
    "NL": ("NLRTM", "NLAMS"),
    "DE": ("DEHAM", "DEBRV"),
    "BE": ("BEANR", "BEZEE"),
    "FR": ("FRLEH", "FRMRS"),
    "GB": ("GBFXT", "GBSOU"),
    "ES": ("ESALG", "ESVLC"),
    "IT": ("ITGOA", "ITGIT"),
    "PL": ("PLGDN",),
    "CN": ("CNSHA", "CNNGB", "CNSZX"),
    "VN": ("VNSGN", "VNHPH"),
    "IN": ("INNSA", "INMUN"),
    "US": ("USNYC", "USLAX"),
    "TR": ("TRIST", "TRMER"),
    "BR": ("BRSSZ",),
    "AE": ("AEJEA",),
    "SG": ("SGSIN",),
    "MA": ("MAPTM",),
    "CO": ("COCTG",),
    "PA": ("PAMIT",),
    "ZA": ("ZADUR",),
}
CURRENCIES = ("EUR", "USD", "GBP", "CNY")
FLAGS = ("PA", "LR", "MH", "MT", "BS", "CY", "SG", "DK", "GR", "NL")
CONTAINER_OWNERS = ("MSKU", "MSCU", "CSQU", "TGHU", "CMAU", "HLXU", "OOLU", "EGHU", "TCNU", "SEGU")
WORDS = (
    "Atlas Blue Coastal Delta Eastern Golden Harbour Iron Jade Kestrel Lotus Meridian Nordic "
    "Ocean Pacific Polar Quay Royal Silver Summit Trident Union Vector Western Zenith Amber "
    "Beacon Cedar Crown Eagle Falcon Granite Horizon Imperial Keystone Lighthouse Maple Neptune "
    "Orion Phoenix Pioneer Rapid Sapphire Sterling Tiger Victory Willow Anchor Bridge Compass"
).split()
TRADES = (
    "Trading Logistics Import Export Shipping Foods Seafood Textiles Electronics Metals "
    "Chemicals Tobacco Freight Commodities Agro Marine Global Supply Distribution Holdings"
).split()
STREETS = ("Harbour", "Station", "Market", "Canal", "Dock", "Mill", "Church", "Bridge", "Park", "Quay")
STREET_TYPES = ("St.", "Street", "Rd", "Road", "Ave", "Lane")
GOODS = (
    ("Frozen fish fillets", "0303.89", "kg"),
    ("Cigarettes", "2402.20", "cartons"),
    ("Laptops", "8471.30.00", "pcs"),
    ("Cotton T-shirts", "6109.10", "pcs"),
    ("Aluminium profiles", "7604.29", "kg"),
    ("Bananas", "0803.90", "kg"),
    ("Mobile phones", "8517.13.00", "pcs"),
    ("Sports shoes", "6404.11", "pairs"),
    ("Solar panels", "8541.43", "pcs"),
    ("Olive oil", "1509.20", "l"),
    ("Steel wire", "7217.10", "kg"),
    ("Toys", "9503.00", "pcs"),
)


@dataclass(frozen=True)
class Party:
    names: tuple[str, ...]  # the usual spelling first, then the variants rows sometimes use
    country: str
    reg_no: str
    address: str
    postcode: str
    phone: str
    email: str


@dataclass(frozen=True)
class Vessel:
    imo: str
    name: str
    flag: str


class Pools:
    """Parties, vessels and containers sized to the file: a tenth of the rows, spread
    unevenly (a few parties carry many rows, as real trade does)."""

    def __init__(self, rows: int, rnd: random.Random):
        self.rnd = rnd
        self.importers = self._parties(max(50, rows // 20), with_contacts=True)
        self.exporters = self._parties(max(40, rows // 25), with_contacts=True)
        self.brokers = self._parties(max(10, rows // 400), with_contacts=True, countries=EU)
        self.carriers = self._parties(max(8, min(60, rows // 1000)), with_contacts=False)
        self.vessels = [self._vessel() for _ in range(max(20, rows // 200))]
        self.containers = [self._container() for _ in range(max(100, rows // 3))]

    # Zipf-like choice: index = floor(n * u^2) puts about half the picks on the first quarter.
    def pick(self, pool: list):
        return pool[int(len(pool) * self.rnd.random() ** 2)]

    def _parties(self, count: int, with_contacts: bool, countries: tuple[str, ...] = ()) -> list[Party]:
        parties: list[Party] = []
        used: set[tuple[str, str]] = set()
        while len(parties) < count:
            country = self.rnd.choice(countries or tuple(COUNTRIES))
            forms, postcode_pattern = COUNTRIES[country]
            base = f"{self.rnd.choice(WORDS)} {self.rnd.choice(WORDS)} {self.rnd.choice(TRADES)}"
            if (country, base) in used:
                continue
            used.add((country, base))
            form = self.rnd.choice(forms)
            variants = [f"{base} {form}", f"{base.upper()} {form}"]
            variants += [f"{base} {other}" for other in forms if other != form][:1]
            party = self._party(tuple(variants), country, postcode_pattern, with_contacts)
            if party is None:
                continue
            parties.append(party)
            if self.rnd.random() < 0.03:
                # A near-duplicate: one letter dropped, for the candidate finder to propose.
                word = base.split()[0]
                cut = self.rnd.randrange(1, len(word))
                typo = base.replace(word, word[:cut] + word[cut + 1 :], 1)
                sibling = self._party((f"{typo} {form}",), country, postcode_pattern, with_contacts)
                if sibling is not None and (country, typo) not in used:
                    used.add((country, typo))
                    parties.append(sibling)
        return parties

    def _party(
        self, names: tuple[str, ...], country: str, postcode_pattern: str, with_contacts: bool
    ) -> Party | None:
        from intel.resolution import ResolutionError, resolve_address, resolve_company, resolve_phone

        reg_no = ""
        if self.rnd.random() < 0.3:
            reg_no = f"{country}{self.rnd.randrange(10**8, 10**9)}REG"
        slug = "".join(ch for ch in names[0].lower() if ch.isalnum())[:24]
        postcode = "".join(
            self.rnd.choice(string.digits)
            if ch == "9"
            else self.rnd.choice(string.ascii_uppercase)
            if ch == "A"
            else ch
            for ch in postcode_pattern
        )
        address = f"{self.rnd.randrange(1, 400)} {self.rnd.choice(STREETS)} {self.rnd.choice(STREET_TYPES)}"
        phone = self._phone(country) if with_contacts else ""
        email = f"info@{slug}.example" if with_contacts else ""
        try:
            # Checked once per pooled party with the importer's own rules: a stated number
            # that happens to look like a national VAT number with a bad check digit is dropped.
            resolve_company(names[0], country, reg_no or None)
        except ResolutionError:
            reg_no = ""
        try:
            resolve_address(address, country, postcode or None)
            if phone:
                resolve_phone(phone, country)
        except ResolutionError:
            return None
        return Party(names, country, reg_no, address, postcode, phone, email)

    def _phone(self, country: str) -> str:
        example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.FIXED_LINE)
        digits = str(example.national_number)
        for _ in range(20):
            tail = "".join(self.rnd.choice(string.digits) for _ in range(4))
            candidate = phonenumbers.parse(f"+{example.country_code}{digits[:-4]}{tail}")
            if phonenumbers.is_valid_number(candidate):
                style = (
                    phonenumbers.PhoneNumberFormat.INTERNATIONAL
                    if self.rnd.random() < 0.5
                    else phonenumbers.PhoneNumberFormat.NATIONAL
                )
                return phonenumbers.format_number(candidate, style)
        return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)

    def _vessel(self) -> Vessel:
        first = str(self.rnd.randrange(900000, 999999))
        name = f"MV {self.rnd.choice(WORDS)} {self.rnd.choice(WORDS)}"
        return Vessel(first + imo.calc_check_digit(first), name, self.rnd.choice(FLAGS))

    def _container(self) -> str:
        body = self.rnd.choice(CONTAINER_OWNERS) + f"{self.rnd.randrange(10**6):06d}"
        return body + iso6346.calc_check_digit(body)


def generate(
    path: Path, rows: int, seed: int = 20260301, ref_prefix: str = "BENCH", pool_rows: int | None = None
) -> Path:
    """Writes `rows` valid shipment, inspection and seizure rows to `path`, streamed.

    The pools are sized for `pool_rows` (default `rows`): with the same seed and
    pool_rows, another prefix gives the same parties on the same rows under new
    references, i.e. more declarations by the same traders."""
    rnd = random.Random(seed)
    pools = Pools(pool_rows or rows, rnd)
    start = date(2023, 1, 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for number in range(rows):
            writer.writerow(_row(number, rnd, pools, start, ref_prefix))
    return path


def _row(number: int, rnd: random.Random, pools: Pools, start: date, ref_prefix: str) -> list[str]:
    roll = rnd.random()
    category = "shipment" if roll < 0.85 else "inspection" if roll < 0.95 else "seizure"
    importer = pools.pick(pools.importers)
    exporter = pools.pick(pools.exporters)
    broker = pools.pick(pools.brokers) if rnd.random() < 0.7 else None
    carrier = pools.pick(pools.carriers)
    vessel = pools.pick(pools.vessels)
    goods, hs_code, unit = rnd.choice(GOODS)
    containers = {pools.pick(pools.containers) for _ in range(rnd.choice((1, 1, 1, 2, 3)))}
    loading = rnd.choice(PORTS[exporter.country])
    discharge = rnd.choice(PORTS[importer.country])

    def name(party: Party) -> str:
        return party.names[0] if rnd.random() < 0.9 else rnd.choice(party.names)

    values = {
        "external_ref": f"{ref_prefix}-{number:08d}",
        "category": category,
        "classification": rnd.choice(("unclassified", "restricted", "restricted", "confidential")),
        "caveats": "no_onward_sharing" if rnd.random() < 0.05 else "",
        "occurred_on": (start + timedelta(days=rnd.randrange(1185))).isoformat(),
        "summary": f"{goods} from {exporter.country} to {importer.country}",
        "importer_name": name(importer),
        "importer_country": importer.country,
        "importer_reg_no": importer.reg_no,
        "importer_address": importer.address,
        "importer_postcode": importer.postcode,
        "importer_phone": importer.phone,
        "importer_email": importer.email,
        "exporter_name": name(exporter),
        "exporter_country": exporter.country,
        "exporter_address": exporter.address if rnd.random() < 0.5 else "",
        "exporter_phone": exporter.phone if rnd.random() < 0.3 else "",
        "carrier_name": name(carrier),
        "carrier_country": carrier.country,
        "vessel_imo": f"IMO {vessel.imo}" if rnd.random() < 0.5 else vessel.imo,
        "vessel_name": vessel.name,
        "vessel_flag": vessel.flag,
        "container_numbers": ";".join(sorted(containers)),
        "port_of_loading": loading,
        "port_of_discharge": discharge,
        "hs_codes": hs_code if rnd.random() < 0.8 else f"{hs_code};{rnd.choice(GOODS)[1]}",
        "declared_value": f"{rnd.randrange(500, 500_000)}.{rnd.randrange(100):02d}",
        "currency": rnd.choice(CURRENCIES),
    }
    if broker is not None:
        values |= {
            "broker_name": name(broker),
            "broker_country": broker.country,
            "broker_phone": broker.phone,
            "broker_email": broker.email if rnd.random() < 0.5 else "",
        }
    if category == "seizure":
        values |= {"goods_description": goods, "quantity": str(rnd.randrange(10, 50_000)), "unit": unit}
    elif category == "inspection":
        result = rnd.choice(("clear", "clear", "clear", "discrepancy", "referred_for_seizure"))
        values |= {
            "inspection_result": result,
            "findings": "" if result == "clear" else f"{goods} misdeclared",
        }
    return [values.get(column, "") for column in HEADER]
