"""The bench dataset the HTTP and load stages serve: records, entities, mentions, links,
agreements in mixed states, releases (by name and onward), explicit grants, disclosure
requests, and the users who sign in. Loaded with PostgreSQL COPY, not the ORM: a million
records and the rows that go with them load in minutes.

Twenty agencies own the records evenly. Fifty agreements bind them, in mixed states
(in force, suspended, expired, proposed, terminated, draft), drawn so that the first
agencies are party to many and the last to few: some agencies see a lot, some little.
Owners release 30% of their records to every covering agreement and 10% by name to one
agreement they provide under; a fifth of those named releases are released onward by a
recipient, where the agreement allows it. Every agency holds explicit grants on 1% of
the others' records (some expired). Five agencies' liaison officers have a queue of
pending disclosure requests.

Every table is written through `copy_rows`, which fills each column the model has from the
row given or the model's default. A column the model gives a callable default (a
`UUIDField(default=uuid.uuid4)`) gets a fresh value per row with no change here; a column
with a per-row value the model does not produce is one line in `PER_ROW`.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC as utc
from datetime import date, datetime, timedelta

from bench.common import ensure_agencies, reset_data, vacuum_analyze

PURPOSE = "risk_assessment"
OTHER_PURPOSES = ("investigation", "intelligence", "prosecution")
PASSWORD = "bench-password-not-secret-7c1f"  # noqa: S105 (bench users on the bench database only)
LIAISON_AGENCIES = (0, 3, 8, 13, 19)  # from the best-connected agency to the least
PENDING_REQUESTS_PER_LIAISON = 100
ANALYSTS = 50

# Per-row values of columns, by table, beyond what the models' defaults give: each entry
# is called once per row. A public id the model does not default is one line per table
# (and `import uuid`):  "intel_record": {"public_id": uuid.uuid4},
# Agreements, their parties and the users are created through the ORM, with the models'
# own defaults.
PER_ROW: dict[str, dict[str, Callable[[], object]]] = {
    "intel_record": {},
    "intel_entity": {},
    "intel_mention": {},
    "intel_link": {},
    "sharing_recordrelease": {},
    "intel_recordgroupobjectpermission": {},
    "sharing_disclosurerequest": {},
    "sharing_disclosurerequest_records": {},
}

CATEGORIES = ("shipment",) * 17 + ("inspection",) * 2 + ("seizure",)
PORTS = ("NLRTM", "BEANR", "DEHAM", "CNSHA", "VNSGN", "USNYC", "SGSIN", "AEJEA", "BRSSZ", "ESALG")
HS = ("030389", "240220", "847130", "610910", "760429", "080390", "851713", "640411")
WORDS = (
    "nordic", "harbor", "atlas", "orient", "delta", "meridian", "baltic", "summit", "zenith",
    "pioneer", "coastal", "union", "global", "pacific", "falcon", "crescent", "granite", "lotus",
)  # fmt: skip
SUFFIXES = ("Trading", "Logistics", "Import Export", "Shipping", "Holdings", "Freight")
STATES = ("active",) * 36 + ("suspended",) * 4 + ("expired",) * 3 + ("proposed",) * 3
STATES += ("terminated",) * 2 + ("draft",) * 2


@dataclass
class Dataset:
    records: int
    agencies: int
    agreements: dict[str, int] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    table_sizes: dict[str, str] = field(default_factory=dict)
    load_seconds: float = 0.0


def copy_rows(cursor, model, rows: Iterable[dict], table: str | None = None) -> int:
    """COPYs `rows` (column -> value) into `model`'s table (or `table`, for an automatic
    many-to-many table), every column the model has: the row's value, else a per-row value
    (`PER_ROW`, or the field's callable default), else the field's default. The primary
    key is written only when the rows give it."""
    from django.db.models import JSONField

    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    table = table or model._meta.db_table
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.column not in first)]
    fixed: dict[str, object] = {}
    per_row = dict(PER_ROW.get(table, {}))
    for f in fields:
        encode = json.dumps if isinstance(f, JSONField) else (lambda value: value)
        if f.column in per_row:
            continue
        if f.has_default() and callable(f.default):
            per_row[f.column] = lambda f=f, encode=encode: encode(f.get_default())
        else:
            fixed[f.column] = encode(f.get_default())
    columns = list(dict.fromkeys([*(f.column for f in fields), *per_row]))
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in itertools.chain([first], rows):
            copy.write_row(
                tuple(row[c] if c in row else per_row[c]() if c in per_row else fixed[c] for c in columns)
            )
            count += 1
    return count


@dataclass
class BenchAgreement:
    pk: int
    categories: tuple[str, ...]
    ceiling: int
    providers: tuple[int, ...]
    receivers: tuple[int, ...]
    in_force: bool
    onward: bool
    redacted: list[str]


def populate(records: int, agency_count: int = 20, seed: int = 7) -> Dataset:
    """Replaces the bench data with `records` records and everything that goes with them."""
    from django.contrib.auth.models import Permission
    from django.db import connection, transaction

    from intel.models import Entity, Link, Mention, Record, RecordGroupObjectPermission
    from sharing.models import DisclosureRequest, RecordRelease

    started = time.perf_counter()
    reset_data()
    agencies = ensure_agencies(agency_count)
    ids = [a.pk for a in agencies]
    users = create_users(agencies)
    rnd = random.Random(seed)
    now = datetime.now(tz=utc)
    stats = Dataset(records=records, agencies=agency_count)
    agreements = create_agreements(ids, rnd, now)
    stats.agreements = {state: STATES.count(state) for state in dict.fromkeys(STATES)}
    in_force = [a for a in agreements if a.in_force]
    provides_under = {agency: [a for a in in_force if agency in a.providers] for agency in ids}
    entity_pools = {
        "company": max(60, records // 8),
        "vessel": max(20, records // 200),
        "container": max(40, records // 3),
        "phone": max(20, records // 25),
    }
    first_entity = {}
    next_id = 1
    for kind, size in entity_pools.items():
        first_entity[kind] = next_id
        next_id += size

    # In steps, each committed and analysed before the next: the foreign keys are checked
    # at COMMIT against fresh statistics (against a table the planner believed empty, each
    # check scanned the whole table).
    named: list[tuple[int, BenchAgreement, int]] = []
    with transaction.atomic(), connection.connection.cursor() as cursor:

        def record_rows():
            first_day = date(2023, 1, 1)
            for pk in range(1, records + 1):
                owner = ids[pk % agency_count]
                values = _record_values(pk, owner, rnd, first_day, now)
                roll = rnd.random()
                if roll < 0.3:
                    values["releasability"] = "covering"
                elif roll < 0.4 and provides_under[owner]:
                    values["releasability"] = "named"
                    named.append((pk, rnd.choice(provides_under[owner]), owner))
                yield values

        stats.rows["records"] = copy_rows(cursor, Record, record_rows())
        cursor.execute("SELECT setval(pg_get_serial_sequence('intel_record', 'id'), %s)", [records])
        stats.rows["entities"] = copy_rows(cursor, Entity, _entity_rows(entity_pools, now))
        cursor.execute("SELECT setval(pg_get_serial_sequence('intel_entity', 'id'), %s)", [next_id - 1])
    vacuum_analyze("intel_record", "intel_entity")

    with transaction.atomic(), connection.connection.cursor() as cursor:
        mentions, links = _mention_and_link_rows(records, entity_pools, first_entity, rnd)
        stats.rows["mentions"] = copy_rows(cursor, Mention, mentions)
        stats.rows["links"] = copy_rows(cursor, Link, links)
        releases = _release_rows(named, in_force, rnd, now)
        stats.rows["releases"] = copy_rows(cursor, RecordRelease, releases)
        stats.rows["onward_releases"] = sum(1 for r in releases if r["hops"])
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('sharing_recordrelease', 'id'), %s)", [len(releases)]
        )
        perms = {
            p.codename: p.pk
            for p in Permission.objects.filter(content_type__app_label="intel", content_type__model="record")
        }
        stats.rows["permissions"] = copy_rows(
            cursor, RecordGroupObjectPermission, _permission_rows(records, agencies, perms, rnd, now)
        )
        requests, request_records = _request_rows(records, agency_count, ids, users, rnd, now)
        stats.rows["disclosure_requests"] = copy_rows(cursor, DisclosureRequest, requests)
        copy_rows(
            cursor,
            DisclosureRequest.records.through,
            request_records,
            table=DisclosureRequest.records.through._meta.db_table,
        )
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('sharing_disclosurerequest', 'id'), %s)", [len(requests)]
        )
    tables = (
        "intel_record",
        "intel_entity",
        "intel_mention",
        "intel_link",
        "sharing_recordrelease",
        "intel_recordgroupobjectpermission",
        "sharing_disclosurerequest",
    )
    vacuum_analyze(*tables)
    stats.load_seconds = round(time.perf_counter() - started, 1)
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute("SELECT pg_size_pretty(pg_total_relation_size(%s))", [table])
            stats.table_sizes[table] = cursor.fetchone()[0]
    return stats


def create_users(agencies: list) -> dict[str, list]:
    """ANALYSTS analysts spread over the agencies, a liaison officer (with a TOTP device, as
    the role requires) for each of LIAISON_AGENCIES, all with PASSWORD."""
    from django.contrib.auth.hashers import make_password
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from agencies.models import ApiToken, User

    ApiToken.objects.filter(user__username__startswith="bench-").delete()
    TOTPDevice.objects.filter(user__username__startswith="bench-").delete()
    User.objects.filter(username__startswith="bench-").delete()
    password = make_password(PASSWORD)  # hashed once: argon2 is slow on purpose
    analysts = User.objects.bulk_create(
        User(
            username=f"bench-analyst-{index:02d}",
            agency=agencies[index % len(agencies)],
            role=User.Role.ANALYST,
            password=password,
        )
        for index in range(ANALYSTS)
    )
    liaisons = User.objects.bulk_create(
        User(
            username=f"bench-liaison-{agencies[index].code}",
            agency=agencies[index],
            role=User.Role.LIAISON,
            password=password,
        )
        for index in LIAISON_AGENCIES
    )
    for liaison in liaisons:
        TOTPDevice.objects.create(user=liaison, name="bench", confirmed=True)
    return {"analysts": analysts, "liaisons": liaisons}


def credentials() -> dict[str, list[dict]]:
    """Who signs in for the HTTP and load stages: username, password, agency code, and the
    liaisons' TOTP secrets (base32, as an authenticator app holds them)."""
    import base64

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from agencies.models import User

    def row(user) -> dict:
        device = TOTPDevice.objects.filter(user=user).first()
        secret = base64.b32encode(bytes.fromhex(device.key)).decode() if device else None
        return {"username": user.username, "password": PASSWORD, "agency": user.agency.code, "totp": secret}

    users = User.objects.filter(username__startswith="bench-").select_related("agency").order_by("username")
    return {
        "analysts": [row(u) for u in users if u.role == User.Role.ANALYST],
        "liaisons": [row(u) for u in users if u.role == User.Role.LIAISON],
    }


def fresh_devices() -> None:
    """The bench's second-factor devices as their phones set them up, and its users not
    locked out: the clock drift, the codes taken, the failures and the lock-outs an earlier
    run caused (django-otp and django-axes keep them; a lock-out of the address all bench
    users sign in from lasts AUTH_LOCKOUT_MINUTES) are not this run's."""
    from axes.models import AccessAttempt
    from django_otp.plugins.otp_totp.models import TOTPDevice

    # A code is taken once (last_t): a run begun within 30 s of another's last sign-in was
    # refused its first.
    TOTPDevice.objects.filter(user__username__startswith="bench-").update(
        drift=0, throttling_failure_count=0, throttling_failure_timestamp=None, last_t=-1
    )
    AccessAttempt.objects.filter(username__startswith="bench-").delete()


def create_agreements(agency_ids: list[int], rnd: random.Random, now: datetime) -> list[BenchAgreement]:
    """len(STATES) agreements, every one permitting PURPOSE but a few; parties drawn with a
    weight falling steeply from the first agency to the last."""
    from sharing.models import Agreement, AgreementParty

    weights = [(len(agency_ids) - index) ** 2 for index in range(len(agency_ids))]
    created = []
    for index, state in enumerate(STATES):
        size = rnd.randint(2, 6)
        parties: list[int] = []
        while len(parties) < size:
            agency = rnd.choices(agency_ids, weights)[0]
            if agency not in parties:
                parties.append(agency)
        categories = tuple(sorted(rnd.sample(("shipment", "inspection", "seizure"), rnd.randint(1, 3))))
        signed = state not in ("proposed", "draft")
        agreement = Agreement.objects.create(
            reference=f"BENCH-{index:03d}",
            title=f"Bench agreement {index}",
            status=state,
            starts_at=now - timedelta(days=400),
            ends_at=now - timedelta(days=1) if state == "expired" else now + timedelta(days=400),
            categories=list(categories),
            classification_ceiling=rnd.choice((1, 1, 2, 3)),
            purposes=[PURPOSE, *rnd.sample(OTHER_PURPOSES, rnd.randint(0, 2))]
            if index % 12
            else ["prosecution"],
            redacted_fields=rnd.choice(([], [], ["phone"], ["phone", "email"])),
            onward_sharing_allowed=rnd.random() < 0.4,
            fully_signed_at=now - timedelta(days=400) if signed else None,
        )
        provides = {agency: rnd.random() >= 0.2 for agency in parties}
        AgreementParty.objects.bulk_create(
            AgreementParty(
                agreement=agreement,
                agency_id=agency,
                provides=provides[agency],
                receives=True,
                signed_at=agreement.fully_signed_at,
            )
            for agency in parties
        )
        created.append(
            BenchAgreement(
                agreement.pk,
                categories,
                agreement.classification_ceiling,
                tuple(a for a in parties if provides[a]),
                tuple(parties),
                state == "active" and PURPOSE in agreement.purposes,
                agreement.onward_sharing_allowed,
                agreement.redacted_fields,
            )
        )
    return created


def _record_values(pk: int, owner_id: int, rnd: random.Random, first_day: date, now: datetime) -> dict:
    category = rnd.choice(CATEGORIES)
    details = {
        "port_of_loading": rnd.choice(PORTS),
        "port_of_discharge": rnd.choice(PORTS),
        "hs_codes": [rnd.choice(HS)],
        "declared_value": f"{rnd.randrange(500, 500_000)}.00",
        "currency": "EUR",
    }
    return {
        "id": pk,
        "owner_id": owner_id,
        "external_ref": f"REC-{pk:08d}",
        "category": category,
        "classification": rnd.choice((0, 1, 1, 2)),
        "caveats": "[]",
        "summary": f"{category.title()} of goods declared at {details['port_of_discharge']}",
        "occurred_on": first_day + timedelta(days=rnd.randrange(1185)),
        "details": json.dumps(details),
        "created_at": now,
        "updated_at": now,
        "content_hash": "",
    }


def _company_name(index: int) -> str:
    first, second = WORDS[index % len(WORDS)], WORDS[(index // len(WORDS)) % len(WORDS)]
    return f"{first.title()} {second.title()} {SUFFIXES[index % len(SUFFIXES)]} {index}"


def _entity_facts(kind: str, index: int) -> tuple[str, dict, str]:
    """(key, properties, search text) of the `index`th entity of a kind."""
    if kind == "company":
        name = _company_name(index)
        return f"NL:name:{name.lower()}", {"name": name, "country": "NL"}, name.lower()
    if kind == "vessel":
        imo = f"{9_000_000 + index}"
        name = f"MV {WORDS[index % len(WORDS)].title()} {index}"
        return f"imo:{imo}", {"name": name, "imo": imo}, f"{name.lower()} {imo}"
    if kind == "container":
        number = f"BNCU{index:07d}"
        return f"container:{number}", {"number": number}, number.lower()
    number = f"+3110{index:07d}"
    return f"phone:{number}", {"number": number}, number


def _entity_rows(pools: dict[str, int], now: datetime) -> Iterable[dict]:
    pk = 0
    for kind, size in pools.items():
        for index in range(size):
            pk += 1
            key, _, _ = _entity_facts(kind, index)
            yield {"id": pk, "type": kind, "key": key, "block": key[:120], "created_at": now}


def _mention_and_link_rows(
    records: int, pools: dict[str, int], first: dict[str, int], rnd: random.Random
) -> tuple[list[dict], list[dict]]:
    """Per record: importer, exporter, vessel, container, and for one in four a phone;
    links exporter -> importer, container -> vessel, importer -> phone. Half the company
    draws follow a long tail, so the busiest companies (forwarders, large importers) appear
    in thousands of records each; the other half are uniform, so every company of the pool
    appears in a few (an entity comes into the table from a record that names it: no
    company is named by none)."""
    mentions, links = [], []

    def pick(kind: str) -> tuple[int, int]:
        size = pools[kind]
        if kind == "company" and rnd.random() < 0.5:
            index = min(size - 1, int((rnd.paretovariate(1.2) - 1) * 50))
            index = (index * 7919 + rnd.randrange(2) * size // 2) % size
        else:
            index = rnd.randrange(size)
        return first[kind] + index, index

    for pk in range(1, records + 1):
        importer, exporter = pick("company"), pick("company")
        while exporter == importer:
            exporter = pick("company")
        chosen = [("importer", "company", importer), ("exporter", "company", exporter)]
        chosen += [("vessel", "vessel", pick("vessel")), ("container", "container", pick("container"))]
        if rnd.random() < 0.25:
            chosen.append(("phone", "phone", pick("phone")))
        for role, kind, (entity_id, index) in chosen:
            key, properties, search = _entity_facts(kind, index)
            mentions.append(
                {
                    "record_id": pk,
                    "entity_id": entity_id,
                    "entity_type": kind,
                    "role": role,
                    "properties": json.dumps(properties),
                    "resolved_key": key,
                    "search_text": search,
                }
            )
        by_role = {role: entity for role, _, (entity, _) in chosen}
        kind_of = {role: kind for role, kind, _ in chosen}
        pairs = [("exporter", "importer", "CONSIGNED_TO"), ("container", "vessel", "CARRIED_BY")]
        pairs += [("importer", "phone", "CONTACT")] if "phone" in by_role else []
        for source, target, kind in pairs:
            links.append(
                {
                    "record_id": pk,
                    "source_id": by_role[source],
                    "target_id": by_role[target],
                    "source_type": kind_of[source],
                    "target_type": kind_of[target],
                    "type": kind,
                    "properties": "{}",
                }
            )
    return mentions, links


def _release_rows(
    named: list[tuple[int, BenchAgreement, int]], in_force: list[BenchAgreement], rnd: random.Random, now
) -> list[dict]:
    """The owners' releases by name, and for a fifth of those under an agreement allowing
    onward sharing, one onward release by a recipient under an agreement it provides under."""
    rows = []
    for pk, agreement, owner in named:
        rows.append(
            {
                "id": len(rows) + 1,
                "record_id": pk,
                "agreement_id": agreement.pk,
                "released_by_id": owner,
                "released_at": now,
                "basis_agreement_id": None,
                "basis_id": None,
                "hops": 0,
                "inherited_redactions": "[]",
            }
        )
        if not agreement.onward or rnd.random() >= 0.2:
            continue
        recipient = rnd.choice([a for a in agreement.receivers if a != owner] or [owner])
        onward = [a for a in in_force if recipient in a.providers and a.pk != agreement.pk]
        if recipient == owner or not onward:
            continue
        rows.append(
            {
                "id": len(rows) + 1,
                "record_id": pk,
                "agreement_id": rnd.choice(onward).pk,
                "released_by_id": recipient,
                "released_at": now,
                "basis_agreement_id": agreement.pk,
                "basis_id": rows[-1]["id"],
                "hops": 1,
                "inherited_redactions": json.dumps(agreement.redacted),
            }
        )
    return rows


def _permission_rows(records: int, agencies: list, perms: dict, rnd: random.Random, now) -> Iterable[dict]:
    """The owner's change and delete rows as the importer writes them, and explicit view
    grants on 1% of every other agency's records (a fifth with an expiry, some past)."""
    for pk in range(1, records + 1):
        owner = agencies[pk % len(agencies)]
        for codename in ("change_record", "delete_record"):
            yield {
                "content_object_id": pk,
                "group_id": owner.group_id,
                "permission_id": perms[codename],
                "expires_at": None,
            }
        for grantee in agencies:
            if grantee.pk == owner.pk or rnd.random() >= 0.01:
                continue
            roll = rnd.random()
            expires = (
                None if roll < 0.8 else now + timedelta(days=30) if roll < 0.95 else now - timedelta(days=1)
            )
            yield {
                "content_object_id": pk,
                "group_id": grantee.group_id,
                "permission_id": perms["view_record"],
                "expires_at": expires,
            }


def _request_rows(
    records: int, agency_count: int, ids: list[int], users: dict, rnd: random.Random, now
) -> tuple[list[dict], list[dict]]:
    """PENDING_REQUESTS_PER_LIAISON pending disclosure requests to each liaison's agency
    from analysts of the others, each for three of the owner's records."""
    requests, links = [], []
    analysts = users["analysts"]
    for owner_index in LIAISON_AGENCIES:
        askers = [a for a in analysts if a.agency_id != ids[owner_index]]
        owned = range(owner_index or agency_count, records + 1, agency_count)
        for _ in range(PENDING_REQUESTS_PER_LIAISON):
            asker = rnd.choice(askers)
            pk = len(requests) + 1
            requests.append(
                {
                    "id": pk,
                    "kind": "disclosure",
                    "requester_id": asker.pk,
                    "requesting_agency_id": asker.agency_id,
                    "owner_id": ids[owner_index],
                    "entity_id": None,
                    "purpose": PURPOSE,
                    "justification": "Bench: the importer appears in our own seizures.",
                    "urgency": rnd.choice(("routine", "routine", "urgent")),
                    "status": "pending",
                    "created_at": now - timedelta(hours=rnd.randrange(200)),
                    "due_at": now + timedelta(hours=rnd.randrange(-48, 240)),
                }
            )
            for record_id in rnd.sample(owned, min(3, len(owned))):
                links.append({"disclosurerequest_id": pk, "record_id": record_id})
    return requests, links
