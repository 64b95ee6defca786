"""Reads for the analyst's pages: the home's lists, search grouped by type, and an entity's
dossier. Every read goes through the choke point's selectors (`intel.selectors`, sharing's
selectors, discovery, graph's stored answers); nothing here decides who may see what."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.timesince import timesince

from agencies.models import User
from cases.models import Case as ChartCase
from cases.selectors import open_cases_of
from graph import jobs, stored_answers
from graph.models import AnalyticsResult
from graph.outbox import SyncState, sync_enabled, sync_state
from graph.selectors import visible_entity
from intel import presentation, selectors
from intel.models import Entity, EntityType, LinkType, Mention, Purpose, Record
from intel.selectors import Reader
from sharing import selectors as sharing_selectors
from sharing.discovery import discover
from sharing.models import Agreement, DisclosureRequest

HOME_ROWS = 10
EXPIRY_WARNING = timedelta(days=30)
SEARCH_PER_TYPE = 10
PHONE_LIKE = re.compile(r"\+?[\d\s().-]*\d{3}[\d\s().-]*")
NEIGHBOURS_PER_GROUP = 25
COMMUNITY_MEMBERS_SHOWN = 20
LINK_LABELS = dict(LinkType.choices)
# The analyses a profile shows, each read over the viewer's agency's graph.
# The analyses a dossier offers, each with its section of the page (Compute returns there).
ANALYSIS_SECTIONS = {"communities": "community", "network_risk": "risk"}
PROFILE_ANALYSES = tuple(ANALYSIS_SECTIONS)


# --- home ---------------------------------------------------------------------------------


@dataclass
class Home:
    recent_records: list[Record]
    open_cases: list[ChartCase]
    incoming: list[DisclosureRequest] | None
    filed: list[DisclosureRequest]
    expiring: list[Agreement] | None
    sync: SyncState | None
    sync_details: bool
    now: datetime = field(default_factory=timezone.now)

    @property
    def lag(self) -> str | None:
        """How far behind the graph is, in words; None when it is not."""
        if self.sync is None or self.sync.oldest is None:
            return None
        return "under a minute" if self.sync.lag_seconds < 60 else timesince(self.sync.oldest, self.now)


def is_admin(user: User) -> bool:
    return user.is_superuser or user.role == User.Role.AGENCY_ADMIN


def home(reader: Reader) -> Home:
    """A signed-in user's starting point. Incoming requests are for liaison officers,
    agreements about to expire for agency and platform admins; the sync's backlog follows
    every agency's activity, so only platform admins see its size (as on /health/)."""
    user = reader.user
    own = selectors.visible_records(reader).filter(owner_id=reader.agency_id) if reader.agency_id else None
    incoming = None
    if user.role == User.Role.LIAISON:
        incoming = list(sharing_selectors.incoming_requests(user).filter(status="pending")[:HOME_ROWS])
    expiring = None
    if is_admin(user):
        soon = timezone.now() + EXPIRY_WARNING
        expiring = list(
            sharing_selectors.agreements_of(user)
            .in_force()
            .filter(ends_at__lte=soon)
            .order_by("ends_at")[:HOME_ROWS]
        )
    filed = sharing_selectors.outgoing_requests(user).filter(requester=user)
    return Home(
        # Latest first by the date each states, as the record list orders them (its index):
        # ordered by when they were entered, the dates shown beside them ran in no order.
        recent_records=list(own.order_by("-occurred_on", "-pk")[:HOME_ROWS]) if own is not None else [],
        open_cases=list(open_cases_of(user).order_by("-updated_at")[:HOME_ROWS]),
        incoming=incoming,
        filed=list(filed[:HOME_ROWS]),
        expiring=expiring,
        sync=sync_state() if sync_enabled() else None,
        sync_details=user.is_superuser,
    )


# --- search -------------------------------------------------------------------------------


@dataclass
class Group:
    type: str
    label: str
    count: int
    entities: list[Entity]


@dataclass
class Found:
    groups: list[Group]
    # Whether more match than the groups count: the search stopped counting.
    more: bool


