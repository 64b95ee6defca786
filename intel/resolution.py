"""Entity resolution on ingest: from what a record states to a canonical (type, key).

Pure functions, no database access. Each `resolve_*` validates and normalizes one
stated thing and returns a `Resolved`: the entity type, a canonical key that is the
same for every spelling of the same thing and never built from raw input, a blocking
key that puts near-duplicates of companies and persons side by side for
`intel.candidates.find_candidates`, the normalized properties this record states, and
the text to search on.

Key formats:

    company    CC:reg:<compact registration or tax number>   when a number is stated
               CC:name:<name fingerprint>@<address digest>    else, when an address is stated
               CC:name:<name fingerprint>                     otherwise
    person     CC:doc:<first identity document number>        when a document is stated
               CC:<name fingerprint>[:<YYYY-MM-DD date of birth>]  otherwise
    vessel     imo:<7 digits>
    container  <ISO 6346 number, compact, upper case>
    address    CC:<POSTCODE>:<normalized text>                (postcode may be empty)
    phone      <E.164>
    email      <lower-cased address>
    shipment   mrn/<MRN> or ucr/<UCR>                         with a consignment reference
               <agency code>:<external reference>             otherwise

A fingerprint (`name_fingerprint`) folds a name to one spelling: rigour's table of legal
forms (ISO 20275 and more, in many languages and scripts) reduces each spelling of a form
to one ("Gesellschaft mit beschraenkter Haftung", "G.m.b.H." and "GmbH" become "gmbh";
"Limited" and "Ltd." become "ltd"), first as written and again once transliterated to ASCII;
the `fingerprints` library then folds the forms rigour knows only with their accents
("societe a responsabilite limitee"), drops punctuation, and sorts and deduplicates the
tokens, so a fingerprint holds only [a-z0-9 ] and the ":" separators in keys are unambiguous.

Each company and person also states its identity (`Resolved.identities`): the name it
goes by in its country (with the date of birth, for a person), with a tier saying how
strongly its key identifies it. `intel.merging.fold_identities` folds the weaker entities
of one identity into the one strongest entity of it, and into none when several share it:
a company named without its number joins the one registered company of that name in its
country.

A failure raises `ResolutionError(field, message)`, `field` being the input column the
caller names, so an importer can report "row 17, field importer_reg_no: ...".
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from types import ModuleType

import fingerprints
import phonenumbers
import pycountry
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from fingerprints.cleanup import clean_name_ascii
from fingerprints.types.data import TYPES as LEGAL_FORM_TABLE
from normality import normalize
from rapidfuzz import fuzz
from rigour.names.org_types import replace_org_types_compare
from rigour.text.normalize import Normalize
from rigour.text.normalize import normalize as rigour_normalize
from rigour.text.translit import ascii_text
from stdnum import get_cc_module, iso6346
from stdnum import imo as imo_number
from stdnum.exceptions import InvalidChecksum
from stdnum.exceptions import ValidationError as NumberInvalid

from core.inputs import quoted
from intel.dates import birth_date_problem, parse_day
from intel.models import EntityType

# Pure normalizations of one value, cached: a file names the same traders, countries and
# streets over and over, and the libraries behind them cost far more than a lookup. Bounded,
# so the importer's memory stays flat however long the file.
_cached = functools.lru_cache(maxsize=2**15)

# Entity.key and Entity.block column sizes: longer values keep a readable prefix and end
# in a hash of the whole, so they stay unique and deterministic.
KEY_MAX_LENGTH = 400
BLOCK_MAX_LENGTH = 120

# ISO 3166-1 "exceptionally reserved" codes that customs data uses for real countries
# (the United Kingdom, and Greece as EU VAT numbers spell it).
RESERVED_COUNTRY_CODES = {"UK": "GB", "EL": "GR"}

# Company register numbers that stdnum checks but does not alias as a country's "vat"
# or "businessid" module; those two aliases are always tried first.
COMPANY_NUMBER_MODULES: dict[str, tuple[str, ...]] = {
    "fr": ("siren", "siret"),
    "us": ("ein",),
    "au": ("acn",),
    "se": ("orgnr",),
    "no": ("orgnr",),
    "ru": ("ogrn",),
    "ua": ("edrpou",),
}

# Case-folded and split into name tokens, as rigour's legal-form table is built to match.
NAME_FLAGS = Normalize.CASEFOLD | Normalize.NAME

# How strongly an entity's own key identifies it within an identity it shares
# (`Resolved.identities`, `intel.models.EntityIdentity`).
TIER_NAME = 0
TIER_ADDRESS = 1
TIER_NUMBER = 2

# Words the fingerprints library drops only at the start of a name ("The Acme Co" but
# not "Acme Co, The"); a sorted fingerprint must not depend on word order, so they are
# dropped wherever they stand.
NAME_NOISE_TOKENS = frozenset({"the", "de", "of"})

ADDRESS_ABBREVIATIONS = {
    "st": "street",
    "rd": "road",
    "ave": "avenue",
    "av": "avenue",
    "blvd": "boulevard",
    "ln": "lane",
    "dr": "drive",
    "hwy": "highway",
    "sq": "square",
    "bldg": "building",
    "apt": "apartment",
    "ste": "suite",
    "fl": "floor",
    "str": "strasse",
}
# "Str." is "straat" in Dutch, "strasse" in German.
ADDRESS_ABBREVIATIONS_BY_COUNTRY = {
    "NL": {"str": "straat"},
    "BE": {"str": "straat"},
    "SR": {"str": "straat"},
    "FR": {"bd": "boulevard", "bld": "boulevard", "bvd": "boulevard"},
    # "C/" is how Spanish addresses write "Calle"; "Av." is "Avenida" there.
    "ES": {"c": "calle", "av": "avenida", "avda": "avenida"},
    "PL": {"ul": "ulica", "al": "aleja", "pl": "plac", "os": "osiedle"},
}
# Italian abbreviations keep the word's end after a full stop ("V.le" for "Viale"), which
# folding to words splits in two.
ADDRESS_ABBREVIATION_PAIRS_BY_COUNTRY = {
    "IT": {("v", "le"): "viale", ("p", "za"): "piazza", ("p", "le"): "piazzale", ("c", "so"): "corso"},
}
# Where German is written: an umlaut spelled out ("Koenigstrasse") is the same street.
GERMAN_SPELLING_COUNTRIES = frozenset({"DE", "AT", "CH", "LI", "LU"})
# Countries whose street names are compounds ("Hauptstr."), where the abbreviation is a
# suffix rather than a word of its own.
COMPOUND_STREET_COUNTRIES = frozenset({"DE", "AT", "CH", "LI", "LU", "NL", "BE", "SR"})


class ResolutionError(ValueError):
    """A value that cannot be resolved; `field` names the input it came from."""

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(frozen=True)
class Resolved:
    type: str
    key: str
    block: str
    properties: dict = dataclass_field(default_factory=dict)
    search_text: str = ""
    # (identity, tier) pairs this mention states for its entity; see the module's docstring.
    identities: tuple[tuple[str, int], ...] = ()


# --- helpers ------------------------------------------------------------------------


def _required(value: str | None, field: str, what: str = "") -> str:
    value = "" if value is None else str(value).strip()
    if not value:
        raise ResolutionError(field, f"{what} is required" if what else "is required")
    return value


def _bounded(value: str, limit: int) -> str:
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{value[: limit - len(digest) - 1]}#{digest}"


def _search_words(*names: str | None, identifiers: tuple[str | None, ...] = ()) -> str:
    """Lower-case words of every name, in Unicode and in ASCII, and each identifier whole."""
    seen: dict[str, None] = {}
    for name in names:
        if not name:
            continue
        for variant in (normalize(name, lowercase=True), normalize(name, lowercase=True, ascii=True)):
            for token in (variant or "").split():
                seen.setdefault(token, None)
    for identifier in identifiers:
        if identifier:
            seen.setdefault(identifier.lower(), None)
    return " ".join(seen)


# Cached for the names a file repeats. A record's own reference is met once: a shipment's
# words are not cached, where they pushed a file's repeated names out of the cache.
_search_text = _cached(_search_words)


def _country(value: str | None, field: str, what: str) -> str:
    try:
        return normalize_country(value or "", field)
    except ResolutionError as exc:
        raise ResolutionError(field, f"{what} {exc.message}") from None


@_cached
def normalize_country(value: str, field: str) -> str:
    """ISO 3166-1 alpha-2, upper case, from an alpha-2, alpha-3 or numeric code or an
    English short or official name."""
    value = _required(value, field)
    code = RESERVED_COUNTRY_CODES.get(value.upper())
    if code:
        return code
    try:
        return pycountry.countries.lookup(value).alpha_2
    except LookupError:
        raise ResolutionError(field, f"{quoted(value)} is not an ISO 3166-1 country code") from None


@_cached
def fold_legal_forms(name: str) -> str:
    """The name case-folded and in ASCII, each spelling of a legal form reduced to rigour's
    comparison form: as written (accented and non-Latin forms) and as transliterated
    (spellings such as "beschraenkter" that only exist in ASCII)."""
    folded = rigour_normalize(name or "", NAME_FLAGS) or ""
    folded = replace_org_types_compare(folded, normalize_flags=NAME_FLAGS)
    return replace_org_types_compare(ascii_text(folded), normalize_flags=NAME_FLAGS)


def fold_umlaut_spellings(word: str) -> str:
    """German writes an umlaut out as a following "e" where a keyboard or a register lacks
    it ("Mueller"), and folding to ASCII drops the dots ("Müller" to "muller"): the spellings
    meet only when the "e" goes too. Applied to both sides of every comparison, it joins
    nothing that differs otherwise."""
    return word.replace("ae", "a").replace("oe", "o").replace("ue", "u")


@_cached
def name_fingerprint(name: str) -> str:
    """The order-free, legal-form-aware fingerprint of a company or person name; "" when
    the name has nothing to match on. A name's language is not known, so every name's
    spelled-out umlauts are folded."""
    fingerprint = fingerprints.generate(fold_legal_forms(name))
    if not fingerprint:
        # The library discards names shorter than two characters ("Q"); keep them.
        return normalize(name or "", lowercase=True, ascii=True) or ""
    tokens = sorted({fold_umlaut_spellings(token) for token in fingerprint.split()})
    significant = [token for token in tokens if token not in NAME_NOISE_TOKENS]
    return " ".join(significant or tokens)


def name_similarity(a: str, b: str) -> float:
    """0 to 100: how alike two names are, compared on their fingerprints."""
    fa, fb = name_fingerprint(a), name_fingerprint(b)
    if not fa or not fb:
        return 0.0
    return float(fuzz.ratio(fa, fb))


@_cached
def _name_block(country: str, fingerprint: str) -> str:
    """Country plus the first token of the fingerprint that is not a legal form, so
    "Acme Trading Ltd" and "Acme Tradng BV" land together but not every "... Ltd" does."""
    significant = fingerprints.remove_types(fingerprint).split()
    token = (significant or fingerprint.split())[0]
    return _bounded(f"{country}:{token}", BLOCK_MAX_LENGTH)


@functools.cache
def _legal_form_words() -> frozenset[str]:
    """Every word of every spelling of a company type in the fingerprints library's table
    (ISO 20275 forms and more), as a fingerprint writes it."""
    words: set[str] = set()
    for entry in LEGAL_FORM_TABLE["types"]:
        for form in (entry["main"], *entry["forms"]):
            words.update(fold_umlaut_spellings(word) for word in (clean_name_ascii(form) or "").split())
    return frozenset(words)


@_cached
def name_without_legal_forms(fingerprint: str) -> str:
    """A fingerprint without the words of company types: what two spellings of one name
    still share where the tables fold their legal forms differently ("Pvt. Ltd." against
    "Private Limited", "S.L." against "Sociedad Limitada", which leave "pvt", "private" and
    "sociedad" behind). "" when nothing else is left. It also drops ordinary words some
    types are made of ("import", "international"): a comparison aid for candidates, never
    a key."""
    return " ".join(word for word in fingerprint.split() if word not in _legal_form_words())


@_cached
def company_block(country: str, fingerprint: str) -> str:
    """Country plus the first word of the fingerprint that is neither a word of a company
    type, nor a short abbreviation (three letters or fewer, as the "pvt" and "sl" the tables
    miss), nor a number, so every spelling of a company's legal form leaves it in one block;
    and the name's first number, if it has one. The first significant word
    (`_name_block`) when the name has no other.

    A number sorts first in a fingerprint, and as the block's word it put every company
    named "... 2" of a country in one block, whatever its words: thousands, each compared
    with each new one, a search that grew with every such company stored. The number stays
    in the block, so that "Zaan Motors 2" is still never offered "Zaan Motors 3"."""
    words = fingerprint.split()
    number = next((word for word in words if word.isdigit()), None)
    for word in words:
        if word not in _legal_form_words() and not word.isdigit() and not (word.isalpha() and len(word) <= 3):
            block = f"{country}:{word}" if number is None else f"{country}:{word}:{number}"
            return _bounded(block, BLOCK_MAX_LENGTH)
    return _name_block(country, fingerprint)


def _name(value: str | None, field: str) -> tuple[str, str]:
    name = _required(value, field, "name")
    fingerprint = name_fingerprint(name)
    if not fingerprint:
        raise ResolutionError(field, f"name {quoted(name)} has no letters or digits to match on")
    return name, fingerprint


@_cached
def _registration_modules(country: str) -> tuple[ModuleType, ...]:
    cc = country.lower()
    modules: list[ModuleType] = []
    for name in ("vat", "businessid", *COMPANY_NUMBER_MODULES.get(cc, ())):
        module = get_cc_module(cc, name)
        if module is not None and module not in modules:
            modules.append(module)
    return tuple(modules)


def _compact_identifier(value: str | None) -> str:
    """Upper-case ASCII letters and digits only: separators and spacing carry no meaning."""
    ascii_value = normalize(value or "", lowercase=False, ascii=True) or ""
    return re.sub(r"[^0-9A-Z]", "", ascii_value.upper())


@_cached
def normalize_registration_number(value: str, country: str, field: str) -> str:
    """The canonical, compact form of a company registration or tax number.

    A number that one of the country's stdnum modules accepts takes that module's
    compact form (so "NL004495445B01" and "0044.95.445.B.01" are one number). A number
    with the format of such a number but a wrong check digit is refused, since it can
    only be a typo. Anything else (EORI numbers, Dutch KvK numbers, German HRB numbers
    and other registers stdnum has no module for) is kept, upper case with separators
    removed.
    """
    checksum_failures: list[str] = []
    for module in _registration_modules(country):
        try:
            module.validate(value)
        except InvalidChecksum:
            checksum_failures.append(module.__name__.removeprefix("stdnum."))
        except NumberInvalid:
            continue
        else:
            compact = _compact_identifier(module.compact(value))
            if compact:
                return compact
    if checksum_failures:
        raise ResolutionError(
            field,
            f"registration number {quoted(value)} has a wrong check digit"
            f" (checked as {', '.join(checksum_failures)})",
        )
    compact = _compact_identifier(value)
    if not compact:
        raise ResolutionError(field, f"registration number {quoted(value)} has no letters or digits")
    return compact


# --- resolvers ------------------------------------------------------------------------


def resolve_company(
    name: str, country: str, registration_number: str | None = None, field: str = "company"
) -> Resolved:
    """A company by country and registration or tax number when one is stated, else by
    country and name fingerprint (`at_address` adds the address a row states). The block
    always comes from the name, so a company known by its number still meets its
    name-keyed near-duplicates."""
    name, fingerprint = _name(name, field)
    cc = _country(country, field, "country")
    properties: dict = {"name": name, "country": cc}
    number = (registration_number or "").strip()
    identity = _bounded(f"company:{cc}:{fingerprint}", KEY_MAX_LENGTH)
    if number:
        compact = normalize_registration_number(number, cc, field)
        properties["registration_number"] = compact
        key, tier = f"{cc}:reg:{compact}", TIER_NUMBER
    else:
        key, tier = f"{cc}:name:{fingerprint}", TIER_NAME
    return Resolved(
        type=EntityType.COMPANY.value,
        key=_bounded(key, KEY_MAX_LENGTH),
        block=company_block(cc, fingerprint),
        properties=properties,
        search_text=_search_text(name, identifiers=(properties.get("registration_number"),)),
        identities=((identity, tier),),
    )


def at_address(company: Resolved, address: Resolved) -> Resolved:
    """A company named without a registration number, keyed by its name and the address
    the same statement gives it: two such companies of one name at different addresses
    may be different companies and are not joined on the name alone (they become
    candidates). A company with a number keeps its key: the number is its identity.

    Either way the statement adds the identity of the name at that address, so that where
    several registered companies share a name, the one stated at the address is the one."""
    if company.type != EntityType.COMPANY:
        return company
    digest = hashlib.sha256(address.key.encode()).hexdigest()[:16]
    at = tuple(
        (_bounded(f"{identity}@{digest}", KEY_MAX_LENGTH), tier) for identity, tier in company.identities
    )
    if company.properties.get("registration_number"):
        return replace(company, identities=company.identities + at)
    return replace(
        company,
        key=_bounded(f"{company.key}@{digest}", KEY_MAX_LENGTH),
        identities=tuple((identity, TIER_ADDRESS) for identity, _ in (*company.identities, *at)),
    )


def _date_of_birth(value: str, field: str) -> str:
    try:
        parsed = parse_day(value)
    except ValueError:
        message = f"date of birth {quoted(value)} is not a date in the form YYYY-MM-DD"
        raise ResolutionError(field, message) from None
    if problem := birth_date_problem(parsed):
        raise ResolutionError(field, problem)
    return parsed.isoformat()


def resolve_person(
    name: str,
    country: str,
    date_of_birth: str | None = None,
    field: str = "person",
    *,
    documents: Iterable[str] = (),
) -> Resolved:
    """A person by identity document number when one is stated (the first, in order, of
    the compact numbers, from `identity_document`), else by country (of nationality), name
    fingerprint and date of birth when given.

    Identity: name with date of birth (a person stated by them joins the one person with
    documents of that name and date). A name without a date of birth identifies no one:
    such a person is only ever a candidate, as are two persons whose first documents differ
    (a shared document is evidence the candidate shows)."""
    name, fingerprint = _name(name, field)
    cc = _country(country, field, "country")
    properties: dict = {"name": name, "country": cc}
    key = f"{cc}:{fingerprint}"
    dob = (date_of_birth or "").strip()
    if dob:
        properties["date_of_birth"] = _date_of_birth(dob, field)
        key = f"{key}:{properties['date_of_birth']}"
    numbers = sorted({_compact_identifier(str(number)) for number in documents if str(number).strip()})
    if "" in numbers:
        raise ResolutionError(field, "an identity document number has no letters or digits")
    identities: list[tuple[str, int]] = []
    if numbers:
        properties["documents"] = numbers
        key = f"{cc}:doc:{numbers[0]}"
    if dob:
        identity = f"person:{cc}:{fingerprint}:{properties['date_of_birth']}"
        identities.append((_bounded(identity, KEY_MAX_LENGTH), TIER_NUMBER if numbers else TIER_NAME))
    return Resolved(
        type=EntityType.PERSON.value,
        key=_bounded(key, KEY_MAX_LENGTH),
        block=_name_block(cc, fingerprint),
        properties=properties,
        search_text=_search_text(name, identifiers=(properties.get("date_of_birth"), *numbers)),
        identities=tuple(identities),
    )


IMO_PREFIX = re.compile(r"^IMO[\s:.#-]*", re.IGNORECASE)


def resolve_vessel(
    imo: str, name: str | None = None, flag: str | None = None, field: str = "vessel_imo"
) -> Resolved:
    """A vessel by IMO number ("IMO 9074729", "imo:9074729" or "9074729"), its check
    digit verified; name and flag are what this record states about it."""
    raw = _required(imo, field)
    number = IMO_PREFIX.sub("", raw)
    try:
        number = imo_number.validate(number)
    except InvalidChecksum:
        raise ResolutionError(field, f"{quoted(raw)} is not a valid IMO number: wrong check digit") from None
    except NumberInvalid:
        raise ResolutionError(field, f"{quoted(raw)} is not an IMO number (seven digits)") from None
    properties: dict = {"imo": number}
    vessel_name = (name or "").strip()
    if vessel_name:
        properties["name"] = vessel_name
    if (flag or "").strip():
        properties["flag"] = _country(flag, field, "flag")
    return Resolved(
        type=EntityType.VESSEL.value,
        key=f"imo:{number}",
        block="",
        properties=properties,
        search_text=_search_text(vessel_name, identifiers=(number, f"imo{number}")),
    )


def resolve_container(number: str, field: str = "container") -> Resolved:
    """A container by its ISO 6346 number, check digit verified."""
    raw = _required(number, field)
    try:
        compact = iso6346.validate(re.sub(r"[\s./-]", "", raw))
    except InvalidChecksum:
        message = f"{quoted(raw)} is not a valid ISO 6346 container number: wrong check digit"
        raise ResolutionError(field, message) from None
    except NumberInvalid:
        raise ResolutionError(
            field,
            f"{quoted(raw)} is not an ISO 6346 container number (four letters, six digits, check digit)",
        ) from None
    return Resolved(
        type=EntityType.CONTAINER.value,
        key=compact,
        block="",
        properties={"number": compact},
        search_text=compact.lower(),
    )


def normalize_postcode(value: str | None) -> str:
    return _compact_identifier(value)


@_cached
def normalize_address(text: str, country: str) -> str:
    """Lower-case ASCII words with common abbreviations spelled out."""
    words = (normalize(text, lowercase=True, ascii=True) or "").split()
    if country in GERMAN_SPELLING_COUNTRIES:
        words = [fold_umlaut_spellings(word) for word in words]
    words = _joined_pairs(words, ADDRESS_ABBREVIATION_PAIRS_BY_COUNTRY.get(country, {}))
    table = {**ADDRESS_ABBREVIATIONS, **ADDRESS_ABBREVIATIONS_BY_COUNTRY.get(country, {})}
    out = []
    for index, word in enumerate(words):
        if word == "st":
            # "St" before a name at the start or after a house number is "Saint" ("12 St
            # Peter Street"); elsewhere ("Main St") it is "Street".
            before = words[index - 1] if index else ""
            after = words[index + 1] if index + 1 < len(words) else ""
            if after.isalpha() and (not before or not before.isalpha()):
                out.append("saint")
                continue
        if word in table:
            out.append(table[word])
        elif country in COMPOUND_STREET_COUNTRIES and len(word) > 3 and word.endswith("str"):
            out.append(word[:-3] + table["str"])
        else:
            out.append(word)
    return " ".join(out)


def _joined_pairs(words: list[str], pairs: dict[tuple[str, str], str]) -> list[str]:
    """The words with each abbreviation written as two of them replaced by its word."""
    out: list[str] = []
    index = 0
    while index < len(words):
        pair = tuple(words[index : index + 2])
        if pair in pairs:
            out.append(pairs[pair])
            index += 2
        else:
            out.append(words[index])
            index += 1
    return out


def _without_postcode(words: str, postcode: str) -> str:
    """The words with every run of up to three words that spells the postcode removed."""
    tokens = words.split()
    kept, index = [], 0
    while index < len(tokens):
        for length in (3, 2, 1):
            if "".join(tokens[index : index + length]) == postcode:
                index += length
                break
        else:
            kept.append(tokens[index])
            index += 1
    return " ".join(kept)


def resolve_address(text: str, country: str, postcode: str | None = None, field: str = "address") -> Resolved:
    """An address by country, postcode and normalized text. A postcode repeated inside
    the text is dropped from it, so "Main St 1, 1012 AB Amsterdam" with postcode
    "1012AB" and "Main Street 1 Amsterdam" with postcode "1012 ab" are one address."""
    raw = _required(text, field)
    cc = _country(country, field, "country")
    code = normalize_postcode(postcode)
    normalized = normalize_address(raw, cc)
    if code:
        normalized = _without_postcode(normalized, code.lower())
    if not normalized:
        raise ResolutionError(field, f"address {quoted(raw)} has no letters or digits")
    properties: dict = {"text": raw, "country": cc, "normalized": normalized}
    if code:
        properties["postcode"] = code
    return Resolved(
        type=EntityType.ADDRESS.value,
        key=_bounded(f"{cc}:{code}:{normalized}", KEY_MAX_LENGTH),
        block="",
        properties=properties,
        search_text=_search_text(normalized, raw, identifiers=(code,)),
    )


@_cached
def _phone_forms(value: str, region: str | None, field: str) -> tuple[str, str, str | None]:
    """E.164, national form and region of a written number."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        hint = "" if region else " (without a country it needs its +country code)"
        raise ResolutionError(field, f"{quoted(value)} is not a phone number{hint}") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ResolutionError(field, f"{quoted(value)} is not a valid phone number")
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164),
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.region_code_for_number(parsed),
    )


