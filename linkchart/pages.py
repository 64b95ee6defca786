"""The link chart page: a shell the chart's script (static/linkchart/chart.js) fills from the
graph API (/api/graph/) as the signed-in analyst, for the purpose stated, opened on entities
(`?entity=`) or on a saved case (`?case=`, read through the cases API). The page itself
reads no record: it names the entities to open by public id, as asked, and the script's
calls to the API are where the visibility rule and the audit apply. An entity the analyst
may not see is answered by the API as a missing one, and the page shows that answer."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from intel import selectors
from intel.pages import bad_input
from linkchart.selectors import chart_vocabulary

# Entities a chart opens on at once (each is one neighbourhood query).
MAX_OPENED = 20


@login_required
def chart(request: HttpRequest) -> HttpResponse:
    try:
        purpose = selectors.Reader.from_request(request).purpose
    except selectors.BadInput as error:
        return bad_input(request, error.field, str(error))
    asked = request.GET.getlist("entity")
    if len(asked) > MAX_OPENED:
        return bad_input(request, "entity", f"at most {MAX_OPENED} entities at once")
    try:
        entities = list(dict.fromkeys(str(uuid.UUID(value)) for value in asked))
    except ValueError:
        return bad_input(request, "entity", "each entity is named by its id (a UUID)")
    try:
        case = str(uuid.UUID(request.GET["case"])) if request.GET.get("case") else None
    except ValueError:
        return bad_input(request, "case", "a case is named by its id (a UUID)")
    config = {"entities": entities, "case": case, "purpose": purpose or "", **chart_vocabulary()}
    return render(request, "linkchart/chart.html", {"config": config})
