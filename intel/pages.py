"""The record page, what every reading page shares (its reader, its 400 answer), and the
agency's imports. They read through the same selectors, show through the same presentation
(intel.presentation), and write through the same services as the API; search and the
entity's dossier are the workspace's."""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from intel import presentation, selectors
from intel.import_reading import ImportFailed, ImportLimits
from intel.services import UNFINISHED, batch_progress, fail_interrupted, upload_import
from intel.uploads import UploadTooLarge, limit_import_upload


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


# Uploads listed on the imports page, newest first.
IMPORTS_LISTED = 50


class UploadForm(forms.Form):
    file = forms.FileField(help_text="CSV, JSON or JSON Lines, as docs/import.md describes")
    allow_unknown_columns = forms.BooleanField(
        required=False, help_text="ignore columns the format does not know, listing them as warnings"
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
@login_required
def imports(request: HttpRequest) -> HttpResponse:
    """The agency's uploads and a form to upload another. The size limit is put first among
    the upload handlers before anything reads the body (the CSRF check reads it, so it is
    made after), as the API does: a file over the limit is refused as it streams."""
    if request.user.agency_id is None:
        raise PermissionDenied("only members of an agency import records, into their agency")
    if request.method == "POST":
        limit_import_upload(request)
    try:
        return _imports(request)
    except UploadTooLarge as refusal:
        return _imports_page(request, UploadForm(), refusal.detail["file"][0], status=413)


@csrf_protect
def _imports(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _imports_page(request, UploadForm())
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _imports_page(request, form, status=400)
    try:
        batch = upload_import(
            form.cleaned_data["file"],
            request.user,
            allow_unknown_columns=form.cleaned_data["allow_unknown_columns"],
        )
    except ImportFailed as failure:
        return _imports_page(request, form, failure.errors[0]["message"], status=400)
    return redirect("intel:import", pk=batch.public_id)


def _imports_page(
    request: HttpRequest, form: UploadForm, refused: str = "", *, status: int = 200
) -> HttpResponse:
    uploads = selectors.import_batches_of(request.user).select_related("uploaded_by")
    fail_interrupted(uploads)
    batches = list(uploads[:IMPORTS_LISTED])
    for batch in batches:
        batch.progress = batch_progress(batch)
    context = {
        "form": form,
        "refused": refused,
        "batches": batches,
        "following": any(batch.status in UNFINISHED for batch in batches),
        "row_limit": upload_row_limit(),
    }
    return render(request, "intel/imports.html", context, status=status)


@require_GET
@login_required
def import_batch(request: HttpRequest, pk: UUID) -> HttpResponse:
    """One upload: its progress while it runs, then what it wrote or every problem found.
    Another agency's upload is missing, as one that does not exist."""
    uploads = selectors.import_batches_of(request.user).select_related("uploaded_by")
    fail_interrupted(uploads.filter(public_id=pk))
    batch = uploads.filter(public_id=pk).first()
    if batch is None:
        raise Http404("No such import")
    batch.progress = batch_progress(batch)
    return render(request, "intel/import.html", {"batch": batch, "following": batch.status in UNFINISHED})


def upload_row_limit() -> int | None:
    """The rows an upload may have where that is less than every import may (the embedded
    database's cap), for the form to say so before a file is sent."""
    limits = ImportLimits.of_uploads()
    return limits.max_rows if limits.max_rows < ImportLimits.from_settings().max_rows else None
