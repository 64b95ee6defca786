"""Reads of records, entities, mentions and links, always through the visibility choke
point (`visible_to`), and the audit of reads of other agencies' records."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from uuid import UUID

from django.conf import settings
from django.db.models import OuterRef, Prefetch, Q, QuerySet

from audit.log import Event, record_events
from core.pagination import count_up_to
from core.time_limits import TimeLimitExceeded, statements_limited_to, taking_at_least
from intel.access import Access, access_policy, sees_everything, viewer_agency_id
from intel.models import (
    Entity,
    EntityMerge,
    ImportBatch,
    Link,
    LinkType,
    Mention,
    Purpose,
    Record,
    ResolutionCandidate,
)
from intel.querysets import MENTION_ORDER, NO_ROW, EachRowExists, attach_latest_mentions

PURPOSE_HEADER = "HTTP_X_INTERLINK_PURPOSE"
SESSION_PURPOSE = "purpose"


SEARCH_MIN_LENGTH = 2
SEARCH_MAX_LENGTH = 200
# A search text this long has trigrams for the search index (`intel_mention_search_trgm`)
# to look up; a shorter one is found only by reading every mention.
SEARCH_INDEXED_LENGTH = 3
# Mentions containing the text, whoever may see them, read to narrow a search to their
# entities: fewer than this and the text is rare (most identifiers and names), and the
# search asks the rule of those entities alone.
SEARCH_NARROWING_MENTIONS = 5000
# When that many mentions name fewer entities than this, the text is the name of a few busy
# entities (a hub company's), not a common word: its entities are listed, up to
# SEARCH_NARROWING_ENTITIES, rather than found by walking every entity.
SEARCH_BUSY_ENTITIES = 200
SEARCH_NARROWING_ENTITIES = 2000


class BadInput(Exception):
    """A value a user sent that no read accepts, refused before anything is read: the API
    answers 400 naming `field` (config.exceptions), the pages a 400 page."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class InvalidPurpose(BadInput):
    """A stated purpose outside the vocabulary. Nothing is read for it: the internal "any
    purpose" of the sync, or any other made-up value, must never reach the choke point."""

    def __init__(self, value: object):
        self.allowed = list(Purpose.values)
        super().__init__(
            "purpose", f"unknown purpose {str(value)[:100]!r}; choose one of: {', '.join(self.allowed)}"
        )


