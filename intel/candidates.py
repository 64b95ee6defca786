"""Near-duplicate entities: finding candidates for an analyst to decide (`intel.merging`).

Resolution on ingest (`intel.resolution`) merges only what is certainly one thing (one
registration number, one fingerprint). What may be one thing ("Acme Trading Ltd" and
"Acme Tradng Ltd" in one country) becomes a `ResolutionCandidate`.

Candidates and their scores are derived from records, so the visibility rule binds them as
it binds the records. The stored candidate and its score come from every agency's names
and are never shown: a reader is offered a pair only as far as the names its own visible
mentions give the two entities carry it (`offered_score`, read time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import numpy
from django.db import connection
from django.db.models import Func, TextField
from rapidfuzz import fuzz, process

from intel.bulk import insert_rows, set_column
from intel.models import (
    Entity,
    EntityIdentity,
    EntityMerge,
    EntityType,
    Link,
    LinkType,
    Mention,
    ResolutionCandidate,
)
from intel.resolution import Resolved, name_fingerprint, name_without_legal_forms

FUZZY_TYPES = (EntityType.COMPANY, EntityType.PERSON)
# Standing names a candidate search fetches from the database at a time; it scores each
# block as soon as its names are all read.
NAMES_PER_FETCH = 2_000
# Pairs of alike names a candidate search judges and writes at a time.
PAIRS_PER_JUDGING = 1_000
# The lowest name similarity (rapidfuzz ratio, 0-100) at which two entities are proposed,
# and at which a reader is offered the pair from the names it may see.
CANDIDATE_THRESHOLD = 85.0
# Cells of one score matrix (float32; three are held at once): the names of a block asked
# at once, times the block's standing names.
MATRIX_CELLS = 2_000_000
# Names of a block alike to one name asked, kept (the best): pairs grew with the square of a
# block of names all alike to each other.
ALIKE_PER_NAME = 50


# --- finding candidates -------------------------------------------------------------


def name_scores(a: str, b: str) -> tuple[float, float]:
    """How alike two name fingerprints are (rapidfuzz ratio, 0-100): as they are, and
    without the words of legal forms (0 when either has no other word), so that two
    spellings of a legal form the tables fold differently do not hide one name."""
    bare_a, bare_b = name_without_legal_forms(a), name_without_legal_forms(b)
    return float(fuzz.ratio(a, b)), float(fuzz.ratio(bare_a, bare_b)) if bare_a and bare_b else 0.0


def _is_registration_key(key: str) -> bool:
    return ":reg:" in key


def _date_of_birth(key: str) -> str:
    # Person keys are [AG:]CC:<fingerprint>:<date of birth>, CC:<fingerprint> or
    # CC:doc:<number>; fingerprints hold no ":" and a date is the only part with "-".
    last = key.rsplit(":", 1)[-1]
    return last if ":doc:" not in key and len(last) == 10 and last[4] == "-" else ""


# --- evidence -------------------------------------------------------------------------

# The facts two entities are compared on besides their names, by where they are stated:
# in a mention's properties, or as the address, phone or e-mail an entity is linked to.
PROPERTY_FACTS = {"registration_number": "registration_number", "date_of_birth": "date_of_birth"}
CONTACT_FACTS = {EntityType.ADDRESS: "address", EntityType.PHONE: "phone", EntityType.EMAIL: "email"}
CONTACT_LINKS = (LinkType.REGISTERED_AT, LinkType.CONTACT)


def facts_of(*, properties: Iterable[Mapping[str, Any]] = (), contacts: Iterable[tuple[str, str]] = ()):
    """What identifies an entity besides its names: the registration numbers, dates of
    birth and identity documents its mentions state, and its contacts as (type, name of the
    contact entity); a kind maps to the set of its values."""
    facts: dict[str, set[str]] = defaultdict(set)
    for stated in properties:
        for name, kind in PROPERTY_FACTS.items():
            if isinstance(stated.get(name), str):
                facts[kind].add(stated[name])
        documents = stated.get("documents")
        if isinstance(documents, list):
            facts["document"].update(str(number) for number in documents)
    for contact_type, name in contacts:
        if contact_type in CONTACT_FACTS:
            facts[CONTACT_FACTS[contact_type]].add(name)
    return facts


def _key_facts(type_: str, key: str) -> dict[str, set[str]]:
    """The facts an entity's key states, for the evidence stored at ingest (a key is every
    mention's, so no entity's mentions need be read again)."""
    if type_ == EntityType.COMPANY and _is_registration_key(key):
        return {"registration_number": {key.split(":reg:", 1)[1]}}
    if type_ == EntityType.PERSON and (dob := _date_of_birth(key)):
        # A document key names one of a person's documents, not all: it cannot say they differ.
        return {"date_of_birth": {dob}}
    return {}


def candidate_evidence(
    *,
    names_a: Iterable[str],
    names_b: Iterable[str],
    facts_a: Mapping[str, set[str]],
    facts_b: Mapping[str, set[str]],
) -> dict[str, Any]:
    """Why two entities may be one: the closest pair of their name fingerprints and its
    ratios as they are and without legal forms (`name_scores`, the better is the score),
    the identifiers and contacts both state (`shared`), and the kinds both state with no
    value in common (`differ`: two addresses, two dates of birth)."""
    pairs = [
        (max(scores), scores, a, b)
        for a in set(names_a)
        for b in set(names_b)
        for scores in [name_scores(a, b)]
    ]
    _, (score, bare_score), name_a, name_b = max(pairs, default=(0.0, (0.0, 0.0), "", ""))
    shared = {
        kind: sorted(facts_a[kind] & facts_b.get(kind, set()))
        for kind in sorted(facts_a)
        if facts_a[kind] & facts_b.get(kind, set())
    }
    differ = sorted(
        kind for kind in facts_a if facts_a[kind] and facts_b.get(kind) and not facts_a[kind] & facts_b[kind]
    )
    return {
        "names": [name_a, name_b],
        "score_parts": {"name": round(score, 1), "name_without_legal_forms": round(bare_score, 1)},
        "shared": shared,
        "differ": differ,
    }


def stored_evidence(
    pairs: Iterable[tuple[int, int]],
    *,
    reason: str = "similar names",
    known: Mapping[int, tuple[str, str, list[str]]] | None = None,
) -> dict[tuple[int, int], dict]:
    """The evidence of each pair from every agency's records, as stored on a candidate: the
    names noted for each entity, the facts its key states and the contacts it is linked to.
    `known` holds (type, key, name fingerprints) of entities the caller has read already."""
    pairs = list(pairs)
    ids = {pk for pair in pairs for pk in pair}
    entities = {pk: known[pk] for pk in ids if known and pk in known}
    if ids - set(entities):
        entities.update(
            (pk, (type_, key, names))
            for pk, type_, key, names in Entity.objects.filter(pk__any_of=ids - set(entities)).values_list(
                "pk", "type", "key", "name_fingerprints"
            )
        )
    contacts: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for source, target_type, target_key in (
        Link.objects.filter(source_id__any_of=ids, type__in=CONTACT_LINKS)
        .values_list("source_id", "target_type", "target__key")
        .distinct()
    ):
        contacts[source].add((target_type, target_key))
    facts = {
        pk: {**facts_of(contacts=contacts[pk]), **_key_facts(type_, key)}
        for pk, (type_, key, _) in entities.items()
    }
    return {
        (a, b): {
            "reason": reason,
            **candidate_evidence(
                names_a=entities[a][2], names_b=entities[b][2], facts_a=facts[a], facts_b=facts[b]
            ),
        }
        for a, b in pairs
    }


def propose(
    pairs: Mapping[tuple[int, int], float],
    *,
    reason: str = "similar names",
    known: Mapping[int, tuple[str, str, list[str]]] | None = None,
) -> int:
    """Records the pairs (a < b) not yet proposed, merged or rejected as open candidates,
    each with its score and its evidence; returns how many it created."""
    if not pairs:
        return 0
    firsts = {a for a, _ in pairs}
    seconds = {b for _, b in pairs}
    existing = set(
        ResolutionCandidate.objects.filter(
            entity_a_id__any_of=firsts, entity_b_id__any_of=seconds
        ).values_list("entity_a_id", "entity_b_id")
    )
    fresh = sorted(pair for pair in pairs if pair not in existing)
    if not fresh:
        return 0
    evidence = stored_evidence(fresh, reason=reason, known=known)
    # ignore_conflicts: a concurrent import may propose the same pair first.
    ResolutionCandidate.objects.bulk_create(
        [
            ResolutionCandidate(
                entity_a_id=a, entity_b_id=b, score=round(pairs[(a, b)], 1), evidence=evidence[(a, b)]
            )
            for a, b in fresh
        ],
        ignore_conflicts=True,
    )
    return len(fresh)


def _distinct_by_key(type_: str, key_a: str, key_b: str, dates: Mapping[str, set[str]] | None = None) -> bool:
    """True when the keys themselves say two entities are different things; `dates` holds
    the dates of birth stated for persons keyed by a document, whose keys do not say it."""
    if key_a == key_b:
        return True
    if type_ == EntityType.COMPANY:
        # Two different registration numbers are two legal entities, whatever their names.
        return _is_registration_key(key_a) and _is_registration_key(key_b)
    if type_ == EntityType.PERSON:
        dates = dates or {}
        dob_a = dates.get(key_a) or {_date_of_birth(key_a)} - {""}
        dob_b = dates.get(key_b) or {_date_of_birth(key_b)} - {""}
        return bool(dob_a and dob_b and not dob_a & dob_b)
    return False


def _document_dates(entity_ids: Iterable[int]) -> dict[str, set[str]]:
    """The dates of birth stated with each document-keyed person of `entity_ids` (from the
    name and date identities noted for it), by the person's key."""
    dates: dict[str, set[str]] = defaultdict(set)
    ids = list(entity_ids)
    keys = dict(Entity.objects.filter(pk__any_of=ids).values_list("pk", "key"))
    rows = EntityIdentity.objects.filter(entity_id__any_of=ids).values_list("entity_id", "identity")
    for entity_id, identity in rows:
        if identity.startswith("person:"):
            dates[keys[entity_id]].add(identity.rsplit(":", 1)[1])
    return dates