def resolve_phone(raw: str, country: str | None = None, field: str = "phone") -> Resolved:
    """A phone number in E.164; `country` is the region for numbers written nationally."""
    value = _required(raw, field)
    region = _country(country, field, "country") if (country or "").strip() else None
    e164, national, number_region = _phone_forms(value, region, field)
    properties: dict = {"number": e164}
    if number_region and number_region != "ZZ":
        properties["country"] = number_region
    return Resolved(
        type=EntityType.PHONE.value,
        key=e164,
        block="",
        properties=properties,
        search_text=" ".join(dict.fromkeys([e164, e164.lstrip("+"), re.sub(r"\D", "", national)])),
    )


def resolve_email(raw: str, field: str = "email") -> Resolved:
    value = _required(raw, field)
    address = re.sub(r"^mailto:", "", value, flags=re.IGNORECASE).strip().lower()
    try:
        validate_email(address)
    except ValidationError:
        raise ResolutionError(field, f"{quoted(value)} is not a valid email address") from None
    return Resolved(
        type=EntityType.EMAIL.value,
        key=address,
        block="",
        properties={"email": address},
        search_text=address,
    )


def resolve_shipment(agency_code: str, external_ref: str) -> Resolved:
    """A shipment as one agency refers to it; another agency's reference is another key."""
    code = _required(agency_code, "agency", "agency code")
    ref = _required(external_ref, "external_ref")
    return Resolved(
        type=EntityType.SHIPMENT.value,
        key=_bounded(f"{code}:{ref}", KEY_MAX_LENGTH),
        block="",
        properties={"agency": code, "external_ref": ref},
        search_text=_search_words(ref, identifiers=(ref,)),
    )


