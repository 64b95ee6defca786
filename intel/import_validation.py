"""Validating one imported row: its fields, parties and details, into a plan of what it writes.

Its own module because it is pure: a row from any reader becomes a RowPlan (the record, the
entities it mentions, its links) or every problem of the row with its field and reason,
and it neither reads files nor touches the database. It owns the keys a record's `details`
can have, which agreements may redact. The format is documented in docs/import.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

import pycountry

from core.inputs import quoted
from intel.dates import occurred_on_problem, parse_day
from intel.import_reading import shown_name
from intel.models import (
    CLASSIFICATION_BY_NAME,
    Category,
    Caveat,
    Classification,
    LinkType,
    Releasability,
    Role,
)
from intel.resolution import (
    ResolutionError,
    Resolved,
    identity_document,
    name_fingerprint,
    normalize_country,
    resolve_address,
    resolve_company,
    resolve_consignment,
    resolve_container,
    resolve_email,
    resolve_person,
    resolve_phone,
    resolve_shipment,
    resolve_vessel,
)

IMPORT_CATEGORIES = tuple(Category.values)
# Read once: Django's `Choices.values` and `.choices` build new lists on every read, and
# these are asked of every row.
CAVEATS = frozenset(Caveat.values)
RELEASABILITIES = frozenset(Releasability.values)
INSPECTION_RESULTS = ("clear", "discrepancy", "referred_for_seizure")
# What an investigation is about: a closed list, so that one agency's "drugs" and another's
# "narcotics" are one offence to filter on.
OFFENCES = (
    "drug_trafficking",
    "tobacco_smuggling",
    "excise_fraud",
    "customs_fraud",
    "vat_fraud",
    "money_laundering",
    "counterfeiting",
    "weapons_trafficking",
    "wildlife_trafficking",
    "sanctions_evasion",
    "human_smuggling",
    "other",
)
# A tip's grading in the Admiralty (NATO) system: how reliable the source has been (A
# completely reliable to E unreliable, F cannot be judged) and how credible this
# information is (1 confirmed to 5 improbable, 6 cannot be judged).
SOURCE_RELIABILITY = ("A", "B", "C", "D", "E", "F")
INFORMATION_CREDIBILITY = ("1", "2", "3", "4", "5", "6")
# The keys of a record's `details`: the importer writes these and no others, and an agreement
# may redact `details.<key>` for these only (sharing.agreements.validate_scope).
PORT_KEYS = ("port_of_loading", "port_of_discharge")
TEXT_DETAIL_KEYS = ("goods_description", "quantity", "unit", "findings", "case_reference")
DETAIL_KEYS = (
    *PORT_KEYS,
    "hs_codes",
    "declared_value",
    "currency",
    *TEXT_DETAIL_KEYS,
    "inspection_result",
    "offences",
    "source_reliability",
    "information_credibility",
)
# Facts only one category of record has: stated on a record of another category they are
# an error, not kept where nothing reads them.
CATEGORY_KEYS = {
    Category.INSPECTION: ("inspection_result", "findings"),
    Category.INVESTIGATION: ("case_reference", "offences"),
    Category.TIP: ("source_reliability", "information_credibility"),
}
REQUIRED_KEYS = {
    Category.SEIZURE: ("goods_description",),
    Category.INSPECTION: ("inspection_result",),
    Category.INVESTIGATION: ("case_reference",),
    Category.TIP: ("source_reliability", "information_credibility"),
}
RELEASE_COLUMNS = ("releasability", "release_to")
RECORD_COLUMNS = frozenset(
    {
        "external_ref",
        "category",
        "classification",
        "caveats",
        "occurred_on",
        "summary",
        "consignment_ref",
        "vessel_imo",
        "vessel_name",
        "vessel_flag",
        "container_numbers",
        *DETAIL_KEYS,
        *RELEASE_COLUMNS,
    }
)

PARTY_ROLES = {
    Role.IMPORTER: LinkType.IMPORTED_BY,
    Role.EXPORTER: LinkType.EXPORTED_BY,
    Role.BROKER: LinkType.BROKERED_BY,
    Role.CARRIER: LinkType.CARRIED_BY,
    Role.CONSIGNEE: LinkType.CONSIGNED_TO,
    Role.SUBJECT: LinkType.INVOLVES,
}
PARTY_TYPES = ("company", "person")
COMPANY_FIELDS = ("reg_no",)
PERSON_FIELDS = ("date_of_birth", "nationality", "id_numbers", "passport_numbers")
CONTACT_FIELDS = ("address", "postcode", "phone", "email")
PARTY_FIELDS = ("type", "name", "country", *CONTACT_FIELDS, *COMPANY_FIELDS, *PERSON_FIELDS)
# `{role}_{field}` or, for several parties of one role, `{role}{n}_{field}` with n from 1 to 99.
PARTY_COLUMN = re.compile(rf"({'|'.join(PARTY_ROLES)})([1-9][0-9]?)?_({'|'.join(PARTY_FIELDS)})")
MAX_WARNINGS = 1000
# A party's key in JSON, as `unknown_columns` names it: `subject[0].nickname`, `importer.nickname`.
NESTED_KEY = re.compile(rf"(?:{'|'.join(PARTY_ROLES)})(?:\[[0-9]+\])?\.(.*)", re.DOTALL)


@dataclass
class RowPlan:
    """What one valid row will write: the record, the entities it mentions, its links."""

    number: int
    external_ref: str
    content_hash: str
    record_fields: dict
    mentions: list[tuple[Resolved, str]] = field(default_factory=list)
    links: list[tuple[int, int, str]] = field(default_factory=list)
    release: ReleasePlan | None = None

    def mention(self, resolved: Resolved, role: str) -> int:
        for index, (existing, existing_role) in enumerate(self.mentions):
            if existing.key == resolved.key and existing.type == resolved.type and existing_role == role:
                return index
        self.mentions.append((resolved, role))
        return len(self.mentions) - 1

    def link(self, source: int, target: int, link_type: str) -> None:
        if source != target and (source, target, link_type) not in self.links:
            self.links.append((source, target, link_type))


class RowErrors:
    def __init__(self, number: int):
        self.number = number
        self.items: list[dict] = []

    def add(self, field_name: str, message: str) -> None:
        self.items.append({"row": self.number, "field": field_name, "message": message})


def text(row: dict, name: str) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, list):
        # JSON may give list fields (containers, HS codes, caveats) as arrays.
        return "; ".join(str(item).strip() for item in value)
    return str(value).strip()


def split_list(value: str) -> list[str]:
    return [item.strip() for item in value.replace(",", ";").split(";") if item.strip()]


@lru_cache(maxsize=4096)
def party_column(name: str) -> tuple[str, int, str] | None:
    """(role, number, field) of a flat party column (`subject2_name`: number 2; `importer_name`:
    0), None for any other name. Cached: every row of a file repeats the same names."""
    found = PARTY_COLUMN.fullmatch(name)
    return (found.group(1), int(found.group(2) or 0), found.group(3)) if found else None


def unknown_columns(row: dict, *, nested: bool) -> list[str]:
    """The names in `row` that are not columns of the format. `nested` (JSON): a role's key
    may hold a party object or an array of them, whose keys must be party fields."""
    unknown = []
    for name, value in row.items():
        if name in RECORD_COLUMNS or party_column(name):
            continue
        if not (nested and name in PARTY_ROLES):
            unknown.append(name)
        elif isinstance(value, dict | list):
            items = value if isinstance(value, list) else [value]
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    prefix = f"{name}[{index}]." if isinstance(value, list) else f"{name}."
                    unknown += [f"{prefix}{key}" for key in item if key not in PARTY_FIELDS]
    return unknown


def misspelt_column(name: str) -> str | None:
    """The column (or party key) of the format that the unknown `name` spells in another
    case, with spaces or hyphens, or None. Ignored as unknown, such a column would drop
    what the file states for a default: `Classification` a secret record's level, `caveats `
    its handling codes."""
    nested = NESTED_KEY.fullmatch(name)
    spelled = re.sub(r"[\s-]+", "_", (nested.group(1) if nested else name).strip("\ufeff \t")).lower()
    if nested:
        return spelled if spelled in PARTY_FIELDS else None
    known = spelled in RECORD_COLUMNS or spelled in PARTY_ROLES or party_column(spelled)
    return spelled if known else None


class ColumnCheck:
    """Unknown columns in a file: each an error naming it, or, when the importer allows
    unknown columns, a warning listed once per name (the column is then ignored). A CSV
    file's rows all have the header's columns, so the header (row 1) is checked once; a
    JSON row's keys are its own, so each row is checked."""

    def __init__(self, *, nested: bool, allow_unknown: bool) -> None:
        self.nested, self.allow_unknown = nested, allow_unknown
        self.header_checked = False
        self.warnings: list[dict] = []
        self.warned: set[str] = set()

    def check(self, number: int, row: dict) -> list[dict]:
        """The errors of the row's unknown columns; warnings go to `warnings`."""
        if not self.nested:
            if self.header_checked:
                return []
            self.header_checked, number = True, 1
        errors = []
        for name in unknown_columns(row, nested=self.nested):
            shown = shown_name(name)
            meant = misspelt_column(name)
            if meant:
                errors.append(
                    {
                        "row": number,
                        "field": shown,
                        "message": f"unknown column: {quoted(meant)} misspelt? A column of the format spelt "
                        "otherwise is never ignored (docs/import.md)",
                    }
                )
            elif not self.allow_unknown:
                errors.append(
                    {
                        "row": number,
                        "field": shown,
                        "message": "unknown column: not in the import format (docs/import.md)",
                    }
                )
            elif shown not in self.warned and len(self.warned) < MAX_WARNINGS:
                self.warned.add(shown)
                self.warnings.append({"row": number, "field": shown, "message": "unknown column, ignored"})
        return errors