def _fingerprints_by_entity(entity_ids: Iterable[int]) -> dict[int, set[str]]:
    names: dict[int, set[str]] = defaultdict(set)
    rows = (
        Mention.objects.filter(entity_id__any_of=list(entity_ids))
        .values_list("entity_id", "properties__name")
        .distinct()
    )
    for entity_id, name in rows:
        if isinstance(name, str) and (fingerprint := name_fingerprint(name)):
            names[entity_id].add(fingerprint)
    return names


def note_names(stated: Iterable[tuple[int, Resolved]]) -> None:
    """Adds to each company and person the fingerprints of the names new mentions state."""
    fingerprints: dict[int, set[str]] = defaultdict(set)
    for entity_id, resolved in stated:
        name = resolved.properties.get("name")
        if resolved.type in FUZZY_TYPES and isinstance(name, str) and (fingerprint := name_fingerprint(name)):
            fingerprints[entity_id].add(fingerprint)
    current = dict(
        Entity.objects.filter(pk__any_of=list(fingerprints)).values_list("pk", "name_fingerprints")
    )
    grown = {
        pk: sorted(found | set(current[pk]))
        for pk, found in fingerprints.items()
        if pk in current and not found <= set(current[pk])
    }
    set_column(Entity, "name_fingerprints", grown)


