"""Writing an import: one file, one batch, all-or-nothing (`import_file`).

Its own module because it is the part of importing that writes and holds the transaction:
rows read by `intel.import_reading` and validated by `intel.import_validation` are written
in chunks (entities resolved, records, mentions and links inserted), so memory stays flat
however long the file. Every bad row is reported with its row number, field and reason,
and if any row is bad the transaction is rolled back and nothing is written. External
references are the keys, so importing the same file twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import connection, transaction

from core.inputs import quoted
from intel.bulk import insert_rows
from intel.candidates import CandidateBudget, find_candidates, note_identities, note_names
from intel.import_reading import ImportFailed, ImportLimits, detect_format, iter_rows, open_import_file
from intel.import_validation import ColumnCheck, ReleasePlan, RowPlan, parse_row
from intel.lookups import GrowingTables, planned_as_lookups
from intel.merging import agency_sees_all_of, fold_identities, fold_targets
from intel.models import (
    Entity,
    EntityIdentity,
    EntityMerge,
    EntityType,
    Link,
    LinkType,
    Mention,
    Record,
    RecordGroupObjectPermission,
    Releasability,
    ResolutionCandidate,
)
from intel.releasing import release_service
from intel.resolution import (
    TIER_NUMBER,
    Resolved,
    at_address,
)
from intel.rights import grant_rights, owner_right_ids
from intel.signals import records_changed

MAX_REPORTED_ERRORS = 1000
# What an import writes and looks up, its records first (`lookups.GrowingTables`).
IMPORTED_TABLES = [
    Record,
    Mention,
    Link,
    Entity,
    EntityIdentity,
    EntityMerge,
    ResolutionCandidate,
    RecordGroupObjectPermission,
]
CHUNK_SIZE = 500
# A chunk is written once its rows state this many mentions, whatever their number: a row
# within IMPORT_MAX_ROW_BYTES may name hundreds of parties, and 500 such rows held hundreds
# of thousands of resolved mentions in memory at once.
CHUNK_MENTIONS = 20_000
# The candidate search runs once this many entities were written or touched, not per chunk:
# a chunk's names reach most blocks, so each search reads about every standing company and
# person, and one search for several chunks reads them once. It scores them a block at a
# time as they are fetched (`candidates._standing_names`), so searching less often holds no
# more in memory: what grows is the set of entities to search, a number each.
CANDIDATE_SEARCH_ENTITIES = 50_000
# Near-duplicate candidates one import may create: this many, and CANDIDATES_PER_ROW more
# per row read. A file naming thousands of parties all alike to each other made hundreds of
# candidates per row (each name's ALIKE_PER_NAME), for minutes, and more than analysts can
# review; files of real trade make a fraction of one per row.
CANDIDATES_AT_LEAST = 10_000
CANDIDATES_PER_ROW = 2
# Pairs of names one import's candidate search may score, likewise: a block's new names are
# scored against all of its names, and a file naming thousands of parties in one block
# scored each against every other, for minutes (the import holds the embedded database's
# only write lock meanwhile).
SCORES_AT_LEAST = 100_000_000
SCORES_PER_ROW = 100_000


@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[dict] = field(default_factory=list)


# --- writing a chunk --------------------------------------------------------------


@dataclass
class Statements:
    """What the agency's rows being written state by strong keys (a registration or
    document number): the entities they name and, per identity, those they state it for.
    A fold is followed on the agency's own records, these rows included."""

    named: set[int] = field(default_factory=set)
    known: dict[str, set[int]] = field(default_factory=dict)


