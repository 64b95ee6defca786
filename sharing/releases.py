"""Releases: an owner makes a record releasable (to no one, to every covering agreement, or
to named ones), a recipient releases it onward, and releases follow an agreement to the
amendment that supersedes it.

Its own module because releases are the record's side of sharing, and onward chains have
rules of their own (the basis held, handling codes, no loops, ONWARD_MAX_HOPS): each release
names its basis, so the choke point (`sharing.access`) follows a chain live.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from agencies.models import User
from audit.log import record_event
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

Status = Agreement.Status


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