def note_identities(stated: Iterable[tuple[int, Resolved]], *, agency_id: int) -> set[str]:
    """Records the identities new mentions of the agency's state for the entities their own
    keys name (before any merge is followed); returns the identities."""
    rows = {
        (entity_id, identity): tier
        for entity_id, resolved in stated
        for identity, tier in resolved.identities
    }
    insert_rows(
        EntityIdentity,
        ["entity_id", "identity", "tier", "agency_id"],
        ((pk, identity, tier, agency_id) for (pk, identity), tier in rows.items()),
        ignore_conflicts=True,
    )
    return {identity for _, identity in rows}


def refresh_name_fingerprints(entity_ids: Iterable[int]) -> None:
    """Recomputes the fingerprints from the entities' mentions, after mentions moved."""
    ids = list(entity_ids)
    names = _fingerprints_by_entity(ids)
    set_column(Entity, "name_fingerprints", {pk: sorted(names.get(pk, ())) for pk in ids})


def offered_score(*, names_a: Iterable[str], names_b: Iterable[str]) -> float | None:
    """The best score (`name_scores`) between the names one reader's mentions give two
    entities, or None below the threshold: what that reader is offered, whatever other
    agencies' names say."""
    fingerprints_a, fingerprints_b = (
        {fingerprint for fingerprint in map(name_fingerprint, names) if fingerprint}
        for names in (names_a, names_b)
    )
    best = max((max(name_scores(a, b)) for a in fingerprints_a for b in fingerprints_b), default=0.0)
    return round(float(best), 1) if best >= CANDIDATE_THRESHOLD else None


