"""Writes for agreements, releases, disclosure and consent requests.

The API, the admin, the pages and the beat task call these; each checks who may act,
refuses illegal transitions with a message that says why, audits what it did, and tells
projections (the graph) which records' visibility changed, in the same transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from agencies.models import Agency, User
from audit.log import record_event
from intel.import_validation import DETAIL_KEYS
from intel.models import Caveat, Entity, Mention, Record, RecordGroupObjectPermission, Releasability
from intel.signals import records_changed
from sharing.access import (
    REDACTABLE_ENTITY_TYPES,
    AgreementAccess,
    annotate_holding,
    covered_records,
    named_releases,
)
from sharing.models import (
    Agreement,
    AgreementParty,
    Consent,
    DisclosureRequest,
    Notification,
    Purpose,
    RecordRelease,
)
from sharing.querysets import AGREEMENT_TERMS

Status = Agreement.Status
# What an agreement may redact: the summary, mentions of these entity types, and each detail
# key a record can have (the importer's, the one list of them).
REDACTABLE_FIELDS = ("summary", *REDACTABLE_ENTITY_TYPES, *(f"details.{key}" for key in DETAIL_KEYS))
# What a request about an entity the user may not see answers: the words of a nonexistent one.
ENTITY_NOT_FOUND = "no such entity"


class AgreementError(ValidationError):
    """An action the agreement's state or the actor's role does not allow."""


# --- who may act ----------------------------------------------------------------------


def require_platform_admin(user: User, action: str) -> None:
    if not user.is_superuser:
        raise PermissionDenied(f"only a platform admin may {action} an agreement")


def require_role(user: User, agency_id: int, roles: Iterable[str], action: str) -> None:
    if user.is_superuser:
        return
    if user.agency_id != agency_id or user.role not in roles:
        raise PermissionDenied(
            f"only {' or '.join(r.replace('_', ' ') for r in roles)}s of that agency may {action}"
        )


# --- agreements -----------------------------------------------------------------------


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
    record_event("agreement.signed", actor=user, obj=agreement, details={"party": party.agency.code})
    if not agreement.parties.filter(signed_at__isnull=True).exists():
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


# --- releases -------------------------------------------------------------------------


@transaction.atomic
def set_releasability(record: Record, user: User, mode: str, agreements: Iterable[Agreement] = ()) -> Record:
    """The owner releases a record to no one, to every covering agreement, or to named ones."""
    require_role(user, record.owner_id, ["analyst", "liaison", "agency_admin"], "release this record")
    if mode not in Releasability.values:
        raise ValidationError({"releasability": f"choose from {', '.join(Releasability.values)}"})
    agreements = list(agreements)
    if mode == Releasability.NAMED and not agreements:
        raise ValidationError({"agreements": "name at least one agreement to release to"})
    superseded = Agreement.objects.filter(pk__in=[a.pk for a in agreements], status=Status.SUPERSEDED)
    for reference in superseded.values_list("reference", flat=True):
        raise ValidationError(
            {"agreements": f"{reference} was superseded by an amendment; name its current version"}
        )
    for agreement in agreements:
        if not agreement.parties.filter(agency_id=record.owner_id, provides=True).exists():
            raise ValidationError(
                {"agreements": f"{record.owner.code} does not provide under {agreement.reference}"}
            )
    record.releasability = mode
    record.save(update_fields=["releasability", "updated_at"])
    owner_releases = RecordRelease.objects.filter(record=record, released_by_id=record.owner_id)
    before = set(owner_releases.values_list("agreement_id", flat=True))
    owner_releases.exclude(agreement__in=agreements).delete()
    RecordRelease.objects.bulk_create(
        [RecordRelease(record=record, agreement=a, released_by_id=record.owner_id) for a in agreements],
        ignore_conflicts=True,
    )
    record_event(
        "record.release",
        actor=user,
        obj=record,
        details={"mode": mode, "agreements": [a.reference for a in agreements], "before": sorted(before)},
    )
    records_changed.send(sender=Record, record_ids=[record.pk])
    return record


@transaction.atomic
def release_onward(record: Record, user: User, agreement: Agreement) -> RecordRelease:
    """A recipient re-releases a record under another agreement in which it provides. It
    must hold the record now under an agreement in force that allows onward sharing (not by
    grant), the handling code must not forbid it (or the owner consented), and the chain may
    not grow past ONWARD_MAX_HOPS. The release names that basis, so the choke point follows
    it live: what the next agency receives is at most what this one received."""
    agency_id = user.agency_id
    if agency_id == record.owner_id:
        raise ValidationError({"record": "the owner releases its records with set_releasability"})
    require_role(user, agency_id or 0, ["liaison", "agency_admin"], "release records onward")
    onward = AgreementAccess.for_agency(agency_id).allowing_onward()
    held = (
        annotate_holding(Record.objects.filter(pk=record.pk), agency_id, onward)
        # The release it came by (the first, as `via_agreement` takes it), asked here rather
        # than by every read through `annotate_holding`.
        .annotate(via_release=Subquery(named_releases(onward).order_by("pk").values("pk")[:1]))
        .values("via_covering", "via_agreement", "via_release", "via_inherited_redactions")
        .first()
    )
    if held is None or held["via_agreement"] is None:
        raise ValidationError(
            {
                "record": "your agency does not hold this record under an agreement in force that "
                "allows onward sharing (a record held by grant cannot be released onward)"
            }
        )
    if (
        Caveat.NO_ONWARD_SHARING in record.caveats
        and not Consent.objects.filter(
            record=record, agency_id=agency_id, caveat=Caveat.NO_ONWARD_SHARING
        ).exists()
    ):
        raise ValidationError(
            {
                "record": "its handling code forbids onward sharing without the owner's consent; "
                "request consent first"
            }
        )
    if not agreement.parties.filter(agency_id=agency_id, provides=True).exists():
        raise ValidationError({"agreement": f"your agency does not provide under {agreement.reference}"})
    if agreement.status == Status.SUPERSEDED:
        raise ValidationError(
            {"agreement": f"{agreement.reference} was superseded by an amendment; name its current version"}
        )
    came_by_release = held["via_covering"] is None and held["via_release"] is not None
    basis = RecordRelease.objects.get(pk=held["via_release"]) if came_by_release else None
    if basis is not None and agency_id in upstream_releasers(basis):
        raise ValidationError(
            {"record": "it reached your agency through your own onward release; it cannot go round again"}
        )
    hops = (basis.hops if basis else 0) + 1
    if hops > settings.ONWARD_MAX_HOPS:
        raise ValidationError(
            {
                "record": f"it came through {hops - 1} onward steps; "
                f"at most {settings.ONWARD_MAX_HOPS} are allowed"
            }
        )
    basis_agreement = held["via_agreement"]
    inherited = sorted({*onward.redacted_by(basis_agreement), *(held["via_inherited_redactions"] or [])})
    release, _ = RecordRelease.objects.update_or_create(
        record=record,
        agreement=agreement,
        released_by_id=agency_id,
        defaults={
            "basis_agreement_id": basis_agreement,
            "basis": basis,
            "hops": hops,
            "inherited_redactions": inherited,
        },
    )
    record_event(
        "record.release_onward",
        actor=user,
        obj=record,
        details={
            "agreement": agreement.reference,
            "basis_agreement": basis_agreement,
            "basis_release": basis.pk if basis else None,
            "hops": hops,
        },
    )
    records_changed.send(sender=Record, record_ids=[record.pk])
    return release


def carry_releases_over(previous: Agreement, amendment: Agreement) -> None:
    """The releases under a version, and the onward releases that came through it, move to
    the amendment that supersedes it, so no chain breaks at the handover; what the chains
    inherit is recomputed from the amended redactions."""
    moving = RecordRelease.objects.filter(agreement=previous)
    twins = {
        (row.record_id, row.released_by_id): row.pk
        for row in RecordRelease.objects.filter(agreement=amendment)
    }
    for old in moving.filter(record_id__in={record for record, _ in twins}).only(
        "pk", "record_id", "released_by_id"
    ):
        twin = twins.get((old.record_id, old.released_by_id))
        if twin is not None:
            RecordRelease.objects.filter(basis=old).update(basis_id=twin)
            old.delete()
    moving.update(agreement=amendment)
    RecordRelease.objects.filter(basis_agreement=previous).update(basis_agreement=amendment)
    # Chains are walked from the owner outwards, so a row's basis is recomputed before it.
    recomputed: dict[int, list[str]] = {}
    concerned = RecordRelease.objects.filter(basis_agreement=amendment).values("record_id")
    onward = RecordRelease.objects.filter(hops__gt=0, record_id__in=concerned).select_related(
        "basis", "basis_agreement"
    )
    for row in onward.order_by("hops", "pk"):
        if row.basis_agreement_id != amendment.pk and row.basis_id not in recomputed:
            continue
        inherited = set(row.basis_agreement.redacted_fields)
        if row.basis is not None:
            inherited |= set(recomputed.get(row.basis_id, row.basis.inherited_redactions))
        row.inherited_redactions = recomputed[row.pk] = sorted(inherited)
        row.save(update_fields=["inherited_redactions"])


def upstream_releasers(release: RecordRelease) -> set[int]:
    """The agencies that released a record along this release's chain, back to its owner."""
    agencies = set()
    while release is not None:
        agencies.add(release.released_by_id)
        release = release.basis
    return agencies


