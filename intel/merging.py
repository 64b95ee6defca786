"""An analyst's decision on near-duplicates: merge, undo, reject.

A merge moves the merged entity's mentions and links to the survivor and records exactly
what moved, so that undoing it restores the prior state. Merges chain (`merged_into` may
point at an entity that was itself merged later) and are undone in reverse order: a merge
whose survivor has since been merged elsewhere cannot be undone until that later merge is.

A merge, its undo and a rejection act for every agency, so the user's agency must see every
mention and link of both entities (and every record the undo restores rows of): else the
service answers as for an object that does not exist (`NotVisible`). A merge belongs to
the agency that made it; only that agency (or a platform admin) undoes it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.models import User
from audit.log import event_for, record_event, record_events
from intel.access import ANY_PURPOSE, access_policy, sees_everything
from intel.bulk import set_column
from intel.candidates import propose, refresh_name_fingerprints
from intel.models import Entity, EntityIdentity, EntityMerge, Link, Mention, Record, ResolutionCandidate
from intel.resolution import TIER_NAME, TIER_NUMBER
from intel.signals import entities_changed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

# Who decides what is one thing: analysts, and agency admins who may do all their staff do.
# Liaison officers release and answer requests; they do not work the candidates.
DECIDING_ROLES = frozenset({User.Role.ANALYST, User.Role.AGENCY_ADMIN})


class NotVisible(ObjectDoesNotExist):
    """The user's agency may not see all the action rests on: the caller answers exactly as
    for an object that does not exist, since anything else tells that hidden records exist."""


# --- who may decide ------------------------------------------------------------------


def agency_sees_all_of(*, agency_id: int, entity_ids: Iterable[int], record_ids: Iterable[int] = ()) -> bool:
    """Whether the agency may see now (for some purpose) every mention of the entities,
    every link touching them and every one of the records: all a decision about the
    entities moves or rests on."""
    ids = list(entity_ids)
    # The agency's access is worked out once for the three questions, not once for each.
    access = access_policy().access(agency_id=agency_id, purpose=ANY_PURPOSE)
    rows = (
        Mention.objects.filter(entity_id__in=ids),
        Link.objects.filter(Q(source_id__in=ids) | Q(target_id__in=ids)),
        Record.objects.filter(pk__in=list(record_ids)),
    )
    return not any(
        found.exclude(
            pk__in=found.visible_to_agency(agency_id=agency_id, access=access).values("pk")
        ).exists()
        for found in rows
    )


def _require_decider(
    user: AbstractBaseUser, entity_ids: Iterable[int], record_ids: Iterable[int] = ()
) -> None:
    """Raises PermissionDenied for a user whose role does not decide, NotVisible when the
    user's agency may not see all the decision rests on. Platform admins see everything."""
    if sees_everything(user):
        return
    agency_id = getattr(user, "agency_id", None)
    if agency_id is None or getattr(user, "role", None) not in DECIDING_ROLES:
        raise PermissionDenied("only analysts and agency admins merge, undo merges and reject candidates")
    if not agency_sees_all_of(agency_id=agency_id, entity_ids=entity_ids, record_ids=record_ids):
        raise NotVisible


# --- merging ------------------------------------------------------------------------


def _mention_data(mention: Mention) -> dict[str, Any]:
    return {
        "id": mention.pk,
        "record_id": mention.record_id,
        "entity_id": mention.entity_id,
        "role": mention.role,
        "properties": mention.properties,
        "resolved_key": mention.resolved_key,
        "search_text": mention.search_text,
    }


def _link_data(link: Link) -> dict[str, Any]:
    return {
        "id": link.pk,
        "record_id": link.record_id,
        "source_id": link.source_id,
        "target_id": link.target_id,
        "type": link.type,
        "properties": link.properties,
    }


def _lock_entities(*pks: int) -> dict[int, Entity]:
    # Always in id order, so two analysts merging crossing pairs cannot deadlock.
    return {
        entity.pk: entity for entity in Entity.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    }


def _pair_candidate(survivor: Entity, merged: Entity) -> ResolutionCandidate | None:
    a, b = sorted((survivor.pk, merged.pk))
    return ResolutionCandidate.objects.select_for_update().filter(entity_a_id=a, entity_b_id=b).first()