def search(reader: Reader, query: str) -> Found:
    """Entities whose names or identifiers (as the reader's records state them) contain the
    query, grouped by type: each type's count and its first SEARCH_PER_TYPE, those the query
    names exactly (`entities_named_exactly`) first, then by public id. A
    phone number is searched as typed and by its digits, the way its mentions keep it
    ("010 555 0199" finds +31105550199). The first ENTITY_COUNT_LIMIT entities found are
    counted, in one walk that stops there: counted per type to the end, a common word walked
    every entity of each type it is rare in, for seconds at a million records. The walk goes
    by public id, as the API lists entities (`selectors.ENTITY_ORDER`): by age, which of them
    came first told the reader that another agency had named one of them before."""
    texts = [query]
    if PHONE_LIKE.fullmatch(query):
        texts.append(re.sub(r"\D", "", query))
    found = selectors.search_entities(reader, texts[0])
    exact = selectors.entities_named_exactly(reader, texts[0])
    for text in texts[1:]:
        found = found | selectors.search_entities(reader, text)
        exact = exact | selectors.entities_named_exactly(reader, text)
    limit = settings.ENTITY_COUNT_LIMIT
    named_exactly = list(exact.order_by(*selectors.ENTITY_ORDER).values_list("pk", "type")[: limit + 1])
    hits = list(found.order_by(*selectors.ENTITY_ORDER).values_list("pk", "type")[: limit + 1])
    more = len(hits) > limit or len(named_exactly) > limit
    found_of_type: dict[str, dict[int, None]] = defaultdict(dict)
    # What the query names exactly comes first, wherever the walk by public id found it.
    for pk, entity_type in named_exactly[:limit] + hits[:limit]:
        found_of_type[entity_type].setdefault(pk)
    exactly = {pk for pk, _ in named_exactly}
    groups = []
    for entity_type, type_label in EntityType.choices:
        if ids := list(found_of_type.get(entity_type, ())):
            shown = ids[:SEARCH_PER_TYPE]
            by_pk = {entity.pk: entity for entity in found.filter(pk__any_of=shown)}
            entities = [by_pk[pk] for pk in shown if pk in by_pk]
            for entity in entities:
                entity.shown_label = presentation.entity_label(entity)
                entity.named_exactly = entity.pk in exactly
            groups.append(Group(entity_type, type_label, len(ids), entities))
    return Found(groups, more)


def audit_search(reader: Reader, found: Found) -> None:
    """Logs the reads of the records whose mentions name the entities `search` shows;
    written apart from the search, whose reads run within a time limit."""
    shown = {
        m.record_id: m.record.owner_id for g in found.groups for e in g.entities for m in e.visible_mentions
    }
    selectors.audit_reads(reader, shown, via="search page")


# --- the entity's dossier -----------------------------------------------------------------


@dataclass
class Neighbour:
    entity: Entity
    label: str
    records: int


@dataclass
class NeighbourGroup:
    link_type: str
    outgoing: bool
    count: int
    neighbours: list[Neighbour]

    @property
    def label(self) -> str:
        return LINK_LABELS.get(self.link_type) or self.link_type.replace("_", " ").lower()


@dataclass
class Analysis:
    """A stored analysis as the page shows it: not computed, being computed, failed, done
    before the latest changes to what the agency may see (`stale`: nothing of it shown), or
    done and current (`data`)."""

    operation: str
    row: AnalyticsResult | None
    data: dict | None = None
    records: dict[int, int] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.row is not None and self.row.status in ("pending", "running")

    @property
    def stale(self) -> bool:
        return self.data is None and self.row is not None and self.row.status == AnalyticsResult.Status.DONE


@dataclass
class Profile:
    entity: Entity
    label: str
    key: str | None
    mentions: list[Mention]
    mention_count: int
    groups: list[NeighbourGroup]
    community: Analysis
    risk: Analysis
    hits: list[dict] = field(default_factory=list)


