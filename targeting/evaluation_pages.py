"""The evaluation page: the latest stored evaluation of targeting on the scenario (its
figures and its plot), for an agency's staff. Reads through `targeting.evaluations`."""

from __future__ import annotations

from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from targeting import evaluation, evaluations


@login_required
def latest(request: HttpRequest) -> HttpResponse:
    found = evaluations.latest_evaluation(request.user)
    context = {"evaluation": found}
    if found is not None:
        context |= {
            "header": evaluation.TABLE_HEADER,
            "rows": evaluation.table_rows(found.results),
            "seeds": found.results["seeds"],
            "interval": found.results["interval"],
            "parameters": sorted(found.parameters.items()),
        }
    return render(request, "targeting/evaluation.html", context)


@login_required
def plot(request: HttpRequest, pk: UUID) -> HttpResponse:
    png = evaluations.evaluation_plot(request.user, pk)
    if png is None:
        raise Http404("No such evaluation")
    return HttpResponse(png, content_type="image/png")
