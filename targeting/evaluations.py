"""The stored evaluations of targeting: `store_evaluation` (the write, called by
`evaluate_targeting`) and the evaluation page's reads. An evaluation is of a generated
scenario, not of any agency's records, so every member of an agency may read it."""

from __future__ import annotations

import json
from uuid import UUID

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from agencies.models import User
from audit.log import record_event
from targeting.models import Evaluation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PLOT_MAX_BYTES = 5_000_000
RESULTS_MAX_BYTES = 5_000_000
RESULTS_KEYS = ("budgets", "rates", "seeds", "methods", "interval", "per_seed", "summary", "curve")


@transaction.atomic
def store_evaluation(*, parameters: dict, results: dict, plot: bytes) -> Evaluation:
    """Keeps one run of `evaluate_targeting`, and audits it.

    `parameters`: what the run was asked (for instance the budget, the seeds, the scenario's
    size), shown as given. `results`: what `targeting.evaluation.evaluate` returns, unchanged:
    `budgets` and `rates` (shares), `seeds`, `methods` (random, random_draw, then the
    methods scored, e.g. rules and rules_network), `interval` (how the intervals were made),
    `per_seed` (each seed's declarations, violations, figures by method and budget, and
    capture curve), `summary` (method -> budget key such as "0.05" -> metric -> mean, low,
    high, seeds; the metrics are k, caught, capture, precision, lift, compliant_stopped,
    compliant_stopped_share) and `curve` (method -> mean, low, high capture at each rate).
    `plot`: the PNG of `targeting.evaluation.plot(results)`.

    Run by an operator's command on generated data, so it has no user to authorize; a result
    that is not of that shape or a plot that is not a PNG is refused before anything is
    written."""
    errors = {}
    if not isinstance(parameters, dict):
        errors["parameters"] = "an object"
    if not isinstance(results, dict) or any(key not in results for key in RESULTS_KEYS):
        errors["results"] = f"what targeting.evaluation.evaluate returns ({', '.join(RESULTS_KEYS)})"
    if not isinstance(plot, bytes) or not plot.startswith(PNG_SIGNATURE) or len(plot) > PLOT_MAX_BYTES:
        errors["plot"] = f"a PNG of at most {PLOT_MAX_BYTES:,} bytes"
    if not errors and len(json.dumps(results)) > RESULTS_MAX_BYTES:
        errors["results"] = f"at most {RESULTS_MAX_BYTES:,} bytes as JSON"
    if errors:
        raise ValidationError(errors)
    evaluation = Evaluation.objects.create(parameters=parameters, results=results, plot=plot)
    record_event(
        "targeting.evaluation.stored",
        obj=evaluation,
        details={"parameters": parameters, "seeds": results["seeds"]},
    )
    return evaluation


def _require_agency_member(user: User) -> None:
    if not (user.is_authenticated and user.agency_id is not None):
        raise PermissionDenied("the evaluations are for an agency's staff")


def latest_evaluation(user: User) -> Evaluation | None:
    _require_agency_member(user)
    return Evaluation.objects.defer("plot").first()


def evaluation_plot(user: User, public_id: UUID) -> bytes | None:
    _require_agency_member(user)
    found = Evaluation.objects.filter(public_id=public_id).values_list("plot", flat=True).first()
    return None if found is None else bytes(found)