@dataclass
class CandidateBudget:
    """How many candidates a search may still create (`left`) and how many pairs of names it
    may still score (`scores_left`: the cells of its matrices), and whether one stopped at
    either (`cut`)."""

    left: int
    scores_left: int
    cut: bool = False


def find_candidates(
    entity_ids: Iterable[int],
    threshold: float = CANDIDATE_THRESHOLD,
    *,
    budget: CandidateBudget | None = None,
) -> int:
    """Records, as open candidates, the near-duplicates of the given companies and
    persons among the other unmerged entities of their type and block; returns how many
    candidates it created.

    Only the blocks of the given entities are read (through the `block` index), so the
    cost follows the batch, not the size of the graph. The score is the best `name_scores`
    between any name fingerprint stated for one and any stated for the other.
    Pairs already proposed, merged or rejected are left as they are; two companies with
    different registration numbers (unless a fold gave one of them a name both state:
    `_fold_choices`), and two persons with different dates of birth, are never proposed.
    Each candidate carries its evidence (`stored_evidence`). With a `budget`, the search
    scores of a block only the first names (by id) the pairs it has left have room for, and
    stops there; it judges the pairs
    found best first, stopping once it has created the budget's `left` (give or take
    PAIRS_PER_JUDGING); it says so in the budget.
    """
    ids = set(entity_ids)
    if not ids:
        return 0
    # Each query names one indexed column only: the tables' statistics lag an import's own
    # rows, and with further conditions the planner took an index of those (every standing
    # company, say) and filtered it, a cost that grew with the table.
    new = [
        (pk, type_, block)
        for pk, type_, block, merged_into in Entity.objects.filter(pk__any_of=ids).values_list(
            "pk", "type", "block", "merged_into"
        )
        if type_ in FUZZY_TYPES and merged_into is None and block
    ]
    if not new:
        return 0
    asking: dict[tuple[str, str], list[int]] = defaultdict(list)
    # By id: a budget's first names of a block are the same whatever order the rows came in.
    for pk, type_, block in sorted(new):
        asking[(type_, block)].append(pk)
    alike: dict[tuple[int, int], float] = {}
    # The names of the entities paired, kept from the blocks read for `known`.
    names: dict[int, list[str]] = {}
    # The standing names come in block order, and each block is scored and let go as soon
    # as its last name is read: batches of a number of blocks held more names as the blocks
    # grew with what is stored, and so did the importer's memory.
    blocks = sorted({block for _, block in asking})
    rows = _standing_names(blocks)
    for key, named in groupby(rows, key=lambda row: (row[1], row[2])):
        if key not in asking:
            continue
        # Every fingerprint stated for an entity of the block, once per entity.
        pool = [(pk, fingerprint) for pk, _, _, fingerprint in named]
        read: dict[int, list[str]] = defaultdict(list)
        for pk, fingerprint in pool:
            read[pk].append(fingerprint)
        asked = [(pk, fingerprint) for pk in asking[key] for fingerprint in read.get(pk, ())]
        if budget is not None:
            # A file of thousands of parties in one block scored each against every other:
            # the first names of the block that the budget has room for are scored, no more.
            room = budget.scores_left // len(pool)
            if room < len(asked):
                budget.cut = True
                asked = asked[:room]
            budget.scores_left -= len(asked) * len(pool)
        for pk, other, score in _alike(asked, pool, threshold) if asked else ():
            pair = (min(pk, other), max(pk, other))
            alike[pair] = max(alike.get(pair, 0.0), score)
            names[pk], names[other] = read[pk], read[other]
        if budget is not None and budget.cut:
            break
    # Judged and written a number of pairs at a time: the pairs a search finds multiply as
    # what is stored grows, and their evidence held all at once grew the importer's memory.
    # The most alike first, so that a budget keeps them.
    ordered = sorted(alike, key=lambda pair: (-alike[pair], pair))
    created = 0
    for start in range(0, len(ordered), PAIRS_PER_JUDGING):
        if budget is not None and budget.left <= 0:
            budget.cut = True
            break
        made = _judged({pair: alike[pair] for pair in ordered[start : start + PAIRS_PER_JUDGING]}, names)
        created += made
        if budget is not None:
            budget.left -= made
    return created