def validated_purpose(value: object) -> str | None:
    """The one check of a purpose a user states, wherever it comes from (query string,
    header, session, page, request body): one of `Purpose`, or None when none is stated."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in Purpose.values:
        raise InvalidPurpose(value)
    return value


@dataclass
class Reader:
    """Who reads, and for which purpose: records shared under agreements are read only for a
    purpose the agreement permits (stated per request or chosen for the session)."""

    user: object
    purpose: str | None = None

    def __post_init__(self) -> None:
        self.purpose = validated_purpose(self.purpose)

    @classmethod
    def from_request(cls, request) -> Reader:
        """The first purpose stated of the query string, the header and the session; each
        one stated is checked, so a forged one is refused even where another comes first."""
        session = getattr(request, "session", None)
        stated = [
            validated_purpose(value)
            for value in (
                request.GET.get("purpose"),
                request.META.get(PURPOSE_HEADER),
                session.get(SESSION_PURPOSE) if session is not None else None,
            )
        ]
        return cls(request.user, next((purpose for purpose in stated if purpose), None))

    @cached_property
    def agency_id(self) -> int | None:
        return viewer_agency_id(self.user)

    @cached_property
    def access(self) -> Access:
        if self.agency_id is None:
            return access_policy().no_access()
        return access_policy().access(agency_id=self.agency_id, purpose=self.purpose)


class PurposeRequired(Exception):
    """The record is visible, but not for the purpose stated (or none was)."""

    def __init__(self, message: str, allowed: list[str]):
        super().__init__(message)
        self.allowed = allowed


def visible_records(reader: Reader) -> QuerySet[Record]:
    records = Record.objects.visible_to(reader.user, reader.purpose, reader.access).select_related("owner")
    return records.with_holding(reader.user, reader.access)


def readable_record(reader: Reader, records: QuerySet[Record], public_id: UUID | str) -> Record | None:
    """The record from `records` (the reader's, for the purpose stated), or None when the
    reader's agency may not see it at all. Raises PurposeRequired when it is visible but not
    for the purpose stated (or none was), or when its owner's handling code forbids that use
    without consent."""
    record = records.filter(public_id=public_id).first()
    if record is not None:
        return record
    visible = Record.objects.visible_to(reader.user).filter(public_id=public_id)
    held = visible.first()
    if held is None:
        return None
    refused = access_policy().use_refused(agency_id=reader.agency_id, record=held, purpose=reader.purpose)
    if refused:
        allowed = [p for p in reader.access.allowed_purposes() if p != reader.purpose]
        raise audited_refusal(reader, held.pk, PurposeRequired(refused, allowed))
    raise audited_refusal(reader, held.pk, purpose_refusal(reader, visible))


def audited_refusal(reader: Reader, record_id: int, refusal: PurposeRequired) -> PurposeRequired:
    """Logs a read refused for its purpose (who, which record, the purpose stated): a trail
    of attempts to read shared records for purposes their agreements do not permit."""
    record_events(
        [
            Event(
                action="record.purpose_refused",
                actor=reader.user if getattr(reader.user, "pk", None) else None,
                agency_id=reader.agency_id,
                object_type="intel.record",
                object_id=str(record_id),
                details={"purpose": reader.purpose, "allowed": refusal.allowed},
            )
        ]
    )
    return refusal


def purpose_refusal(reader: Reader, visible: QuerySet[Record]) -> PurposeRequired:
    """Names the purposes under which the agreements the record is shared by allow reading it."""
    allowed = access_policy().purposes_for(agency_id=reader.agency_id, records=visible)
    stated = f"for {reader.purpose!r}" if reader.purpose else "without a stated purpose"
    return PurposeRequired(
        f"this record is shared with your agency under an agreement; it cannot be read {stated}", allowed
    )


def visible_mentions(reader: Reader) -> QuerySet[Mention]:
    return Mention.objects.visible_to(reader.user, reader.purpose, reader.access)


def visible_links(reader: Reader) -> QuerySet[Link]:
    return Link.objects.visible_to(reader.user, reader.purpose, reader.access)


def held_records(reader: Reader) -> QuerySet[Record]:
    """Records the reader's agency holds for some purpose: what a change or deletion is
    asked about (the owner's rights decide it; any other holder is refused, not told 404)."""
    return Record.objects.visible_to(reader.user)


# Entities are listed by their public ids, which are random: an entity is shared by every
# agency whose records name it, and listed in the order they were written, one that another
# agency's records had named first came before those the reader's own import had just made,
# which told the reader that an agency it may not see holds that phone or that vessel.
ENTITY_ORDER = ("public_id", "id")


def record_with_contents(reader: Reader, *, among: Sequence[int] | None = None) -> QuerySet[Record]:
    """Visible records with their visible mentions and links prefetched; `among`: the ids of
    the records that will be fetched, when known (a chunk of an export), named to the
    prefetches too (`of_records`)."""
    mentions, links = visible_mentions(reader), visible_links(reader)
    if among is not None:
        mentions, links = mentions.of_records(among), links.of_records(among)
    # In the order the record's rows were written: unordered, a join could list them in the
    # order of their entities, which tells what another agency named first (ENTITY_ORDER).
    mentions, links = mentions.select_related("entity"), links.select_related("source", "target")
    return visible_records(reader).prefetch_related(
        Prefetch("mentions", queryset=mentions.order_by("pk"), to_attr="visible_mentions"),
        Prefetch("links", queryset=links.order_by("pk"), to_attr="visible_links"),
    )


# An entity labelled among others (a node of a chart, a neighbour, a ranked entity), not
# listed with its mentions, is named from this many of its most recent visible mentions:
# the names in use. A hundred for each node of a walk was most of the walk's reading, and
# audited a hundred records per node as shown.
LABEL_MENTIONS = 10


# An entity's own page lists its mentions with their records and owners. A label, a list
# or a search shows of them only names and a key, and the audit names each one's record and
# that record's owner: the mentions' search text and the records' contents were most of
# what a page of entities read and built.
WHOLE_MENTIONS = {"related": ("record__owner",)}
LABEL_MENTIONS_READ = {
    "related": ("record",),
    "only": ("entity", "entity_type", "role", "properties", "resolved_key", "record__owner"),
}


def visible_entities(reader: Reader, *, named: bool = True) -> QuerySet[Entity]:
    """Entities the reader may see, each with its most recent visible mentions (and their
    records) prefetched, at most ENTITY_MENTIONS_SHOWN: a company at the centre of a trade
    is named by thousands of records, and a page of entities must not read them all (nor
    audit them all as shown). `named=False`: the entities alone, to check which are visible."""
    if not named:
        return Entity.objects.visible_to(reader.user, reader.purpose, reader.access)
    return _named(reader, settings.ENTITY_MENTIONS_SHOWN, **WHOLE_MENTIONS)


def labelled_entities(reader: Reader) -> QuerySet[Entity]:
    """Entities the reader may see, each with the few most recent visible mentions (at most
    LABEL_MENTIONS) its names and label come from."""
    return _named(reader, LABEL_MENTIONS, **LABEL_MENTIONS_READ)


def label(reader: Reader, entities: Sequence[Entity]) -> None:
    """Gives entities the reader was just shown by `visible_entities(named=False)` what
    `labelled_entities` gives, their LABEL_MENTIONS most recent visible mentions, without
    asking again whether each is visible: one hidden since has no visible mention left and is
    shown unnamed."""
    attach_latest_mentions(
        list(entities),
        visible_mentions(reader),
        LABEL_MENTIONS,
        counted_to=LABEL_MENTIONS,
        **LABEL_MENTIONS_READ,
    )


def listed_entities(reader: Reader) -> QuerySet[Entity]:
    """Entities the reader may see as a list shows them: named from their LABEL_MENTIONS most
    recent visible mentions, and their visible mentions counted up to ENTITY_MENTIONS_SHOWN
    (`mentions_counted`) without reading them. A page read and audited each entity's
    hundred mentions, with their records, for a count and a few names."""
    return _named(reader, LABEL_MENTIONS, counted_to=settings.ENTITY_MENTIONS_SHOWN, **LABEL_MENTIONS_READ)


def _named(
    reader: Reader,
    mentions: int,
    *,
    related: tuple[str, ...],
    counted_to: int | None = None,
    only: tuple[str, ...] = (),
) -> QuerySet[Entity]:
    return Entity.objects.visible_to(reader.user, reader.purpose, reader.access).named_by(
        visible_mentions(reader), mentions, related=related, counted_to=counted_to, only=only
    )


def visible_mention_count(reader: Reader, entity: Entity) -> int:
    """How many mentions of the entity the reader may see, counted no further than
    PAGINATION_COUNT_LIMIT + 1; asked only when the prefetched ones may not be all."""
    shown = len(entity.visible_mentions)
    if shown < settings.ENTITY_MENTIONS_SHOWN:
        return shown
    return count_up_to(
        visible_mentions(reader).filter(entity=entity), settings.PAGINATION_COUNT_LIMIT, order=MENTION_ORDER
    )


def normalize_query(query: str) -> str:
    return " ".join(query.lower().split())


def search_query(raw: str, *, required: bool = False) -> str:
    """The text searched for, the same check for the API and the search page; empty (when
    not `required`) means nothing was asked."""
    query = raw.strip()
    if "\x00" in query:
        raise BadInput("q", "the search text cannot contain NUL characters")
    if len(query) > SEARCH_MAX_LENGTH:
        raise BadInput("q", f"search for at most {SEARCH_MAX_LENGTH} characters")
    if (query or required) and len(query) < SEARCH_MIN_LENGTH:
        raise BadInput("q", f"give at least {SEARCH_MIN_LENGTH} characters to search for")
    return query


def search_entities(reader: Reader, query: str) -> QuerySet[Entity]:
    """Entities whose names or identifiers, as stated by records the reader may see, contain
    the query: those that a mention the reader may see names with the query in it, named and
    counted as `listed_entities` lists them. That mention is what makes the entity visible
    (`Entity.visible_to` asks for one), so the entities are not asked the rule a second time:
    for a common word PostgreSQL tested it on every mention of every entity it walked, twice.
    Asked entity by entity (`EachRowExists`), so that a page or a capped count stops early:
    as a join, PostgreSQL read every mention containing a common word and hashed every record.
    A rare text, or a busy entity's name, is asked only of the entities its mentions name
    (`_entities_named_rarely`): walking every entity to find the few it names took seconds
    at a million records."""
    text = normalize_query(query)
    matching = visible_mentions(reader).filter(entity=OuterRef("pk"), search_text__contains=text)
    found = Entity.objects.filter(EachRowExists(matching))
    named = _entities_named_rarely(text)
    if named is not None:
        # A text no mention contains asks the rule of no entity, as one that only hidden
        # mentions contain does, with the same statements: skipped for an empty list, they
        # told the two apart by time (a hit/no-hit answer outside the discovery agreements).
        found = found.filter(pk__any_of=named or [NO_ROW])
    return found.named_by(
        visible_mentions(reader),
        LABEL_MENTIONS,
        counted_to=settings.ENTITY_MENTIONS_SHOWN,
        **LABEL_MENTIONS_READ,
    )


def entities_named_exactly(reader: Reader, query: str) -> QuerySet[Entity]:
    """Of `search_entities(reader, query)`, those a visible mention names exactly: its whole
    search text is the query, or, for a query of one word with a digit in it (a reference, a
    registration, a number), its last word is (the identifier a mention states, after the
    words of its name: a shipment's reference, a company's registration number). Among a
    reference's hundreds of longer namesakes (SHP-0001 in SHP-00010 ... SHP-0001999) the one
    asked for; not ZQ7-1 for ZQ7, whose first word it is. The mentions naming
    it exactly, whoever may see them, are found by the search index and only narrow the
    entities asked; the answer is the reader's visible mentions' alone. (Asked only of a text
    the first search found rare, its mark came and went with how many hidden records held
    the text.) A text too short for the index asks nothing, whatever the records hold."""
    text = normalize_query(query)
    if len(text) < SEARCH_INDEXED_LENGTH:
        return Entity.objects.none()
    exactly = Q(search_text=text)
    if " " not in text and any(character.isdigit() for character in text):
        exactly |= Q(search_text__endswith=f" {text}")
    named = Mention.objects.filter(exactly).values("entity_id")
    matching = visible_mentions(reader).filter(exactly, entity=OuterRef("pk"))
    return Entity.objects.filter(pk__in=named).filter(EachRowExists(matching))


def _entities_named_rarely(text: str) -> list[int] | None:
    """The entities that mentions containing `text` name (whoever may see them: it only
    narrows what the rule is asked of), when the text is rare or names a few busy entities;
    None for a common text, or one too short for the search index to find, which a walk of
    the entities finds soonest. Listing a common word's entities cost as much as the walk
    that stops at a page and a capped count."""
    if len(text) < SEARCH_INDEXED_LENGTH:
        return None
    containing = Mention.objects.filter(search_text__contains=text)
    sample = list(containing.values_list("entity_id", flat=True)[:SEARCH_NARROWING_MENTIONS])
    if len(sample) < SEARCH_NARROWING_MENTIONS:
        return sample
    if len(set(sample)) >= SEARCH_BUSY_ENTITIES:
        return None
    named = list(
        containing.order_by("entity_id")
        .values_list("entity_id", flat=True)
        .distinct()[:SEARCH_NARROWING_ENTITIES]
    )
    return named if len(named) < SEARCH_NARROWING_ENTITIES else None


@contextmanager
def search_time_limited() -> Iterator[None]:
    """Runs a search's reads within SEARCH_STATEMENT_SECONDS a statement; one the indexes
    cannot make cheap (a short or common text) is refused as too broad. Its audit is written
    after it: PostgreSQL counts a wait for a lock in a statement's time, and the audit
    chain's lock may be held for as long as an import's transaction. The reads take at least
    SEARCH_MIN_SECONDS: the search index finds a text sooner when no mention holds it than
    when only mentions the reader may not see do, which told "held by none" from "held by
    an agency you may not see"."""
    try:
        with (
            taking_at_least(settings.SEARCH_MIN_SECONDS),
            statements_limited_to(settings.SEARCH_STATEMENT_SECONDS),
        ):
            yield
    except TimeLimitExceeded:
        raise BadInput(
            "q", "this search takes too long to answer: give a longer or more particular text"
        ) from None


def audit_reads(
    reader: Reader, owners: dict[int, int], via: str, agreements: dict[int, int] | None = None
) -> None:
    """Logs each read of a record that is not the reader's own agency's, with the purpose
    stated and the agreement it was read under."""
    agreements = agreements or {}
    record_events(
        Event(
            action="record.read",
            actor=reader.user,
            agency_id=reader.agency_id,
            object_type="intel.record",
            object_id=str(record_id),
            details={
                "via": via,
                "owner": owner_id,
                "purpose": reader.purpose,
                "agreement": agreements.get(record_id),
            },
        )
        for record_id, owner_id in owners.items()
        if owner_id != reader.agency_id
    )


def visible_candidates(reader: Reader) -> QuerySet[ResolutionCandidate]:
    """Candidates whose two entities the reader may both see, each with its visible mentions
    prefetched: the pairs `presentation.offered_candidates` scores again for the reader."""
    visible = Entity.objects.visible_to(reader.user, reader.purpose, reader.access)
    return ResolutionCandidate.objects.filter(entity_a__in=visible, entity_b__in=visible).prefetch_related(
        Prefetch("entity_a", queryset=visible_entities(reader)),
        Prefetch("entity_b", queryset=visible_entities(reader)),
    )


def visible_contacts(reader: Reader, entities: Iterable[Entity]) -> dict[int, set[tuple[str, str]]]:
    """The addresses, phones and e-mails (type, public id) each entity is linked to by the
    records of its shown mentions (`visible_entities`): the evidence a candidate shows comes
    from no record beyond those the answer already shows and audits."""
    entities = list(entities)
    records = {mention.record_id for entity in entities for mention in entity.visible_mentions}
    contacts: dict[int, set[tuple[str, str]]] = {}
    rows = (
        visible_links(reader)
        .filter(
            source_id__in=[entity.pk for entity in entities],
            record_id__in=records,
            type__in=(LinkType.REGISTERED_AT, LinkType.CONTACT),
        )
        .values_list("source_id", "target_type", "target__public_id")
    )
    for source, target_type, target in rows:
        contacts.setdefault(source, set()).add((target_type, str(target)))
    return contacts


def visible_merges(reader: Reader) -> QuerySet[EntityMerge]:
    """Merges made by the reader's agency (all, for platform admins): a merge is the
    conclusion its agency drew from what it may see, and the entities it names (the merged
    one has no mentions left) may be known to no other agency."""
    merges = EntityMerge.objects.order_by("-merged_at")
    if sees_everything(reader.user):
        return merges
    return merges.filter(agency_id=reader.agency_id) if reader.agency_id is not None else merges.none()


def import_batches_of(user) -> QuerySet[ImportBatch]:
    """The uploads of the user's agency: its own files, scoped by membership (they are not
    records yet, so no purpose applies)."""
    agency_id = viewer_agency_id(user)
    if agency_id is None:
        return ImportBatch.objects.none()
    return ImportBatch.objects.filter(agency_id=agency_id)