# --- identity documents and consignment references ------------------------------------

# National personal identification numbers that python-stdnum checks but does not alias as
# a country's "personalid" module; the alias is always tried first.
PERSONAL_ID_MODULES: dict[str, tuple[str, ...]] = {
    "nl": ("bsn",),
    "de": ("idnr",),
    "fr": ("nir",),
    "es": ("dni",),
    "it": ("codicefiscale",),
    "pl": ("pesel",),
    "lt": ("asmens",),
    "cz": ("rc",),
    "sk": ("rc",),
    "ro": ("cnp",),
    "bg": ("egn",),
    "gr": ("amka",),
    "pt": ("cc",),
    "ie": ("pps",),
    "ch": ("ssn",),
    "hr": ("oib",),
    "si": ("emso",),
    "is": ("kennitala",),
    "us": ("ssn",),
    "br": ("cpf",),
    "cn": ("ric",),
    "tr": ("tckimlik",),
    "za": ("idnr",),
    "in": ("aadhaar",),
    "mx": ("curp",),
    "ar": ("dni",),
    "cl": ("rut",),
    "ec": ("ci",),
    "il": ("idnr",),
    "kr": ("rrn",),
    "my": ("nric",),
    "th": ("pin",),
    "ua": ("rntrc",),
}
IDENTITY_DOCUMENT_TYPES = ("national_id", "passport")
# ICAO 9303 gives a passport number nine characters in the machine-readable zone, longer
# ones continuing in its optional data; states' own formats differ, so only the shape is
# checked.
PASSPORT_NUMBER = re.compile(r"(?=[A-Z]*[0-9])[A-Z0-9]{6,20}")
UNCHECKED_ID_NUMBER = re.compile(r"[A-Z0-9]{4,20}")


