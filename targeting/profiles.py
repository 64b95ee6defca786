"""An agency's risk profile: the weights of the indicators, the watch-lists and the inspection
budget. Every change is a new version, made by an agency admin with a reason and audited;
weights re-fitted from outcomes (`fit_risk_weights`) arrive as a proposal that an admin
accepts or rejects. A new active version leaves the agency's scores stale
(`targeting.scoring.is_current`), which has them recomputed."""

from __future__ import annotations

from collections.abc import Mapping

import pycountry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agencies.models import User
from audit.log import record_event
from core.inputs import storable_text
from targeting.indicators import DEFAULT_WEIGHTS, clean_weights
from targeting.models import RiskProfile

DEFAULT_BUDGET = 0.05
DEFAULT_RANDOM_SHARE = 0.1
WATCHLIST_MAX = 500
REASON_MAX = 2_000
WATCHLIST_KEYS = ("ports", "countries", "hs_prefixes")


def _reason(reason: str | None) -> str:
    return storable_text("reason", reason or "", limit=REASON_MAX, when_empty="say why")


def active_profile(*, agency_id: int) -> RiskProfile:
    """The agency's active profile; the first use of targeting starts it at the defaults."""
    found = RiskProfile.objects.filter(agency_id=agency_id, status=RiskProfile.Status.ACTIVE).first()
    if found is not None:
        return found
    with transaction.atomic():
        profile, created = RiskProfile.objects.get_or_create(
            agency_id=agency_id,
            version=1,
            defaults={
                "status": RiskProfile.Status.ACTIVE,
                "weights": dict(DEFAULT_WEIGHTS),
                "watchlists": {key: [] for key in WATCHLIST_KEYS},
                "budget": DEFAULT_BUDGET,
                "random_share": DEFAULT_RANDOM_SHARE,
                "reason": "the platform's defaults",
            },
        )
        if created:
            record_event(
                "targeting.profile.created",
                obj=profile,
                agency_id=agency_id,
                details={"version": 1, "weights": profile.weights},
            )
    return RiskProfile.objects.get(agency_id=agency_id, status=RiskProfile.Status.ACTIVE)


def require_agency_admin(user: User, agency_id: int, doing: str) -> None:
    if not (user.is_authenticated and user.agency_id == agency_id and user.role == User.Role.AGENCY_ADMIN):
        raise PermissionDenied(f"only an agency admin of the agency may {doing}")