@dataclass(frozen=True)
class Party:
    """One party a row names: its role, the values stated, and how its fields are named in
    errors (`importer_`, `subject2_`, `subject[0].`)."""

    role: str
    values: dict
    prefix: str

    def field(self, name: str) -> str:
        return f"{self.prefix}{name}"


@lru_cache(maxsize=256)
def party_layout(names: tuple[str, ...]) -> dict[str, list[tuple[int, list[tuple[str, str]]]]]:
    """The flat party columns among a row's `names`: per role, by number (unnumbered
    first), each party's (field, column) pairs. Cached by the names: every row of a CSV
    file has the header's, and sorting a hundred columns into parties per row cost more than
    validating the parties they hold."""
    flat: dict[tuple[str, int], dict[str, str]] = {}
    for name in names:
        if column := party_column(name):
            role, number, field_name = column
            flat.setdefault((role, number), {})[field_name] = name
    return {
        role: [(number, list(flat[(role, number)].items())) for number in numbers]
        for role in PARTY_ROLES
        if (numbers := sorted(number for party_role, number in flat if party_role == role))
    }


def parties_of(row: dict, errors: RowErrors, *, nested: bool) -> list[Party]:
    """Every party of the row, role by role in PARTY_ROLES' order: the flat columns
    (unnumbered first, then by number), then, in JSON, the role's object or array."""
    flat = party_layout(tuple(row))
    parties = []
    for role in PARTY_ROLES:
        for number, columns in flat.get(role, ()):
            values = {field_name: row[name] for field_name, name in columns}
            parties.append(Party(role, values, f"{role}{number or ''}_"))
        value = row.get(role) if nested else None
        if value in (None, "", []):
            continue
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            prefix = f"{role}[{index}]." if isinstance(value, list) else f"{role}."
            if isinstance(item, dict):
                parties.append(Party(role, item, prefix))
            else:
                errors.add(prefix.removesuffix("."), "must be an object of party fields")
    return parties