def _personal_id_modules(country: str) -> list[ModuleType]:
    cc = country.lower()
    modules: list[ModuleType] = []
    for name in ("personalid", *PERSONAL_ID_MODULES.get(cc, ())):
        module = get_cc_module(cc, name)
        if module is not None and module not in modules:
            modules.append(module)
    return modules


def identity_document(kind: str, number: str, country: str, field: str) -> str:
    """The compact number of an identity document a person holds, issued by `country`
    (ISO 3166-1 alpha-2): a national personal identification number, validated (format and
    check digits) by the country's python-stdnum module where there is one, else checked for
    shape; or a passport number, checked for shape only."""
    raw = _required(number, field)
    if kind not in IDENTITY_DOCUMENT_TYPES:
        raise ResolutionError(field, f"{quoted(kind)} is not one of {', '.join(IDENTITY_DOCUMENT_TYPES)}")
    compact = _compact_identifier(raw)
    if kind == "passport":
        if not PASSPORT_NUMBER.fullmatch(compact):
            raise ResolutionError(
                field, f"{quoted(raw)} is not a passport number (6 to 20 letters and digits, with a digit)"
            )
        return compact
    modules = _personal_id_modules(country)
    for module in modules:
        try:
            module.validate(raw)
        except NumberInvalid:
            continue
        return _compact_identifier(module.compact(raw))
    if modules:
        names = ", ".join(module.__name__.removeprefix("stdnum.") for module in modules)
        message = f"is not a valid {country} identity number (checked as {names})"
        raise ResolutionError(field, f"{quoted(raw)} {message}")
    if not UNCHECKED_ID_NUMBER.fullmatch(compact):
        raise ResolutionError(field, f"{quoted(raw)} is not an identity number (4 to 20 letters and digits)")
    return compact


