"""The visibility rule (`sharing/access.py`) written out as SQL over a record's columns, once
per agency and set of agreements, and kept.

Built as Django expressions, the rule cost more to assemble and compile on every request
than the database took to answer it: one alternative per agreement, repeated along each
onward hop, resolved and copied node by node. Here the text is generated once for what the
agency receives (its `AgreementAccess`, which the database gives afresh on every read, so an
agreement that ends or is suspended changes the key, never a stale text) and reused; only
the instant a grant must outlive travels as a fresh parameter. The columns it tests are
the outer record's (or, for mentions and links, their record's through a join), compiled by
Django with the aliases of whatever query it lands in.

The SQL is portable between PostgreSQL and SQLite (the embedded default): no arrays, no
casts but to text, LIKE with an explicit escape. Every value travels as a parameter; the
text itself holds only the models' table names, aliases and integers.
"""

# ruff: noqa: S608 - values are parameters; see above

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Expression, F
from django.utils import timezone

from agencies.models import Agency
from core.lookups import array_parameter
from intel.models import Caveat, Classification, RecordGroupObjectPermission
from sharing.models import Consent, RecordRelease

if TYPE_CHECKING:
    from sharing.access import AgreementAccess

RECORD_COLUMNS = ("id", "owner_id", "category", "classification", "releasability", "caveats")
NOW = object()  # stands for the instant of the query, filled in when it is compiled
NEVER = "(1 = 0)"


def like_json_string(value: str) -> str:
    """A LIKE pattern matching `"value"` inside a JSON array's text, with the wildcards
    escaped (by backslash, named in each LIKE)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


@dataclass(frozen=True)
class Text:
    """SQL with `{column}` placeholders for the record's columns and `%s` parameters."""

    sql: str
    params: tuple = ()

    def __and__(self, other: Text) -> Text:
        return Text(f"({self.sql} AND {other.sql})", self.params + other.params)

    def __or__(self, other: Text) -> Text:
        return Text(f"({self.sql} OR {other.sql})", self.params + other.params)


@dataclass(frozen=True)
class Listed:
    """The values of an `among`, one parameter until the statement is compiled: on
    PostgreSQL one array's text (`= ANY(%s::bigint[])`, by `array_parameter`), elsewhere a
    placeholder each. The rule names every agency, agreement and category key it admits:
    with a placeholder per value a statement held thousands, whose parsing by psycopg cost
    a list request more time than PostgreSQL spent answering it; handed a list, psycopg
    wrote it value by value, testing each against a pattern, on every request."""

    values: tuple


def among(column: str, values: list | tuple | frozenset) -> Text:
    values = sorted(values)
    if not values:
        return Text(NEVER)
    return Text(f"{column} IN (%s)", (Listed(tuple(values)),))


@lru_cache(maxsize=1024)
def listed_array(values: tuple) -> tuple[str, str] | None:
    """`array_parameter` of a `Listed`'s values, kept: the rule's texts, and so their lists,
    are few and asked on every request."""
    return array_parameter(list(values), "bigint" if type(values[0]) is int else "text")


def with_lists(sql: str, params: list, vendor: str) -> tuple[str, list]:
    """`sql` and `params` with each `Listed` parameter (written `IN (%s)` by `among`) made
    what the database takes."""
    if not any(isinstance(value, Listed) for value in params):
        return sql, params
    pieces = sql.split("%s")
    written, flat = [pieces[0]], []
    for value, piece in zip(params, pieces[1:], strict=True):
        if not isinstance(value, Listed):
            written.append("%s")
            flat.append(value)
        elif vendor == "postgresql":
            written[-1] = written[-1].removesuffix("IN (") + "= ANY("
            array = listed_array(value.values)
            if array is None:
                written.append("%s")
                flat.append(list(value.values))
            else:
                written.append(f"%s::{array[1]}")
                flat.append(array[0])
        else:
            written.append(", ".join(["%s"] * len(value.values)))
            flat.extend(value.values)
        written.append(piece)
    return "".join(written), flat


class RecordSQL(Expression):
    """A value (a condition, unless another output field is named) over a record's columns:
    `columns` names, for each placeholder of the text, the field of the queried model that
    holds it (`owner_id`, or `record__owner_id` from a mention)."""

    def __init__(self, text: Text, columns: dict[str, str], output_field: models.Field | None = None):
        super().__init__(output_field=output_field or models.BooleanField())
        self.text = text
        self.names = tuple(columns)
        self.columns = [F(field) for field in columns.values()]

    def get_source_expressions(self) -> list:
        return self.columns

    def set_source_expressions(self, exprs: list) -> None:
        self.columns = list(exprs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list]:
        compiled = {}
        for name, column in zip(self.names, self.columns, strict=True):
            sql, params = compiler.compile(column)
            if params:
                raise ValueError(f"a record column compiled with parameters: {sql}")
            compiled[name] = sql
        now = timezone.now()
        return with_lists(
            self.text.sql.format(**compiled),
            [now if p is NOW else p for p in self.text.params],
            connection.vendor,
        )


