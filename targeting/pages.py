"""Pages of targeting: the queue (ranked, filtered, with the budget line and the scoring's
progress), a declaration's explanation with its decision and outcome forms, and the risk
profile with its history and proposals. They read through `targeting.selectors` and write
through the services, as the API does."""

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from agencies.models import Agency, User
from core.inputs import page_number, storable_text
from core.pagination import LimitedCountPaginator
from core.refusals import refusal
from graph.jobs import basis_read_once
from intel.pages import bad_input
from targeting import decisions, profiles, selectors
from targeting.indicators import BY_NAME, INDICATORS
from targeting.models import Decision, RiskProfile, ScoringRun

PAGE_SIZE = 50
PROFILE_VERSIONS_SHOWN = 50


def _queue_post(request: HttpRequest) -> None:
    what = request.POST.get("action")
    if what == "rescore":
        run = decisions.rescore(request.user)
        # Without a worker (the embedded default) the scoring ran as the request waited.
        run.refresh_from_db()
        if run.status == ScoringRun.Status.DONE:
            messages.success(request, f"Scored afresh: {run.scored} declaration(s).")
        else:
            messages.success(request, "Scoring asked for; this page follows its progress.")
    elif what == "draw":
        drawn = decisions.draw_random_inspections(request.user)
        messages.success(
            request, f"{len(drawn.picked)} declaration(s) drawn for random inspection (seed {drawn.seed})."
        )
    else:
        raise ValidationError({"action": "rescore or draw"})


@login_required
@require_http_methods(["GET", "POST"])
def queue(request: HttpRequest) -> HttpResponse:
    status = 200
    if request.method == "POST":
        try:
            _queue_post(request)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            return redirect("targeting:queue")
    try:
        filters = selectors.clean_filters(request.GET)
    except ValidationError as error:
        field, problems = next(iter(error.message_dict.items()))
        return bad_input(request, field, " ".join(problems))
    # Whether the scores are current is asked twice (to keep them so, then to show it): on
    # one reading of the agency's basis, without the sync a digest of all it may see.
    basis_now = basis_read_once()
    decisions.keep_scored(request.user, basis_now=basis_now)
    state = selectors.scoring_status(request.user, basis_now=basis_now)
    listed = selectors.queue(request.user, filters=filters, budget=state.budget)
    paginator = LimitedCountPaginator(listed, PAGE_SIZE, settings.PAGINATION_COUNT_LIMIT)
    page = paginator.get_page(page_number(request.GET.get("page")))
    rows = selectors.page_rows(list(page.object_list))
    # The line goes under the last row listed inside the budget: the next row listed, on this
    # page or the next, is outside it, or there is none. Filters may hide the budget's own
    # last declaration, so the line is judged on the rows listed, not on that one.
    after_page = None
    if rows and rows[-1].in_budget and page.has_next():
        next_row = page.end_index()  # 1-based of this page's last row: 0-based of the next
        after_page = listed.values_list("in_budget", flat=True)[next_row : next_row + 1].first()
    for row, following in zip(rows, [*(row.in_budget for row in rows[1:]), after_page], strict=False):
        row.budget_line = row.in_budget and not following
        row.top = selectors.top_indicators(row)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "targeting/queue.html",
        {
            "page": page,
            "rows": rows,
            "state": state,
            "filters": filters,
            "indicators": INDICATORS,
            "actions": Decision.Action.choices,
            "query": query.urlencode(),
            "may_decide": request.user.role in decisions.DECIDERS,
        },
        status=status,
    )


def _declaration_post(request: HttpRequest, shown: selectors.Explanation) -> str:
    what = request.POST.get("action")
    if what == "decide":
        partner_code = request.POST.get("partner") or None
        partner = None
        if partner_code is not None:
            code = storable_text("partner", partner_code, limit=Agency._meta.get_field("code").max_length)
            partner = Agency.objects.filter(code=code).first()
            if partner is None:
                raise ValidationError({"partner": "no agency has that code"})
        decisions.decide(
            request.user,
            shown.record,
            action=request.POST.get("decision", ""),
            reason=request.POST.get("reason", ""),
            partner=partner,
        )
        return "Decision recorded."
    if what == "outcome":
        if shown.decision is None:
            raise ValidationError({"decision": "decide before recording an outcome"})
        decisions.record_outcome(
            request.user,
            shown.decision,
            outcome=request.POST.get("outcome", ""),
            findings=request.POST.get("findings", ""),
        )
        return "Outcome recorded as your agency's records."
    raise ValidationError({"action": "decide or outcome"})


