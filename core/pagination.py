import uuid
from contextlib import nullcontext
from functools import cached_property

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import Q, QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from core import lookups  # noqa: F401  (registers `__any_of`)
from core.identity import PublicIdentity
from core.postgresql.planning import planned_for_their_values


def count_up_to(queryset, limit: int, order: tuple[str, ...] = ("pk",)) -> int:
    """The number of rows, but no more than `limit + 1`: enough to tell whether it passes.
    A list (rows a view filtered in Python, after reading them all) is counted as it is.
    Counted in an index's order (the key's unless `order` names another): with an order to
    follow, PostgreSQL walks that index and stops at the limit; unordered, it misjudged how
    many rows the rule lets through and hashed whole tables (every record, every entity)
    for a count of a thousand links."""
    if isinstance(queryset, list):
        return min(len(queryset), limit + 1)
    return queryset.order_by(*order).values("pk")[: limit + 1].count()


def rows_between(object_list, bottom: int, top: int) -> list:
    """The rows `bottom` to `top` of a list or queryset. A queryset that annotates its rows
    (how the reader holds each record: subqueries of the rule) is read in two steps: the
    keys of the page first, then its rows by key. In one, PostgreSQL computed the
    annotations for every row an offset skips, and chose for each of them a plan fit for
    every row of the table (a hashed table of all the reader's grants) rather than for a
    page of them."""
    # A page by its number is planned for its offset each time: once it had served such a
    # page a few times, PostgreSQL kept a generic plan for it that walked the rows before
    # the page slower than a plan made for the offset. A list that names its rows as it
    # reads them (entities) names them unprepared too.
    with planned_for_their_values() if bottom else nullcontext():
        if not read_by_key(object_list):
            return list(object_list[bottom:top])
        keys = list(object_list.values_list("pk", flat=True)[bottom:top])
    return rows_by_key(object_list, keys)


def read_by_key(object_list) -> bool:
    """Whether `rows_between` reads this list keys first: a queryset that annotates its rows."""
    query = getattr(object_list, "query", None)
    return isinstance(object_list, QuerySet) and bool(query.annotations) and not query.combinator


def rows_by_key(object_list: QuerySet, keys: list) -> list:
    """The rows of `object_list` with these keys, in their order. A row that stopped being
    visible since its key was read is left out. A queryset that can tell that without asking
    its whole condition again reads them its own way (`rows_with_keys`).

    The keys are one array parameter (`__any_of`): the statement is then the same for every
    page, and PostgreSQL, which has it prepared after a few requests, keeps one plan for it.
    With a placeholder per key it planned the rule again for each page, and for a filtered
    list combined the keys with the filter's index (every seizure, for a page of seizures)."""
    if not keys:
        return []
    reading = getattr(object_list, "rows_with_keys", None)
    found = reading(keys) if reading is not None else object_list.filter(pk__any_of=keys)
    rows = {row.pk: row for row in found}
    return [rows[key] for key in keys if key in rows]


def key_order(queryset: QuerySet) -> list[tuple[str, bool]] | None:
    """The queryset's order as (field, descending) pairs, when it ends with the key (so that
    it tells every two rows apart) and names fields only; else None."""
    query = queryset.query
    order = list(query.order_by or (queryset.model._meta.ordering if query.default_ordering else ()))
    fields = []
    for item in order:
        if not isinstance(item, str) or "__" in item or item.lstrip("-") == "?":
            return None
        name = item.lstrip("-")
        fields.append(("pk" if name in ("pk", queryset.model._meta.pk.name) else name, item.startswith("-")))
    return fields if fields and fields[-1][0] == "pk" else None


def after_position(queryset: QuerySet, order: list[tuple[str, bool]], position: tuple) -> Q:
    """The rows that follow `position` (one row's values of the ordered fields) in `order`.
    Nulls sort above every value on PostgreSQL and below on SQLite, so they follow a value
    in an ascending order on the one and a descending order on the other. The first field
    is also bounded on its own, which lets PostgreSQL start its scan of the list's index at
    the position rather than filter every row before it."""
    nulls_largest = connection.vendor == "postgresql"
    condition: Q | None = None
    for (name, descending), value in reversed(list(zip(order, position, strict=True))):
        beyond = Q(**{f"{name}__{'lt' if descending else 'gt'}": value})
        nullable = name != "pk" and queryset.model._meta.get_field(name).null
        if nullable and descending != nulls_largest:
            beyond |= Q(**{f"{name}__isnull": True})
        condition = beyond if condition is None else beyond | (Q(**{name: value}) & condition)
    first, descending = order[0]
    if first == "pk" or not queryset.model._meta.get_field(first).null or descending == nulls_largest:
        condition &= Q(**{f"{first}__{'lte' if descending else 'gte'}": position[0]})
    return condition