def followed_merges(steps: dict[int, int], *, agency_id: int, stated: Statements | None = None) -> set[int]:
    """Of the merges `steps` (merged id: survivor id), the merged ids whose survivor an
    import of the agency's may land on: when the merge is an automatic fold the agency's own
    records agree with (`merging.fold_targets`), when the agency made the merge, or when it
    may see every mention of both entities. Otherwise the merge is another agency's
    conclusion from records this one may not see, and landing on the survivor would show it
    as one entity with both names."""
    latest: dict[int, tuple[int, int, bool]] = {}
    for merged_id, survivor_id, merge_agency, automatic in (
        EntityMerge.objects.filter(merged_id__any_of=list(steps), undone_at__isnull=True)
        .order_by("-merged_at")
        .values_list("merged_id", "survivor_id", "agency_id", "automatic")
    ):
        if survivor_id == steps[merged_id]:
            latest.setdefault(merged_id, (survivor_id, merge_agency, automatic))
    stated = stated or Statements()
    folds = [merged_id for merged_id, (_, _, automatic) in latest.items() if automatic]
    targets = fold_targets(entity_ids=folds, agency_id=agency_id, named=stated.named, known=stated.known)
    followed = set()
    for merged_id, survivor_id in steps.items():
        merge = latest.get(merged_id)
        if merge is not None and merge[2]:
            follows = survivor_id in targets[merged_id]
        elif merge is not None and merge[1] == agency_id:
            follows = True
        else:
            follows = agency_sees_all_of(agency_id=agency_id, entity_ids=[merged_id, survivor_id])
        if follows:
            followed.add(merged_id)
    return followed


def surviving_entities(
    merged_into: dict[int, int], *, agency_id: int, stated: Statements | None = None
) -> dict[int, int]:
    """Follows merged_into (given for `merged_into`'s keys), for an import of the agency's,
    to the entity that still stands (merges can chain A -> B -> C), stopping before a merge
    the agency may not follow. One step of every chain at a time."""
    standing = {pk: pk for pk in merged_into}
    steps = dict(merged_into)
    while steps:
        followed = followed_merges(steps, agency_id=agency_id, stated=stated)
        reached: dict[int, int] = {}
        for start, at in standing.items():
            if at in followed:
                standing[start] = steps[at]
                reached[start] = steps[at]
        further = dict(
            Entity.objects.filter(pk__any_of=set(reached.values()), merged_into__isnull=False).values_list(
                "pk", "merged_into"
            )
        )
        steps = {at: further[at] for at in set(reached.values()) if at in further}
    return standing


def resolve_entities(
    resolved: Iterable[Resolved], *, agency_id: int, own: dict[tuple[str, str], int] | None = None
) -> dict[tuple[str, str], int]:
    """Entity ids for every (type, key), for an import of the agency's, creating the ones
    that do not exist yet. `own`, when given, receives the entity each key names itself,
    before any merge is followed: the one its identities are noted for."""
    wanted: dict[tuple[str, str], Resolved] = {}
    for item in resolved:
        # The first statement of a key gives a new entity its block.
        wanted.setdefault((item.type, item.key), item)
    ids: dict[tuple[str, str], int] = {}
    own = {} if own is None else own
    stated = Statements()

    def fetch(keys: Iterable[tuple[str, str]]) -> None:
        by_type: dict[str, list[str]] = {}
        for entity_type, key in keys:
            by_type.setdefault(entity_type, []).append(key)
        rows = [
            (entity_type, row)
            for entity_type, keys_of_type in by_type.items()
            for row in Entity.objects.filter(type=entity_type, key__any_of=keys_of_type).values_list(
                "pk", "key", "merged_into"
            )
        ]
        for entity_type, (pk, key, _) in rows:
            own[(entity_type, key)] = pk
            item = wanted[(entity_type, key)]
            if all(tier >= TIER_NUMBER for _, tier in item.identities):
                stated.named.add(pk)
                for identity, _ in item.identities:
                    stated.known.setdefault(identity, set()).add(pk)
        # A key merged away speaks for its survivor, at the end of the chain the importing
        # agency may follow.
        survivors = surviving_entities(
            {pk: merged_into for _, (pk, _, merged_into) in rows if merged_into},
            agency_id=agency_id,
            stated=stated,
        )
        for entity_type, (pk, key, _) in rows:
            ids[(entity_type, key)] = survivors.get(pk, pk)

    fetch(wanted)
    missing = [wanted[k] for k in wanted if k not in ids]
    if missing:
        # ignore_conflicts: a concurrent import may create the same entity first.
        insert_rows(
            Entity,
            ["type", "key", "block"],
            ((item.type, item.key, item.block) for item in missing),
            ignore_conflicts=True,
        )
        fetch((item.type, item.key) for item in missing)
    return ids


