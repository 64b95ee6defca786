"""Stored analytics results (`graph.jobs`) as a reader may be shown them.

A result names entities by internal id and was computed over what the agency could see
when its job read the graph; the sync may since have taken some away and not yet marked the
result stale. Before it leaves the server every entity in it is confirmed against the choke
point now (`labelled_entities` of the reader, for the purpose stated): what fails is dropped,
a risk path through a dropped entity, or with a step no link the reader sees now joins, is
dropped whole, a risk's seed stays one only while a seizure record the reader sees names it,
a pattern match whose subject is dropped is dropped, and entities are named by public id
with the names the reader's own records give them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from graph import jobs
from graph.models import AnalyticsResult
from graph.selectors import Answer, ShownEntity
from intel import selectors
from intel.models import Category, Entity
from intel.selectors import Reader


@dataclass(frozen=True)
class PatternKeys:
    """What names entities in a pattern's match: its subject, lists of entities, and lists
    of pairs of them. Every other key of a match holds no entity."""

    subject: str
    lists: tuple[str, ...] = ()
    pairs: tuple[str, ...] = ()

    @property
    def naming(self) -> tuple[str, ...]:
        return (self.subject, *self.lists, *self.pairs)


PATTERN_ENTITIES: dict[str, PatternKeys] = {
    "companies_at_seized_addresses": PatternKeys("company", ("address", "seized_companies")),
    "vessels_carrying_for_seized_importers": PatternKeys("vessel", ("importers",)),
    "new_importers_with_seized_brokers": PatternKeys("importer", ("brokers",)),
    "containers_across_unrelated_importers": PatternKeys("container", ("importers",), ("unrelated_pairs",)),
}


def _ids(value: Any) -> Iterable[int]:
    """Every entity id in a value of a result: an id, a list of ids, or a list of pairs."""
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ids(item)


def _entity_ids(operation: str, result: dict) -> set[int]:
    if operation == "communities":
        return {pk for community in result["communities"] for pk in community["members"]}
    if operation == "betweenness":
        return {row["entity_id"] for row in result["ranking"]}
    if operation == "network_risk":
        return {
            *result["seeds"],
            *(row["entity_id"] for row in result["ranking"]),
            *(pk for row in result["ranking"] for path in row["paths"] for pk in path["entities"]),
        }
    keys = PATTERN_ENTITIES[operation]
    return {pk for match in result["matches"] for key in keys.naming for pk in _ids(match.get(key))}


def _shown(
    operation: str,
    result: dict,
    show: Callable[[int], dict | None],
    seized: Callable[[int], bool] = lambda pk: True,
    linked: Callable[[int, int], bool] = lambda a, b: True,
) -> dict:
    def kept(ids: Iterable[int]) -> list[dict]:
        return [entity for entity in map(show, ids) if entity is not None]

    if operation == "communities":
        communities = []
        for community in result["communities"]:
            members = kept(community["members"])
            if members:
                communities.append({"id": community["id"], "size": len(members), "members": members})
        return {"communities": communities}
    if operation in ("betweenness", "network_risk"):
        ranking = []
        for row in result["ranking"]:
            entity = show(row["entity_id"])
            if entity is None:
                continue
            shown = {"entity": entity, "score": row["score"]}
            if operation == "network_risk":
                shown["paths"] = [
                    {"entities": kept(path["entities"]), "contribution": path["contribution"]}
                    for path in row["paths"]
                    if all(show(pk) is not None for pk in path["entities"])
                    and all(linked(a, b) for a, b in pairwise(path["entities"]))
                ]
            ranking.append(shown)
        rest = {key: value for key, value in result.items() if key not in ("ranking", "seeds")}
        if "seeds" in result:
            rest["seeds"] = kept(filter(seized, result["seeds"]))
        return {**rest, "ranking": ranking}
    keys = PATTERN_ENTITIES[operation]
    matches = []
    for match in result["matches"]:
        entity = show(match[keys.subject])
        if entity is None:
            continue
        shown = {key: value for key, value in match.items() if key not in keys.naming}
        shown[keys.subject] = entity
        for key in keys.lists:
            value = match.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                shown[key] = show(value)
            elif value is not None:
                shown[key] = kept(_ids(value))
        for key in keys.pairs:
            # A pair is shown only whole: half of one would say the other half exists.
            pairs = ([show(a), show(b)] for a, b in match.get(key) or ())
            shown[key] = [pair for pair in pairs if None not in pair]
        matches.append(shown)
    return {"matches": matches}


def seized_now(reader: Reader, entity_ids: Iterable[int]) -> set[int]:
    """Of these entities, those a seizure record the reader sees now names: a seed of a
    stored risk is one only while such a record says so (the record it was computed from may
    have gone out of the reader's sight since)."""
    ids = sorted(set(entity_ids))
    if not ids:
        return set()
    mentions = selectors.visible_mentions(reader).filter(
        entity_id__any_of=ids, record__category=Category.SEIZURE
    )
    return set(mentions.values_list("entity_id", flat=True).distinct())


def linked_now(reader: Reader, paths: Iterable[Iterable[int]]) -> set[frozenset[int]]:
    """Of the steps of these paths, the pairs a link the reader sees now joins (either way):
    a path of a stored risk is shown only if every step still is."""
    steps = {frozenset(pair) for path in paths for pair in pairwise(path)}
    ends = sorted({pk for step in steps for pk in step})
    if not ends:
        return set()
    links = selectors.visible_links(reader).filter(source_id__any_of=ends, target_id__any_of=ends)
    joined = {frozenset(pair) for pair in links.values_list("source_id", "target_id").distinct()}
    return steps & joined


def confirmed_result(reader: Reader, row: AnalyticsResult) -> Answer:
    """The stored result as the reader may see it now (see the module's docstring)."""
    return confirmed(reader, row.operation, row.result)


def confirmed(reader: Reader, operation: str, result: dict) -> Answer:
    """A stored result, or the part of one a page shows (one community, one entity's
    ranking), as the reader may see it now."""
    ids = _entity_ids(operation, result)
    visible: dict[int, Entity] = {
        entity.pk: entity for entity in selectors.labelled_entities(reader).filter(pk__any_of=sorted(ids))
    }
    shown_ids: set[int] = set()

    def show(pk: int) -> dict | None:
        entity = visible.get(pk)
        if entity is None:
            return None
        shown_ids.add(pk)
        return ShownEntity(entity).data()

    if operation == "network_risk":
        seeds = seized_now(reader, result["seeds"])
        steps = linked_now(reader, (path["entities"] for row in result["ranking"] for path in row["paths"]))
        data = _shown(
            operation, result, show, seized=seeds.__contains__, linked=lambda a, b: frozenset((a, b)) in steps
        )
    else:
        data = _shown(operation, result, show)
    records = {m.record_id: m.record.owner_id for pk in shown_ids for m in visible[pk].visible_mentions}
    return Answer(data, records)


def analysis(
    *, reader: Reader, operation: str, parameters: dict | None
) -> tuple[AnalyticsResult, Answer | None]:
    """The reader's agency's result of the operation: computed, or being computed (a job
    queued when none is current). The answer is there only once it is done and current."""
    row = jobs.request_analysis(
        user=reader.user, operation=operation, parameters=parameters, purpose=reader.purpose
    )
    row.refresh_from_db()
    return row, confirmed_result(reader, row) if jobs.is_current(row) else None
