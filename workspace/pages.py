"""The analyst's pages: home, search grouped by type, and an entity's dossier with the forms
that ask for its analyses and file a disclosure request. Reads go through
`workspace.selectors`, writes through graph's and sharing's own services."""

from collections.abc import Callable
from functools import wraps
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST

from agencies.models import Agency
from graph import stored_answers
from graph.jobs import TooManyAnalyses
from graph.selectors import EntityNotFound, audit_query, visible_entity
from intel import selectors as intel_selectors
from intel.models import Purpose
from intel.pages import reading
from intel.selectors import BadInput, Reader
from sharing import requests
from sharing.models import DisclosureRequest
from workspace import selectors
from workspace.selectors import ANALYSIS_SECTIONS


def found(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An entity the reader may not see is the same 404 as one that does not exist."""

    @wraps(view)
    def or_404(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except EntityNotFound:
            raise Http404("No such entity") from None

    return or_404


def home(request: HttpRequest) -> HttpResponse:
    """Signed out: what Interlink is and the way in; signed in, the user's work."""
    if not request.user.is_authenticated:
        return render(request, "home.html")
    return work(request)


@reading
def work(request: HttpRequest, reader: Reader) -> HttpResponse:
    return render(request, "workspace/home.html", {"home": selectors.home(reader)})


@login_required
@reading
def search(request: HttpRequest, reader: Reader) -> HttpResponse:
    """The search page. A text no search takes (too short, too broad) is said on the page,
    under the box still holding it; the whole page had become a bare 400."""
    typed = request.GET.get("q", "")
    found, refused = selectors.Found(groups=[], more=False), ""
    try:
        query = intel_selectors.search_query(typed)
        if query:
            with intel_selectors.search_time_limited():
                found = selectors.search(reader, query)
            selectors.audit_search(reader, found)
    except intel_selectors.BadInput as refusal:
        if refusal.field != "q":
            raise
        query, refused = typed[: intel_selectors.SEARCH_MAX_LENGTH], str(refusal)
    return render(
        request,
        "workspace/search.html",
        {
            "query": query,
            "refused": refused,
            "groups": found.groups,
            "more": found.more,
            **choices(request, reader),
            "keep": [("q", query)] if query and not refused else [],
            "mentions_shown": settings.ENTITY_MENTIONS_SHOWN,
            "counted_to": settings.ENTITY_COUNT_LIMIT,
        },
        status=400 if refused else 200,
    )


def purpose_query(request: HttpRequest) -> str:
    """The purpose stated in the address (checked by the reader), for the page's links and
    forms to carry; one chosen for the session needs no carrying."""
    stated = request.GET.get("purpose")
    return f"?{urlencode({'purpose': stated})}" if stated else ""


def choices(request: HttpRequest, reader: Reader) -> dict:
    return {
        "purpose": reader.purpose,
        "stated_purpose": request.GET.get("purpose") or "",
        "purpose_query": purpose_query(request),
        "purposes": Purpose.choices,
    }


def entity_url(request: HttpRequest, public_id: UUID) -> str:
    return reverse("workspace:entity", args=[public_id]) + purpose_query(request)


@login_required
@found
@reading
def entity(
    request: HttpRequest, reader: Reader, pk: UUID, status: int = 200, form: dict | None = None
) -> HttpResponse:
    return render(
        request,
        "workspace/entity.html",
        {
            "profile": selectors.profile(reader, pk),
            **choices(request, reader),
            "urgencies": DisclosureRequest.Urgency.choices,
            "form": form or {},
        },
        status=status,
    )


@require_GET
@login_required
@found
@reading
def analyses_state(request: HttpRequest, reader: Reader, pk: UUID) -> JsonResponse:
    """What a dossier following its analyses asks every few seconds (static/follow.js),
    rather than reading the whole dossier again."""
    return JsonResponse(selectors.analyses_following(reader, pk))


@require_POST
@login_required
@found
@reading
def analyse(request: HttpRequest, reader: Reader, pk: UUID) -> HttpResponse:
    """Asks for one of the profile's analyses of the reader's agency's graph, through the
    service the API's analytics endpoint uses; the profile then shows its progress."""
    visible_entity(reader, pk)
    operation = request.POST.get("operation")
    if operation not in selectors.PROFILE_ANALYSES:
        raise BadInput("operation", f"choose one of: {', '.join(selectors.PROFILE_ANALYSES)}")
    asked = f"analysis.{operation}"
    try:
        row, answer = stored_answers.analysis(reader=reader, operation=operation, parameters=None)
    except (PermissionDenied, TooManyAnalyses) as refusal:
        audit_query(reader, asked, None, [str(pk)], outcome="refused")
        messages.error(request, str(refusal))
    else:
        # As the API's analysis endpoint audits it: the query, and the records its answer shows.
        audit_query(reader, asked, answer, [str(pk)], outcome="answered" if answer else row.status)
        done = answer is not None
        messages.success(request, "Computed." if done else f"Computing: {row.progress} %.")
    # Back at the analysis asked for, which the dossier shows below its mentions and
    # connections, rather than at the top of the page.
    return redirect(entity_url(request, pk) + f"#{ANALYSIS_SECTIONS[operation]}")


@require_POST
@login_required
@found
@reading
def request_disclosure(request: HttpRequest, reader: Reader, pk: UUID) -> HttpResponse:
    """Files a disclosure request for the records a partner's hit/no-hit notice counted,
    through the API's service (which checks the agreement, the purpose and the records)."""
    target = visible_entity(reader, pk)
    form = {key: request.POST.get(key, "") for key in ("owner", "purpose", "justification", "urgency")}
    try:
        # A code holding a NUL character names no agency (and PostgreSQL could not compare it).
        owner = Agency.objects.filter(code=form["owner"]).first() if "\x00" not in form["owner"] else None
        if owner is None:
            raise ValidationError({"owner": "no partner agency by that code"})
        made = requests.request_disclosure(
            reader.user,
            entity_id=target.pk,
            owner=owner,
            purpose=form["purpose"],
            justification=form["justification"],
            urgency=form["urgency"],
        )
    except ValidationError as error:
        for field, problems in error.message_dict.items():
            messages.error(request, f"{field}: {' '.join(problems)}")
        return entity(request, pk, status=400, form=form)
    due = f"{made.due_at:%Y-%m-%d %H:%M}"
    messages.success(request, f"Request {made.reference} sent to {owner.code}; due {due}.")
    return redirect(entity_url(request, pk))