def record_columns(prefix: str = "") -> dict[str, str]:
    """The record's columns as fields of the queried model: the record's own (no prefix), or
    through a foreign key (`record__`), whose id is the key itself."""
    if not prefix:
        return {name: name for name in RECORD_COLUMNS}
    return {name: f"{prefix}_id" if name == "id" else f"{prefix}__{name}" for name in RECORD_COLUMNS}


def table(model: type[models.Model]) -> str:
    return model._meta.db_table


def granted_to(agency_id: int) -> Text:
    """The agency's group holds an unexpired `view_record` grant on the record. The group and
    the permission as scalar subqueries: computed once per query, and the (group,
    permission, content_object) index then answers alone."""
    permission = (
        f"(SELECT p.id FROM {table(Permission)} p JOIN {table(ContentType)} ct ON ct.id = p.content_type_id"
        " WHERE p.codename = %s AND ct.app_label = %s AND ct.model = %s)"
    )
    return Text(
        f"EXISTS (SELECT 1 FROM {table(RecordGroupObjectPermission)} g"
        " WHERE g.content_object_id = {id}"
        f" AND g.group_id = (SELECT a.group_id FROM {table(Agency)} a WHERE a.id = %s)"
        f" AND g.permission_id = {permission}"
        " AND (g.expires_at IS NULL OR g.expires_at > %s))",
        (int(agency_id), "view_record", "intel", "record", NOW),
    )


def in_scope(terms: Any) -> Text:
    """The agreement's scope covers the record: its category, at or under its ceiling."""
    return among("{category}", terms.categories) & Text("{classification} <= %s", (int(terms.ceiling),))


# Agency ids stay below it, so agreement * KEY_BASE + agency names one pair.
KEY_BASE = 1_000_000_000


def pair_key(agreement_sql: str, agency_sql: str) -> str:
    return f"({agreement_sql} * {KEY_BASE} + {agency_sql})"


def pairs(agreements: dict[int, Any], parties: str) -> set[int]:
    """Keys of (agreement, agency) for the agencies that provide or receive under them."""
    return {pk * KEY_BASE + agency for pk, terms in agreements.items() for agency in getattr(terms, parties)}


def levels_up_to(ceiling: int) -> list[int]:
    return [level for level in Classification.values if level <= ceiling]


def scope_key(agreement_sql: str) -> str:
    return f"({{category}} || ':' || {{classification}} || ':' || {agreement_sql})"


def scope_keys(agreements: dict[int, Any]) -> set[str]:
    """Keys of (category, classification, agreement) that the agreements' scopes cover."""
    return {
        f"{category}:{level}:{pk}"
        for pk, terms in agreements.items()
        for category in terms.categories
        for level in levels_up_to(terms.ceiling)
    }


def released_to_covering(access: AgreementAccess) -> Text:
    """Released by its owner to every covering agreement, covered by one under which the
    owner provides: the (owner, category, classification) the agreements cover, as keys."""
    covered = {
        f"{owner}:{category}:{level}"
        for terms in access.agreements.values()
        for owner in terms.providers
        for category in terms.categories
        for level in levels_up_to(terms.ceiling)
    }
    key = "({owner_id} || ':' || {category} || ':' || {classification})"
    return Text("{releasability} = %s", ("covering",)) & among(key, covered)


def consent_of(agency_sql: str, caveat: str, *agency_params: int) -> Text:
    """The owner consented to lifting `caveat` for the agency (`agency_sql`: a column, or
    `%s` with its parameter)."""
    return Text(
        f"EXISTS (SELECT 1 FROM {table(Consent)} c WHERE c.record_id = {{id}}"
        f" AND c.agency_id = {agency_sql} AND c.caveat = %s)",
        (*agency_params, caveat),
    )


def caveat_set(caveat: str) -> Text:
    return Text("CAST({caveats} AS TEXT) LIKE %s ESCAPE '\\'", (like_json_string(caveat),))


def release_holds(access: AgreementAccess, level: int, hops: int) -> Text:
    """The release row `r{level}` (its basis is `r{level + 1}`) is still good: the owner's own
    release of a record it releases by name, or, up to `hops` onward steps, a recipient's
    release whose basis still holds now. A basis holds when the releasing agency receives
    under its basis agreement, that agreement is in the pool (in force, permitting the
    purpose, redacting no type asked about), allows onward sharing and covers the record (so
    the lowest ceiling along the chain applies), the owner's handling code does not forbid
    onward sharing (or the owner consented to that agency), and the record reached the
    releasing agency from the owner's covering releasability or by a release that holds in
    turn. Each step's tests are lookups of keys (agreement and agency, agreement and scope)
    in lists of constants, so the text grows with hops, not with agreements: one alternative
    per agreement along every hop took PostgreSQL longer to plan than to run."""
    row, basis = f"r{level}", f"r{level + 1}"
    owners_release = Text(f"{row}.released_by_id = {{owner_id}} AND {{releasability}} = %s", ("named",))
    if hops == 0:
        return owners_release
    onward = {
        pk: terms
        for pk, terms in access.pool.items()
        if terms.onward and terms.receivers and terms.categories and terms.providers
    }
    agreement = f"{row}.basis_agreement_id"
    from_owner = Text(f"{row}.basis_id IS NULL AND {{releasability}} = %s", ("covering",)) & among(
        pair_key(agreement, "{owner_id}"), pairs(onward, "providers")
    )
    from_release = Text(f"{basis}.agreement_id = {agreement}") & among(
        pair_key(agreement, f"{basis}.released_by_id"), pairs(onward, "providers")
    )
    bases = (
        among(pair_key(agreement, f"{row}.released_by_id"), pairs(onward, "receivers"))
        & among(scope_key(agreement), scope_keys(onward))
        & (from_owner | from_release)
    )
    onward_permitted = negated(caveat_set(Caveat.NO_ONWARD_SHARING)) | consent_of(
        f"{row}.released_by_id", Caveat.NO_ONWARD_SHARING
    )
    upstream = Text(f"{row}.basis_id IS NULL") | release_holds(access, level + 1, hops - 1)
    return owners_release | (bases & onward_permitted & upstream)


