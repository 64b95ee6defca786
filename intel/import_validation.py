"""Validating one imported row: its fields, parties and details, into a plan of what it writes.

Its own module because it is pure: a row from any reader becomes a RowPlan (the record, the
entities it mentions, its links) or every problem of the row with its field and reason,
and it neither reads files nor touches the database. It owns the keys a record's `details`
can have, which agreements may redact. The format is documented in docs/import.md.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

import pycountry

from intel.models import (
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
    normalize_country,
    resolve_address,
    resolve_company,
    resolve_container,
    resolve_email,
    resolve_phone,
    resolve_shipment,
    resolve_vessel,
)

IMPORT_CATEGORIES = (Category.SHIPMENT, Category.SEIZURE, Category.INSPECTION)
INSPECTION_RESULTS = ("clear", "discrepancy", "referred_for_seizure")
# The keys of a record's `details`: the importer writes these and no others, and an agreement
# may redact `details.<key>` for these only (sharing.agreements.validate_scope).
PORT_KEYS = ("port_of_loading", "port_of_discharge")
TEXT_DETAIL_KEYS = ("goods_description", "quantity", "unit", "findings")
DETAIL_KEYS = (*PORT_KEYS, "hs_codes", "declared_value", "currency", *TEXT_DETAIL_KEYS, "inspection_result")


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


def parse_row(number: int, row: dict, agency_code: str) -> tuple[RowPlan | None, list[dict]]:
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
        errors.add("category", f"{category!r} is not one of {', '.join(IMPORT_CATEGORIES)}")

    classification_name = text(row, "classification").lower() or "restricted"
    levels = {label.lower(): value for value, label in Classification.choices}
    if classification_name not in levels:
        errors.add("classification", f"{classification_name!r} is not one of {', '.join(levels)}")

    caveats = split_list(text(row, "caveats"))
    for caveat in caveats:
        if caveat not in Caveat.values:
            errors.add("caveats", f"{caveat!r} is not one of {', '.join(Caveat.values)}")

    occurred_on = None
    raw_date = required("occurred_on")
    if raw_date:
        try:
            occurred_on = date.fromisoformat(raw_date)
        except ValueError:
            errors.add("occurred_on", f"{raw_date!r} is not a date in the form YYYY-MM-DD")

    details: dict = {}
    for port in PORT_KEYS:
        value = text(row, port).upper().replace(" ", "")
        if value:
            if (
                len(value) != 5
                or pycountry.countries.get(alpha_2=value[:2]) is None
                or not value[2:].isalnum()
            ):
                errors.add(port, f"{value!r} is not a UN/LOCODE (country code and three letters, e.g. NLRTM)")
            details[port] = value
    hs_codes = split_list(text(row, "hs_codes"))
    for code in hs_codes:
        digits = code.replace(".", "")
        if not digits.isdigit() or not 6 <= len(digits) <= 10:
            errors.add("hs_codes", f"{code!r} is not an HS code of 6 to 10 digits")
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
            errors.add("declared_value", f"{raw_value!r} is not a non-negative number")
        currency = text(row, "currency").upper()
        if not currency:
            errors.add("currency", "is required with declared_value")
        elif pycountry.currencies.get(alpha_3=currency) is None:
            errors.add("currency", f"{currency!r} is not an ISO 4217 currency code")
        else:
            details["currency"] = currency
    for name in TEXT_DETAIL_KEYS:
        if text(row, name):
            details[name] = text(row, name)
    if category == Category.INSPECTION:
        result = required("inspection_result").lower()
        if result and result not in INSPECTION_RESULTS:
            errors.add("inspection_result", f"{result!r} is not one of {', '.join(INSPECTION_RESULTS)}")
        details["inspection_result"] = result
    if category == Category.SEIZURE:
        required("goods_description")

    plan = RowPlan(
        number=number,
        external_ref=external_ref,
        content_hash=hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest(),
        record_fields={
            "category": category,
            "classification": levels.get(classification_name, Classification.RESTRICTED),
            "caveats": caveats,
            "summary": text(row, "summary"),
            "occurred_on": occurred_on,
            "details": details,
        },
    )
    plan.release = parse_release(row, errors)
    shipment = plan.mention(resolve_shipment(agency_code, external_ref or "?"), Role.SHIPMENT)

    for role, link_type in PARTY_ROLES.items():
        name = text(row, f"{role}_name")
        if not name:
            for suffix in ("country", "reg_no", "address", "postcode", "phone", "email"):
                if text(row, f"{role}_{suffix}"):
                    errors.add(f"{role}_name", f"is required when {role}_{suffix} is given")
                    break
            continue
        country = resolve(normalize_country, text(row, f"{role}_country"), f"{role}_country")
        company = country and resolve(
            resolve_company, name, country, text(row, f"{role}_reg_no") or None, field=f"{role}_reg_no"
        )
        if not company:
            continue
        party = plan.mention(company, role)
        plan.link(shipment, party, link_type)
        if text(row, f"{role}_address"):
            address = resolve(
                resolve_address,
                text(row, f"{role}_address"),
                country,
                text(row, f"{role}_postcode") or None,
                field=f"{role}_address",
            )
            if address:
                plan.link(party, plan.mention(address, Role.ADDRESS), LinkType.REGISTERED_AT)
        phone = text(row, f"{role}_phone")
        if phone and (contact := resolve(resolve_phone, phone, country, field=f"{role}_phone")):
            plan.link(party, plan.mention(contact, Role.PHONE), LinkType.CONTACT)
        email = text(row, f"{role}_email")
        if email and (contact := resolve(resolve_email, email, field=f"{role}_email")):
            plan.link(party, plan.mention(contact, Role.EMAIL), LinkType.CONTACT)

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
RELEASE_COLUMNS = ("releasability", "release_to")
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
    if mode not in Releasability.values:
        errors.add("releasability", f"{mode!r} is not one of {', '.join(Releasability.values)}")
        return None
    if mode == Releasability.NAMED and not references:
        errors.add("release_to", f"name the agreements (their references) to release to with {mode}")
    if mode != Releasability.NAMED and references:
        errors.add("release_to", f"names agreements only with releasability {Releasability.NAMED}")
    if len(references) > MAX_RELEASE_AGREEMENTS:
        errors.add("release_to", f"names more than {MAX_RELEASE_AGREEMENTS} agreements")
    return ReleasePlan(mode, references)


PARTY_ROLES = {
    Role.IMPORTER: LinkType.IMPORTED_BY,
    Role.EXPORTER: LinkType.EXPORTED_BY,
    Role.BROKER: LinkType.BROKERED_BY,
    Role.CARRIER: LinkType.CARRIED_BY,
    Role.CONSIGNEE: LinkType.CONSIGNED_TO,
}