def merge_entities(
    survivor: Entity, merged: Entity, user: AbstractBaseUser, candidate: ResolutionCandidate | None = None
) -> EntityMerge:
    """Merges `merged` into `survivor`, in one transaction, and audits it.

    The merged entity's mentions and links (as source and as target) move to the
    survivor; their ids go into the EntityMerge row and `merged.merged_into` is set, so
    later imports of the merged key land on the survivor. The pair's open candidate
    (the one given, or the one on record for this pair) is marked merged.

    When one record mentions both entities in the same role (it listed "Acme Trading
    Ltd" and "Acme Tradng Ltd" as two importers, say), that record now mentions the
    survivor once in that role: the survivor's mention is kept as the record stated it,
    and the merged entity's mention is removed, its full row kept in `moved_mentions`
    so an undo recreates it with the same id. Likewise a link that would duplicate one
    of the survivor's links in the same record, or that joined the two entities (a
    link from the survivor to itself says nothing), is removed and kept for the undo.
    Refusing such merges would leave the analyst unable to merge exactly the duplicates
    that data entry produces most often.

    Raises ValidationError for a merge of an entity into itself, of entities of
    different types, of an entity already merged, into an entity already merged, or
    with a candidate that is not the open candidate of this pair; PermissionDenied or
    NotVisible (see `_require_decider`) when the user may not decide it.
    """
    if survivor.pk == merged.pk:
        raise ValidationError("An entity cannot be merged into itself.")
    if survivor.type != merged.type:
        raise ValidationError(
            f"Only entities of one type can be merged: {survivor.public_id} is a {survivor.type}, "
            f"{merged.public_id} a {merged.type}."
        )
    given = merged
    with transaction.atomic():
        locked = _lock_entities(survivor.pk, merged.pk)
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        _require_decider(user, [survivor.pk, merged.pk])
        if merged.merged_into_id is not None:
            raise ValidationError(f"Entity {merged.public_id} is already merged into another entity.")
        if survivor.merged_into_id is not None:
            raise ValidationError(
                f"Entity {survivor.public_id} was itself merged into another entity; merge into that one."
            )
        if candidate is not None:
            candidate = ResolutionCandidate.objects.select_for_update().get(pk=candidate.pk)
            if {candidate.entity_a_id, candidate.entity_b_id} != {survivor.pk, merged.pk}:
                raise ValidationError(f"Candidate {candidate.public_id} is not about these two entities.")
            if candidate.status != ResolutionCandidate.Status.OPEN:
                raise ValidationError(f"Candidate {candidate.public_id} was already {candidate.status}.")
        else:
            candidate = _pair_candidate(survivor, merged)
            if candidate is not None and candidate.status != ResolutionCandidate.Status.OPEN:
                candidate = None

        merge = _merge_locked(
            survivor, merged, candidate, merged_by=user, agency_id=getattr(user, "agency_id", None)
        )
        _announce("entity.merge", merge, user)
    # The caller's instance is stale otherwise: it was locked and changed as a fresh copy.
    given.merged_into = survivor
    return merge


def _merge_locked(
    survivor: Entity,
    merged: Entity,
    candidate: ResolutionCandidate | None,
    *,
    merged_by: AbstractBaseUser | None,
    agency_id: int | None,
    automatic: bool = False,
) -> EntityMerge:
    """Moves what the merged entity's records state to the survivor (both locked, both
    standing) and records the merge; the pair's open candidate is marked merged."""
    moved_mentions = _move_mentions(survivor, merged)
    moved_sources, moved_targets = _move_links(survivor, merged)
    merged.merged_into = survivor
    merged.save(update_fields=["merged_into"])
    if candidate is not None:
        candidate.status = ResolutionCandidate.Status.MERGED
        candidate.decided_by = merged_by
        candidate.decided_at = timezone.now()
        candidate.save(update_fields=["status", "decided_by", "decided_at"])
    return EntityMerge.objects.create(
        survivor=survivor,
        merged=merged,
        candidate=candidate,
        moved_mentions=moved_mentions,
        moved_link_sources=moved_sources,
        moved_link_targets=moved_targets,
        merged_by=merged_by,
        agency_id=agency_id,
        automatic=automatic,
    )