# The EU Movement Reference Number (Union Customs Code, Delegated Regulation (EU) 2015/2446,
# Annex B; NCTS before it): year (2 digits), country (2 letters), 13 letters or digits (the
# last the procedure's letter under the UCC), and a check digit computed with ISO 6346's
# algorithm over the 17 characters before it.
MRN = re.compile(r"[0-9]{2}[A-Z]{2}[A-Z0-9]{13}[0-9]")
# The WCO Unique Consignment Reference (an..35): year (1 digit), the country's alpha-2
# code, then the trader's identifier and reference; its standard (ISO 15459) has no check
# digit, so only the shape is checked.
UCR = re.compile(r"[0-9][A-Z]{2}[A-Z0-9()+\-./:]{1,32}")


def normalize_consignment_reference(value: str, field: str = "consignment_ref") -> tuple[str, str]:
    """("mrn" or "ucr", the reference upper case without spaces): an MRN is two digits and
    two letters, a UCR one digit and two letters, so the shape tells them apart."""
    raw = _required(value, field)
    reference = re.sub(r"\s", "", raw).upper()
    if re.match(r"[0-9]{2}[A-Z]", reference):
        if not MRN.fullmatch(reference):
            raise ResolutionError(
                field,
                f"{quoted(raw)} is not an MRN (2 digits, 2 letters, 13 letters or digits, a check digit)",
            )
        if iso6346.calc_check_digit(reference[:17]) != reference[17]:
            raise ResolutionError(field, f"{quoted(raw)} is not a valid MRN: wrong check digit")
        return "mrn", reference
    if not UCR.fullmatch(reference):
        raise ResolutionError(
            field,
            f"{quoted(raw)} is neither an MRN nor a UCR (1 digit for the year, a country code, "
            "then up to 32 letters, digits and - / ( ) + . :)",
        )
    return "ucr", reference


def resolve_consignment(
    reference: str, agency_code: str, external_ref: str, field: str = "consignment_ref"
) -> Resolved:
    """A shipment by its consignment reference (MRN or UCR), which every agency's records
    about the consignment share: keyed `mrn/<MRN>` or `ucr/<UCR>` ("/" is never in an
    agency code, so these keys never meet `resolve_shipment`'s)."""
    kind, compact = normalize_consignment_reference(reference, field)
    code = _required(agency_code, "agency", "agency code")
    ref = _required(external_ref, "external_ref")
    return Resolved(
        type=EntityType.SHIPMENT.value,
        key=f"{kind}/{compact}",
        block="",
        properties={"consignment_ref": compact, "reference_type": kind, "agency": code, "external_ref": ref},
        search_text=_search_words(ref, identifiers=(ref, compact)),
    )