class LimitedCountPaginator(Paginator):
    """Counts no further than `limit` rows. Counting everything an agency may see means
    testing the visibility rule on every record, a cost that grows with the table
    (docs/benchmarks.md); a page needs only the rows up to it. A page past the limit is not
    counted at all: its own rows, and one more, tell whether it exists and whether another
    follows, where a count would walk every row before it a second time.

    Such a page may continue the page before it (`after`: the public id of that page's last
    row, which the API's `next` link carries): its rows are then those that follow that row,
    read from it on, where an offset walks and judges every row before the page. A row the
    list does not hold (hidden since, deleted, never one of the list's) continues nothing:
    the page is read by its number, as without `after`."""

    def __init__(self, object_list, per_page: int, limit: int, after: uuid.UUID | None = None):
        super().__init__(object_list, per_page)
        self.limit = limit
        self.after = after

    @cached_property
    def leading_keys(self) -> list | None:
        """For a queryset, the keys of its first `limit + 1` rows in its own order (the key's
        when it has none): the count, and the keys of any page up to the limit, from one
        walk of the rule where counting and reading the page were two; the page's rows are
        then read by key. None for a list, or a combination of querysets."""
        if not isinstance(self.object_list, QuerySet) or self.object_list.query.combinator:
            return None
        ordered = self.object_list if self.object_list.ordered else self.object_list.order_by("pk")
        # A queryset that knows its rows' keys beforehand (`LinkQuerySet.ending_at`) names
        # them for the walk, which can then follow the key's index and stop at the limit.
        narrowed_by_key = getattr(ordered, "narrowed_by_key", None)
        if narrowed_by_key is not None:
            ordered = narrowed_by_key()
        return list(ordered.values_list("pk", flat=True)[: self.limit + 1])

    @cached_property
    def count(self) -> int:
        if self.leading_keys is not None:
            return len(self.leading_keys)
        return count_up_to(self.object_list, self.limit)

    @property
    def exact(self) -> bool:
        return self.count <= self.limit

    def page(self, number) -> Page:
        number = self.page_number(number)
        bottom = (number - 1) * self.per_page
        if bottom + self.per_page <= self.limit:
            # Django's own page: its rows read by the keys counted, or sliced from a list.
            number = self.validate_number(number)
            top = bottom + self.per_page
            if top + self.orphans >= self.count:
                top = self.count
            if self.leading_keys is not None:
                rows = rows_by_key(self.object_list, self.leading_keys[bottom:top])
            else:
                rows = list(self.object_list[bottom:top])
            return self._get_page(rows, number, self)
        following = self.following()
        if following is not None:
            rows = rows_between(following, 0, self.per_page + 1)
        else:
            rows = rows_between(self.object_list, bottom, bottom + self.per_page + 1)
        if not rows and number > 1:
            raise EmptyPage("That page contains no results")
        self.limit = bottom + self.per_page
        self.__dict__["count"] = bottom + len(rows)
        return self._get_page(rows[: self.per_page], number, self)

    def following(self) -> QuerySet | None:
        """The list's rows that follow the row `after` names, in the list's order; None when
        there is no such row of the list's, or the list has no order to continue."""
        listed = self.object_list
        if self.after is None or not isinstance(listed, QuerySet) or listed.query.combinator:
            return None
        ordered = listed if listed.ordered else listed.order_by("pk")
        order = key_order(ordered)
        if order is None or not issubclass(listed.model, PublicIdentity):
            return None
        position = ordered.filter(public_id=self.after).values_list(*(name for name, _ in order)).first()
        if position is None or None in position:
            return None
        return ordered.filter(after_position(ordered, order, position))

    def get_page(self, number) -> Page:
        """A page for a page of HTML: the first for a number that is none, the last counted
        for one past the end. Django's would also take a page past the counted rows for one
        past the end, and no link would lead beyond the limit."""
        try:
            return self.page(number)
        except PageNotAnInteger:
            return self.page(1)
        except EmptyPage:
            return self.page(max(self.num_pages, 1))

    @staticmethod
    def page_number(number) -> int:
        try:
            number = int(number)
        except (TypeError, ValueError) as error:
            raise PageNotAnInteger("That page number is not an integer") from error
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        # A huge number must not reach the SQL as an offset; past this, no page is served.
        if number > settings.PAGINATION_MAX_PAGE:
            raise EmptyPage("That page number is past PAGINATION_MAX_PAGE")
        return number


