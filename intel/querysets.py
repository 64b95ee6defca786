"""The visibility choke point: every read of records, and of the entities, mentions and
links that records assert, goes through `visible_to(user, purpose)` here, which asks the
access policy (`intel/access.py`) and adds nothing of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.db.models import Exists, ExpressionWrapper, OuterRef, Prefetch, prefetch_related_objects
from django.db.models.expressions import RawSQL
from django.db.models.query import ModelIterable
from django.db.models.sql.where import WhereNode

from core.lookups import array_parameter, id_array
from intel.access import (
    ANY_PURPOSE,
    Access,
    PurposeAsked,
    StatedRow,
    access_policy,
    sees_everything,
    viewer_agency_id,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


# The id of no row (keys start at 1): a list that names nothing still runs its statement.
NO_ROW = 0
# How many links of one entity `LinkQuerySet.ending_at` names by id at most.
LINKS_ENDING_LISTED = 100_000


def among(ids: Iterable[int]) -> RawSQL:
    """For `pk__in=among(ids)`: the ids travel as one array parameter, so a statement about
    thousands of rows stays short and its conversion is cached."""
    return RawSQL("SELECT unnest(%s::bigint[])", [id_array(sorted(ids))])


class EachRowExists(Exists):
    """EXISTS asked row by row of the outer query. PostgreSQL otherwise turns an EXISTS into
    a join, and for "entities with a visible mention" it joined every mention to every
    record and tested the rule on all of them before the first page or a count capped at a
    thousand could stop. An OFFSET, even of 0, keeps the subquery as it is written (it
    cannot be pulled up into a join); SQLite accepts it too."""

    template = "EXISTS(%(subquery)s OFFSET 0)"


class AgencyScopedQuerySet(models.QuerySet):
    """Records, mentions and links: visible to a user when the policy lets the user's agency
    see them for the purpose; `viewer_agencies` asks the same of every agency. Mentions and
    links name their record (`record_field`) and the entities whose type an agreement may
    redact (`entity_fields`)."""

    record_field = "record_id"
    entity_fields: tuple[str, ...] = ()

    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
    ):
        """Rows the user's agency may see now. Reading content passes the purpose stated: what
        is visible only under agreements then needs one that permits it (None: none do).
        `access`, when the caller already holds it, is the policy's access of both."""
        if sees_everything(user):
            return self
        agency_id = viewer_agency_id(user)
        if agency_id is None:
            return self.none()
        return self.visible_to_agency(agency_id=agency_id, purpose=purpose, access=access)

    def visible_to_agency(
        self, *, agency_id: int, purpose: PurposeAsked = ANY_PURPOSE, access: Access | None = None
    ) -> models.QuerySet:
        """Rows the agency may see now, whoever asks: what a write done for the agency (an
        import following a merge, say) may rely on."""
        policy = access_policy()
        if access is None:
            access = policy.access(agency_id=agency_id, purpose=purpose)
        return self.filter(
            policy.condition(
                agency_id=agency_id,
                access=access,
                record_field=self.record_field,
                entity_fields=self.entity_fields,
            )
        )

    def visible_ids(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
    ) -> set[int]:
        """The ids of these rows the user's agency may see now, as `visible_to` decides, with
        the rule asked of each row as it is read (`visible_values`): for a known, bounded set
        of rows, such as the links a graph answer confirms."""
        return {pk for (pk,) in self.visible_values(user, purpose, access, fields=("pk",))}

    def visible_values(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
        *,
        fields: tuple[str, ...],
    ) -> list[tuple]:
        """`values_list(*fields)` of the rows `visible_to` keeps: the rule's condition is a
        column of the statement, not its filter. As a filter, the planner ran it before the
        rows' own keys (for links named by their triples, it hashed the whole record table,
        or read a hub's every link); as a column it is asked only of the rows the keys find."""
        if sees_everything(user):
            return list(self.values_list(*fields))
        agency_id = viewer_agency_id(user)
        if agency_id is None:
            return []
        policy = access_policy()
        if access is None:
            access = policy.access(agency_id=agency_id, purpose=purpose)
        condition = policy.condition(
            agency_id=agency_id,
            access=access,
            record_field=self.record_field,
            entity_fields=self.entity_fields,
        )
        rows = self.annotate(rule_admits=ExpressionWrapper(condition, output_field=models.BooleanField()))
        return [row[:-1] for row in rows.values_list(*fields, "rule_admits") if row[-1]]

    def viewer_agencies(self, context: Any = None) -> dict[int, set[int]]:
        """For each row, the agencies that may see it now (for the graph's visibility lists).
        Calls over the same moment may share the policy's `viewers_context()`."""
        rows = self.values_list(*self.stated_fields())
        return access_policy().viewer_agencies((self.stated(row) for row in rows), context=context)

    def stated_fields(self) -> tuple[str, ...]:
        """What the policy judges a row by (`StatedRow`): its id, its record, its entities'
        types (the rows' copies)."""
        return ("pk", self.record_field, *(f"{name}_type" for name in self.entity_fields))

    def stated(self, row: tuple) -> StatedRow:
        """The `StatedRow` of a row read with `stated_fields()` first."""
        return StatedRow(row[0], row[1], tuple(row[2 : 2 + len(self.entity_fields)]))


