"""Reads of cases: which a user may open, and a case's chart as the reader may see it now."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from agencies.models import User
from cases.charts import without
from cases.models import Case
from intel.access import viewer_agency_id
from intel.models import Entity


def cases_of(user) -> QuerySet[Case]:
    """The cases a user may open: their agency's that they created or that were shared with
    them, most recently changed first. None for a user of no agency: a case is an agency's,
    and one whose creator moved to another agency stays behind with it."""
    agency_id = viewer_agency_id(user)
    if agency_id is None:
        return Case.objects.none()
    mine = Case.objects.filter(agency_id=agency_id).filter(
        Q(created_by=user) | Q(pk__in=Case.shared_with.through.objects.filter(user=user).values("case_id"))
    )
    return (
        mine.select_related("created_by", "updated_by")
        .prefetch_related("shared_with")
        .order_by("-updated_at", "public_id")
    )


def open_cases_of(user) -> QuerySet[Case]:
    """The user's cases still being worked (what a home page lists)."""
    return cases_of(user).filter(status=Case.Status.OPEN)


def colleagues_of(user) -> QuerySet[User]:
    """Who a user may share a case with: the other active members of their agency."""
    agency_id = viewer_agency_id(user)
    if agency_id is None:
        return User.objects.none()
    return User.objects.filter(agency_id=agency_id, is_active=True).exclude(pk=user.pk).order_by("username")


def visible_nodes(user, nodes: Iterable[str]) -> set[str]:
    """Of these entity public ids, those the user's agency may see now (for some purpose: a
    chart names entities, it shows nothing of them), in one query."""
    asked = list(nodes)
    if not asked:
        return set()
    found = Entity.objects.visible_to(user).filter(public_id__in=asked).values_list("public_id", flat=True)
    return {str(public_id) for public_id in found}


def open_case(user, case: Case) -> Case:
    """The case with `visible_chart` (its chart less the entities the user may not see now)
    and `removed` (how many those were, and nothing else about them)."""
    nodes = case.chart.get("nodes", [])
    hidden = set(nodes) - visible_nodes(user, nodes)
    case.visible_chart = without(case.chart, hidden)
    case.removed = len(hidden)
    return case