def counted(value: str, name: str, limit: int) -> int:
    """`value` as a whole number from 1 to `limit`; anything else is refused naming `name`.
    Its length is read first: Python refuses to read a number of more than 4,300 digits."""
    if (
        not value.isascii()
        or not value.isdigit()
        or len(value) > len(str(limit))
        or not 1 <= int(value) <= limit
    ):
        raise ValidationError({name: [f"a whole number from 1 to {limit}"]})
    return int(value)


class Pagination(PageNumberPagination):
    """Page numbers, with `count` exact up to PAGINATION_COUNT_LIMIT rows (a list of entities'
    up to ENTITY_COUNT_LIMIT: `EntityPagination`); past that `count` is that limit and
    `count_exact` is false, and `next` still leads on. A page deeper than the limit counts
    up to its own end."""

    # The setting naming how far the list counts.
    count_limit_setting = "PAGINATION_COUNT_LIMIT"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
    # `page=last` would be the page of a count that stops at the limit, not the last one:
    # it is refused as any page that is not a number.
    last_page_strings = ()

    # Where a page continues the one before (`LimitedCountPaginator`): the `next` link sets it.
    after_query_param = "after"

    def paginate_queryset(self, queryset, request, view=None):
        self.after = self.after_of(request)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        """The size asked for, or the default when none is (an empty value included). One
        that is not a whole number from 1 to `max_page_size` is refused, naming the
        parameter: DRF's own quietly served the default page, or a page of the maximum."""
        value = request.query_params.get(self.page_size_query_param, "")
        if value == "":
            return self.page_size
        return counted(value, self.page_size_query_param, self.max_page_size)

    def get_page_number(self, request, paginator) -> int:
        """The page asked for (the first when none is). One that is not a whole number from 1
        to PAGINATION_MAX_PAGE is refused, naming the parameter, as the size is: DRF's own
        answered 404 "Invalid page." for them as for a page past the end, which still is."""
        value = request.query_params.get(self.page_query_param, "")
        if value == "":
            return 1
        return counted(value, self.page_query_param, settings.PAGINATION_MAX_PAGE)

    def after_of(self, request) -> uuid.UUID | None:
        value = request.query_params.get(self.after_query_param)
        if value is None:
            return None
        try:
            return uuid.UUID(value)
        except ValueError as error:
            raise ValidationError({self.after_query_param: "not the id of a row of this list"}) from error

    def django_paginator_class(self, queryset, page_size: int) -> LimitedCountPaginator:
        return LimitedCountPaginator(
            queryset, page_size, getattr(settings, self.count_limit_setting), after=self.after
        )

    def get_next_link(self):
        link = super().get_next_link()
        rows = self.page.object_list
        if link is None or not rows or not isinstance(rows[-1], PublicIdentity):
            return link
        return replace_query_param(link, self.after_query_param, rows[-1].public_id)

    def get_previous_link(self):
        link = super().get_previous_link()
        return None if link is None else remove_query_param(link, self.after_query_param)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": min(paginator.count, paginator.limit),
                "count_exact": paginator.exact,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.after_query_param,
                "required": False,
                "in": "query",
                "description": "The id of the last row of the page before, as `next` gives it: "
                "the page is read from that row on. A row the list no longer holds is ignored.",
                "schema": {"type": "string", "format": "uuid"},
            },
        ]

    def get_paginated_response_schema(self, schema):
        response = super().get_paginated_response_schema(schema)
        response["properties"]["count_exact"] = {
            "type": "boolean",
            "description": "False when there are more rows than `count` says (counting stopped there).",
        }
        response["required"] = [*response.get("required", []), "count_exact"]
        return response


class EntityPagination(Pagination):
    count_limit_setting = "ENTITY_COUNT_LIMIT"
