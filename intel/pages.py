"""Server-rendered pages for analysts: search, an entity with what visible records state
about it, and a record. They read through the same selectors as the API."""

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from intel import selectors

SEARCH_LIMIT = 50


@login_required
def search(request: HttpRequest) -> HttpResponse:
    reader = selectors.Reader.from_request(request)
    query = request.GET.get("q", "").strip()
    results, error = [], ""
    if query and len(query) < 2:
        error = "Give at least 2 characters to search for."
    elif query:
        results = list(selectors.search_entities(reader, query).order_by("id")[:SEARCH_LIMIT])
        shown = {m.record_id: m.record.owner_id for e in results for m in e.visible_mentions}
        selectors.audit_reads(reader, shown, via="search page")
    return render(request, "intel/search.html", {"query": query, "results": results, "error": error})


@login_required
def entity_detail(request: HttpRequest, pk: int) -> HttpResponse:
    reader = selectors.Reader.from_request(request)
    entity = selectors.visible_entities(reader).filter(pk=pk).first()
    if entity is None:
        raise Http404("No such entity")
    shown = {m.record_id: m.record.owner_id for m in entity.visible_mentions}
    selectors.audit_reads(reader, shown, via="entity page")
    links = selectors.visible_links(reader).filter(Q(source=entity) | Q(target=entity)).order_by("type")
    names = sorted({m.properties.get("name") for m in entity.visible_mentions if m.properties.get("name")})
    return render(
        request,
        "intel/entity.html",
        {"entity": entity, "key": selectors.entity_key_for(entity), "names": names, "links": links},
    )


@login_required
def record_detail(request: HttpRequest, pk: int) -> HttpResponse:
    reader = selectors.Reader.from_request(request)
    try:
        record = selectors.readable_record(reader, selectors.record_with_contents(reader), pk)
    except selectors.PurposeRequired as refusal:
        return render(request, "intel/purpose_required.html", {"refusal": refusal}, status=403)
    if record is None:
        raise Http404("No such record")
    selectors.audit_reads(
        reader, {record.pk: record.owner_id}, "record page", {record.pk: record.via_agreement}
    )
    return render(request, "intel/record.html", {"record": record})