def _judged(alike: Mapping[tuple[int, int], float], names: Mapping[int, list[str]]) -> int:
    """Proposes, of these pairs whose names are alike, those their keys do not tell apart, and
    the registered companies a fold chose between (`_fold_choices`); returns how many it
    created. Keys, and what they alone do not say, are read for these pairs only, not for
    every entity of their blocks, which grow with what is stored."""
    paired = Entity.objects.filter(pk__any_of={pk for pair in alike for pk in pair})
    peers = {pk: (type_, key) for pk, type_, key in paired.values_list("pk", "type", "key")}
    document_ids = {
        pk for pair in alike for pk in pair if peers[pk][0] == EntityType.PERSON and ":doc:" in peers[pk][1]
    }
    dates = _document_dates(document_ids) if document_ids else {}
    distinct = {
        pair
        for pair in alike
        if _distinct_by_key(peers[pair[0]][0], peers[pair[0]][1], peers[pair[1]][1], dates)
    }
    chosen = _fold_choices(
        {
            pair
            for pair in distinct
            if peers[pair[0]][0] == EntityType.COMPANY
            and _is_registration_key(peers[pair[0]][1])
            and _is_registration_key(peers[pair[1]][1])
        }
    )
    # Two registered companies a fold chose between: offered whatever their names' score.
    between = {pair: score for pair, score in alike.items() if pair in chosen}
    scores = {pair: score for pair, score in alike.items() if pair not in distinct}
    known = {pk: (peers[pk][0], peers[pk][1], names[pk]) for pair in alike for pk in pair}
    return propose(scores, known=known) + propose(
        between, reason="a name folded into one registered company is another's too", known=known
    )


def _standing_names(blocks: Collection[str]) -> Iterator[tuple[int, str, str, str]]:
    """(id, type, block, name fingerprint) for every fingerprint noted for the standing
    entities of the blocks, in block and type order, fetched NAMES_PER_FETCH at a time. A
    chunk's names reach most blocks, which grow with what is stored: on PostgreSQL the
    database unnests each entity's list into rows of text, where decoding every list as JSON
    in Python was most of what the candidate search cost."""
    entities = Entity.objects.filter(block__any_of=blocks).order_by("block", "type", "pk")
    if connection.vendor == "postgresql":
        each = Func("name_fingerprints", function="jsonb_array_elements_text", output_field=TextField())
        unnested = entities.annotate(fingerprint=each).values_list(
            "pk", "type", "block", "merged_into", "fingerprint"
        )
        for pk, type_, block, merged_into, fingerprint in unnested.iterator(chunk_size=NAMES_PER_FETCH):
            if merged_into is None:
                yield pk, type_, block, fingerprint
        return
    listed = entities.values_list("pk", "type", "block", "merged_into", "name_fingerprints")
    for pk, type_, block, merged_into, fingerprints in listed.iterator(chunk_size=NAMES_PER_FETCH):
        if merged_into is None:
            for fingerprint in fingerprints:
                yield pk, type_, block, fingerprint