def parse_row(
    number: int, row: dict, agency_code: str, *, nested: bool = True
) -> tuple[RowPlan | None, list[dict]]:
    """The plan of one row, or its problems. `nested`: the row comes from JSON, where a
    role's key may hold party objects."""
    errors = RowErrors(number)

    def required(name: str) -> str:
        value = text(row, name)
        if not value:
            errors.add(name, "is required")
        return value

    def resolve(resolver: Callable[..., Resolved | str], *args, **kwargs):
        try:
            return resolver(*args, **kwargs)
        except ResolutionError as exc:
            errors.add(exc.field, exc.message)
            return None

    external_ref = required("external_ref")
    if len(external_ref) > 100:
        errors.add("external_ref", "is longer than 100 characters")
    category = required("category").lower()
    if category and category not in IMPORT_CATEGORIES:
        errors.add("category", f"{quoted(category)} is not one of {', '.join(IMPORT_CATEGORIES)}")

    classification_name = text(row, "classification").lower() or "restricted"
    if classification_name not in CLASSIFICATION_BY_NAME:
        known = ", ".join(CLASSIFICATION_BY_NAME)
        errors.add("classification", f"{quoted(classification_name)} is not one of {known}")

    caveats = split_list(text(row, "caveats"))
    for caveat in caveats:
        if caveat not in CAVEATS:
            errors.add("caveats", f"{quoted(caveat)} is not one of {', '.join(Caveat.values)}")

    occurred_on = None
    raw_date = required("occurred_on")
    if raw_date:
        try:
            occurred_on = parse_day(raw_date)
        except ValueError:
            errors.add("occurred_on", f"{quoted(raw_date)} is not a date in the form YYYY-MM-DD")
        else:
            if problem := occurred_on_problem(occurred_on):
                errors.add("occurred_on", problem)

    details = parse_details(row, category, errors)

    plan = RowPlan(
        number=number,
        external_ref=external_ref,
        content_hash=hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest(),
        record_fields={
            "category": category,
            "classification": CLASSIFICATION_BY_NAME.get(classification_name, Classification.RESTRICTED),
            "caveats": caveats,
            "summary": text(row, "summary"),
            "occurred_on": occurred_on,
            "details": details,
        },
    )
    plan.release = parse_release(row, errors)
    reference = text(row, "consignment_ref")
    hub = reference and resolve(resolve_consignment, reference, agency_code, external_ref or "?")
    shipment = plan.mention(hub or resolve_shipment(agency_code, external_ref or "?"), Role.SHIPMENT)

    for party in parties_of(row, errors, nested=nested):
        plan_party(plan, party, shipment, errors, resolve)

    imo = text(row, "vessel_imo")
    if imo:
        vessel = resolve(
            resolve_vessel, imo, text(row, "vessel_name") or None, text(row, "vessel_flag") or None
        )
        if vessel:
            vessel_index = plan.mention(vessel, Role.VESSEL)
            plan.link(shipment, vessel_index, LinkType.CARRIED_BY)
            carrier = next((i for i, (_, r) in enumerate(plan.mentions) if r == Role.CARRIER), None)
            if carrier is not None:
                plan.link(carrier, vessel_index, LinkType.OWNS)
    elif text(row, "vessel_name"):
        errors.add("vessel_imo", "is required when vessel_name is given")
    container_link = LinkType.SEIZED_IN if category == Category.SEIZURE else LinkType.SHIPPED_IN
    for container_number in split_list(text(row, "container_numbers")):
        container = resolve(resolve_container, container_number, field="container_numbers")
        if container:
            plan.link(shipment, plan.mention(container, Role.CONTAINER), container_link)

    return (None if errors.items else plan), errors.items