# --- discovery and requests --------------------------------------------------------------


def discovery_agreements(agency_id: int) -> QuerySet[Agreement]:
    """Agreements in force that allow hit/no-hit discovery and under which the agency receives."""
    return Agreement.objects.in_force().filter(
        discovery_allowed=True, parties__agency_id=agency_id, parties__receives=True
    )


def discoverable(agreement: Agreement, agency_id: int) -> Q:
    """Records another party provides to the agency under this agreement and that their
    owner made releasable under it: to every agreement, or to this one by name. Scope is not
    asked: a record beyond the agreement's ceiling or categories is exactly what a hit tells
    of, for the asker to request. Records released to no one, or by name only to other
    agreements, never count; nor do onward releases and grants: discovery speaks for owners."""
    providers = [
        party.agency_id
        for party in agreement.parties.all()
        if party.provides and party.agency_id != agency_id
    ]
    named = RecordRelease.objects.filter(agreement=agreement, released_by_id=OuterRef("owner_id"))
    return Q(owner_id__in=providers) & (
        Q(releasability=Releasability.COVERING) | Q(Exists(named), releasability=Releasability.NAMED)
    )


def hidden_matches(user: User, entity_id: int, owner_id: int | None = None) -> QuerySet[Record]:
    """Records mentioning the entity that the user may not see and that discovery may count:
    made releasable by their owner under a discovery agreement in which the owner provides to
    the user's agency, and which does not redact the entity's type (a hit would tell that the
    owner's record names, say, a phone that even full sharing under it would hide)."""
    entity_type = Entity.objects.filter(pk=entity_id).values_list("type", flat=True).first()
    releasable = Q(pk__in=[])
    for agreement in discovery_agreements(user.agency_id).prefetch_related("parties"):
        if entity_type not in agreement.redacted_fields:
            releasable |= discoverable(agreement, user.agency_id)
    records = Record.objects.filter(
        releasable, Exists(Mention.objects.filter(record=OuterRef("pk"), entity_id=entity_id))
    )
    if owner_id is not None:
        records = records.filter(owner_id=owner_id)
    return records.exclude(pk__in=Record.objects.visible_to(user).values("pk"))