def _alike(
    asked: list[tuple[int, str]], pool: list[tuple[int, str]], threshold: float
) -> Iterable[tuple[int, int, float]]:
    """(entity asked, another entity of the pool, best score of their fingerprints) where
    `name_scores` reach the threshold, at most ALIKE_PER_NAME entities per name asked (the best),
    scored as rapidfuzz matrices (`process.cdist`), as written and without legal forms; a
    fingerprint with no word besides legal forms is not compared without them. The names
    asked are scored MATRIX_CELLS at a time: a file of thousands of variants of one name,
    all in one block, made matrices of its size squared, and pairs as many."""
    pool_names = [name for _, name in pool]
    bare_pool = [name_without_legal_forms(name) for name in pool_names]
    pool_ids = numpy.array([pk for pk, _ in pool])
    rows = max(1, MATRIX_CELLS // max(1, len(pool)))
    for start in range(0, len(asked), rows):
        chunk = asked[start : start + rows]
        written = process.cdist(
            [name for _, name in chunk], pool_names, scorer=fuzz.ratio, score_cutoff=threshold
        )
        bare_asked = [name_without_legal_forms(name) for _, name in chunk]
        bare = process.cdist(bare_asked, bare_pool, scorer=fuzz.ratio, score_cutoff=threshold)
        # Two empty strings are alike to rapidfuzz (100): nothing to compare is no likeness.
        bare[[not name for name in bare_asked], :] = 0
        bare[:, [not name for name in bare_pool]] = 0
        best = numpy.maximum(written, bare)
        best[pool_ids[None, :] == numpy.array([pk for pk, _ in chunk])[:, None]] = 0
        for row in range(len(chunk)):
            columns = numpy.flatnonzero(best[row])
            scores, others = best[row, columns], pool_ids[columns]
            # Best first, ties by entity id (the same whatever order the names were asked
            # in), each entity of the pool at its best fingerprint: one with many spellings
            # takes one of the places, not many. In numpy: a block of thousands of names all
            # alike looped over every pair in Python.
            order = numpy.lexsort((others, -scores))
            _, firsts = numpy.unique(others[order], return_index=True)
            for column in order[numpy.sort(firsts)][:ALIKE_PER_NAME]:
                yield chunk[row][0], int(others[column]), float(scores[column])


def _fold_choices(pairs: Collection[tuple[int, int]]) -> set[tuple[int, int]]:
    """Of the pairs (a < b) of registered companies, those of which one holds, by an
    automatic fold, a weaker entity (named without a number) stating an identity the other
    states too: a name that several registered companies share, which the fold gave one of
    them on its agency's records. Two numbers are two companies, but those mentions may be
    the other's."""
    if not pairs:
        return set()
    registered = {pk for pair in pairs for pk in pair}
    folded = dict(
        EntityMerge.objects.filter(
            survivor_id__any_of=registered, automatic=True, undone_at__isnull=True
        ).values_list("merged_id", "survivor_id")
    )
    if not folded:
        return set()
    rows = EntityIdentity.objects.filter(entity_id__any_of=[*registered, *folded]).values_list(
        "entity_id", "identity"
    )
    # Per identity a folded entity states, the folds' holders and the registered companies
    # stating it: the identities no fold states (most of them) are passed over.
    holders: dict[str, set[int]] = defaultdict(set)
    stating: dict[str, set[int]] = defaultdict(set)
    for entity_id, identity in rows:
        if entity_id in folded:
            holders[identity].add(folded[entity_id])
        if entity_id in registered:
            stating[identity].add(entity_id)
    chosen = {
        (min(other, holder), max(other, holder))
        for identity, holding in holders.items()
        for holder in holding
        for other in stating.get(identity, ())
    }
    return chosen & set(pairs)