# --- releasability ------------------------------------------------------------------
# To whom a row's record is released. The agreements named are only read here; whether the
# agency may release under them is asked when the row is written (intel.releasing), since
# intel knows no agreement.
MAX_RELEASE_AGREEMENTS = 20


@dataclass(frozen=True)
class ReleasePlan:
    mode: str
    references: tuple[str, ...] = ()


def parse_release(row: dict, errors: RowErrors) -> ReleasePlan | None:
    """The row's releasability, or None where the row states none: a new record is then
    released to no one, and an existing one keeps its releases."""
    mode = text(row, "releasability").lower()
    references = tuple(dict.fromkeys(split_list(text(row, "release_to"))))
    if not mode:
        if references:
            errors.add("releasability", f"is required when release_to is given ({Releasability.NAMED})")
        return None
    if mode not in RELEASABILITIES:
        errors.add("releasability", f"{quoted(mode)} is not one of {', '.join(Releasability.values)}")
        return None
    if mode == Releasability.NAMED and not references:
        errors.add("release_to", f"name the agreements (their references) to release to with {mode}")
    if mode != Releasability.NAMED and references:
        errors.add("release_to", f"names agreements only with releasability {Releasability.NAMED}")
    if len(references) > MAX_RELEASE_AGREEMENTS:
        errors.add("release_to", f"names more than {MAX_RELEASE_AGREEMENTS} agreements")
    return ReleasePlan(mode, references)