class RecordQuerySet(AgencyScopedQuerySet):
    record_field = "pk"

    def with_holding(self, user: AbstractBaseUser | AnonymousUser, access: Access) -> RecordQuerySet:
        """Each record annotated with how the user's agency holds it (`via_owner`,
        `via_agreement`, ...): what the purpose check, the redaction and the audit log use."""
        return access_policy().annotate_holding(self, agency_id=viewer_agency_id(user), access=access)

    def owned_by(self, agency_id: int) -> RecordQuerySet:
        return self.filter(owner_id=agency_id)


class StatementQuerySet(AgencyScopedQuerySet):
    """Mentions and links: what a record states. Each row keeps a copy of its entities'
    types (`<entity field>_type`), which every writer fills: `bulk_create` and `save` here,
    and the import's own insert."""

    def bulk_create(self, objs: Iterable[models.Model], *args: Any, **kwargs: Any) -> list[models.Model]:
        objs = list(objs)
        self.copy_entity_types(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def copy_entity_types(self, rows: Sequence[models.Model]) -> None:
        """Sets the rows' copies of their entities' types, read in one query."""
        wanted = {getattr(row, f"{name}_id") for row in rows for name in self.entity_fields}
        entities = self.model._meta.get_field(self.entity_fields[0]).related_model.objects
        types = dict(entities.filter(pk__in=wanted).values_list("pk", "type"))
        for row in rows:
            for name in self.entity_fields:
                setattr(row, f"{name}_type", types.get(getattr(row, f"{name}_id"), ""))

    def of_records(self, ids: Sequence[int]) -> models.QuerySet:
        """For a prefetch of these records' rows, which names the ids on the rows' side: names
        them on the records' side of the join to the records that the rule makes too. On the
        rows' side alone, PostgreSQL judged probing the records by key, with the rule's
        subqueries, dearer than hashing every record, and read them all to answer for a chunk
        of an export. Naming them on both sides here estimated so few rows that it read every
        link rather than the index of their records."""
        # The join to the records, shared with the rule's (a forward key's join is reused).
        joined = self.filter(record__owner__isnull=False)
        if connection.vendor != "postgresql":
            return joined
        query = joined.query
        root = query.get_initial_alias()
        table = self.model._meta.get_field("record").related_model._meta.db_table
        alias = next(
            name
            for name, join in query.alias_map.items()
            if join.table_name == table and getattr(join, "parent_alias", None) == root
        )
        # The alias is Django's own; the ids are one parameter.
        return joined.extra(where=[f'"{alias}"."id" = ANY(%s::bigint[])'], params=[id_array(sorted(ids))])  # noqa: S610

    def _row_among(
        self, columns: tuple[str, ...], types: tuple[str, ...], rows: Sequence[tuple]
    ) -> models.QuerySet:
        """Rows whose columns hold one of these rows of values. A raw condition: a row value
        IN a list (PostgreSQL and SQLite alike) that the planner joins as a semi-join, where
        an annotation compared to true would be a filter over every row."""
        if not rows:
            return self.none()
        if connection.vendor == "postgresql":
            # An array parameter per column, not a placeholder per value: for thousands of
            # rows, building and parsing the placeholders took longer than the lookup.
            arrays = [
                array_parameter([row[index] for row in rows], type_) for index, type_ in enumerate(types)
            ]
            casts = ", ".join(f"%s::{array_type}" for _, array_type in arrays)
            listed = f"SELECT * FROM unnest({casts})"  # noqa: S608 - the casts are array_parameter's own
            params = [text for text, _ in arrays]
        else:
            placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
            listed = "VALUES " + ", ".join([placeholders] * len(rows))
            params = [value for row in rows for value in row]
        table = self.model._meta.db_table
        compared = ", ".join(f"{table}.{column}" for column in columns)
        return self.extra(  # noqa: S610 - values by parameter; the table and columns are the model's own
            where=[f"({compared}) IN ({listed})"], params=params
        )


class MentionQuerySet(StatementQuerySet):
    """Mentions in visible records, less the entities an agreement redacts."""

    entity_fields = ("entity",)

    def naming(self, rows: Sequence[tuple[int, int, str]]) -> models.QuerySet:
        """The mentions by which these (record id, entity id, entity type) rows' records name
        those entities as that type, found by `mention_unique_per_record_role`."""
        return self._row_among(("record_id", "entity_id", "entity_type"), ("bigint", "bigint", "text"), rows)


class LinkQuerySet(StatementQuerySet):
    """Links in visible records whose two ends the agency may see."""

    entity_fields = ("source", "target")

    def of_triples(self, triples: Sequence[tuple[int, int, str]]) -> LinkQuerySet:
        """The links of exactly these (source id, target id, type) triples, as the graph names
        its relationships, found by the `link_triple` index."""
        return self._row_among(("source_id", "target_id", "type"), ("bigint", "bigint", "text"), triples)

    def between(self, pairs: Sequence[tuple[int, int]]) -> LinkQuerySet:
        """The links from the first entity of one of these (source id, target id) pairs to
        the second, of any type, found by the `link_triple` index."""
        return self._row_among(("source_id", "target_id"), ("bigint", "bigint"), pairs)

    def ending_at(self, entity_id: int, *, ends: Sequence[str] = ("source", "target")) -> LinkQuerySet:
        """The links whose `ends` (source, target or both) are this entity. Their ids are
        read first, in key order, for `narrowed_by_key`; up to LINKS_ENDING_LISTED of them,
        past which a list would cost more to send than it saves."""
        condition = models.Q()
        for end in ends:
            condition |= models.Q(**{f"{end}_id": entity_id})
        ids: set[int] = set()
        for end in ends:
            # An end at a time: each end's ids are then read from its index alone, where
            # either end at once took PostgreSQL to every link's row in the table.
            ids.update(
                self.model.objects.filter(**{f"{end}_id": entity_id})
                .order_by("pk")
                .values_list("pk", flat=True)[: LINKS_ENDING_LISTED + 1]
            )
            if len(ids) > LINKS_ENDING_LISTED:
                break
        ending = self.filter(condition)
        # The condition is the last clause the filter added: marked with its ids, whatever
        # filters come after it.
        where = ending.query.where
        where.children[-1] = _EndingCondition(
            [where.children[-1]], ids=sorted(ids) if len(ids) <= LINKS_ENDING_LISTED else None
        )
        return ending

    def narrowed_by_key(self) -> LinkQuerySet:
        """The same links, with each condition of `ending_at` that listed its links' ids
        replaced by those ids: for a walk in key order that stops at a page and a capped
        count (`core.pagination`). By the condition alone, PostgreSQL found a busy entity's
        thousands of links unordered and hashed every record to join them, only to order
        them; by the condition and the ids, it took the two for independent, expected a few
        dozen links, and judged and sorted every link of the entity for a page. Not for
        reading rows by key: next to a page's keys, the list made it scan every link."""
        walk = self._chain()
        where = walk.query.where
        where.children = [self._by_ids(child) for child in where.children]
        return walk

    def _by_ids(self, clause: Any) -> Any:
        if not isinstance(clause, _EndingCondition) or clause.ids is None:
            return clause
        # An entity without links asks the rule as one with only hidden links does, with the
        # same statement: skipped, the two could be told apart by time.
        return self.model._default_manager.filter(pk__any_of=clause.ids or [NO_ROW]).query.where


class _EndingCondition(WhereNode):
    """`LinkQuerySet.ending_at`'s condition, as its own clause, with the ids of the links it
    held when they were read (None when there were too many to list)."""

    def __init__(self, *args: Any, ids: list[int] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ids = ids

    def clone(self) -> _EndingCondition:
        clone = super().clone()
        clone.ids = self.ids
        return clone


class EntityQuerySet(models.QuerySet):
    """`named_by` gives each entity fetched its most recent mentions of a queryset (visible
    ones, from the choke point) as `visible_mentions`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._named_by: tuple[models.QuerySet, int, tuple[str, ...], int, tuple[str, ...]] | None = None

    def _clone(self) -> EntityQuerySet:
        clone = super()._clone()
        clone._named_by = self._named_by
        return clone

    def named_by(
        self,
        mentions: models.QuerySet,
        count: int,
        *,
        related: tuple[str, ...] = (),
        counted_to: int | None = None,
        only: tuple[str, ...] = (),
    ) -> EntityQuerySet:
        """Each entity with at most `count` of `mentions` naming it, the most recent records'
        first, as `visible_mentions`, with their `related` rows (`only` these fields of them
        and of the mentions, when given), and how many there are up to `counted_to` (`count`
        when None) as `mentions_counted`: the ones past `count` are counted by key, not read.
        Two queries whatever the number of entities."""
        clone = self._chain()
        clone._named_by = (mentions, count, related, max(count, counted_to or count), only)
        return clone

    def rows_with_keys(self, keys: Sequence[int]) -> list:
        """The entities with these keys, which this queryset chose a moment before, read by
        key alone and named (for `core.pagination.rows_by_key`). Named by visible mentions,
        an entity that none names any more is no longer visible (`visible_to` asks for one)
        and is left out: the naming is the check. Asking the list's condition again, with
        its filters, PostgreSQL combined the keys with a filter's index (every company, for
        a list of companies) and planned the rule a second time."""
        if self._named_by is None:
            return list(self.filter(pk__any_of=keys))
        by_key = self.model._default_manager.filter(pk__any_of=keys)
        by_key._named_by = self._named_by
        return [entity for entity in by_key if entity.mentions_counted]

    def _fetch_all(self) -> None:
        fetched = self._result_cache is not None
        super()._fetch_all()
        if self._named_by is not None and not fetched and self._iterable_class is ModelIterable:
            attach_latest_mentions(self._result_cache, *self._named_by)

    def visible_to(
        self,
        user: AbstractBaseUser | AnonymousUser,
        purpose: PurposeAsked = ANY_PURPOSE,
        access: Access | None = None,
    ) -> EntityQuerySet:
        """Entities with at least one mention in a record the user may see."""
        from intel.models import Mention

        mentions = Mention.objects.visible_to(user, purpose, access)
        return self.filter(EachRowExists(mentions.filter(entity=OuterRef("pk"))))


MENTION_ORDER = ("-record_id", "role")


def attach_latest_mentions(
    entities: list,
    mentions: models.QuerySet,
    count: int,
    related: tuple[str, ...],
    counted_to: int,
    only: tuple[str, ...] = (),
) -> None:
    """Sets each entity's `visible_mentions`: at most `count` of `mentions` naming it, in
    MENTION_ORDER, with their `related` rows (`only` these fields, when given); and
    `mentions_counted`: how many there are, up to `counted_to`. On PostgreSQL each entity's
    are found by a LATERAL subquery that walks its mentions in that order (the
    `mention_entity_recent` index) and stops at `counted_to`: Django's sliced prefetch
    numbers every mention of every entity of the page with a window function, testing the
    rule on each of the thousands a busy company has. The rows shown are then read by key,
    as a prefetch reads the rows a query chose (asking the rule again cost more to plan than
    the rest of the request)."""
    if not entities:
        return
    ordered = mentions.order_by(*MENTION_ORDER)
    if connection.vendor != "postgresql":
        found = _reading(ordered, related, only)[:counted_to]
        prefetch_related_objects(entities, Prefetch("mentions", queryset=found, to_attr="visible_mentions"))
        for entity in entities:
            entity.mentions_counted = len(entity.visible_mentions)
            entity.visible_mentions = entity.visible_mentions[:count]
        return
    latest = ordered.filter(entity_id=RawSQL("wanted.id", ())).values("pk", "record_id", "role")[:counted_to]
    sql, params = latest.query.sql_with_params()
    # The text is Django's compiled query; every value is a parameter.
    lateral = (
        "SELECT wanted.id, latest.pk, latest.record_id, latest.role"  # noqa: S608
        f" FROM unnest(%s::bigint[]) AS wanted(id) CROSS JOIN LATERAL ({sql}) AS latest"
    )
    ids_by_entity: dict[int, list[tuple[int, str, int]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(lateral, [id_array(sorted({entity.pk for entity in entities})), *params])
        for entity_id, pk, record_id, role in cursor.fetchall():
            ids_by_entity.setdefault(entity_id, []).append((-record_id, role, pk))
    shown = [pk for rows in ids_by_entity.values() for *_, pk in sorted(rows)[:count]]
    by_entity: dict[int, list] = {}
    found = _reading(mentions.model._default_manager.filter(pk__in=among(shown)), related, only)
    for mention in found.order_by(*MENTION_ORDER) if shown else ():
        by_entity.setdefault(mention.entity_id, []).append(mention)
    for entity in entities:
        entity.visible_mentions = by_entity.get(entity.pk, [])
        entity.mentions_counted = len(ids_by_entity.get(entity.pk, ()))


def _reading(mentions: models.QuerySet, related: tuple[str, ...], only: tuple[str, ...]) -> models.QuerySet:
    found = mentions.select_related(*related)
    return found.only(*only) if only else found
