"""Writes of cases: create, update, share, delete. Each checks who asks: a case is its
agency's, opened by its creator and the colleagues it is shared with (anyone else is told
it does not exist); only its creator shares or deletes it. A chart is saved only if every
entity it names is one the saver may see, a hidden one refused in the words of a missing
one. Every write is audited."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404

from agencies.models import User
from audit.log import record_event
from cases import selectors
from cases.charts import clean_chart
from cases.models import Case
from core.inputs import storable_text

NAME_MAX = 200
NOTES_MAX = 20_000
SHARED_MAX = 100
# The words for an entity the saver may not see, and for one that does not exist.
NO_SUCH_ENTITY = "no such entity"
NO_SUCH_CASE = "No such case"
SHOWN_MISSING = 10


def member_agency(user: User) -> int:
    if not getattr(user, "is_authenticated", False) or user.agency_id is None:
        raise PermissionDenied("cases are kept by the members of an agency")
    return user.agency_id


def openable(user: User, case: Case) -> Case:
    """The case, locked for the write, if the user may open it; otherwise it does not exist."""
    found = selectors.cases_of(user).filter(pk=case.pk).values_list("pk", flat=True).first()
    if found is None:
        raise Http404(NO_SUCH_CASE)
    return Case.objects.select_for_update().get(pk=found)


def created_by_user(user: User, case: Case, doing: str) -> None:
    if case.created_by_id != user.pk:
        raise PermissionDenied(f"only the case's creator may {doing} it")


def clean_name(name: str) -> str:
    return storable_text("name", name, limit=NAME_MAX, when_empty="name the case")


def clean_notes(notes: str) -> str:
    return storable_text("notes", notes, limit=NOTES_MAX, when_empty=None)


def seen_chart(user: User, chart: object) -> dict:
    """The chart checked (`cases.charts`), every entity it names visible to the user."""
    cleaned = clean_chart(chart, max_nodes=settings.CASE_MAX_NODES)
    visible = selectors.visible_nodes(user, cleaned["nodes"])
    missing = [node for node in cleaned["nodes"] if node not in visible]
    if missing:
        named = ", ".join(missing[:SHOWN_MISSING]) + (" ..." if len(missing) > SHOWN_MISSING else "")
        raise ValidationError({"chart": [f"nodes: {NO_SUCH_ENTITY}: {named}"]})
    return cleaned


@transaction.atomic
def create_case(user: User, *, name: str, notes: str = "", chart: object = None) -> Case:
    agency_id = member_agency(user)
    name, notes = clean_name(name), clean_notes(notes)
    cleaned = seen_chart(user, chart if chart is not None else {})
    case = Case.objects.create(
        agency_id=agency_id, name=name, notes=notes, chart=cleaned, created_by=user, updated_by=user
    )
    record_event("case.created", actor=user, obj=case, details={"name": name, "nodes": len(cleaned["nodes"])})
    return case


@transaction.atomic
def update_case(
    user: User,
    case: Case,
    *,
    name: str | None = None,
    notes: str | None = None,
    status: str | None = None,
    chart: object = None,
) -> Case:
    """Changes what is given (None: left as it is). A chart saved replaces the stored one
    whole; one not given keeps its stored nodes, hidden ones included, which return to the
    chart if the rule lets the agency see them again."""
    case = openable(user, case)
    changed = []
    if name is not None:
        case.name, changed = clean_name(name), [*changed, "name"]
    if notes is not None:
        case.notes, changed = clean_notes(notes), [*changed, "notes"]
    if status is not None:
        if status not in Case.Status.values:
            raise ValidationError({"status": f"one of {', '.join(Case.Status.values)}"})
        case.status, changed = status, [*changed, "status"]
    if chart is not None:
        case.chart, changed = seen_chart(user, chart), [*changed, "chart"]
    case.updated_by = user
    case.save()
    record_event(
        "case.updated",
        actor=user,
        obj=case,
        details={"fields": changed, "nodes": len(case.chart.get("nodes", []))},
    )
    return case


@transaction.atomic
def share_case(user: User, case: Case, *, usernames: list[str]) -> Case:
    """Shares the case with exactly these colleagues (by username; none: with no one). A
    name that is no active colleague of the case's agency is refused in the same words
    whether or not such a user exists elsewhere."""
    case = openable(user, case)
    created_by_user(user, case, "share")
    if len(usernames) > SHARED_MAX:
        raise ValidationError({"shared_with": f"at most {SHARED_MAX} colleagues"})
    asked = list(dict.fromkeys(usernames))
    searchable = [name for name in asked if "\x00" not in name]
    found = {u.username: u for u in selectors.colleagues_of(user).filter(username__in=searchable)}
    unknown = [name for name in asked if name not in found and name != user.username]
    if unknown:
        raise ValidationError(
            {"shared_with": [f"no colleague of your agency is named {name[:150]!r}" for name in unknown]}
        )
    before = set(case.shared_with.values_list("pk", flat=True))
    after = {colleague.pk for colleague in found.values()}
    case.shared_with.set(sorted(after))
    case.updated_by = user
    case.save(update_fields=["updated_by", "updated_at"])
    record_event(
        "case.shared",
        actor=user,
        obj=case,
        details={
            "shared_with": sorted(after),
            "added": sorted(after - before),
            "removed": sorted(before - after),
        },
    )
    return case


@transaction.atomic
def delete_case(user: User, case: Case) -> None:
    case = openable(user, case)
    created_by_user(user, case, "delete")
    record_event("case.deleted", actor=user, obj=case, details={"name": case.name})
    case.delete()
