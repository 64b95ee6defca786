"""Agreements: drafting, revising a draft, amending, the lifecycle (propose, sign, activate,
suspend, resume, terminate) and the beat task's refresh of statuses as dates pass.

Its own module because an agreement's lifecycle is what access under it follows: each write
checks who may act, refuses an illegal transition with a message that says why, audits what
it did, and tells projections (the graph) which records' visibility changed, in the same
transaction. The API, the admin and the beat task call these.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from agencies.models import Agency, User
from audit.log import record_event
from intel.import_validation import DETAIL_KEYS
from intel.signals import records_changed
from sharing.access import (
    REDACTABLE_ENTITY_TYPES,
    covered_records,
)
from sharing.models import (
    Agreement,
    AgreementParty,
    Purpose,
)
from sharing.querysets import AGREEMENT_TERMS
from sharing.releases import carry_releases_over, lock_releases_carried_over
from sharing.roles import require_platform_admin, require_role

Status = Agreement.Status
# What an agreement may redact: the summary, mentions of these entity types, and each detail
# key a record can have (the importer's, the one list of them).
REDACTABLE_FIELDS = ("summary", *REDACTABLE_ENTITY_TYPES, *(f"details.{key}" for key in DETAIL_KEYS))


class AgreementError(ValidationError):
    """An action the agreement's state or the actor's role does not allow."""


def transition(agreement: Agreement, to: str, user: User | None, reason: str = "", **details) -> Agreement:
    before = agreement.status
    agreement.status = to
    agreement.save(update_fields=["status", "fully_signed_at", "superseded_at"])
    record_event(
        f"agreement.{to}",
        actor=user,
        obj=agreement,
        agency_id=getattr(user, "agency_id", None),
        details={"from": before, "to": to, "reason": reason, **details},
    )
    records_changed.send(sender=Agreement, record_ids=covered_records(agreement))
    return agreement


def validate_scope(categories: list[str], purposes: list[str], redacted_fields: list[str]) -> None:
    from intel.models import Category

    problems = {}
    if not categories or set(categories) - set(Category.values):
        problems["categories"] = f"choose from {', '.join(Category.values)}"
    if not purposes or set(purposes) - set(Purpose.values):
        problems["purposes"] = f"choose from {', '.join(Purpose.values)}"
    # A name no record has would redact nothing while the parties believe it hidden.
    unknown = [f for f in redacted_fields if f not in REDACTABLE_FIELDS]
    if unknown:
        problems["redacted_fields"] = f"unknown {unknown}; choose from {', '.join(REDACTABLE_FIELDS)}"
    if problems:
        raise AgreementError(problems)


def validate_dates(starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise AgreementError({"ends_at": "must be after starts_at"})


def validate_parties(user: User, parties: list[tuple[Agency, bool, bool]]) -> None:
    """Two or more different agencies, one providing and one receiving; an agency admin
    drafts only agreements their own agency is party to."""
    if not user.is_superuser and not any(agency.pk == user.agency_id for agency, _, _ in parties):
        raise PermissionDenied("an agency admin may only draft agreements their agency is party to")
    require_role(user, user.agency_id or 0, ["agency_admin"], "draft an agreement")
    agencies = [agency.pk for agency, _, _ in parties]
    if len(set(agencies)) != len(agencies) or len(agencies) < 2:
        raise AgreementError({"parties": "an agreement needs two or more different agencies"})
    if not any(p for _, p, _ in parties) or not any(r for _, _, r in parties):
        raise AgreementError({"parties": "at least one party must provide and one must receive"})


# Crockford's base32 digits: no I, L, O or U to misread; 10 of them are 50 bits.
REFERENCE_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A fresh agreement reference, e.g. AGR-7K3Q9-XM2CD. References are chosen here, never by
    users: a reference a user proposed would be refused when another agreement, perhaps one
    they may not know of, already had it, and so tell them that it exists."""
    while True:
        digits = "".join(secrets.choice(REFERENCE_DIGITS) for _ in range(10))
        reference = f"AGR-{digits[:5]}-{digits[5:]}"
        if not Agreement.objects.filter(reference=reference).exists():
            return reference


