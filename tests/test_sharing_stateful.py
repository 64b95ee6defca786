"""Random sequences of sharing actions; after each step, what every analyst can read
through every endpoint equals an independent oracle.

The oracle keeps its own model of records, agreements, signatures, grants, onward
releases (chains of any length) and the clock, and applies the rules of DESIGN.md to it in
plain Python. It never calls the
choke point (`visible_to`) or the sharing services' own checks to decide what is visible;
it also predicts which actions the services must refuse.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from intel.access import ANY_PURPOSE
from intel.models import Entity, Link, Mention, Record
from intel.rights import grant_owner_rights
from intel.services import update_record
from sharing import agreements, releases, requests
from sharing.models import Agreement, DisclosureRequest, RecordRelease
from tests.sharing_helpers import platform_admin, staff

AGENCIES = 3
CATEGORIES = ["shipment", "seizure"]
PURPOSES = ["investigation", "risk_assessment"]
READ_PURPOSE = "investigation"
REDACTABLE = ["summary", "phone"]
PHONE = "+31105550199"
ONWARD_MAX_HOPS = 3  # the default of the setting, stated here rather than read from the code
START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class ModelAgreement:
    pk: int
    parties: dict[int, tuple[bool, bool]]  # agency index -> (provides, receives)
    categories: set[str]
    ceiling: int
    purposes: set[str]
    discovery: bool
    starts_at: datetime
    ends_at: datetime
    onward: bool = False
    redacted: set[str] = field(default_factory=set)
    status: str = "draft"  # draft, proposed, suspended, terminated, or "signed" (fully)
    signed: set[int] = field(default_factory=set)

    def in_force(self, now: datetime) -> bool:
        return (
            self.status not in ("draft", "suspended", "terminated", "superseded")
            and self.signed == set(self.parties)
            and self.starts_at <= now < self.ends_at
        )


@dataclass
class ModelRecord:
    pk: int
    public_id: str  # what the API names it by
    owner: int
    category: str
    classification: int
    releasability: str = "none"
    named: set[int] = field(default_factory=set)
    no_onward: bool = False
    # Agencies the owner consented to onward sharing despite the handling code.
    onward_consents: set = field(default_factory=set)
    # (agreement, releasing agency) -> (basis agreement, basis release key or None)
    onward: dict[tuple[int, int], tuple[int, tuple[int, int] | None]] = field(default_factory=dict)

    def covered_by(self, agreement: ModelAgreement) -> bool:
        return self.category in agreement.categories and self.classification <= agreement.ceiling

    def drop_releases_through(self, gone: set[tuple[int, int]]) -> None:
        """A release row deleted takes the onward releases built on it along (cascade)."""
        while gone:
            gone = {key for key, (_, parent) in self.onward.items() if parent in gone}
            for key in gone:
                del self.onward[key]


class SharingMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.staff = [staff(f"ag{i}") for i in range(AGENCIES)]
        self.agency_index = {member.agency.pk: i for i, member in enumerate(self.staff)}
        self.admin = platform_admin()
        self.records: list[ModelRecord] = []
        self.agreements: list[ModelAgreement] = []
        self.grants: dict[tuple[int, int], datetime] = {}  # (record pk, agency) -> expiry
        self.entity = Entity.objects.create(type="company", key="NL:name:common importer")
        self.phone = Entity.objects.create(type="phone", key=PHONE)

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)
        self.traveller.stop()

    def now(self) -> datetime:
        return timezone.now()

    # --- the oracle ------------------------------------------------------------------

    def agreement(self, pk: int) -> ModelAgreement:
        return next(a for a in self.agreements if a.pk == pk)

    @staticmethod
    def role(agreement: ModelAgreement, agency: int) -> tuple[bool, bool]:
        return agreement.parties.get(agency, (False, False))

    @staticmethod
    def permits(agreement: ModelAgreement, purpose: str | None) -> bool:
        return purpose == "*" or purpose in agreement.purposes

    def release_holds(self, record: ModelRecord, key: tuple[int, int], purpose: str | None) -> bool:
        """The owner's own release by name, or an onward release whose whole chain holds now."""
        agreement_pk, releaser = key
        if releaser == record.owner:
            return record.releasability == "named" and agreement_pk in record.named
        basis_pk, parent = record.onward[key]
        basis = self.agreement(basis_pk)
        if not (
            basis.in_force(self.now())
            and basis.onward
            and self.role(basis, releaser)[1]
            and record.covered_by(basis)
            and self.permits(basis, purpose)
            and self.onward_allowed(record, releaser)
        ):
            return False
        if parent is None:
            return record.releasability == "covering" and self.role(basis, record.owner)[0]
        return (
            parent[0] == basis_pk
            and self.role(basis, parent[1])[0]
            and self.release_holds(record, parent, purpose)
        )

    @staticmethod
    def onward_allowed(record: ModelRecord, releaser: int) -> bool:
        return not record.no_onward or releaser in record.onward_consents

    def release_keys(self, record: ModelRecord) -> list[tuple[int, int]]:
        return [(pk, record.owner) for pk in record.named] + list(record.onward)

    def received_under(
        self, agency: int, record: ModelRecord, purpose: str | None, onward_only=False
    ) -> list:
        """How the agency holds the record under agreements: (agreement, release key or None
        for the owner's covering releasability), each holding now."""
        ways = []
        for agreement in self.agreements:
            if not (
                agreement.in_force(self.now())
                and self.role(agreement, agency)[1]
                and record.covered_by(agreement)
                and self.permits(agreement, purpose)
                and (agreement.onward or not onward_only)
            ):
                continue
            if record.releasability == "covering" and self.role(agreement, record.owner)[0]:
                ways.append((agreement.pk, None))
            for key in self.release_keys(record):
                if (
                    key[0] == agreement.pk
                    and self.role(agreement, key[1])[0]
                    and self.release_holds(record, key, purpose)
                ):
                    ways.append((agreement.pk, key))
        return ways

    def releasers(self, record: ModelRecord, key: tuple[int, int] | None) -> set[int]:
        if key is None or key[1] == record.owner:
            return set()
        return {key[1]} | self.releasers(record, record.onward[key][1])

    def hops(self, record: ModelRecord, key: tuple[int, int] | None) -> int:
        if key is None or key[1] == record.owner:
            return 0
        return 1 + self.hops(record, record.onward[key][1])

    def chain_redactions(self, record: ModelRecord, key: tuple[int, int] | None) -> set[str]:
        """What the agreements up an onward chain redact (the owner's own release: nothing)."""
        if key is None or key[1] == record.owner:
            return set()
        basis_pk, parent = record.onward[key]
        return self.agreement(basis_pk).redacted | self.chain_redactions(record, parent)

    def redactions_of_each_way(self, agency: int, record: ModelRecord, purpose: str | None) -> list[set[str]]:
        """For each way the agency holds the record by, what hides from it (owner and grant:
        nothing)."""
        now = self.now()
        if record.owner == agency or self.grants.get((record.pk, agency), now) > now:
            return [set()]
        return [
            self.agreement(pk).redacted | self.chain_redactions(record, key)
            for pk, key in self.received_under(agency, record, purpose)
        ]

    def phone_visible(self, agency: int, record: ModelRecord, purpose: str | None) -> bool:
        return any("phone" not in hidden for hidden in self.redactions_of_each_way(agency, record, purpose))

    def discovering(self, asker: int, owner: int) -> list[ModelAgreement]:
        """Agreements in force allowing discovery under which the owner provides to the asker."""
        return [
            a
            for a in self.agreements
            if a.discovery
            and a.in_force(self.now())
            and owner != asker
            and self.role(a, asker)[1]
            and self.role(a, owner)[0]
        ]

    @staticmethod
    def releasable_under(record: ModelRecord, agreement: ModelAgreement) -> bool:
        return record.releasability == "covering" or (
            record.releasability == "named" and agreement.pk in record.named
        )

    def oracle_visible(self, agency: int, record: ModelRecord, purpose: str | None) -> bool:
        now = self.now()
        if record.owner == agency:
            return True
        if self.grants.get((record.pk, agency), now) > now:
            return True
        return bool(self.received_under(agency, record, purpose))

    # --- actions ---------------------------------------------------------------------

    @initialize(owner=st.integers(0, AGENCIES - 1))
    def first_record(self, owner):
        self.create_record(owner, "shipment", 1)

    @rule(
        owner=st.integers(0, AGENCIES - 1),
        category=st.sampled_from(CATEGORIES),
        classification=st.integers(0, 3),
        releasability=st.sampled_from(["none", "covering", "covering"]),
    )
    def create_record(self, owner, category, classification, releasability="covering"):
        record = Record.objects.create(
            owner=self.staff[owner].agency,
            external_ref=f"R{len(self.records)}",
            category=category,
            classification=classification,
            releasability=releasability,
            summary=f"SUMMARY-{len(self.records)}",
        )
        # As every import does: the owner's staff may change and delete what it records.
        grant_owner_rights([record])
        Mention.objects.create(
            record=record,
            entity=self.entity,
            role="importer",
            properties={"name": "Common Importer"},
            resolved_key=self.entity.key,
            search_text="common importer",
        )
        Mention.objects.create(
            record=record,
            entity=self.phone,
            role="phone",
            properties={"number": PHONE},
            resolved_key=PHONE,
            search_text=PHONE,
        )
        Link.objects.create(record=record, source=self.entity, target=self.phone, type="CONTACT")
        self.records.append(
            ModelRecord(record.pk, str(record.public_id), owner, category, classification, releasability)
        )

    @rule(data=st.data())
    def change_releasability(self, data):
        record = data.draw(st.sampled_from(self.records))
        mode = data.draw(st.sampled_from(["none", "covering", "named"]))
        providing = [a for a in self.agreements if a.parties.get(record.owner, (False, False))[0]]
        named = data.draw(st.lists(st.sampled_from(providing), unique_by=lambda a: a.pk)) if providing else []
        # Agreements are named with `named` alone, and a superseded version never: its amendment is.
        expect_ok = (mode == "named") == bool(named) and all(a.status != "superseded" for a in named)
        try:
            releases.set_releasability(
                Record.objects.get(pk=record.pk),
                self.staff[record.owner].analyst,
                mode,
                Agreement.objects.filter(pk__in=[a.pk for a in named]),
            )
        except ValidationError:
            assert not expect_ok
            return
        assert expect_ok
        kept = {a.pk for a in named}
        record.drop_releases_through({(pk, record.owner) for pk in record.named - kept})
        record.releasability, record.named = mode, kept

    @rule(
        roles=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=AGENCIES, max_size=AGENCIES),
        members=st.sets(st.integers(0, AGENCIES - 1), min_size=2, max_size=AGENCIES),
        categories=st.sets(st.sampled_from(CATEGORIES), min_size=1),
        ceiling=st.integers(0, 3),
        purposes=st.sets(st.sampled_from(PURPOSES), min_size=1),
        discovery=st.booleans(),
        start_in_days=st.integers(-2, 3),
        duration_days=st.integers(1, 10),
        onward=st.booleans(),
        redacted=st.sets(st.sampled_from(REDACTABLE)),
    )
    def draft_agreement(
        self,
        roles,
        members,
        categories,
        ceiling,
        purposes,
        discovery,
        start_in_days,
        duration_days,
        onward=True,
        redacted=frozenset(),
    ):
        parties = {i: roles[i] for i in sorted(members)}
        valid = any(p for p, _ in parties.values()) and any(r for _, r in parties.values())
        starts_at = self.now() + timedelta(days=start_in_days)
        creator = self.staff[min(parties)].admin
        try:
            agreement = agreements.create_agreement(
                creator,
                reference=f"MOU-{len(self.agreements)}",
                title="t",
                starts_at=starts_at,
                ends_at=starts_at + timedelta(days=duration_days),
                parties=[(self.staff[i].agency, p, r) for i, (p, r) in parties.items()],
                categories=sorted(categories),
                classification_ceiling=ceiling,
                purposes=sorted(purposes),
                discovery_allowed=discovery,
                onward_sharing_allowed=onward,
                redacted_fields=sorted(redacted),
            )
        except ValidationError:
            assert not valid
            return
        assert valid
        self.agreements.append(
            ModelAgreement(
                agreement.pk,
                parties,
                set(categories),
                ceiling,
                set(purposes),
                discovery,
                starts_at,
                starts_at + timedelta(days=duration_days),
                onward,
                set(redacted),
            )
        )

    @rule(
        members=st.sets(st.integers(0, AGENCIES - 1), min_size=2, max_size=AGENCIES),
        ceiling=st.integers(1, 3),
        purposes=st.sets(st.sampled_from(PURPOSES), min_size=1),
        duration_days=st.integers(1, 4),
    )
    def agreement_signed_by_all(self, members, ceiling, purposes, duration_days):
        before = len(self.agreements)
        self.draft_agreement(
            [(True, True)] * AGENCIES, members, set(CATEGORIES), ceiling, purposes, True, 0, duration_days
        )
        model = self.agreements[before]
        agreements.propose(Agreement.objects.get(pk=model.pk), self.staff[min(model.parties)].admin)
        model.status = "proposed"
        for party in sorted(model.parties):
            agreements.sign(Agreement.objects.get(pk=model.pk), self.staff[party].admin)
            model.signed.add(party)
        assert model.in_force(self.now())

    @precondition(lambda self: self.agreements)
    @rule(data=st.data())
    def propose(self, data):
        model = data.draw(st.sampled_from(self.agreements))
        expect_ok = model.status == "draft"
        try:
            agreements.propose(Agreement.objects.get(pk=model.pk), self.staff[min(model.parties)].admin)
        except ValidationError:
            assert not expect_ok
            return
        assert expect_ok
        model.status = "proposed"

    @precondition(lambda self: self.agreements)
    @rule(data=st.data())
    def sign(self, data):
        model = data.draw(st.sampled_from(self.agreements))
        party = data.draw(st.sampled_from(sorted(model.parties)))
        expect_ok = model.status == "proposed" and party not in model.signed
        try:
            agreements.sign(Agreement.objects.get(pk=model.pk), self.staff[party].admin)
        except ValidationError:
            assert not expect_ok
            return
        assert expect_ok
        model.signed.add(party)

    @precondition(lambda self: self.agreements)
    @rule(
        data=st.data(),
        purposes=st.sets(st.sampled_from(PURPOSES), min_size=1),
        redacted=st.sets(st.sampled_from(REDACTABLE)),
        onward=st.booleans(),
    )
    def amend_and_sign(self, data, purposes, redacted, onward):
        """An amendment every party signs takes over from the version it amends: releases and
        onward chains through that version now run through the new one, with its terms."""
        old = data.draw(st.sampled_from(self.agreements))
        shown = Agreement.objects.get(pk=old.pk).status
        if shown == "proposed":
            return  # takes over from a version never in force: not modelled here
        changes = {
            "purposes": sorted(purposes),
            "redacted_fields": sorted(redacted),
            "onward_sharing_allowed": onward,
        }
        unchanged = (set(purposes), set(redacted), onward) == (old.purposes, old.redacted, old.onward)
        expect_ok = shown in ("active", "suspended") and not unchanged
        party = self.staff[min(old.parties)].admin
        try:
            amendment = agreements.amend(Agreement.objects.get(pk=old.pk), party, **changes)
        except ValidationError:
            assert not expect_ok, (old, shown, changes)
            return
        assert expect_ok, (old, shown, changes)
        agreements.propose(amendment, party)
        for index in sorted(old.parties):
            agreements.sign(Agreement.objects.get(pk=amendment.pk), self.staff[index].admin)
        new = ModelAgreement(
            amendment.pk,
            dict(old.parties),
            set(old.categories),
            old.ceiling,
            set(purposes),
            old.discovery,
            old.starts_at,
            old.ends_at,
            onward,
            set(redacted),
            status="suspended" if shown == "suspended" else "signed",
            signed=set(old.parties),
        )
        old.status = "superseded"
        self.agreements.append(new)

        def moved(key):
            return (new.pk, key[1]) if key is not None and key[0] == old.pk else key

        for record in self.records:
            if old.pk in record.named:
                record.named = (record.named - {old.pk}) | {new.pk}
            record.onward = {
                moved(key): (new.pk if basis == old.pk else basis, moved(parent))
                for key, (basis, parent) in record.onward.items()
            }

    @precondition(lambda self: self.agreements)
    @rule(data=st.data(), action=st.sampled_from(["suspend", "resume", "terminate"]))
    def platform_action(self, data, action):
        model = data.draw(st.sampled_from(self.agreements))
        # Which transitions are legal follows the displayed status, kept in step with the
        # clock by the beat task (run on every clock move below).
        shown = Agreement.objects.get(pk=model.pk).status
        expect_ok = {
            "suspend": shown == "active",
            "resume": shown == "suspended",
            "terminate": shown in ("draft", "proposed", "active", "suspended"),
        }[action]
        try:
            getattr(agreements, action)(Agreement.objects.get(pk=model.pk), self.admin, "reason given")
        except ValidationError:
            assert not expect_ok, (action, model, shown)
            return
        assert expect_ok, (action, model)
        model.status = {"suspend": "suspended", "resume": "signed", "terminate": "terminated"}[action]

    @rule(hours=st.integers(1, 96))
    def advance_clock(self, hours):
        self.clock.shift(timedelta(hours=hours))
        # The beat task runs too, sometimes late; visibility must not depend on it.
        agreements.refresh_statuses()

    @precondition(lambda self: len(self.records) > 1)
    @rule(data=st.data(), grant_days=st.integers(1, 5))
    def request_and_approve_disclosure(self, data, grant_days):
        requester = data.draw(st.integers(0, AGENCIES - 1))
        owner = data.draw(st.integers(0, AGENCIES - 1).filter(lambda a: a != requester))
        # Discovery speaks for an owner that provides to the requester under an agreement in
        # force allowing it, and counts only what the owner made releasable under it.
        # A request states a purpose, and asks under the agreements that permit it.
        discovering = [a for a in self.discovering(requester, owner) if "investigation" in a.purposes]
        discovery = bool(discovering)
        hidden = [
            r
            for r in self.records
            if r.owner == owner
            and not self.oracle_visible(requester, r, "*")
            and any(self.releasable_under(r, a) for a in discovering)
        ]
        try:
            request = requests.request_disclosure(
                self.staff[requester].analyst,
                entity_id=self.entity.pk,
                owner=self.staff[owner].agency,
                purpose="investigation",
                justification="j",
                urgency="urgent",
            )
        except ValidationError:
            assert not (discovery and hidden)
            return
        assert discovery and hidden
        assert {r.pk for r in request.records.all()} == {r.pk for r in hidden}
        if data.draw(st.booleans()):
            requests.approve(request, self.staff[owner].liaison, grant_days=grant_days)
            for record in hidden:
                self.grants[(record.pk, requester)] = self.now() + timedelta(days=grant_days)
        else:
            requests.refuse(request, self.staff[owner].liaison, "no")
        assert DisclosureRequest.objects.get(pk=request.pk).status in ("approved", "refused")

    @rule(data=st.data(), forbid=st.booleans())
    def owner_sets_the_onward_handling_code(self, data, forbid):
        record = data.draw(st.sampled_from(self.records))
        update_record(
            Record.objects.get(pk=record.pk),
            self.staff[record.owner].analyst,
            caveats=["no_onward_sharing"] if forbid else [],
        )
        record.no_onward = forbid

    @rule(data=st.data(), approve=st.booleans())
    def ask_the_owner_to_consent_to_onward_sharing(self, data, approve):
        record = data.draw(st.sampled_from(self.records))
        asker = data.draw(st.integers(0, AGENCIES - 1).filter(lambda a: a != record.owner))
        try:
            request = requests.request_consent(
                self.staff[asker].analyst,
                record=Record.objects.get(pk=record.pk),
                caveat="no_onward_sharing",
                purpose=READ_PURPOSE,
                justification="to pass it on",
                urgency="routine",
            )
        except ValidationError:
            # Only a record the asker holds, carrying the code, with no consent given yet.
            assert (
                not self.oracle_visible(asker, record, "*")
                or not record.no_onward
                or asker in record.onward_consents
            )
            return
        assert self.oracle_visible(asker, record, "*") and record.no_onward
        if approve:
            requests.approve(request, self.staff[record.owner].liaison)
            record.onward_consents.add(asker)
        else:
            requests.refuse(request, self.staff[record.owner].liaison, "no")

    @precondition(lambda self: self.agreements)
    @rule(data=st.data())
    def release_onward(self, data):
        record = data.draw(st.sampled_from(self.records))
        releaser = data.draw(st.integers(0, AGENCIES - 1).filter(lambda a: a != record.owner))
        agreement = data.draw(st.sampled_from(self.agreements))
        ways = self.received_under(releaser, record, "*", onward_only=True)
        depths = {self.hops(record, key) + 1 for _, key in ways}
        # A record that came back through the releaser's own release may not go round again.
        round_again = any(releaser in self.releasers(record, key) for _, key in ways)
        possible = (
            bool(ways)
            and self.onward_allowed(record, releaser)
            and self.role(agreement, releaser)[0]
            and agreement.status != "superseded"
        )
        try:
            releases.release_onward(
                Record.objects.get(pk=record.pk),
                self.staff[releaser].liaison,
                Agreement.objects.get(pk=agreement.pk),
            )
        except ValidationError:
            assert not possible or max(depths) > ONWARD_MAX_HOPS or round_again, (ways, record)
            return
        assert possible and min(depths) <= ONWARD_MAX_HOPS, (ways, record)
        # Which basis the release names is the service's choice among those the oracle finds
        # holding; from here on the oracle follows that basis.
        stored = RecordRelease.objects.get(
            record_id=record.pk, agreement_id=agreement.pk, released_by=self.staff[releaser].agency
        )
        basis_key = (
            None
            if stored.basis_id is None
            else (stored.basis.agreement_id, self.agency_index[stored.basis.released_by_id])
        )
        assert (stored.basis_agreement_id, basis_key) in ways, (stored, ways)
        assert releaser not in self.releasers(record, basis_key)
        record.onward[(agreement.pk, releaser)] = (stored.basis_agreement_id, basis_key)

    # --- after every step ---------------------------------------------------------------

    def expected(self, agency: int) -> tuple[set[str], set[str]]:
        """The public ids of the records the agency reads for READ_PURPOSE, and of those it
        holds for any purpose."""
        readable = {r.public_id for r in self.records if self.oracle_visible(agency, r, READ_PURPOSE)}
        visible = {r.public_id for r in self.records if self.oracle_visible(agency, r, "*")}
        return readable, visible

    @invariant()
    def lists_counts_and_entities_agree_with_the_oracle(self):
        for agency, member in enumerate(self.staff):
            readable, _ = self.expected(agency)
            client = member.client(purpose=READ_PURPOSE)
            body = client.get("/api/records/", {"page_size": 1000}).json()
            assert {row["id"] for row in body["results"]} == readable
            assert body["count"] == len(readable)
            with_phone = {r.pk for r in self.records if self.phone_visible(agency, r, READ_PURPOSE)}
            entities = {
                row["id"]: row for row in client.get("/api/entities/", {"page_size": 1000}).json()["results"]
            }
            entity_id, phone_id = str(self.entity.public_id), str(self.phone.public_id)
            expected_entities = ({entity_id} if readable else set()) | ({phone_id} if with_phone else set())
            assert set(entities) == expected_entities
            if readable:
                assert entities[entity_id]["mention_count"] == len(readable)
            if with_phone:
                assert entities[phone_id]["mention_count"] == len(with_phone)
            links = client.get("/api/links/", {"page_size": 1000}).json()["results"]
            assert sorted(row["type"] for row in links) == ["CONTACT"] * len(with_phone)
            found = client.get("/api/search/", {"q": PHONE}).json()["results"]
            assert {row["id"] for row in found} == ({phone_id} if with_phone else set())

    # A rule rather than an invariant: one request per record and agency is the costly
    # check, so hypothesis spends it where it likes instead of after every step.
    @rule()
    def every_record_detail_agrees_with_the_oracle(self):
        for agency, member in enumerate(self.staff):
            readable, visible = self.expected(agency)
            client = member.client(purpose=READ_PURPOSE)
            for record in self.records:
                response = client.get(f"/api/records/{record.public_id}/")
                expected = (
                    200 if record.public_id in readable else (403 if record.public_id in visible else 404)
                )
                assert response.status_code == expected, (agency, record, response.status_code)
                if expected != 200:
                    continue
                shown = response.json()
                ways = self.redactions_of_each_way(agency, record, READ_PURPOSE)
                # The record is shown as one of the ways it is held by allows, never more.
                if "summary" in shown:
                    assert shown["summary"] == f"SUMMARY-{self.records.index(record)}"
                    assert any("summary" not in hidden for hidden in ways), (agency, record, ways)
                else:
                    assert any("summary" in hidden for hidden in ways), (agency, record, ways)
                types = {m["entity_type"] for m in shown["mentions"]}
                assert ("phone" in types) == self.phone_visible(agency, record, READ_PURPOSE)
            self.discovery_agrees_with_the_oracle(agency, client, visible)
            exported = client.get("/api/records/export/")
            rows = csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode()))
            assert {row["id"] for row in rows} == readable

    def discovery_agrees_with_the_oracle(self, agency: int, client, visible: set[str]) -> None:
        response = client.get(f"/api/entities/{self.entity.public_id}/discovery/")
        if not visible:
            assert response.status_code == 404
            return
        counts: dict[str, int] = {}
        for owner in range(AGENCIES):
            discovering = self.discovering(agency, owner)
            code = self.staff[owner].agency.code
            for record in self.records:
                if (
                    record.owner == owner
                    and record.public_id not in visible
                    and any(self.releasable_under(record, a) for a in discovering)
                ):
                    counts[code] = counts.get(code, 0) + 1
        assert {hit["agency"]: hit["count"] for hit in response.json()} == counts

    @invariant()
    def the_graph_projection_rule_agrees_with_the_oracle(self):
        viewers = Record.objects.filter(pk__in=[r.pk for r in self.records]).viewer_agencies()
        phones = dict(Mention.objects.filter(entity=self.phone).values_list("pk", "record_id"))
        phone_viewers = Mention.objects.filter(pk__in=phones).viewer_agencies()
        by_record = {record_id: phone_viewers[pk] for pk, record_id in phones.items()}
        for record in self.records:
            expected = {
                self.staff[a].agency.pk for a in range(AGENCIES) if self.oracle_visible(a, record, "*")
            }
            assert viewers[record.pk] == expected
            with_phone = {
                self.staff[a].agency.pk for a in range(AGENCIES) if self.phone_visible(a, record, "*")
            }
            assert by_record[record.pk] == with_phone

    @invariant()
    def rows_asked_by_id_agree_with_the_oracle(self):
        """`visible_ids` (how a graph answer confirms the links it found) asks the rule of
        the rows' records: each record's company mention and company-to-phone link, and its
        phone mention, must be visible exactly where the oracle says, for a purpose."""
        records = [r.pk for r in self.records]
        mentions = Mention.objects.filter(record_id__in=records)
        links = Link.objects.filter(record_id__in=records)
        rows = {
            "company": dict(mentions.filter(entity=self.entity).values_list("pk", "record_id")),
            "phone": dict(mentions.filter(entity=self.phone).values_list("pk", "record_id")),
            "link": dict(links.values_list("pk", "record_id")),
        }
        for a in range(AGENCIES):
            analyst = self.staff[a].analyst
            for purpose, oracle_purpose in ((READ_PURPOSE, READ_PURPOSE), (ANY_PURPOSE, "*")):
                visible_mentions = mentions.visible_ids(analyst, purpose)
                seen = {
                    "company": visible_mentions,
                    "phone": visible_mentions,
                    "link": links.visible_ids(analyst, purpose),
                }
                for record in self.records:
                    whole = self.oracle_visible(a, record, oracle_purpose)
                    with_phone = self.phone_visible(a, record, oracle_purpose)
                    expected = {"company": whole, "phone": with_phone, "link": with_phone}
                    for kind, by_pk in rows.items():
                        shown = {by_pk[pk] for pk in seen[kind] if pk in by_pk}
                        assert (record.pk in shown) == expected[kind], (kind, a, purpose)


@pytest.mark.django_db
def test_sharing_actions_in_any_order_keep_every_endpoint_equal_to_the_oracle():
    run_state_machine_as_test(
        SharingMachine,
        # Fifteen sequences a run keep the suite within its time; each CI run draws new ones.
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