def parse_details(row: dict, category: str, errors: RowErrors) -> dict:
    """The record's `details`: the category's own facts and the goods, ports and value."""
    details: dict = {}
    for port in PORT_KEYS:
        value = text(row, port).upper().replace(" ", "")
        if value:
            if (
                len(value) != 5
                or pycountry.countries.get(alpha_2=value[:2]) is None
                or not value[2:].isalnum()
            ):
                message = "is not a UN/LOCODE (country code and three letters, e.g. NLRTM)"
                errors.add(port, f"{quoted(value)} {message}")
            details[port] = value
    hs_codes = split_list(text(row, "hs_codes"))
    for code in hs_codes:
        digits = code.replace(".", "")
        if not digits.isdigit() or not 6 <= len(digits) <= 10:
            errors.add("hs_codes", f"{quoted(code)} is not an HS code of 6 to 10 digits")
    if hs_codes:
        details["hs_codes"] = [code.replace(".", "") for code in hs_codes]
    raw_value = text(row, "declared_value")
    if raw_value:
        try:
            value = Decimal(raw_value)
            if value < 0 or not value.is_finite():
                raise InvalidOperation
            details["declared_value"] = str(value)
        except InvalidOperation:
            errors.add("declared_value", f"{quoted(raw_value)} is not a non-negative number")
        currency = text(row, "currency").upper()
        if not currency:
            errors.add("currency", "is required with declared_value")
        elif pycountry.currencies.get(alpha_3=currency) is None:
            errors.add("currency", f"{quoted(currency)} is not an ISO 4217 currency code")
        else:
            details["currency"] = currency
    for name in TEXT_DETAIL_KEYS:
        if text(row, name):
            details[name] = text(row, name)
    if len(details.get("case_reference", "")) > 100:
        errors.add("case_reference", "is longer than 100 characters")

    for other, keys in CATEGORY_KEYS.items():
        if other != category and category in IMPORT_CATEGORIES:
            for name in keys:
                if text(row, name):
                    errors.add(name, f"is for {other} records, not {category} records")
    for name in REQUIRED_KEYS.get(category, ()):
        if not text(row, name):
            errors.add(name, f"is required for {category} records")

    result = text(row, "inspection_result").lower()
    if result:
        if result not in INSPECTION_RESULTS:
            errors.add("inspection_result", f"{quoted(result)} is not one of {', '.join(INSPECTION_RESULTS)}")
        details["inspection_result"] = result
    offences = [offence.lower() for offence in split_list(text(row, "offences"))]
    for offence in offences:
        if offence not in OFFENCES:
            errors.add("offences", f"{quoted(offence)} is not one of {', '.join(OFFENCES)}")
    if offences:
        details["offences"] = offences
    for name, scale in (
        ("source_reliability", SOURCE_RELIABILITY),
        ("information_credibility", INFORMATION_CREDIBILITY),
    ):
        grade = text(row, name).upper()
        if grade:
            if grade not in scale:
                errors.add(name, f"{quoted(grade)} is not one of {', '.join(scale)} (Admiralty grading)")
            details[name] = grade
    return details