@transaction.atomic
def create_agreement(
    user: User,
    *,
    reference: str | None = None,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    parties: list[tuple[Agency, bool, bool]],
    categories: list[str],
    classification_ceiling: int,
    purposes: list[str],
    discovery_allowed: bool = False,
    onward_sharing_allowed: bool = False,
    redacted_fields: list[str] | None = None,
) -> Agreement:
    """A draft with its parties: (agency, provides, receives). The creator is a platform
    admin or an agency admin of one of the parties. The reference is `new_reference()`'s;
    only code that names its own agreements (the demo, tests) passes one."""
    if reference is not None and "/" in reference:
        # "<first reference>/v<n>" names an agreement's versions (amend): were another agreement
        # to hold such a name, an amendment's reference would depend on it, and betray it.
        raise ValueError(f"{reference!r}: a reference with '/' is an amendment's")
    validate_parties(user, parties)
    validate_dates(starts_at, ends_at)
    validate_scope(categories, purposes, redacted_fields or [])
    agencies = [agency.pk for agency, _, _ in parties]
    agreement = Agreement.objects.create(
        reference=reference or new_reference(),
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        categories=categories,
        classification_ceiling=classification_ceiling,
        purposes=purposes,
        discovery_allowed=discovery_allowed,
        onward_sharing_allowed=onward_sharing_allowed,
        redacted_fields=redacted_fields or [],
        created_by=user,
    )
    AgreementParty.objects.bulk_create(
        [AgreementParty(agreement=agreement, agency=a, provides=p, receives=r) for a, p, r in parties]
    )
    record_event("agreement.draft", actor=user, obj=agreement, details={"parties": agencies})
    return agreement


# What an amendment (or an edit of a draft) may change; the parties stay the same, and the
# reference is the platform's (see new_reference).
AMENDABLE_TERMS = tuple(name for name in AGREEMENT_TERMS if name != "reference")


# The versions an amendment may be drafted for (and still take over from at its last signature).
AMENDABLE_STATUSES = (Status.PROPOSED, Status.ACTIVE, Status.SUSPENDED)


def _require_party_admin(agreement: Agreement, user: User, action: str) -> None:
    if user.is_superuser:
        return
    if user.role != User.Role.AGENCY_ADMIN or not agreement.parties.filter(agency_id=user.agency_id).exists():
        raise PermissionDenied(
            f"only a platform admin or an agency admin of a party may {action} this agreement"
        )


