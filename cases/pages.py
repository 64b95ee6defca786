"""Pages of cases: the list of the user's cases (and a form to start one), and a case's page
with its notes, who it is shared with, how many of its entities were removed, and the link
that opens its chart (the link chart page's `?case=`). Writes go through the services."""

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from cases import selectors, services
from cases.models import Case
from core.refusals import refusal


@login_required
@require_http_methods(["GET", "POST"])
def case_list(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        try:
            case = services.create_case(
                request.user, name=request.POST.get("name", ""), notes=request.POST.get("notes", "")
            )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, f"Case {case.name} created.")
            return redirect("cases:case-detail", pk=case.public_id)
    return render(
        request,
        "cases/case_list.html",
        {"cases": selectors.cases_of(request.user)[:200], "may_create": request.user.agency_id is not None},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def case_detail(request: HttpRequest, pk: UUID) -> HttpResponse:
    case = get_object_or_404(selectors.cases_of(request.user), public_id=pk)
    status = 200
    if request.method == "POST":
        what = request.POST.get("action")
        try:
            if what == "delete":
                services.delete_case(request.user, case)
                messages.success(request, f"Case {case.name} deleted.")
                return redirect("cases:case-list")
            if what == "share":
                services.share_case(request.user, case, usernames=request.POST.getlist("shared_with"))
            else:
                services.update_case(
                    request.user,
                    case,
                    name=request.POST.get("name", ""),
                    notes=request.POST.get("notes", ""),
                    status=request.POST.get("status") or None,
                )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, "Saved.")
            return redirect("cases:case-detail", pk=case.public_id)
        case = get_object_or_404(selectors.cases_of(request.user), public_id=pk)
    opened = selectors.open_case(request.user, case)
    shared = {user.pk for user in case.shared_with.all()}
    return render(
        request,
        "cases/case_detail.html",
        {
            "case": opened,
            "nodes": len(opened.visible_chart["nodes"]),
            "is_creator": case.created_by_id == request.user.pk,
            "statuses": Case.Status.choices,
            "colleagues": [(user, user.pk in shared) for user in selectors.colleagues_of(request.user)],
        },
        status=status,
    )