def _share(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValidationError({field: "a share from 0 to 1"})
    return float(value)


def clean_watchlists(watchlists: Mapping) -> dict[str, list[str]]:
    """Watch-lists of UN/LOCODE ports, ISO 3166 countries and HS code prefixes (2 to 10
    digits), each sorted without repeats; anything else is an error naming the list."""
    if not isinstance(watchlists, Mapping):
        raise ValidationError({"watchlists": "an object of ports, countries and hs_prefixes"})
    unknown = sorted(set(watchlists) - set(WATCHLIST_KEYS))
    if unknown:
        raise ValidationError({"watchlists": f"unknown list(s): {', '.join(map(str, unknown))}"})
    cleaned: dict[str, list[str]] = {}
    for key in WATCHLIST_KEYS:
        entries = watchlists.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise ValidationError({key: "a list of text"})
        if len(entries) > WATCHLIST_MAX:
            raise ValidationError({key: f"at most {WATCHLIST_MAX} entries"})
        values = sorted({e.strip().upper().replace(" ", "").replace(".", "") for e in entries})
        for value in values:
            if not _valid(key, value):
                raise ValidationError({key: f"{value[:20]!r} is not {WATCHLIST_FORMS[key]}"})
        cleaned[key] = values
    return cleaned


WATCHLIST_FORMS = {
    "ports": "a UN/LOCODE (country code and three letters, e.g. NLRTM)",
    "countries": "an ISO 3166 alpha-2 country code",
    "hs_prefixes": "an HS code or its first 2 to 10 digits",
}


def _valid(key: str, value: str) -> bool:
    if key == "ports":
        return (
            len(value) == 5
            and value.isascii()
            and value[2:].isalnum()
            and pycountry.countries.get(alpha_2=value[:2]) is not None
        )
    if key == "countries":
        return len(value) == 2 and value.isascii() and pycountry.countries.get(alpha_2=value) is not None
    return value.isascii() and value.isdigit() and 2 <= len(value) <= 10


def merged_watchlists(current: Mapping, given: Mapping) -> dict[str, list[str]]:
    """The lists given replace the current ones; a list not given is kept."""
    if not isinstance(given, Mapping):
        raise ValidationError({"watchlists": "an object of ports, countries and hs_prefixes"})
    return clean_watchlists({**current, **given})


def _next_version(agency_id: int) -> int:
    latest = RiskProfile.objects.filter(agency_id=agency_id).aggregate(v=Max("version"))["v"]
    return (latest or 0) + 1


@transaction.atomic
def change_profile(
    user: User,
    *,
    reason: str,
    weights: Mapping | None = None,
    watchlists: Mapping | None = None,
    budget: float | None = None,
    random_share: float | None = None,
) -> RiskProfile:
    """A new active version of the admin's agency's profile, with what was not given kept:
    each weight and each watch-list not named stays as it was."""
    agency_id = user.agency_id
    require_agency_admin(user, agency_id, "change the risk profile")
    reason = _reason(reason)
    current = active_profile(agency_id=agency_id)
    try:
        new_weights = current.weights if weights is None else clean_weights({**current.weights, **weights})
    except ValueError as error:
        raise ValidationError({"weights": str(error)}) from error
    changed = RiskProfile(
        agency_id=agency_id,
        version=_next_version(agency_id),
        status=RiskProfile.Status.ACTIVE,
        weights=new_weights,
        watchlists=current.watchlists
        if watchlists is None
        else merged_watchlists(current.watchlists, watchlists),
        budget=current.budget if budget is None else _share("budget", budget),
        random_share=current.random_share if random_share is None else _share("random_share", random_share),
        reason=reason,
        created_by=user,
        decided_by=user,
        decided_at=timezone.now(),
    )
    _activate(changed, current, user, "targeting.profile.changed")
    return changed


def _activate(profile: RiskProfile, current: RiskProfile, user: User, action: str) -> None:
    RiskProfile.objects.filter(pk=current.pk).update(status=RiskProfile.Status.SUPERSEDED)
    profile.status = RiskProfile.Status.ACTIVE
    profile.save()
    record_event(
        action,
        actor=user,
        obj=profile,
        details={
            "version": profile.version,
            "previous": current.version,
            "reason": profile.reason,
            "changes": {
                field: {"from": getattr(current, field), "to": getattr(profile, field)}
                for field in ("weights", "watchlists", "budget", "random_share")
                if getattr(current, field) != getattr(profile, field)
            },
        },
    )


@transaction.atomic
def propose_weights(*, agency_id: int, weights: Mapping, validation: dict, reason: str) -> RiskProfile:
    """Weights re-fitted from outcomes, waiting for an admin: a proposed version that keeps
    the active profile's watch-lists and budget."""
    current = active_profile(agency_id=agency_id)
    proposal = RiskProfile.objects.create(
        agency_id=agency_id,
        version=_next_version(agency_id),
        status=RiskProfile.Status.PROPOSED,
        weights=clean_weights(weights),
        watchlists=current.watchlists,
        budget=current.budget,
        random_share=current.random_share,
        reason=_reason(reason),
        validation=validation,
    )
    record_event(
        "targeting.profile.proposed",
        obj=proposal,
        agency_id=agency_id,
        details={"version": proposal.version, "weights": proposal.weights, "validation": validation},
    )
    return proposal


@transaction.atomic
def decide_proposal(user: User, proposal: RiskProfile, *, accept: bool, reason: str) -> RiskProfile:
    """Accepts a proposal as the agency's active profile, or rejects it."""
    require_agency_admin(user, proposal.agency_id, "accept or reject proposed weights")
    reason = _reason(reason)
    proposal = RiskProfile.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != RiskProfile.Status.PROPOSED:
        raise ValidationError({"proposal": f"is {proposal.status}, not proposed"})
    proposal.decided_by, proposal.decided_at = user, timezone.now()
    proposal.reason = f"{proposal.reason}\n\n{'Accepted' if accept else 'Rejected'}: {reason}"
    if not accept:
        proposal.status = RiskProfile.Status.REJECTED
        proposal.save()
        record_event("targeting.profile.rejected", actor=user, obj=proposal, details={"reason": reason})
        return proposal
    current = active_profile(agency_id=proposal.agency_id)
    # The proposal kept the watch-lists and budget of its day; what an admin changed since stays.
    proposal.watchlists, proposal.budget, proposal.random_share = (
        current.watchlists,
        current.budget,
        current.random_share,
    )
    _activate(proposal, current, user, "targeting.profile.accepted")
    return proposal