def neighbour_groups(reader: Reader, entity: Entity) -> tuple[list[NeighbourGroup], dict[int, int]]:
    """The entity's neighbours the reader may see, through the links the reader may see,
    grouped by link type and direction: each group's count, and its NEIGHBOURS_PER_GROUP
    neighbours with most records asserting the link first (ranked in the database, so a
    broker on a hundred thousand shipments costs no more memory than one on two). Also the
    records behind the names shown, for the audit."""
    visible = Entity.objects.visible_to(reader.user, reader.purpose, reader.access)
    sizes: dict[tuple[str, bool], int] = {}
    rows = []
    # Each direction on its own, the neighbour a column: an expression choosing it by
    # direction was written again, with parameters of its own, wherever the window named it,
    # and a server binding the parameters could not tell it was the grouped one.
    for outgoing, centre, other in ((True, "source", "target_id"), (False, "target", "source_id")):
        links = (
            selectors.visible_links(reader)
            .filter(**{centre: entity})
            .exclude(source_id=F("target_id"))
            .filter(**{f"{other}__in": visible.values("pk")})
            .order_by()
        )
        for row in links.values("type").annotate(size=Count(other, distinct=True)):
            sizes[(row["type"], outgoing)] = row["size"]
        top = (
            links.values("type", other)
            .annotate(records=Count("record", distinct=True))
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("type")],
                    # Ties by public id, not by age (`selectors.ENTITY_ORDER`).
                    order_by=[F("records").desc(), F(f"{other.removesuffix('_id')}__public_id")],
                )
            )
            .filter(rank__lte=NEIGHBOURS_PER_GROUP)
        )
        rows += [{**row, "outgoing": outgoing, "other": row[other]} for row in top]
    shown = {
        e.pk: e for e in selectors.labelled_entities(reader).filter(pk__in=sorted({r["other"] for r in rows}))
    }
    listed: dict[tuple[str, bool], list[Neighbour]] = defaultdict(list)
    for row in sorted(rows, key=lambda row: (row["type"], row["outgoing"], row["rank"])):
        neighbour = shown.get(row["other"])
        if neighbour is not None:
            listed[(row["type"], row["outgoing"])].append(
                Neighbour(neighbour, presentation.entity_label(neighbour), row["records"])
            )
    groups = [
        NeighbourGroup(t, outgoing, sizes[(t, outgoing)], listed[(t, outgoing)])
        for t, outgoing in sorted(listed)
    ]
    records = {m.record_id: m.record.owner_id for e in shown.values() for m in e.visible_mentions}
    return groups, records


def stored(reader: Reader, *operations: str) -> dict[str, tuple[AnalyticsResult | None, bool]]:
    """The agency's stored result of each analysis, without asking for one, and whether it
    may be shown: done and current, as the API serves it (`stored_answers.analysis`), judged
    on one reading of the agency's basis. A result computed before the agency's visibility
    changed holds scores, ranks and groupings made over records it may no longer see, which
    no confirmation of its entities takes out."""
    if reader.agency_id is None:
        return dict.fromkeys(operations, (None, False))
    rows = stored_rows(reader, operations)
    current = jobs.current_results(rows.values())
    return {operation: (row, row is not None and row.pk in current) for operation, row in rows.items()}


def stored_rows(reader: Reader, operations: Iterable[str]) -> dict[str, AnalyticsResult | None]:
    """The agency's row of each analysis, current or not (`jobs.stored_analysis`)."""
    return {
        operation: jobs.stored_analysis(user=reader.user, operation=operation, purpose=reader.purpose)
        for operation in operations
    }


def analyses_following(reader: Reader, public_id: UUID | str) -> dict:
    """How far the agency's analyses of the dossier have come, for the page to follow them
    without reading itself again (each reading of the dossier is an audited read of the
    records it shows): `following` while any is pending or running, and each one's
    progress. Reads no record; the entity must be one the reader may see (EntityNotFound
    otherwise, as for one that does not exist)."""
    visible_entity(reader, public_id, named=False)
    rows = stored_rows(reader, PROFILE_ANALYSES)
    following = {
        operation: row.progress
        for operation, row in rows.items()
        if row is not None and Analysis(operation, row).running
    }
    return {"following": bool(following), "progress": following}