def _announce(
    action: str,
    merge: EntityMerge,
    user: AbstractBaseUser | None,
    *,
    agency_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Refreshes both entities' names for the candidate search, tells the graph sync both
    changed, and audits the merge or its undo (an automatic one with no actor: no person
    decided it; `details` say what did)."""
    if merge.automatic and action == "entity.merge":
        # A fold only adds the merged entity's names to the survivor: reading every mention
        # of a busy registered company again would cost each fold more as its records grow.
        names = dict(
            Entity.objects.filter(pk__in=[merge.survivor_id, merge.merged_id]).values_list(
                "pk", "name_fingerprints"
            )
        )
        Entity.objects.filter(pk=merge.survivor_id).update(
            name_fingerprints=sorted(set(names[merge.survivor_id]) | set(names[merge.merged_id]))
        )
        Entity.objects.filter(pk=merge.merged_id).update(name_fingerprints=[])
    else:
        refresh_name_fingerprints([merge.survivor_id, merge.merged_id])
    entities_changed.send(sender=EntityMerge, entity_ids=[merge.survivor_id, merge.merged_id])
    record_event(
        action,
        actor=user,
        agency_id=agency_id,
        obj=merge,
        details={
            "type": merge.survivor.type,
            "survivor": merge.survivor_id,
            "merged": merge.merged_id,
            "candidate": merge.candidate_id,
            "automatic": merge.automatic,
            **_counts(merge),
            **(details or {}),
        },
    )


def _counts(merge: EntityMerge) -> dict[str, int]:
    links = merge.moved_link_sources + merge.moved_link_targets
    return {
        "mentions_moved": sum(1 for item in merge.moved_mentions if "removed" not in item),
        "mentions_removed": sum(1 for item in merge.moved_mentions if "removed" in item),
        "links_moved": sum(1 for item in links if "removed" not in item),
        "links_removed": sum(1 for item in links if "removed" in item),
    }


def _move_mentions(survivor: Entity, merged: Entity) -> list[dict[str, Any]]:
    """Moves the merged entity's mentions; entries are {"id"} for a moved row and
    {"id", "removed": row, "kept": id} for a row dropped in favour of the survivor's."""
    mentions = list(Mention.objects.filter(entity=merged).order_by("pk"))
    # Only the survivor's mentions in the merged entity's records can clash: reading all of
    # a busy survivor's would cost every merge into it more as its records grow.
    taken = {
        (record_id, role): pk
        for pk, record_id, role in Mention.objects.filter(
            entity=survivor, record_id__in={mention.record_id for mention in mentions}
        ).values_list("pk", "record_id", "role")
    }
    entries: list[dict[str, Any]] = []
    move, remove = [], []
    for mention in mentions:
        kept = taken.get((mention.record_id, mention.role))
        if kept is None:
            move.append(mention.pk)
            entries.append({"id": mention.pk})
        else:
            remove.append(mention.pk)
            entries.append({"id": mention.pk, "removed": _mention_data(mention), "kept": kept})
    Mention.objects.filter(pk__in=remove).delete()
    Mention.objects.filter(pk__in=move).update(entity=survivor)
    return entries


def _move_links(survivor: Entity, merged: Entity) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Moves the merged entity's links, as source and as target; a link that would become
    a loop on the survivor or a duplicate of one of its links is removed and kept."""
    links = list(Link.objects.filter(Q(source=merged) | Q(target=merged)).order_by("pk"))
    existing = set(
        Link.objects.filter(
            Q(source=survivor) | Q(target=survivor), record_id__in={link.record_id for link in links}
        )
        .exclude(pk__in=[link.pk for link in links])
        .values_list("record_id", "source_id", "target_id", "type")
    )
    sources: list[dict[str, Any]] = []
    targets: list[dict[str, Any]] = []
    move_source, move_target, remove = [], [], []
    for link in links:
        source = survivor.pk if link.source_id == merged.pk else link.source_id
        target = survivor.pk if link.target_id == merged.pk else link.target_id
        # A removed link is listed once, under its source when the merged entity was its source.
        entries = sources if link.source_id == merged.pk else targets
        identity = (link.record_id, source, target, link.type)
        if source == target or identity in existing:
            remove.append(link.pk)
            entries.append({"id": link.pk, "removed": _link_data(link)})
            continue
        existing.add(identity)
        if link.source_id == merged.pk:
            move_source.append(link.pk)
            sources.append({"id": link.pk})
        else:
            move_target.append(link.pk)
            targets.append({"id": link.pk})
    Link.objects.filter(pk__in=remove).delete()
    Link.objects.filter(pk__in=move_source).update(source=survivor)
    Link.objects.filter(pk__in=move_target).update(target=survivor)
    return sources, targets


# --- undoing and rejecting ------------------------------------------------------------


def undo_merge(merge: EntityMerge, user: AbstractBaseUser) -> None:
    """Undoes a merge: the moved mentions and links go back to the merged entity, the
    removed ones are recreated with their ids, `merged_into` is cleared and the
    candidate, if any, is open again. Audited.

    Raises ValidationError when the merge was already undone, or when its survivor has
    since been merged into another entity (undo that later merge first); NotVisible when
    another agency made the merge, or when the user's agency may not see every mention of
    the two entities and every record whose removed rows the undo recreates;
    PermissionDenied for a role that does not decide.
    """
    given = merge
    with transaction.atomic():
        merge = EntityMerge.objects.select_for_update().get(pk=merge.pk)
        if not sees_everything(user) and merge.agency_id != getattr(user, "agency_id", None):
            raise NotVisible
        restored = [
            item["removed"]["record_id"]
            for item in [*merge.moved_mentions, *merge.moved_link_sources, *merge.moved_link_targets]
            if "removed" in item
        ]
        _require_decider(user, [merge.survivor_id, merge.merged_id], restored)
        if merge.undone_at is not None:
            raise ValidationError(
                f"Merge {merge.public_id} was already undone on {merge.undone_at:%Y-%m-%d %H:%M}."
            )
        locked = _lock_entities(merge.survivor_id, merge.merged_id)
        survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
        if survivor.merged_into_id is not None:
            raise ValidationError(
                f"Entity {survivor.public_id} has since been merged into another entity; "
                "undo that merge first."
            )
        if merged.merged_into_id != survivor.pk:
            raise ValidationError(f"Entity {merged.public_id} is no longer merged into {survivor.public_id}.")

        _undo_locked(merge, survivor, merged)
        merge.undone_by = given.undone_by = user
        merge.undone_at = given.undone_at = timezone.now()
        merge.save(update_fields=["undone_by", "undone_at"])
        _announce("entity.merge_undone", merge, user)


def _undo_locked(merge: EntityMerge, survivor: Entity, merged: Entity) -> None:
    """Puts back what the merge moved (both entities locked, the merge standing) and
    reopens its candidate."""
    _restore_mentions(merge, survivor, merged)
    _restore_links(merge.moved_link_sources, "source", survivor, merged)
    _restore_links(merge.moved_link_targets, "target", survivor, merged)
    _return_later_imports(merge, survivor, merged)
    merged.merged_into = None
    merged.save(update_fields=["merged_into"])
    if merge.candidate_id is not None:
        ResolutionCandidate.objects.filter(pk=merge.candidate_id).update(
            status=ResolutionCandidate.Status.OPEN, decided_by=None, decided_at=None
        )


def _restore_mentions(merge: EntityMerge, survivor: Entity, merged: Entity) -> None:
    moved = [item["id"] for item in merge.moved_mentions if "removed" not in item]
    # Only rows still on the survivor: a record deleted since took its mentions with it.
    Mention.objects.filter(pk__in=moved, entity=survivor).update(entity=merged)
    removed = [item["removed"] for item in merge.moved_mentions if "removed" in item]
    if removed:
        live_records = set(
            Record.objects.filter(pk__in={row["record_id"] for row in removed}).values_list("pk", flat=True)
        )
        Mention.objects.bulk_create(
            [Mention(**row) for row in removed if row["record_id"] in live_records], ignore_conflicts=True
        )


def _restore_links(entries: list[dict[str, Any]], end: str, survivor: Entity, merged: Entity) -> None:
    moved = [item["id"] for item in entries if "removed" not in item]
    Link.objects.filter(pk__in=moved, **{end: survivor}).update(**{end: merged})
    removed = [item["removed"] for item in entries if "removed" in item]
    if removed:
        live_records = set(
            Record.objects.filter(pk__in={row["record_id"] for row in removed}).values_list("pk", flat=True)
        )
        Link.objects.bulk_create(
            [Link(**row) for row in removed if row["record_id"] in live_records], ignore_conflicts=True
        )


def _keys_resolving_to(entity: Entity) -> set[str]:
    """The entity's key and those of every entity merged into it, directly or not."""
    keys, frontier = {entity.key}, [entity.pk]
    while frontier:
        rows = list(Entity.objects.filter(merged_into__in=frontier).values_list("pk", "key"))
        keys.update(key for _, key in rows)
        frontier = [pk for pk, _ in rows]
    return keys


def _return_later_imports(merge: EntityMerge, survivor: Entity, merged: Entity) -> None:
    """Records imported or re-imported while the merge stood name the merged key but
    were written on the survivor; they go back to the merged entity, with the links of
    a record that then no longer mentions the survivor at all."""
    recorded = {item["id"] for item in merge.moved_mentions}
    later = Mention.objects.filter(entity=survivor, resolved_key__in=_keys_resolving_to(merged)).exclude(
        pk__in=recorded
    )
    rows = list(later.order_by("pk").values_list("pk", "record_id", "role"))
    if not rows:
        return
    record_ids = {record_id for _, record_id, _ in rows}
    # Worked out in memory, mention after mention as the rows were written, then written
    # at once: a statement or two per mention made undoing a fold cost as much as its records.
    taken = set(
        Mention.objects.filter(record_id__any_of=record_ids, entity=merged).values_list("record_id", "role")
    )
    back = []
    for pk, record_id, role in rows:
        # The record may also mention the merged entity in that role already; keep that one.
        if (record_id, role) not in taken:
            taken.add((record_id, role))
            back.append(pk)
    Mention.objects.filter(pk__any_of=back).update(entity=merged)
    still_on_survivor = set(
        Mention.objects.filter(entity=survivor, record_id__any_of=record_ids).values_list(
            "record_id", flat=True
        )
    )
    leaving = record_ids - still_on_survivor
    if not leaving:
        return
    links = list(Link.objects.filter(record_id__any_of=leaving).order_by("record_id", "pk"))
    existing = {(link.record_id, link.source_id, link.target_id, link.type) for link in links}
    sources: dict[int, int] = {}
    targets: dict[int, int] = {}
    for link in links:
        if survivor.pk not in (link.source_id, link.target_id):
            continue
        source = merged.pk if link.source_id == survivor.pk else link.source_id
        target = merged.pk if link.target_id == survivor.pk else link.target_id
        moved = (link.record_id, source, target, link.type)
        if source != target and moved not in existing:
            existing.discard((link.record_id, link.source_id, link.target_id, link.type))
            existing.add(moved)
            (sources if source != link.source_id else targets)[link.pk] = merged.pk
    set_column(Link, "source_id", sources)
    set_column(Link, "target_id", targets)


def reject_candidate(candidate: ResolutionCandidate, user: AbstractBaseUser) -> None:
    """Records an analyst's decision that the two entities are different; the pair is
    never proposed again, to any agency, so the user's agency must see all the pair rests on
    (see `_require_decider`). Audited."""
    given = candidate
    with transaction.atomic():
        candidate = ResolutionCandidate.objects.select_for_update().get(pk=candidate.pk)
        _require_decider(user, [candidate.entity_a_id, candidate.entity_b_id])
        if candidate.status != ResolutionCandidate.Status.OPEN:
            raise ValidationError(f"Candidate {candidate.public_id} was already {candidate.status}.")
        candidate.status = given.status = ResolutionCandidate.Status.REJECTED
        candidate.decided_by = given.decided_by = user
        candidate.decided_at = given.decided_at = timezone.now()
        candidate.save(update_fields=["status", "decided_by", "decided_at"])
        record_event(
            "entity.candidate_rejected",
            actor=user,
            obj=candidate,
            details={
                "entity_a": candidate.entity_a_id,
                "entity_b": candidate.entity_b_id,
                "score": candidate.score,
            },
        )


# --- automatic folds on ingest --------------------------------------------------------


def fold_identities(
    identities: Iterable[str],
    *,
    agency_id: int,
    actor: AbstractBaseUser | None = None,
    batch_id: int | None = None,
    mentioned: Iterable[int] = (),
) -> set[int]:
    """Applies resolution's rule to the weaker entities of each identity (see
    `intel.resolution`): each is folded into the one strongest entity of the identity when
    every agency whose records state it judges that one (`_judge`: the one registered
    company of that name in its country, the one person with documents of that name and
    date of birth), and into none when they do not: it becomes a candidate of each strong
    one instead. A fold that no such agency judges right any more is undone.

    Each agency judges on its own records first, so that no fold joins two of an agency's
    mentions on a ground only other agencies' records give. `mentioned` (the entities the
    importing agency just named) brings back the folds into them, since naming one
    otherwise changes that agency's judgement (of the folds of what it states itself).
    Returns the entities whose names changed for the candidate search: those unfolded
    (standing again, and compared with nothing while they were folded) and the survivors
    of its folds (which now also go by the folded entities' names).

    A fold is a recorded, undoable merge (`EntityMerge.automatic`) listed to the importing
    agency and attributed to no person: the audit event has no actor, that agency's id, and
    names the import (its batch, the user who ran it). Merges an analyst made are left alone.
    """
    identities = set(identities)
    folded_here = EntityMerge.objects.filter(
        automatic=True, undone_at__isnull=True, survivor_id__any_of=list(mentioned)
    ).values_list("merged_id", flat=True)
    # The agency is compared here, not in the query: planned with statistics that lag the
    # import's own rows, that condition read every identity the agency states.
    identities.update(
        identity
        for identity, stating in EntityIdentity.objects.filter(
            entity_id__any_of=list(folded_here)
        ).values_list("identity", "agency_id")
        if stating == agency_id
    )
    members = _members(identities)
    # A weaker entity is judged on every identity it states, not only on those the chunk
    # names (as `fold_targets` judges): on a chunk that named only its ambiguous name, a
    # fold its name at an address settles was undone, and the outcome hung on how the file
    # happened to be cut into chunks. One round reaches every entity to judge: whatever
    # states a name at an address states the name too.
    weaker = [
        pk for entries in members.values() for pk, member in entries.items() if member.tier < TIER_NUMBER
    ]
    stated = EntityIdentity.objects.filter(entity_id__any_of=weaker).values_list("identity", flat=True)
    members.update(_members(set(stated) - set(members)))
    ids = {pk for entries in members.values() for pk in entries}
    # Without what each merge moved: only undoing one reads that, and locks it afresh.
    folded = {
        merge.merged_id: merge
        for merge in EntityMerge.objects.filter(
            merged_id__any_of=ids, undone_at__isnull=True, automatic=True
        ).only("pk", "survivor_id", "merged_id")
    }
    refused = _refused_folds(ids)
    # Per weaker entity, over every identity it states (a name, the name at an address):
    # whether one still judges its fold right, the targets those that agree on one give,
    # and the strong entities to offer as candidates.
    keep: set[int] = set()
    targets: dict[int, set[int]] = {}
    offers: dict[int, set[int]] = {}
    first_identity: dict[int, str] = {}
    tiers = {identity: _tiers(entries, folded) for identity, entries in sorted(members.items())}
    namings = _Namings.of(anchors for anchors, _ in tiers.values())
    for identity, (anchors, weak) in tiers.items():
        entries = members[identity]
        weak_keys = [member.key for member in weak]
        # One judgement per agency and identity, however many weaker entities it states.
        judgements = {
            agency: _judge(agency, anchors, entries, weak_keys, namings)
            for agency in {agency for member in weak for agency in member.agencies}
        }
        for member in weak:
            judged = {judgements[agency] for agency in member.agencies}
            if member.pk in folded and folded[member.pk].survivor_id in judged:
                keep.add(member.pk)
            agreed = judged.pop() if len(judged) == 1 else None
            if agreed is not None and (member.pk, agreed) not in refused:
                targets.setdefault(member.pk, set()).add(agreed)
                first_identity.setdefault(member.pk, identity)
            else:
                offers.setdefault(member.pk, set()).update(anchors)
    undo: dict[int, EntityMerge] = {}
    fold: dict[int, tuple[int, str]] = {}
    ambiguous: dict[tuple[int, int], float] = {}
    for pk in set(targets) | set(offers) | {pk for pk in folded if pk in ids}:
        if pk in keep:
            continue
        found = targets.get(pk, set())
        target = next(iter(found)) if len(found) == 1 else None
        if target is None:
            for anchor in offers.get(pk, set()) | found:
                ambiguous[(min(pk, anchor), max(pk, anchor))] = 100.0
        current = folded[pk].survivor_id if pk in folded else None
        if current == target:
            continue
        if current is not None:
            undo[pk] = folded[pk]
        if target is not None:
            fold[pk] = (target, first_identity[pk])
    details = {"import_batch": batch_id, "imported_by": getattr(actor, "pk", None)}
    # Later folds first: an earlier fold's survivor may be a later fold's merged entity.
    _unfold_many(sorted(undo.values(), key=lambda merge: -merge.pk), agency_id=agency_id, details=details)
    _fold_many(
        [(target, pk, identity) for pk, (target, identity) in sorted(fold.items())],
        agency_id=agency_id,
        details=details,
    )
    propose(ambiguous, reason="the identity does not say which entity")
    return set(undo) | {target for target, _ in fold.values()}


def _refused_folds(ids: Collection[int]) -> set[tuple[int, int]]:
    """(weaker, strong) pairs a person said are not one: a fold of theirs an analyst undid,
    a candidate an analyst rejected. The rule does not fold them again."""
    undone = EntityMerge.objects.filter(merged_id__any_of=ids, automatic=True, undone_by__isnull=False)
    refused = set(undone.values_list("merged_id", "survivor_id"))
    rejected = ResolutionCandidate.objects.filter(
        Q(entity_a_id__any_of=ids) | Q(entity_b_id__any_of=ids), status=ResolutionCandidate.Status.REJECTED
    ).values_list("entity_a_id", "entity_b_id")
    for a, b in rejected:
        refused.update({(a, b), (b, a)})
    return refused


def fold_targets(
    *,
    entity_ids: Collection[int],
    agency_id: int,
    named: Collection[int] = (),
    known: Mapping[str, Collection[int]] | None = None,
) -> dict[int, set[int]]:
    """Per weaker entity, the entities the agency judges it one with, over the identities
    it states (see `fold_identities`): whether the agency's import of its key may land where
    a fold put it. `named` and `known` add what the rows being imported state and is not
    recorded yet: the entities they name by a number, and the identities they state for them.
    A few statements for all of `entity_ids`, however many."""
    stated: dict[int, set[str]] = {pk: set() for pk in entity_ids}
    for pk, identity in EntityIdentity.objects.filter(entity_id__any_of=list(stated)).values_list(
        "entity_id", "identity"
    ):
        stated[pk].add(identity)
    members = _members({identity for identities in stated.values() for identity in identities})
    for identity, entries in members.items():
        for pk in (known or {}).get(identity, ()):
            if pk in entries:
                entries[pk].agencies.add(agency_id)
    folded = {
        merge.merged_id: merge
        for merge in EntityMerge.objects.filter(
            merged_id__any_of=list(stated), undone_at__isnull=True, automatic=True
        ).only("pk", "survivor_id", "merged_id")
    }
    asked: list[tuple[int, str, list[int], list[_Member]]] = []
    for entity_id, identities in stated.items():
        own_folds = {entity_id: folded[entity_id]} if entity_id in folded else {}
        for identity in identities:
            anchors, weak = _tiers(members.get(identity, {}), own_folds)
            if any(member.pk == entity_id for member in weak):
                asked.append((entity_id, identity, anchors, weak))
    namings = _Namings.of(anchors for _, _, anchors, _ in asked)
    found: dict[int, set[int]] = {pk: set() for pk in stated}
    for entity_id, identity, anchors, weak in asked:
        weak_keys = [member.key for member in weak]
        found[entity_id].add(_judge(agency_id, anchors, members[identity], weak_keys, namings, named))
    return {pk: targets - {None} for pk, targets in found.items()}


@dataclass
class _Member:
    pk: int
    tier: int
    into: int | None
    key: str
    agencies: set[int] = dataclass_field(default_factory=set)


def _members(identities: Iterable[str]) -> dict[str, dict[int, _Member]]:
    """The entities stating each identity, with the agencies whose records state it."""
    members: dict[str, dict[int, _Member]] = {}
    rows = list(
        EntityIdentity.objects.filter(identity__any_of=list(identities)).values_list(
            "identity", "entity_id", "tier", "agency_id"
        )
    )
    # The entities by their primary key, not joined: the join was planned as a scan of
    # every entity, its cost growing with the table.
    entities = {
        pk: (into, key)
        for pk, into, key in Entity.objects.filter(pk__any_of={pk for _, pk, _, _ in rows}).values_list(
            "pk", "merged_into", "key"
        )
    }
    for identity, pk, tier, agency in rows:
        member = members.setdefault(identity, {}).setdefault(pk, _Member(pk, tier, *entities[pk]))
        member.agencies.add(agency)
    return members


def _tiers(entries: dict[int, _Member], folded: dict[int, EntityMerge]) -> tuple[list[int], list[_Member]]:
    """The strongest standing entities of an identity and the weaker ones (standing or
    folded): what an analyst merged stays as they decided, and is neither."""
    live = [member for member in entries.values() if member.into is None or member.pk in folded]
    top = max((member.tier for member in live), default=TIER_NAME)
    if top == TIER_NAME:
        return [], []
    anchors = sorted(member.pk for member in live if member.tier == top and member.into is None)
    return anchors, [member for member in live if member.tier < top]


def _judge(
    agency_id: int,
    anchors: list[int],
    entries: dict[int, _Member],
    weak_keys: list[str],
    namings: _Namings,
    named: Collection[int] = (),
) -> int | None:
    """The strong entity the agency's records make a weaker one: the one they state the
    identity for; when they state it for none, the one that stands, provided they name it
    in no other way (else the fold would join two of its own mentions on others' word)."""
    known = [pk for pk in anchors if agency_id in entries[pk].agencies]
    if known:
        return known[0] if len(known) == 1 else None
    if (
        len(anchors) == 1
        and anchors[0] not in named
        and not namings.named_otherwise(anchors[0], agency_id, weak_keys)
    ):
        return anchors[0]
    return None


@dataclass
class _Namings:
    """How the agencies' records name the strong entities a chunk judges folds into, other
    than by a weaker key: the agencies stating an identity for each (by its number), and
    per entity folded into it, its key and the agencies stating an identity for that one.
    Read for every such entity at once: asked per agency and identity, the two lookups
    were most of an import's round trips."""

    stating: dict[int, set[int]]
    folded: dict[int, list[tuple[str, set[int]]]]

    @classmethod
    def of(cls, anchor_lists: Iterable[list[int]]) -> _Namings:
        # Only a lone strong entity is judged on how else it is named.
        anchors = {anchors[0] for anchors in anchor_lists if len(anchors) == 1}
        merges = list(
            EntityMerge.objects.filter(
                survivor_id__any_of=anchors, automatic=True, undone_at__isnull=True
            ).values_list("survivor_id", "merged_id", "merged__key")
        )
        stating: dict[int, set[int]] = defaultdict(set)
        for entity_id, agency_id in (
            EntityIdentity.objects.filter(entity_id__any_of=anchors | {merged for _, merged, _ in merges})
            .values_list("entity_id", "agency_id")
            .distinct()
        ):
            stating[entity_id].add(agency_id)
        folded: dict[int, list[tuple[str, set[int]]]] = defaultdict(list)
        for survivor, merged, key in merges:
            folded[survivor].append((key, stating[merged]))
        return cls({pk: stating[pk] for pk in anchors}, folded)

    def named_otherwise(self, entity_id: int, agency_id: int, weak_keys: list[str]) -> bool:
        """Whether the agency's records name the entity other than by the weaker keys: by
        its number (an identity the agency states for it), or by another name folded into it."""
        if agency_id in self.stating.get(entity_id, ()):
            return True
        return any(
            agency_id in agencies and key not in weak_keys for key, agencies in self.folded.get(entity_id, ())
        )


def _fold(survivor_id: int, merged_id: int, *, agency_id: int, details: dict[str, Any]) -> None:
    with transaction.atomic():
        locked = _lock_entities(survivor_id, merged_id)
        survivor, merged = locked[survivor_id], locked[merged_id]
        if merged.merged_into_id is not None or survivor.merged_into_id is not None:
            return
        candidate = _pair_candidate(survivor, merged)
        if candidate is not None and candidate.status != ResolutionCandidate.Status.OPEN:
            candidate = None
        merge = _merge_locked(
            survivor, merged, candidate, merged_by=None, agency_id=agency_id, automatic=True
        )
        _announce("entity.merge", merge, None, agency_id=agency_id, details=details)


def _fold_many(folds: list[tuple[int, int, str]], *, agency_id: int, details: dict[str, Any]) -> None:
    """The folds (survivor, merged, identity) one import chunk decided, in that order, each
    as `_fold` makes it, but with a handful of set-based statements for all of them: a
    chunk's folds are its largest cost otherwise, some twenty round trips each.

    What each fold moves depends on the folds before it (two names of one record folded
    into one company leave it one mention), so the moves are worked out in memory in the
    same order, on the rows of every entity involved, and written at the end. When an
    entity is a survivor of one fold and the merged one of another, the folds are made one
    by one instead."""
    survivors = {survivor for survivor, _, _ in folds}
    if survivors & {merged for _, merged, _ in folds}:
        for survivor, merged, identity in folds:
            _fold(survivor, merged, agency_id=agency_id, details={**details, "identity": identity})
        return
    if not folds:
        return
    with transaction.atomic():
        locked = _lock_entities(*survivors, *(merged for _, merged, _ in folds))
        into = {pk: entity.merged_into_id for pk, entity in locked.items()}
        made: list[tuple[int, int, str]] = []
        for survivor, merged, identity in folds:
            if into[merged] is None and into[survivor] is None:
                into[merged] = survivor
                made.append((survivor, merged, identity))
        if not made:
            return
        pairs = {tuple(sorted((survivor, merged))) for survivor, merged, _ in made}
        # The pairs' candidates found by either end, then locked exactly: one OR of a
        # condition per pair costs more to build than the folds themselves.
        exact = [
            pk
            for pk, a, b in ResolutionCandidate.objects.filter(
                entity_a_id__any_of={a for a, _ in pairs}, entity_b_id__any_of={b for _, b in pairs}
            ).values_list("pk", "entity_a_id", "entity_b_id")
            if (a, b) in pairs
        ]
        candidates: dict[tuple[int, int], ResolutionCandidate] = {}
        for candidate in (
            ResolutionCandidate.objects.select_for_update().filter(pk__any_of=exact).order_by("pk")
        ):
            candidates.setdefault((candidate.entity_a_id, candidate.entity_b_id), candidate)
        moved_mentions = _move_mentions_of(made)
        moved_links = _move_links_of(made)
        now = timezone.now()
        decided = []
        merges = []
        for survivor, merged, _ in made:
            candidate = candidates.get(tuple(sorted((survivor, merged))))
            if candidate is not None and candidate.status != ResolutionCandidate.Status.OPEN:
                candidate = None
            if candidate is not None:
                decided.append(candidate.pk)
            sources, targets = moved_links[merged]
            merges.append(
                EntityMerge(
                    survivor_id=survivor,
                    merged_id=merged,
                    candidate=candidate,
                    moved_mentions=moved_mentions[merged],
                    moved_link_sources=sources,
                    moved_link_targets=targets,
                    merged_by=None,
                    agency_id=agency_id,
                    automatic=True,
                )
            )
        by_survivor: dict[int, list[int]] = {}
        for survivor, merged, _ in made:
            by_survivor.setdefault(survivor, []).append(merged)
        set_column(Entity, "merged_into_id", {merged: survivor for survivor, merged, _ in made})
        if decided:
            ResolutionCandidate.objects.filter(pk__any_of=decided).update(
                status=ResolutionCandidate.Status.MERGED, decided_by=None, decided_at=now
            )
        merges = EntityMerge.objects.bulk_create(merges)
        # As `_announce` does for a fold: the survivor gains the merged entity's names.
        names = dict(Entity.objects.filter(pk__any_of=into).values_list("pk", "name_fingerprints"))
        renamed: dict[int, list[str]] = {}
        for survivor, merged_ids in by_survivor.items():
            union = set(names[survivor]).union(*(names[merged] for merged in merged_ids))
            renamed[survivor] = sorted(union)
            renamed.update((merged, []) for merged in merged_ids)
        set_column(Entity, "name_fingerprints", renamed)
        entities_changed.send(
            sender=EntityMerge,
            entity_ids=list(dict.fromkeys(pk for survivor, merged, _ in made for pk in (survivor, merged))),
        )
        record_events(
            event_for(
                "entity.merge",
                agency_id=agency_id,
                obj=merge,
                details={
                    "type": locked[merge.survivor_id].type,
                    "survivor": merge.survivor_id,
                    "merged": merge.merged_id,
                    "candidate": merge.candidate_id,
                    "automatic": True,
                    **_counts(merge),
                    **details,
                    "identity": identity,
                },
            )
            for merge, (_, _, identity) in zip(merges, made, strict=True)
        )


def _move_mentions_of(folds: list[tuple[int, int, str]]) -> dict[int, list[dict[str, Any]]]:
    """`_move_mentions` for each fold in turn: the moved-mention entries per merged entity."""
    merged_ids = [merged for _, merged, _ in folds]
    mentions: dict[int, list[Mention]] = {merged: [] for merged in merged_ids}
    for mention in Mention.objects.filter(entity_id__any_of=merged_ids).order_by("pk"):
        mentions[mention.entity_id].append(mention)
    taken = {
        (entity_id, record_id, role): pk
        for pk, entity_id, record_id, role in Mention.objects.filter(
            entity_id__any_of={survivor for survivor, _, _ in folds},
            record_id__any_of={mention.record_id for rows in mentions.values() for mention in rows},
        ).values_list("pk", "entity_id", "record_id", "role")
    }
    entries: dict[int, list[dict[str, Any]]] = {}
    move: dict[int, int] = {}
    remove: list[int] = []
    for survivor, merged, _ in folds:
        entries[merged] = []
        for mention in mentions[merged]:
            kept = taken.get((survivor, mention.record_id, mention.role))
            if kept is None:
                taken[(survivor, mention.record_id, mention.role)] = mention.pk
                move[mention.pk] = survivor
                entries[merged].append({"id": mention.pk})
            else:
                remove.append(mention.pk)
                entries[merged].append({"id": mention.pk, "removed": _mention_data(mention), "kept": kept})
    Mention.objects.filter(pk__any_of=remove).delete()
    set_column(Mention, "entity_id", move)
    return entries


def _move_links_of(
    folds: list[tuple[int, int, str]],
) -> dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """`_move_links` for each fold in turn, on the links of every entity involved in the
    records the merged entities' links are in: (sources, targets) entries per merged entity."""
    merged_ids = [merged for _, merged, _ in folds]
    involved = {*merged_ids, *(survivor for survivor, _, _ in folds)}
    records = set(
        Link.objects.filter(Q(source_id__any_of=merged_ids) | Q(target_id__any_of=merged_ids)).values_list(
            "record_id", flat=True
        )
    )
    # By record, then by entity here: a record holds a few links, a registered company
    # the links of all its records.
    links = {
        link.pk: link
        for link in Link.objects.filter(record_id__any_of=records)
        if link.source_id in involved or link.target_id in involved
    }
    touching: dict[int, set[int]] = {}
    for link in links.values():
        touching.setdefault(link.source_id, set()).add(link.pk)
        touching.setdefault(link.target_id, set()).add(link.pk)
    removed: set[int] = set()
    move_source: dict[int, int] = {}
    move_target: dict[int, int] = {}
    result: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    for survivor, merged, _ in folds:
        own = sorted(touching.get(merged, set()) - removed)
        in_records = {links[pk].record_id for pk in own}
        existing = {
            (link.record_id, link.source_id, link.target_id, link.type)
            for link in (links[pk] for pk in touching.get(survivor, set()) - removed - set(own))
            if link.record_id in in_records
        }
        sources: list[dict[str, Any]] = []
        targets: list[dict[str, Any]] = []
        for pk in own:
            link = links[pk]
            source = survivor if link.source_id == merged else link.source_id
            target = survivor if link.target_id == merged else link.target_id
            entries = sources if link.source_id == merged else targets
            identity = (link.record_id, source, target, link.type)
            if source == target or identity in existing:
                removed.add(pk)
                entries.append({"id": pk, "removed": _link_data(link)})
                continue
            existing.add(identity)
            if link.source_id == merged:
                move_source[pk] = survivor
                sources.append({"id": pk})
            else:
                move_target[pk] = survivor
                targets.append({"id": pk})
            link.source_id, link.target_id = source, target
            touching.setdefault(survivor, set()).add(pk)
        result[merged] = (sources, targets)
    Link.objects.filter(pk__any_of=removed).delete()
    set_column(Link, "source_id", {pk: at for pk, at in move_source.items() if pk not in removed})
    set_column(Link, "target_id", {pk: at for pk, at in move_target.items() if pk not in removed})
    return result


def _unfold_many(merges: list[EntityMerge], *, agency_id: int, details: dict[str, Any]) -> None:
    """Undoes the folds one chunk's judgement no longer holds, in the order given, each as
    `undo_merge` puts back what it moved; the names of the entities involved are then
    recomputed, the graph told and the undos audited once for all of them (per undo, those
    cost as much as the undo itself)."""
    undone: list[tuple[EntityMerge, str]] = []
    with transaction.atomic():
        # The merges, then every entity they involve (in id order, as _lock_entities locks),
        # each locked once for all the undos rather than per undo. An undo changes the
        # entities and the merge only through the instances it is given, so each later
        # check sees what the earlier undos left, as a fresh read did.
        locked_merges = {
            merge.pk: merge
            for merge in EntityMerge.objects.select_for_update()
            .filter(pk__any_of=[merge.pk for merge in merges])
            .order_by("pk")
        }
        entities = _lock_entities(
            *{pk for merge in locked_merges.values() for pk in (merge.survivor_id, merge.merged_id)}
        )
        undone_at: dict[int, datetime] = {}
        for given in merges:
            merge = locked_merges[given.pk]
            survivor, merged = entities[merge.survivor_id], entities[merge.merged_id]
            if (
                merge.undone_at is not None
                or survivor.merged_into_id is not None
                or merged.merged_into_id != survivor.pk
            ):
                # Merged on since by an analyst: theirs to undo, not this rule's.
                continue
            _undo_locked(merge, survivor, merged)
            merge.undone_at = undone_at[merge.pk] = timezone.now()
            undone.append((merge, survivor.type))
        if not undone:
            return
        # Read by no undo: written once for all of them.
        set_column(EntityMerge, "undone_at", undone_at)
        ids = list(dict.fromkeys(pk for merge, _ in undone for pk in (merge.survivor_id, merge.merged_id)))
        refresh_name_fingerprints(ids)
        entities_changed.send(sender=EntityMerge, entity_ids=ids)
        record_events(
            event_for(
                "entity.merge_undone",
                agency_id=agency_id,
                obj=merge,
                details={
                    "type": entity_type,
                    "survivor": merge.survivor_id,
                    "merged": merge.merged_id,
                    "candidate": merge.candidate_id,
                    "automatic": merge.automatic,
                    **_counts(merge),
                    **details,
                },
            )
            for merge, entity_type in undone
        )
