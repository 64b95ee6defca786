"""Releases: an owner makes a record releasable (to no one, to every covering agreement, or
to named ones), a recipient releases it onward, and releases follow an agreement to the
amendment that supersedes it.

Its own module because releases are the record's side of sharing, and onward chains have
rules of their own (the basis held, handling codes, no loops, ONWARD_MAX_HOPS): each release
names its basis, so the choke point (`sharing.access`) follows a chain live.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from agencies.models import User
from audit.log import Event, record_event, record_events
from core.inputs import quoted
from intel.models import Caveat, Record, Releasability
from intel.signals import records_changed
from sharing.access import (
    AgreementAccess,
    annotate_holding,
    first_release_id,
)
from sharing.models import (
    Agreement,
    Consent,
    RecordRelease,
)
from sharing.roles import require_role
from sharing.selectors import releasable_agreements

Status = Agreement.Status


# A bulk release (a filtered set through the API, or an imported file) decides for many
# records at once: it is the liaison's and the agency admin's, not every analyst's.
BULK_RELEASE_ROLES = ("liaison", "agency_admin")
BULK_REFUSAL = "records are released in bulk by liaison officers and agency admins of the owning agency"


@transaction.atomic
def set_releasability(record: Record, user: User, mode: str, agreements: Iterable[Agreement] = ()) -> Record:
    """The owner releases a record to no one, to every covering agreement, or to named ones."""
    require_role(user, record.owner_id, ["analyst", "liaison", "agency_admin"], "release this record")
    agreements = checked_release(mode, list(agreements))
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
    write_releases(
        user=user, owner_id=record.owner_id, record_ids=[record.pk], mode=mode, agreements=agreements
    )
    record.releasability = mode
    return record


def checked_release(mode: str, agreements: list[Agreement]) -> list[Agreement]:
    """A mode there is, with agreements named for `named` and only then: with another mode
    they were kept as named releases, and a withdrawal to no one left them, and the onward
    releases built on them, in place."""
    if mode not in Releasability.values:
        raise ValidationError({"releasability": f"choose from {', '.join(Releasability.values)}"})
    if mode == Releasability.NAMED and not agreements:
        raise ValidationError({"agreements": "name at least one agreement to release to"})
    if mode != Releasability.NAMED and agreements:
        raise ValidationError(
            {"agreements": f"agreements are named only with releasability {Releasability.NAMED}"}
        )
    return agreements


def bulk_release_refusal(user: User | None, owner_id: int) -> str | None:
    """Why `user` may not release the owner's records in bulk, or None when they may."""
    if user is None:
        return BULK_REFUSAL
    try:
        require_role(user, owner_id, BULK_RELEASE_ROLES, "release records in bulk")
    except PermissionDenied as refused:
        return str(refused)
    return None


def checked_bulk_release(user: User | None, owner_id: int, mode: str, agreements: list[Agreement]) -> None:
    """What a bulk release must be: by a liaison officer or agency admin of the owner, under
    agreements in force in which the owner provides, named only for `named`. Any other
    agreement is refused as one that does not exist."""
    if refused := bulk_release_refusal(user, owner_id):
        raise PermissionDenied(refused)
    checked_release(mode, agreements)
    allowed = set(
        releasable_agreements(owner_id).filter(pk__in=[a.pk for a in agreements]).values_list("pk", flat=True)
    )
    for agreement in agreements:
        if agreement.pk not in allowed:
            raise ValidationError({"agreements": unknown_agreement(agreement.reference)})


@transaction.atomic
def release_records(
    *,
    user: User | None,
    owner_id: int,
    record_ids: list[int],
    mode: str,
    agreements: Iterable[Agreement] = (),
    via: str,
) -> int:
    """The owner releases many of its records at once (the API's bulk release, an import),
    as `checked_bulk_release` allows. Ids of records the owner does not own are left alone.
    Returns how many records were released."""
    agreements = list(agreements)
    checked_bulk_release(user, owner_id, mode, agreements)
    owned = list(Record.objects.owned_by(owner_id).filter(pk__in=record_ids).values_list("pk", flat=True))
    write_releases(user=user, owner_id=owner_id, record_ids=owned, mode=mode, agreements=agreements, via=via)
    return len(owned)


def release_matching(
    *, user: User, records: QuerySet[Record], mode: str, agreements: Iterable[Agreement] = (), dry_run: bool
) -> int:
    """The API's bulk release: the caller's agency's records among `records` (the record
    list's filters applied), at most RELEASE_BULK_MAX_RECORDS of them. A dry run checks
    everything a release would and returns the count, writing nothing."""
    owner_id = getattr(user, "agency_id", None)
    if owner_id is None:
        raise PermissionDenied(BULK_REFUSAL)
    agreements = list(agreements)
    checked_bulk_release(user, owner_id, mode, agreements)
    limit = settings.RELEASE_BULK_MAX_RECORDS
    ids = list(records.filter(owner_id=owner_id).order_by("pk").values_list("pk", flat=True)[: limit + 1])
    if len(ids) > limit:
        raise ValidationError(
            {"filters": f"more than {limit} records match (RELEASE_BULK_MAX_RECORDS); narrow the filters"}
        )
    if dry_run:
        return len(ids)
    return release_records(
        user=user, owner_id=owner_id, record_ids=ids, mode=mode, agreements=agreements, via="bulk"
    )