def key_by_address(plan: RowPlan) -> None:
    """Keys each company the row names without a registration number by its name and the
    address the row registers it at (`resolution.at_address`, the first if several)."""
    addresses: dict[int, Resolved] = {}
    for source, target, link_type in plan.links:
        if link_type == LinkType.REGISTERED_AT and plan.mentions[target][0].type == EntityType.ADDRESS:
            addresses.setdefault(source, plan.mentions[target][0])
    for index, (resolved, role) in enumerate(plan.mentions):
        if index in addresses:
            plan.mentions[index] = (at_address(resolved, addresses[index]), role)


def write_chunk(
    plans: list[RowPlan],
    agency,
    user,
    batch,
    result: ImportResult,
    perm_ids: list[int],
    releases: RowReleases | None = None,
) -> list[int]:
    """Writes one chunk of valid rows; returns the ids of entities it created or touched,
    with those its folds and undone folds gave other names (for the candidate search)."""
    existing = {
        ref: (pk, content_hash)
        for pk, ref, content_hash in Record.objects.filter(
            owner=agency, external_ref__any_of=[plan.external_ref for plan in plans]
        ).values_list("pk", "external_ref", "content_hash")
    }
    to_create, to_update = [], []
    for plan in plans:
        if plan.external_ref not in existing:
            to_create.append(plan)
        elif existing[plan.external_ref][1] != plan.content_hash:
            to_update.append(plan)
        else:
            result.unchanged += 1
    if not to_create and not to_update:
        return []

    for plan in to_create + to_update:
        key_by_address(plan)
    own: dict[tuple[str, str], int] = {}
    entity_ids = resolve_entities(
        (resolved for plan in to_create + to_update for resolved, _ in plan.mentions),
        agency_id=agency.pk,
        own=own,
    )
    record_ids: dict[str, int] = {}
    if to_create:
        # Copied (intel.bulk), not built as model instances for bulk_create, whose compiling
        # cost more than the insert; COPY returns no ids, so they are read back by reference.
        fields = list(to_create[0].record_fields)
        insert_rows(
            Record,
            ["owner_id", "external_ref", "content_hash", "created_by_id", "import_batch_id", *fields],
            (
                (
                    agency.pk,
                    plan.external_ref,
                    plan.content_hash,
                    getattr(user, "pk", None),
                    getattr(batch, "pk", None),
                    *(plan.record_fields[name] for name in fields),
                )
                for plan in to_create
            ),
        )
        created = dict(
            Record.objects.filter(
                owner=agency, external_ref__any_of=[plan.external_ref for plan in to_create]
            ).values_list("external_ref", "pk")
        )
        record_ids = {plan.external_ref: created[plan.external_ref] for plan in to_create}
        grant_rights(((pk, agency.group_id) for pk in record_ids.values()), perm_ids)
    if to_update:
        updated = []
        for plan in to_update:
            pk = existing[plan.external_ref][0]
            record_ids[plan.external_ref] = pk
            updated.append(
                Record(pk=pk, content_hash=plan.content_hash, import_batch=batch, **plan.record_fields)
            )
        Record.objects.bulk_update(updated, ["content_hash", "import_batch", *to_update[0].record_fields])
        changed = [record.pk for record in updated]
        Mention.objects.filter(record_id__in=changed).delete()
        Link.objects.filter(record_id__in=changed).delete()

    mentions: dict[tuple[int, int, str], tuple] = {}
    # In the order the rows state them, as the mentions: a link's key orders a record's links
    # wherever they are listed, and in entity-id order they told which entity was older.
    links: dict[tuple[int, int, int, str, str, str], None] = {}
    for plan in to_create + to_update:
        record_id = record_ids[plan.external_ref]
        positions = [entity_ids[(resolved.type, resolved.key)] for resolved, _ in plan.mentions]
        for (resolved, role), entity_id in zip(plan.mentions, positions, strict=True):
            # Two keys of one row may now point at one merged entity; the record states it once
            # per role (and a link between them once): the first statement is kept.
            mentions.setdefault(
                (record_id, entity_id, role),
                (
                    record_id,
                    entity_id,
                    resolved.type,
                    role,
                    resolved.properties,
                    resolved.key,
                    resolved.search_text,
                ),
            )
        for source, target, link_type in plan.links:
            if positions[source] != positions[target]:
                source_type, target_type = plan.mentions[source][0].type, plan.mentions[target][0].type
                links.setdefault(
                    (record_id, positions[source], positions[target], source_type, target_type, link_type)
                )
    insert_rows(
        Mention,
        ["record_id", "entity_id", "entity_type", "role", "properties", "resolved_key", "search_text"],
        mentions.values(),
    )
    note_names(
        (entity_ids[(resolved.type, resolved.key)], resolved)
        for plan in to_create + to_update
        for resolved, _ in plan.mentions
    )
    insert_rows(
        Link,
        ["record_id", "source_id", "target_id", "source_type", "target_type", "type", "properties"],
        ((*link, {}) for link in links),
    )
    identities = note_identities(
        (
            (own[(resolved.type, resolved.key)], resolved)
            for plan in to_create + to_update
            for resolved, _ in plan.mentions
        ),
        agency_id=agency.pk,
    )
    records_changed.send(sender=Record, record_ids=list(record_ids.values()))
    refolded = fold_identities(
        identities,
        agency_id=agency.pk,
        actor=user,
        batch_id=getattr(batch, "pk", None),
        # Only naming an entity by its number changes how the agency judges folds into it.
        mentioned={
            own[(resolved.type, resolved.key)]
            for plan in to_create + to_update
            for resolved, _ in plan.mentions
            if resolved.identities and all(tier >= TIER_NUMBER for _, tier in resolved.identities)
        },
    )
    if releases is not None:
        releases.write(to_create, to_update, record_ids)
    result.created += len(to_create)
    result.updated += len(to_update)
    return sorted(set(entity_ids.values()) | refolded)