def term_changes(agreement: Agreement, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The terms `changes` would change, each with its old and new value, after checking the
    terms they would make as a draft's are checked."""
    unknown = sorted(set(changes) - set(AMENDABLE_TERMS))
    if unknown:
        raise AgreementError(
            {name: f"cannot be amended; amendable: {', '.join(AMENDABLE_TERMS)}" for name in unknown}
        )
    diff = {
        name: {"old": getattr(agreement, name), "new": value}
        for name, value in changes.items()
        if getattr(agreement, name) != value
    }
    if not diff:
        raise AgreementError(f"nothing to change: the terms given are those of {agreement.reference}")
    terms = {name: getattr(agreement, name) for name in AMENDABLE_TERMS} | changes
    validate_dates(terms["starts_at"], terms["ends_at"])
    validate_scope(terms["categories"], terms["purposes"], terms["redacted_fields"])
    return diff


def _audited(diff: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        name: {side: getattr(value, "name", value) for side, value in values.items()}
        for name, values in diff.items()
    }


@transaction.atomic
def revise_draft(agreement: Agreement, user: User, **changes: Any) -> Agreement:
    """Changes the terms of a draft (nobody has signed it yet), audited with old and new values."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.DRAFT], "revise")
    _require_party_admin(agreement, user, "revise")
    diff = term_changes(agreement, changes)
    for name, value in changes.items():
        setattr(agreement, name, value)
    agreement.save(update_fields=list(changes))
    record_event("agreement.revised", actor=user, obj=agreement, details={"changes": _audited(diff)})
    return agreement


@transaction.atomic
def amend(agreement: Agreement, user: User, **changes: Any) -> Agreement:
    """Drafts the next version of a proposed, active or suspended agreement: the same parties,
    its terms copied and `changes` applied. It goes through the lifecycle like any draft
    (propose, every party signs) and takes over from this version at its last signature."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, AMENDABLE_STATUSES, "amend")
    _require_party_admin(agreement, user, "amend")
    pending = agreement.amendments.filter(status__in=[Status.DRAFT, Status.PROPOSED]).first()
    if pending is not None:
        raise AgreementError(
            f"amendment {pending.reference} of {agreement.reference} is {pending.status}: "
            "have it signed or terminate it first"
        )
    version = agreement.version + 1
    diff = term_changes(agreement, changes)
    if "starts_at" in diff and agreement.starts_at <= timezone.now():
        raise AgreementError(
            {
                "starts_at": f"{agreement.reference} has started; "
                "an amendment takes effect when every party signs it"
            }
        )
    # The first version's reference with the version number: no other agreement can hold it
    # (create_agreement refuses a '/'), so it depends on nothing another agency did. Only a
    # first reference too long for a suffix (code that names its own) gets a fresh one.
    reference = f"{agreement.versions()[0].reference}/v{version}"
    if len(reference) > Agreement._meta.get_field("reference").max_length:
        reference = new_reference()
    terms = {name: getattr(agreement, name) for name in AMENDABLE_TERMS} | changes
    amendment = Agreement.objects.create(
        **terms, reference=reference, amends=agreement, version=version, created_by=user
    )
    AgreementParty.objects.bulk_create(
        [
            AgreementParty(
                agreement=amendment,
                agency_id=party.agency_id,
                provides=party.provides,
                receives=party.receives,
            )
            for party in agreement.parties.all()
        ]
    )
    record_event(
        "agreement.amend",
        actor=user,
        obj=amendment,
        details={"amends": agreement.reference, "version": version, "changes": _audited(diff)},
    )
    return amendment


def _take_over(amendment: Agreement, user: User, now: datetime) -> Agreement:
    """An amendment's last signature: in the same transaction the version it amends stops
    (superseded), the releases named to that version carry over to this one, and this one
    is in force (suspended if that one was: only a platform admin lifts a suspension)."""
    previous = Agreement.objects.select_for_update().get(pk=amendment.amends_id)
    refuse_unless(previous, AMENDABLE_STATUSES, "amend")
    was_suspended = previous.status == Status.SUSPENDED
    carry_releases_over(previous, amendment)
    previous.superseded_at = now
    transition(previous, Status.SUPERSEDED, user, reason=f"amended by {amendment.reference}")
    amendment.fully_signed_at = now
    if was_suspended:
        return transition(amendment, Status.SUSPENDED, user, reason="the version it amends is suspended")
    if amendment.starts_at <= now < amendment.ends_at:
        return transition(amendment, Status.ACTIVE, user, reason="signed by every party")
    amendment.save(update_fields=["fully_signed_at"])
    records_changed.send(sender=Agreement, record_ids=covered_records(amendment))
    return amendment


def refuse_unless(agreement: Agreement, allowed: Iterable[str], action: str) -> None:
    allowed = list(allowed)
    if agreement.status not in allowed:
        article = "an" if allowed[0][0] in "aeiou" else "a"
        raise AgreementError(
            f"cannot {action} agreement {agreement.reference}: it is {agreement.status}; "
            f"only {article} {' or '.join(allowed)} agreement can be {action.rstrip('e')}ed"
        )


@transaction.atomic
def propose(agreement: Agreement, user: User) -> Agreement:
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.DRAFT], "propose")
    if not user.is_superuser and not agreement.parties.filter(agency_id=user.agency_id).exists():
        raise PermissionDenied("only a party may propose this agreement")
    require_role(user, user.agency_id or 0, ["agency_admin"], "propose an agreement")
    return transition(agreement, Status.PROPOSED, user)