def discover(user: User, entity_id: int) -> list[dict]:
    """Hit/no-hit: for each partner that provides to the user's agency under a discovery
    agreement in force, how many of its records mentioning the entity, made releasable under
    such an agreement, the user cannot see. Agency and count only; nothing else about those
    records. The caller has checked that the user may see the entity."""
    counts = {
        row["owner_id"]: row["count"]
        for row in hidden_matches(user, entity_id).order_by().values("owner_id").annotate(count=Count("pk"))
    }
    hits = [
        {"agency": agency.code, "agency_name": agency.name, "count": counts[agency.pk]}
        for agency in Agency.objects.filter(pk__in=counts).order_by("code")
    ]
    record_event("discovery.query", actor=user, details={"entity": entity_id, "hits": hits})
    return hits


def notify(users: Iterable[User], message: str, url: str = "") -> None:
    Notification.objects.bulk_create([Notification(user=u, message=message[:300], url=url) for u in users])


def liaisons_of(agency_id: int) -> QuerySet[User]:
    return User.objects.filter(agency_id=agency_id, role=User.Role.LIAISON, is_active=True)


def due_at(urgency: str, now: datetime) -> datetime:
    hours = settings.DISCLOSURE_DUE_HOURS[urgency]
    return now + timedelta(hours=hours)


@transaction.atomic
def request_disclosure(
    user: User, *, entity_id: int, owner: Agency, purpose: str, justification: str, urgency: str
) -> DisclosureRequest:
    if not Entity.objects.visible_to(user).filter(pk=entity_id).exists():
        raise ValidationError({"entity": ENTITY_NOT_FOUND})
    if (
        not discovery_agreements(user.agency_id)
        .filter(parties__agency=owner, parties__provides=True)
        .exists()
    ):
        raise ValidationError({"owner": f"no agreement in force with {owner.code} allows discovery"})
    if purpose not in Purpose.values:
        raise ValidationError({"purpose": f"choose from {', '.join(Purpose.values)}"})
    if not justification.strip():
        raise ValidationError({"justification": "say why the records are needed"})
    records = list(hidden_matches(user, entity_id, owner.pk))
    if not records:
        raise ValidationError(
            {"entity": f"{owner.code} holds no records on this entity that you cannot already see"}
        )
    now = timezone.now()
    request = DisclosureRequest.objects.create(
        kind=DisclosureRequest.Kind.DISCLOSURE,
        requester=user,
        requesting_agency_id=user.agency_id,
        owner=owner,
        entity_id=entity_id,
        purpose=purpose,
        justification=justification,
        urgency=urgency,
        due_at=due_at(urgency, now),
    )
    request.records.set(records)
    record_event(
        "disclosure.requested",
        actor=user,
        obj=request,
        details={"owner": owner.code, "records": len(records)},
    )
    notify(
        liaisons_of(owner.pk),
        f"{user.agency.code} requests disclosure ({urgency}): {purpose}",
        f"/liaison/requests/{request.public_id}/",
    )
    return request