def unknown_agreement(reference: str) -> str:
    """One answer for an agreement that does not exist, one the agency is not party to, and
    one it may not release under now: the first two must not be told apart."""
    return f"{quoted(reference)} is not an agreement in force under which your agency provides"


def write_releases(
    *,
    user: User,
    owner_id: int,
    record_ids: list[int],
    mode: str,
    agreements: list[Agreement],
    via: str = "record",
) -> None:
    """The one writer of an owner's releases, checked by its callers: the records'
    releasability, their named releases (onward releases built on a release withdrawn go
    with it), one `record.release` audit event per record, and the graph told."""
    if not record_ids:
        return
    agreements = list(dict.fromkeys(agreements))
    # The records first: their row locks make a release of the same records that is being
    # written commit before `before` is read, so the audit says what this one replaced.
    Record.objects.filter(pk__in=record_ids).update(releasability=mode, updated_at=timezone.now())
    owner_releases = RecordRelease.objects.filter(record_id__in=record_ids, released_by_id=owner_id)
    before: dict[int, list[int]] = {}
    for record_id, agreement_id in owner_releases.values_list("record_id", "agreement_id"):
        before.setdefault(record_id, []).append(agreement_id)
    withdrawn = owner_releases.exclude(agreement__in=agreements)
    onward = onward_built_on(withdrawn.values_list("pk", flat=True))
    withdrawn.delete()
    RecordRelease.objects.bulk_create(
        [
            RecordRelease(record_id=record_id, agreement=agreement, released_by_id=owner_id)
            for record_id in record_ids
            for agreement in agreements
        ],
        ignore_conflicts=True,
    )
    references = [a.reference for a in agreements]
    actor = user if getattr(user, "pk", None) else None
    record_events(
        Event(
            action="record.release",
            actor=actor,
            agency_id=getattr(actor, "agency_id", None) or owner_id,
            object_type=Record._meta.label_lower,
            object_id=str(record_id),
            details={
                "mode": mode,
                "agreements": references,
                "before": sorted(before.get(record_id, [])),
                # Recipients' onward releases of it that went with the owner's withdrawn ones.
                "onward_withdrawn": onward.get(record_id, []),
                "via": via,
            },
        )
        for record_id in record_ids
    )
    records_changed.send(sender=Record, record_ids=list(record_ids))


def onward_built_on(release_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Per record, the onward releases built on these releases, at any step (each goes with
    its basis, by the foreign key's cascade): who released it onward, under which agreement."""
    found: dict[int, list[dict]] = {}
    frontier = list(release_ids)
    while frontier:
        step = RecordRelease.objects.filter(basis_id__in=frontier).order_by("pk")
        rows = list(step.values_list("pk", "record_id", "released_by_id", "agreement_id"))
        for _, record_id, agency_id, agreement_id in rows:
            found.setdefault(record_id, []).append({"agency": agency_id, "agreement": agreement_id})
        frontier = [pk for pk, *_ in rows]
    return found


class ImportReleases:
    """The release service intel's import asks (`intel.releasing`): the bulk release's
    rules, for the rows of a file."""

    def refusal(self, *, user: User | None, agency_id: int) -> str | None:
        return bulk_release_refusal(user, agency_id)

    def agreement_ids(self, *, agency_id: int, references: Collection[str]) -> dict[str, int]:
        return dict(
            releasable_agreements(agency_id)
            .filter(reference__in=list(references))
            .values_list("reference", "pk")
        )

    def release(
        self, *, user: User, agency_id: int, record_ids: list[int], mode: str, agreement_ids: list[int]
    ) -> None:
        release_records(
            user=user,
            owner_id=agency_id,
            record_ids=record_ids,
            mode=mode,
            agreements=Agreement.objects.filter(pk__in=agreement_ids).order_by("reference"),
            via="import",
        )


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
        .annotate(via_release=first_release_id(agency_id, onward))
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


def lock_releases_carried_over(*, previous_id: int, amendment_id: int) -> None:
    """Locks the rows `carry_releases_over` writes, to the end of the transaction."""
    rows = RecordRelease.objects.filter(
        Q(agreement_id__in=[previous_id, amendment_id]) | Q(basis_agreement_id=previous_id)
    )
    list(rows.select_for_update().values_list("pk", flat=True))


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
