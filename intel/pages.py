"""Server-rendered pages for analysts: search, an entity with what visible records state
about it, and a record. They read through the same selectors, and show through the same
presentation (intel.presentation), as the API."""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from intel import presentation, selectors

SEARCH_LIMIT = 50


def bad_input(request: HttpRequest, field: str, message: str) -> HttpResponse:
    """A page's answer to a value it refuses: the field and why, as a 400."""
    return render(request, "bad_input.html", {"field": field, "message": message}, status=400)


def reading(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Passes the page its reader; a purpose outside the vocabulary is refused before
    anything is read."""

    @wraps(view)
    def with_reader(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            reader = selectors.Reader.from_request(request)
        except selectors.BadInput as error:
            return bad_input(request, error.field, str(error))
        return view(request, reader, *args, **kwargs)

    return with_reader


@login_required
@reading
def search(request: HttpRequest, reader: selectors.Reader) -> HttpResponse:
    try:
        query = selectors.search_query(request.GET.get("q", ""))
    except selectors.BadInput as error:
        return render(request, "intel/search.html", {"query": "", "error": str(error)}, status=400)
    results = []
    if query:
        results = list(selectors.search_entities(reader, query).order_by("id")[:SEARCH_LIMIT])
        shown = {m.record_id: m.record.owner_id for e in results for m in e.visible_mentions}
        selectors.audit_reads(reader, shown, via="search page")
    return render(request, "intel/search.html", {"query": query, "results": results})


@login_required
@reading
def entity_detail(request: HttpRequest, reader: selectors.Reader, pk: UUID) -> HttpResponse:
    entity = selectors.visible_entities(reader).filter(public_id=pk).first()
    if entity is None:
        raise Http404("No such entity")
    shown = {m.record_id: m.record.owner_id for m in entity.visible_mentions}
    selectors.audit_reads(reader, shown, via="entity page")
    links = (
        selectors.visible_links(reader)
        .filter(Q(source=entity) | Q(target=entity))
        .select_related("source", "target", "record")
        .order_by("type")
    )
    return render(
        request,
        "intel/entity.html",
        {
            "entity": entity,
            "key": presentation.entity_key(entity),
            "names": presentation.entity_names(entity),
            "links": links,
        },
    )


@login_required
@reading
def record_detail(request: HttpRequest, reader: selectors.Reader, pk: UUID) -> HttpResponse:
    try:
        record = selectors.readable_record(reader, selectors.record_with_contents(reader), pk)
    except selectors.PurposeRequired as refusal:
        return render(request, "intel/purpose_required.html", {"refusal": refusal}, status=403)
    if record is None:
        raise Http404("No such record")
    selectors.audit_reads(
        reader, {record.pk: record.owner_id}, "record page", {record.pk: record.via_agreement}
    )
    shown = presentation.present_record(reader=reader, record=record)
    return render(request, "intel/record.html", {"record": record, "shown": shown})