@transaction.atomic
def request_consent(
    user: User, *, record: Record, caveat: str, purpose: str, justification: str, urgency: str
) -> DisclosureRequest:
    """Asks the owner to lift a handling code for the requesting agency."""
    if not Record.objects.visible_to(user).filter(pk=record.pk).exists():
        raise ValidationError({"record": "not found"})
    if caveat not in record.caveats:
        raise ValidationError({"caveat": "the record carries no such handling code"})
    kind = {
        Caveat.NO_ONWARD_SHARING: DisclosureRequest.Kind.ONWARD_SHARING,
        Caveat.NOT_FOR_EVIDENCE: DisclosureRequest.Kind.EVIDENCE,
    }[caveat]
    request = DisclosureRequest.objects.create(
        kind=kind,
        requester=user,
        requesting_agency_id=user.agency_id,
        owner_id=record.owner_id,
        purpose=purpose,
        justification=justification,
        urgency=urgency,
        due_at=due_at(urgency, timezone.now()),
    )
    request.records.set([record])
    record_event(
        "consent.requested", actor=user, obj=request, details={"record": record.pk, "caveat": caveat}
    )
    notify(
        liaisons_of(record.owner_id),
        f"{user.agency.code} asks consent: {kind}",
        f"/liaison/requests/{request.public_id}/",
    )
    return request


def _decidable(request: DisclosureRequest, user: User) -> DisclosureRequest:
    request = DisclosureRequest.objects.select_for_update().get(pk=request.pk)
    require_role(user, request.owner_id, ["liaison"], "decide requests to it")
    if request.status != DisclosureRequest.Status.PENDING:
        raise ValidationError({"status": f"request {request.reference} was already {request.status}"})
    return request


@transaction.atomic
def approve(request: DisclosureRequest, user: User, grant_days: int | None = None) -> DisclosureRequest:
    """Disclosure: a time-limited grant on each record to the requesting agency's group.
    Consent: the owner's recorded consent for the handling code."""
    request = _decidable(request, user)
    now = timezone.now()
    request.status, request.decided_by, request.decided_at = DisclosureRequest.Status.APPROVED, user, now
    record_ids = list(request.records.values_list("pk", flat=True))
    if request.kind == DisclosureRequest.Kind.DISCLOSURE:
        request.grant_expires_at = now + timedelta(days=grant_days or settings.DISCLOSURE_GRANT_DAYS)
        view = Permission.objects.get(codename="view_record", content_type__app_label="intel")
        group_id = request.requesting_agency.group_id
        RecordGroupObjectPermission.objects.filter(
            content_object_id__in=record_ids, group_id=group_id, permission=view
        ).delete()
        RecordGroupObjectPermission.objects.bulk_create(
            [
                RecordGroupObjectPermission(
                    content_object_id=pk,
                    group_id=group_id,
                    permission=view,
                    expires_at=request.grant_expires_at,
                )
                for pk in record_ids
            ]
        )
    else:
        caveat = (
            Caveat.NO_ONWARD_SHARING
            if request.kind == DisclosureRequest.Kind.ONWARD_SHARING
            else Caveat.NOT_FOR_EVIDENCE
        )
        Consent.objects.bulk_create(
            [
                Consent(record_id=pk, agency_id=request.requesting_agency_id, caveat=caveat, request=request)
                for pk in record_ids
            ],
            ignore_conflicts=True,
        )
    # A grant shows the records; a consent may revive an onward release the code had stopped.
    records_changed.send(sender=DisclosureRequest, record_ids=record_ids)
    request.save()
    record_event(
        f"{'disclosure' if request.kind == 'disclosure' else 'consent'}.approved",
        actor=user,
        obj=request,
        details={"records": record_ids, "expires_at": request.grant_expires_at},
    )
    notify(
        [request.requester],
        f"{request.owner.code} approved your request {request.reference}",
        "/requests/",
    )
    return request


@transaction.atomic
def refuse(request: DisclosureRequest, user: User, reason: str) -> DisclosureRequest:
    if not reason.strip():
        raise ValidationError({"reason": "say why the request is refused"})
    request = _decidable(request, user)
    request.status, request.decided_by, request.decided_at, request.reason = (
        DisclosureRequest.Status.REFUSED,
        user,
        timezone.now(),
        reason,
    )
    request.save()
    record_event(
        f"{'disclosure' if request.kind == 'disclosure' else 'consent'}.refused",
        actor=user,
        obj=request,
        details={"reason": reason},
    )
    notify(
        [request.requester],
        f"{request.owner.code} refused your request {request.reference}: {reason}",
        "/requests/",
    )
    return request