@login_required
@require_http_methods(["GET", "POST"])
def declaration(request: HttpRequest, pk: UUID) -> HttpResponse:
    shown = selectors.explanation(request.user, pk)
    status = 200
    if request.method == "POST":
        try:
            said = _declaration_post(request, shown)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, said)
            return redirect("targeting:declaration", pk=pk)
    selectors.audit_explanation(request.user, shown)
    largest = max((part["contribution"] for part in shown.parts), default=0) or 1
    return render(
        request,
        "targeting/declaration.html",
        {
            "shown": shown,
            "largest": largest,
            "actions": Decision.Action.choices,
            "outcomes": Decision.Outcome.choices,
            "partners": Agency.objects.exclude(pk=request.user.agency_id).order_by("code"),
            "may_decide": request.user.role in decisions.DECIDERS,
            "chart": "&".join(f"entity={pk}" for pk in shown.chart_entities),
            # A refused form comes back as it was filled in, not reset to its first choices.
            "posted": request.POST if status == 400 else {},
        },
        status=status,
    )


def _profile_post(request: HttpRequest) -> str:
    what = request.POST.get("action")
    reason = request.POST.get("reason", "")
    if what in ("accept", "reject"):
        try:
            proposal_id = UUID(request.POST.get("proposal", ""))
        except ValueError:
            raise ValidationError({"proposal": "not a proposal's id"}) from None
        proposal = get_object_or_404(selectors.profile_versions(request.user), public_id=proposal_id)
        profiles.decide_proposal(request.user, proposal, accept=what == "accept", reason=reason)
        return f"Proposal v{proposal.version} {what}ed."
    if what != "change":
        raise ValidationError({"action": "change, accept or reject"})
    weights = {}
    for indicator in INDICATORS:
        raw = request.POST.get(f"weight-{indicator.name}", "")
        try:
            weights[indicator.name] = float(raw)
        except ValueError:
            raise ValidationError({f"weight-{indicator.name}": "a number"}) from None
    shares = {}
    for name in ("budget", "random_share"):
        try:
            shares[name] = float(request.POST.get(name, ""))
        except ValueError:
            raise ValidationError({name: "a share from 0 to 1"}) from None
    watchlists = {
        key: [entry for entry in request.POST.get(f"watch-{key}", "").replace(",", " ").split() if entry]
        for key in profiles.WATCHLIST_KEYS
    }
    changed = profiles.change_profile(
        request.user, reason=reason, weights=weights, watchlists=watchlists, **shares
    )
    return f"Profile v{changed.version} is active."


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    current = selectors.active_profile(request.user)
    status = 200
    if request.method == "POST":
        try:
            said = _profile_post(request)
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, refusal(error))
            status = 400
        else:
            messages.success(request, said)
            return redirect("targeting:profile")
    versions = list(selectors.profile_versions(request.user)[:PROFILE_VERSIONS_SHOWN])
    return render(
        request,
        "targeting/profile.html",
        {
            "profile": current,
            "weights": [(indicator, current.weights.get(indicator.name, 0)) for indicator in INDICATORS],
            "watchlists": {key: " ".join(current.watchlists.get(key, [])) for key in profiles.WATCHLIST_KEYS},
            "versions": [v for v in versions if v.status != RiskProfile.Status.PROPOSED],
            "proposals": [v for v in versions if v.status == RiskProfile.Status.PROPOSED],
            "labels": {name: indicator.label for name, indicator in BY_NAME.items()},
            "is_admin": request.user.role == User.Role.AGENCY_ADMIN,
        },
        status=status,
    )