# --- records a service writes -----------------------------------------------------


def restated(mention: Mention) -> Resolved:
    """An entity the agency's own record names, stated again by another record of the
    agency: the key that mention resolved to (never the entity's canonical key, which may
    come from a record others may not see), so the new mention lands where it did."""
    entity = mention.entity
    return Resolved(
        type=entity.type,
        key=mention.resolved_key,
        block=entity.block,
        properties=dict(mention.properties),
        search_text=mention.search_text,
    )


def write_planned(plans: list[RowPlan], *, agency, user) -> dict[str, int]:
    """Writes rows a service planned (`parse_row` on a row it built, mentions `restated`)
    as an import writes a chunk: entities resolved, owner rights, the graph's outbox rows
    and the resolution candidates, in the caller's transaction. Returns each external
    reference's record id."""
    with transaction.atomic():
        find_candidates(write_chunk(plans, agency, user, None, ImportResult(), owner_right_ids()))
    refs = [plan.external_ref for plan in plans]
    return dict(Record.objects.filter(owner=agency, external_ref__in=refs).values_list("external_ref", "pk"))


# --- releases ---------------------------------------------------------------------


class RowReleases:
    """The releases a file's rows state, decided by the release service (intel.releasing):
    whether the importing user may release, which agreement references the agency may
    release under (any other is refused as one that does not exist), and the writing,
    audited, in the import's transaction. A row stating no releasability changes none."""

    def __init__(self, agency, user) -> None:
        self.agency, self.user = agency, user
        self.service = release_service()
        self.refusal: str | None = None
        self.asked = False
        self.agreement_ids: dict[str, int] = {}

    def problems(self, plans: list[RowPlan]) -> list[dict]:
        """Row errors for the releases of a chunk's rows; the refusal of the user is told
        once, at the first row stating a releasability."""
        stating = [plan for plan in plans if plan.release is not None]
        if not stating:
            return []
        errors = []
        if not self.asked:
            self.asked = True
            self.refusal = self.service.refusal(user=self.user, agency_id=self.agency.pk)
            if self.refusal:
                errors.append({"row": stating[0].number, "field": "releasability", "message": self.refusal})
        wanted = {ref for plan in stating for ref in plan.release.references} - set(self.agreement_ids)
        if wanted:
            self.agreement_ids.update(self.service.agreement_ids(agency_id=self.agency.pk, references=wanted))
        for plan in stating:
            for reference in plan.release.references:
                if reference not in self.agreement_ids:
                    errors.append(
                        {
                            "row": plan.number,
                            "field": "release_to",
                            "message": f"{quoted(reference[:100])} is not an agreement in force under which "
                            f"{self.agency.code} provides",
                        }
                    )
        return errors

    def write(self, created: list[RowPlan], updated: list[RowPlan], record_ids: dict[str, int]) -> None:
        """Releases the chunk's written records as their rows say, one call per release."""
        groups: dict[ReleasePlan, list[int]] = {}
        # A new record is released to no one already.
        stating = [plan for plan in created if plan.release and plan.release.mode != Releasability.NONE]
        for plan in [*stating, *(plan for plan in updated if plan.release)]:
            groups.setdefault(plan.release, []).append(record_ids[plan.external_ref])
        for release, ids in groups.items():
            self.service.release(
                user=self.user,
                agency_id=self.agency.pk,
                record_ids=ids,
                mode=release.mode,
                agreement_ids=sorted({self.agreement_ids[ref] for ref in release.references}),
            )