def releases_under(access: AgreementAccess, hops: int) -> tuple[str, Text]:
    """The FROM clause (a release of the record, `r0`, with its chain of bases) and the
    condition under which one makes the record visible: under one of the agreements, whose
    scope covers it and under which the releasing agency provides, and still holding."""
    joins = "".join(
        f" LEFT JOIN {table(RecordRelease)} r{n + 1} ON r{n + 1}.id = r{n}.basis_id" for n in range(hops)
    )
    direct = {pk: terms for pk, terms in access.agreements.items() if terms.categories and terms.providers}
    under = among(pair_key("r0.agreement_id", "r0.released_by_id"), pairs(direct, "providers")) & among(
        scope_key("r0.agreement_id"), scope_keys(direct)
    )
    return f"{table(RecordRelease)} r0{joins}", Text("r0.record_id = {id}") & under & release_holds(
        access, 0, hops
    )


def release_exists(access: AgreementAccess, hops: int) -> Text:
    """Every chain of releases starts at the owner's release by name or from its covering
    releasability (`release_holds`), so a record its owner releases to no one is never
    visible by one: tested first, that spares most records the probe of the release index."""
    source, condition = releases_under(access, hops)
    return Text("{releasability} IN (%s, %s)", ("named", "covering")) & Text(
        f"EXISTS (SELECT 1 FROM {source} WHERE {condition.sql})", condition.params
    )


def first_release(access: AgreementAccess, column: str, hops: int) -> Text:
    """`column` of the first release (by id) that makes the record visible, or NULL."""
    source, condition = releases_under(access, hops)
    return Text(
        f"(SELECT r0.{column} FROM {source} WHERE {condition.sql} ORDER BY r0.id LIMIT 1)", condition.params
    )


def negated(text: Text) -> Text:
    return Text(f"NOT {text.sql}", text.params)


def not_for_evidence_without_consent(agency_id: int) -> Text:
    return caveat_set(Caveat.NOT_FOR_EVIDENCE) & negated(consent_of("%s", Caveat.NOT_FOR_EVIDENCE, agency_id))


def covering_agreement(access: AgreementAccess) -> Text:
    """For a record released to every covering agreement: the first agreement covering it."""
    whens = [
        (
            pk,
            Text("{releasability} = %s", ("covering",))
            & among("{owner_id}", terms.providers)
            & in_scope(terms),
        )
        for pk, terms in sorted(access.agreements.items())
        if terms.providers and terms.categories
    ]
    if not whens:
        return Text("NULL")
    cases = " ".join(f"WHEN {when.sql} THEN {int(pk)}" for pk, when in whens)
    return Text(f"(CASE {cases} ELSE NULL END)", tuple(x for _, when in whens for x in when.params))


@dataclass(frozen=True)
class RuleTexts:
    """Everything the rule asks of a record for one agency and set of agreements."""

    visible: Text
    covering_agreement: Text
    first_agreement: Text
    first_redactions: Text
    first_release: Text


def rule_texts(agency_id: int, access: AgreementAccess) -> RuleTexts:
    return _rule_texts(int(agency_id), access.key(), settings.ONWARD_MAX_HOPS)


@lru_cache(maxsize=1024)
def _rule_texts(agency_id: int, access_key: tuple, hops: int) -> RuleTexts:
    from sharing.access import AgreementAccess

    access = AgreementAccess.from_key(access_key)
    shared = granted_to(agency_id)
    if access.agreements:
        shared = shared | released_to_covering(access) | release_exists(access, hops)
    if access.as_evidence:
        shared = shared & negated(not_for_evidence_without_consent(agency_id))
    return RuleTexts(
        visible=Text("{owner_id} = %s", (agency_id,)) | shared,
        covering_agreement=covering_agreement(access),
        first_agreement=first_release(access, "agreement_id", hops),
        first_redactions=first_release(access, "inherited_redactions", hops),
        first_release=first_release(access, "id", hops),
    )