def plan_party(
    plan: RowPlan, party: Party, shipment: int, errors: RowErrors, resolve: Callable[..., Any]
) -> None:
    """Adds one party (a company or a person) to the plan, linked from the shipment, with
    its address, phone and e-mail."""

    def value(name: str) -> str:
        return text(party.values, name)

    # A CSV file has every role's columns, mostly empty: such a party states nothing, and
    # asking each of its fields by `text` was a third of the time validation took.
    if all(stated == "" for stated in party.values.values()):
        return
    name = value("name")
    if not name:
        for field_name in PARTY_FIELDS:
            if value(field_name):
                errors.add(party.field("name"), f"is required when {party.field(field_name)} is given")
                break
        return
    kind = value("type").lower() or ("person" if party.role == Role.SUBJECT else "company")
    if kind not in PARTY_TYPES:
        errors.add(party.field("type"), f"{quoted(kind)} is not one of {', '.join(PARTY_TYPES)}")
        return
    wrong = PERSON_FIELDS if kind == "company" else COMPANY_FIELDS
    for field_name in wrong:
        if value(field_name):
            errors.add(party.field(field_name), f"is not a field of a {kind} (type {kind})")

    if kind == "company":
        country = resolve(normalize_country, value("country"), party.field("country"))
        entity = country and resolve(
            resolve_company, name, country, value("reg_no") or None, field=party.field("reg_no")
        )
    else:
        country, entity = person(party, name, errors, resolve)
    if not entity:
        return
    index = plan.mention(entity, party.role)
    plan.link(shipment, index, PARTY_ROLES[party.role])
    if value("address"):
        address = resolve(
            resolve_address,
            value("address"),
            country,
            value("postcode") or None,
            field=party.field("address"),
        )
        if address:
            plan.link(index, plan.mention(address, Role.ADDRESS), LinkType.REGISTERED_AT)
    phone, email = value("phone"), value("email")
    if phone and (contact := resolve(resolve_phone, phone, country, field=party.field("phone"))):
        plan.link(index, plan.mention(contact, Role.PHONE), LinkType.CONTACT)
    if email and (contact := resolve(resolve_email, email, field=party.field("email"))):
        plan.link(index, plan.mention(contact, Role.EMAIL), LinkType.CONTACT)


def person(
    party: Party, name: str, errors: RowErrors, resolve: Callable[..., Any]
) -> tuple[str | None, Resolved | None]:
    """(the country the person lives in, the person): a person is keyed by nationality,
    name and date of birth; `country` (of residence, for the address and phone) defaults to
    the nationality, which also issued the identity documents."""
    nationality = resolve(normalize_country, text(party.values, "nationality"), party.field("nationality"))
    residence = text(party.values, "country")
    country = resolve(normalize_country, residence, party.field("country")) if residence else nationality
    if not name_fingerprint(name):
        errors.add(party.field("name"), f"{quoted(name)} has no letters or digits to match on")
        return country, None
    if not nationality:
        return country, None
    documents = [
        resolve(identity_document, kind, number, nationality, party.field(field_name))
        for field_name, kind in (("id_numbers", "national_id"), ("passport_numbers", "passport"))
        for number in split_list(text(party.values, field_name))
    ]
    entity = resolve(
        resolve_person,
        name,
        nationality,
        text(party.values, "date_of_birth") or None,
        field=party.field("date_of_birth"),
        documents=[document for document in documents if document],
    )
    return country, entity
