"""The record page, and what every reading page shares (its reader, its 400 answer). It reads
through the same selectors, and shows through the same presentation (intel.presentation), as
the API; search and the entity's dossier are the workspace's."""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from intel import presentation, selectors


def bad_input(request: HttpRequest, field: str, message: str) -> HttpResponse:
    """A page's answer to a value it refuses: the field and why, as a 400."""
    return render(request, "bad_input.html", {"field": field, "message": message}, status=400)


def reading(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Passes the page its reader; a purpose outside the vocabulary is refused before
    anything is read, and any other value the page refuses (`BadInput`) is a 400 naming it."""

    @wraps(view)
    def with_reader(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, selectors.Reader.from_request(request), *args, **kwargs)
        except selectors.BadInput as error:
            return bad_input(request, error.field, str(error))

    return with_reader


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