@transaction.atomic
def sign(agreement: Agreement, user: User) -> Agreement:
    """An agency admin signs for their agency. The last signature brings it into force at
    once if its start date has come (else on that date, without anyone acting)."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.PROPOSED], "sign")
    party = agreement.parties.filter(agency_id=user.agency_id).first()
    if party is None or user.role != User.Role.AGENCY_ADMIN:
        raise PermissionDenied("only an agency admin of a party signs for that party")
    if party.signed_at:
        raise AgreementError(f"{party.agency.code} has already signed {agreement.reference}")
    now = timezone.now()
    party.signed_at, party.signed_by = now, user
    party.save(update_fields=["signed_at", "signed_by"])
    last = not agreement.parties.filter(signed_at__isnull=True).exists()
    if last and agreement.amends_id is not None:
        # What the take-over writes is locked before the audit log, whose lock every writer
        # takes last: a release holding one of these rows and waiting for the log deadlocked.
        Agreement.objects.select_for_update().get(pk=agreement.amends_id)
        lock_releases_carried_over(previous_id=agreement.amends_id, amendment_id=agreement.pk)
    record_event("agreement.signed", actor=user, obj=agreement, details={"party": party.agency.code})
    if last:
        if agreement.amends_id is not None:
            return _take_over(agreement, user, now)
        agreement.fully_signed_at = now
        if agreement.starts_at <= now < agreement.ends_at:
            return transition(agreement, Status.ACTIVE, user, reason="signed by every party")
        agreement.save(update_fields=["fully_signed_at"])
        records_changed.send(sender=Agreement, record_ids=covered_records(agreement))
    return agreement


@transaction.atomic
def activate(agreement: Agreement, user: User | None = None) -> Agreement:
    """Marks a fully signed agreement active once its start date has come (the beat task
    does this; the admin may too). Access does not wait for it: see `in_force`."""
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.PROPOSED], "activate")
    now = timezone.now()
    if agreement.fully_signed_at is None:
        unsigned = ", ".join(
            agreement.parties.filter(signed_at__isnull=True).values_list("agency__code", flat=True)
        )
        raise AgreementError(f"cannot activate {agreement.reference}: not yet signed by {unsigned}")
    if now < agreement.starts_at:
        raise AgreementError(
            f"cannot activate {agreement.reference} before its start date "
            f"{agreement.starts_at:%Y-%m-%d %H:%M}"
        )
    if now >= agreement.ends_at:
        return transition(agreement, Status.EXPIRED, user, reason="end date passed before activation")
    return transition(agreement, Status.ACTIVE, user, reason="start date reached")


def _require_reason(reason: str, action: str) -> None:
    if not reason or not reason.strip():
        raise AgreementError({"reason": f"a reason is required to {action} an agreement"})


@transaction.atomic
def suspend(agreement: Agreement, user: User, reason: str) -> Agreement:
    require_platform_admin(user, "suspend")
    _require_reason(reason, "suspend")
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.ACTIVE], "suspend")
    return transition(agreement, Status.SUSPENDED, user, reason)


@transaction.atomic
def resume(agreement: Agreement, user: User, reason: str) -> Agreement:
    require_platform_admin(user, "resume")
    _require_reason(reason, "resume")
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.SUSPENDED], "resume")
    to = Status.ACTIVE if timezone.now() < agreement.ends_at else Status.EXPIRED
    return transition(agreement, to, user, reason)


@transaction.atomic
def terminate(agreement: Agreement, user: User, reason: str) -> Agreement:
    """Ends an agreement for good: access under it stops in the same transaction."""
    require_platform_admin(user, "terminate")
    _require_reason(reason, "terminate")
    agreement = Agreement.objects.select_for_update().get(pk=agreement.pk)
    refuse_unless(agreement, [Status.DRAFT, Status.PROPOSED, Status.ACTIVE, Status.SUSPENDED], "terminate")
    return transition(agreement, Status.TERMINATED, user, reason)


def refresh_statuses(now: datetime | None = None) -> int:
    """The beat task: moves displayed statuses as dates pass (proposed and fully signed ->
    active at the start date; active or suspended -> expired at the end date) and tells the
    graph sync. Returns how many agreements changed."""
    now = now or timezone.now()
    changed = 0
    due_to_start = Agreement.objects.filter(
        status=Status.PROPOSED, fully_signed_at__isnull=False, starts_at__lte=now
    )
    for agreement in due_to_start:
        activate(agreement)
        changed += 1
    for agreement in Agreement.objects.filter(status__in=[Status.ACTIVE, Status.SUSPENDED], ends_at__lte=now):
        with transaction.atomic():
            transition(agreement, Status.EXPIRED, None, reason="end date reached")
        changed += 1
    return changed