def visible_count(reader: Reader, ids: list[int]) -> int:
    """How many of the entities a stored result names the reader may see now."""
    return Entity.objects.visible_to(reader.user, reader.purpose, reader.access).filter(pk__in=ids).count()


def community_of(reader: Reader, entity: Entity, row: AnalyticsResult | None, shown: bool) -> Analysis:
    if not shown:
        return Analysis("communities", row)
    found = jobs.entity_community(row.result, entity.pk)
    if found is None:
        return Analysis("communities", row, {})
    others = [pk for pk in found["members"] if pk != entity.pk]
    size = visible_count(reader, found["members"])
    part = {"communities": [{"id": found["id"], "members": others[: COMMUNITY_MEMBERS_SHOWN * 2]}]}
    answer = stored_answers.confirmed(reader, "communities", part)
    shown = answer.data["communities"]
    members = shown[0]["members"][:COMMUNITY_MEMBERS_SHOWN] if shown else []
    # The entity itself is counted in the size, not listed among the members.
    data = {"id": found["id"], "size": size, "members": members, "more": max(size - 1 - len(members), 0)}
    return Analysis("communities", row, data, answer.records_shown)


def risk_of(reader: Reader, entity: Entity, row: AnalyticsResult | None, shown: bool) -> Analysis:
    """The entity's network risk: whether it is a seed (named in a seizure record), else its
    score, its rank among the ranked entities the reader may see now, and the paths from
    the seeds that carry most of it."""
    if not shown:
        return Analysis("network_risk", row)
    result = row.result
    if entity.pk in result["seeds"] and stored_answers.seized_now(reader, [entity.pk]):
        return Analysis("network_risk", row, {"seed": True})
    ranking = result["ranking"]
    position = next((i for i, r in enumerate(ranking) if r["entity_id"] == entity.pk), None)
    if position is None:
        return Analysis("network_risk", row, {"ranked": False, "limit": len(ranking)})
    above = [r["entity_id"] for r in ranking[:position]]
    rank = 1 + visible_count(reader, above)
    part = {"seeds": [], "ranking": [ranking[position]]}
    answer = stored_answers.confirmed(reader, "network_risk", part)
    mine = answer.data["ranking"][0]
    data = {"ranked": True, "rank": rank, **mine}
    return Analysis("network_risk", row, data, answer.records_shown)


def profile(reader: Reader, public_id: UUID | str) -> Profile:
    """The dossier of an entity the reader may see (EntityNotFound otherwise, as for one
    that does not exist). The reads of other agencies' records whose content it shows are
    audited; the hit/no-hit notice is audited by discovery itself."""
    entity = visible_entity(reader, public_id)
    groups, neighbour_records = neighbour_groups(reader, entity)
    shown = {m.record_id: m.record.owner_id for m in entity.visible_mentions} | neighbour_records
    analyses = stored(reader, "communities", "network_risk")
    community = community_of(reader, entity, *analyses["communities"])
    risk = risk_of(reader, entity, *analyses["network_risk"])
    shown |= community.records | risk.records
    selectors.audit_reads(reader, shown, via="entity page")
    return Profile(
        entity=entity,
        label=presentation.entity_label(entity),
        key=presentation.entity_key(entity),
        mentions=list(entity.visible_mentions),
        mention_count=selectors.visible_mention_count(reader, entity),
        groups=groups,
        community=community,
        risk=risk,
        hits=offered_disclosures(reader, entity),
    )


def offered_disclosures(reader: Reader, entity: Entity) -> list[dict]:
    """The partners' hit/no-hit notices on the entity, each with the purposes a disclosure may
    be asked for as the form offers them (`purposes`, value and label)."""
    if reader.agency_id is None:
        return []
    hits = discover(reader.user, entity.pk)
    for hit in hits:
        hit["purposes"] = [(value, Purpose(value).label) for value in hit["purposes"]]
    return hits