# --- the whole batch --------------------------------------------------------------


class SeenReferences:
    """External references met so far in the file, kept in a temporary table in the
    database rather than in a Python set, so that the importer's memory does not grow with
    the file. Made inside the import's transaction, emptied at its start and end."""

    def __init__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS import_seen_refs (ref TEXT PRIMARY KEY)")
            cursor.execute("DELETE FROM import_seen_refs")

    def met_before(self, refs: list[str]) -> set[str]:
        """Adds the distinct `refs` and returns those already met."""
        with connection.cursor() as cursor:
            placeholders = ", ".join(["%s"] * len(refs))
            # Only placeholders are formatted into the statement; the references are parameters.
            cursor.execute(f"SELECT ref FROM import_seen_refs WHERE ref IN ({placeholders})", refs)  # noqa: S608
            met = {ref for (ref,) in cursor.fetchall()}
            new = [ref for ref in refs if ref not in met]
            if new:
                # One statement, not one per reference: a round trip per row otherwise.
                rows = ", ".join(["(%s)"] * len(new))
                cursor.execute(f"INSERT INTO import_seen_refs (ref) VALUES {rows}", new)  # noqa: S608
        return met

    def clear(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM import_seen_refs")


def import_file(
    path: Path,
    agency,
    *,
    user=None,
    batch=None,
    file_format: str | None = None,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
    chunk_mentions: int = CHUNK_MENTIONS,
    candidate_search_entities: int = CANDIDATE_SEARCH_ENTITIES,
    allow_unknown_columns: bool = False,
    limits: ImportLimits | None = None,
) -> ImportResult:
    """Imports one file for `agency`, all-or-nothing, within `limits` (the settings' when
    None). Raises ImportFailed with every problem found (row, field, message) when any row
    is bad; nothing is written then. Unknown columns are such problems, unless
    `allow_unknown_columns`: then they are ignored and listed in the result's warnings."""
    from audit.log import record_event

    file_format = file_format or detect_format(path.name)
    result = ImportResult()
    nested = file_format != "csv"
    columns = ColumnCheck(nested=nested, allow_unknown=allow_unknown_columns)
    errors: list[dict] = []
    perm_ids = owner_right_ids()
    releases = RowReleases(agency, user)
    unsearched: set[int] = set()
    budget = CandidateBudget(left=0, scores_left=0)
    candidates_created = names_scored = 0

    def search_candidates() -> None:
        nonlocal candidates_created, names_scored
        if not budget.cut:
            budget.left = CANDIDATES_AT_LEAST + CANDIDATES_PER_ROW * result.rows - candidates_created
            budget.scores_left = SCORES_AT_LEAST + SCORES_PER_ROW * result.rows - names_scored
            allowed = budget.scores_left
            candidates_created += find_candidates(unsearched, budget=budget)
            names_scored += allowed - budget.scores_left
        unsearched.clear()

    def flush(plans: list[RowPlan], seen: SeenReferences) -> None:
        """Reports references met twice, then writes the chunk while the file is still clean."""
        met = seen.met_before(list(dict.fromkeys(plan.external_ref for plan in plans)))
        in_chunk: set[str] = set()
        kept = []
        for plan in plans:
            if plan.external_ref in met or plan.external_ref in in_chunk:
                errors.append(
                    {
                        "row": plan.number,
                        "field": "external_ref",
                        "message": f"{quoted(plan.external_ref)} appears twice",
                    }
                )
            else:
                in_chunk.add(plan.external_ref)
                kept.append(plan)
        errors.extend(releases.problems(kept))
        if not errors:
            written = result.created + result.updated
            unsearched.update(write_chunk(kept, agency, user, batch, result, perm_ids, releases))
            growing.grown_by(result.created + result.updated - written)
            # Searched before the file ends, so memory stays flat as the file grows.
            if len(unsearched) >= candidate_search_entities:
                search_candidates()

    with transaction.atomic(), planned_as_lookups():
        if connection.vendor == "postgresql":
            # Foreign keys are checked as each chunk is written, not queued in the server's
            # memory, row by row, until COMMIT (docs/benchmarks.md, "COMMIT").
            with connection.cursor() as cursor:
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        seen = SeenReferences()
        growing = GrowingTables(IMPORTED_TABLES)
        chunk: list[RowPlan] = []
        mentions = 0
        with open_import_file(path, limits) as stream:
            for number, row, problems in iter_rows(stream, file_format, limits):
                result.rows += 1
                if problems:
                    errors.extend(problems)
                else:
                    errors.extend(columns.check(number, row))
                    plan, row_errors = parse_row(number, row, agency.code, nested=nested)
                    errors.extend(row_errors)
                    if plan:
                        # After the first bad row nothing more is written, but every row is still checked.
                        chunk.append(plan)
                        mentions += len(plan.mentions)
                if len(chunk) >= chunk_size or mentions >= chunk_mentions:
                    flush(chunk, seen)
                    chunk, mentions = [], 0
                if progress and result.rows % 100 == 0:
                    progress(result.rows)
                if len(errors) >= MAX_REPORTED_ERRORS:
                    break
        if chunk and len(errors) < MAX_REPORTED_ERRORS:
            flush(chunk, seen)
        if result.rows == 0 and not errors:
            errors.append({"row": None, "field": "file", "message": "the file holds no rows"})
        if errors:
            errors.sort(key=lambda error: error["row"] or 0)
            if len(errors) >= MAX_REPORTED_ERRORS:
                errors = errors[:MAX_REPORTED_ERRORS]
                errors.append(
                    {"row": None, "field": None, "message": f"stopped after {MAX_REPORTED_ERRORS} problems"}
                )
            raise ImportFailed(errors)
        search_candidates()
        seen.clear()
        result.warnings = columns.warnings
        if budget.cut:
            result.warnings.append(
                {
                    "row": None,
                    "field": None,
                    "message": f"the search for near-duplicates stopped after {candidates_created} "
                    "candidates, the most alike first: the file names more parties alike to each other "
                    f"than analysts can review (at most {CANDIDATES_AT_LEAST} and {CANDIDATES_PER_ROW} "
                    "per row), or more in one group of similar names than an import may compare; the "
                    "records were imported whole",
                }
            )
        record_event(
            "records.import",
            actor=user,
            agency_id=agency.pk,
            obj=batch,
            details={
                "file": path.name,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "warnings": len(result.warnings),
            },
        )
    if progress:
        progress(result.rows)
    return result
