"""Re-fitting an agency's risk weights from what its inspections found (`fit_risk_weights`).

The learning is a regularized (L2) logistic regression with scikit-learn: one row per
inspection with an outcome, one column per indicator of `targeting.indicators.INDICATORS`
(its value when decided, 0 where it did not fire), the label whether the inspection found a
seizure or another violation.

Inspections chosen by score teach only about what the score already picked: a model fitted
on them alone cannot see violations among what the score let pass. The guard is the random
inspection share, drawn regardless of score (`Decision.random_pick`):

- validation uses only the random picks, the one unbiased sample of the declarations: each
  random pick is scored by the weights this procedure proposes from a fit without it
  (k-fold over the random picks, stratified and seeded, the targeted inspections always in
  training), and their AUC and capture at the profile's budget are set beside the current
  weights' on the same picks;
- training weighs each row by the inverse of its chance of being inspected: a random pick
  had a chance of about random_share * budget of being drawn, so it stands for
  1 / (random_share * budget) declarations; a targeted inspection is weighted 1. This is an
  approximation: a targeted declaration's real chance depended on its rank in its day's
  queue, which is not kept, and declarations released without inspection have no outcome
  at all, so only the random picks speak for them;
- with fewer random-pick outcomes than a minimum the fitting refuses.

The proposal turns the coefficients into weights on the current scale: a negative
coefficient (an indicator that went with fewer violations) is clipped to 0, and the
coefficients are scaled so that the weights add up to what the current weights add up to.
An indicator that fired in none of the outcomes keeps its current weight, since there is no
evidence either way; the others share the rest. A weight is at most 1,000 (what a profile
holds)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from targeting import evaluation, profiles
from targeting.indicators import INDICATORS
from targeting.models import Decision, RiskProfile

NAMES = tuple(indicator.name for indicator in INDICATORS)
VIOLATIONS = frozenset({"seizure", "other_violation"})
DEFAULT_C = 1.0
DEFAULT_MIN_OUTCOMES = 50
FOLDS = 5
WEIGHT_MAX = 1000.0
SEED = 0


class FitRefused(ValueError):
    """The outcomes cannot support a fit; the message says why, with the numbers."""


@dataclass(frozen=True)
class Fit:
    weights: dict[str, float]
    coefficients: dict[str, float]
    clipped: list[str]
    kept: list[str]
    validation: dict


def matrix(rows: Sequence[Mapping[str, float]], *, row_names: Sequence[str] | None = None) -> np.ndarray:
    """Indicator values by row, in the order of NAMES, 0 for an indicator that did not fire.
    A name no longer among the indicators is ignored; a value that is not a finite number
    is an error naming the row (by `row_names`, else its position from 1)."""
    values = np.zeros((len(rows), len(NAMES)))
    for i, row in enumerate(rows):
        for j, name in enumerate(NAMES):
            value = row.get(name, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                row_name = row_names[i] if row_names is not None else f"row {i + 1}"
                raise FitRefused(f"{row_name}: {name} is {str(value)[:40]!r}, not a number")
            values[i, j] = value
    return values


def sample_weights(random_pick: np.ndarray, *, budget: float, random_share: float) -> np.ndarray:
    chance = random_share * budget
    if not chance > 0:
        raise FitRefused("the profile draws no random inspections (random share * budget is 0)")
    # Both are shares an admin may set as small as a float goes: weights whose sum passes
    # float's range are none scikit-learn can fit with.
    picks = int(random_pick.sum())
    if not math.isfinite(picks * (1.0 / chance) + (len(random_pick) - picks)):
        raise FitRefused(f"the profile's random share * budget ({chance:.3g}) is too small to weigh picks by")
    return np.where(random_pick, 1.0 / chance, 1.0)


def _model(C: float) -> LogisticRegression:
    return LogisticRegression(C=C, l1_ratio=0, solver="lbfgs", max_iter=1000)


def _capture(scores: np.ndarray, labels: np.ndarray, budget: float) -> float | None:
    ids = [f"{i:09d}" for i in range(len(scores))]
    order = evaluation.ranking(dict(zip(ids, scores.tolist(), strict=True)))
    truth = dict(zip(ids, labels.astype(bool).tolist(), strict=True))
    return evaluation.figures(order, truth, evaluation.budget_count(len(ids), budget))["capture"]


def _auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    return float(roc_auc_score(labels, scores)) if 0 < labels.sum() < len(labels) else None


def fit_weights(
    *,
    values: np.ndarray,
    violation: np.ndarray,
    random_pick: np.ndarray,
    current: Mapping[str, float],
    budget: float,
    random_share: float,
    C: float = DEFAULT_C,
    min_outcomes: int = DEFAULT_MIN_OUTCOMES,
    progress: Callable[[Sequence], Sequence] = lambda steps: steps,
) -> Fit:
    """Proposed weights and their validation on the random picks, as the module says.
    `values` is `matrix(...)`; `violation` and `random_pick` are booleans by row;
    `progress` wraps the folds (a progress bar)."""
    violation = np.asarray(violation, dtype=bool)
    random_pick = np.asarray(random_pick, dtype=bool)
    if not (len(values) == len(violation) == len(random_pick)):
        raise ValueError("values, violation and random_pick need one entry per outcome")
    if not (C > 0 and math.isfinite(C)):
        raise FitRefused(f"C must be a positive number, not {C}")
    if min_outcomes < 1:
        raise FitRefused(f"the minimum of random-pick outcomes must be at least 1, not {min_outcomes}")
    picks = int(random_pick.sum())
    if picks < min_outcomes:
        raise FitRefused(
            f"{picks} random-pick outcomes, fewer than the {min_outcomes} needed: only the random "
            "inspection share shows what the score misses"
        )
    if violation.all() or not violation.any():
        raise FitRefused(f"all {len(violation)} outcomes are alike: nothing to learn from")
    weights = sample_weights(random_pick, budget=budget, random_share=random_share)
    picked = np.flatnonzero(random_pick)
    out_of_fold = np.zeros(len(picked))
    folds = min(FOLDS, int(violation[picked].sum()), int((~violation[picked]).sum()))
    if folds >= 2:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED)
        for _, test_part in progress(list(splits.split(picked, violation[picked]))):
            held_out = np.zeros(len(values), dtype=bool)
            held_out[picked[test_part]] = True
            model = _model(C).fit(values[~held_out], violation[~held_out], sample_weight=weights[~held_out])
            coefs = dict(zip(NAMES, model.coef_[0].tolist(), strict=True))
            try:
                fold_weights, _, _ = _proposal(coefs, current, fired=values[~held_out].any(axis=0))
            except FitRefused:
                fold_weights = dict.fromkeys(NAMES, 0.0)
            out_of_fold[test_part] = values[picked[test_part]] @ _vector(fold_weights)
    model = _model(C).fit(values, violation, sample_weight=weights)
    coefficients = dict(zip(NAMES, model.coef_[0].tolist(), strict=True))
    proposed, clipped, kept = _proposal(coefficients, current, fired=values.any(axis=0))
    current_scores = values[picked] @ _vector(current)
    labels = violation[picked]
    validation = {
        "outcomes": len(values),
        "violations": int(violation.sum()),
        "random_picks": picks,
        "random_pick_violations": int(labels.sum()),
        "random_pick_weight": 1.0 / (random_share * budget),
        "C": C,
        "budget": budget,
        "folds": folds if folds >= 2 else 0,
        "fitted": {
            "auc": _auc(out_of_fold, labels) if folds >= 2 else None,
            "capture": _capture(out_of_fold, labels, budget) if folds >= 2 else None,
        },
        "current": {"auc": _auc(current_scores, labels), "capture": _capture(current_scores, labels, budget)},
        "clipped": clipped,
        "kept": kept,
    }
    return Fit(proposed, coefficients, clipped, kept, validation)


def _vector(weights: Mapping[str, float]) -> np.ndarray:
    return np.array([float(weights.get(name, 0.0)) for name in NAMES])


def _proposal(
    coefficients: Mapping[str, float], current: Mapping[str, float], *, fired: np.ndarray
) -> tuple[dict[str, float], list[str], list[str]]:
    kept = [name for name, seen in zip(NAMES, fired, strict=True) if not seen]
    clipped = [name for name in NAMES if name not in kept and coefficients[name] < 0]
    learned = {name: max(0.0, coefficients[name]) for name in NAMES if name not in kept}
    total = sum(float(current.get(name, 0.0)) for name in NAMES)
    share = total - sum(float(current.get(name, 0.0)) for name in kept)
    if sum(learned.values()) <= 0:
        raise FitRefused("no indicator went with more violations: every coefficient is 0 or below")
    scale = share / sum(learned.values())
    weights = {name: float(current.get(name, 0.0)) for name in kept}
    weights |= {name: round(min(WEIGHT_MAX, value * scale), 2) for name, value in learned.items()}
    return {name: weights[name] for name in NAMES}, clipped, kept


def refit_agency(
    *,
    agency_id: int,
    C: float = DEFAULT_C,
    min_outcomes: int = DEFAULT_MIN_OUTCOMES,
    progress: Callable[[Sequence], Sequence] = lambda steps: steps,
) -> tuple[RiskProfile, Fit]:
    """Fits the agency's inspections with an outcome and proposes the weights (a proposed
    profile for an agency admin to accept or reject). Run by an operator's command: the
    proposal changes nothing until an admin, whose authority `decide_proposal` checks,
    accepts it."""
    current = profiles.active_profile(agency_id=agency_id)
    found = (
        Decision.objects.filter(agency_id=agency_id, action=Decision.Action.INSPECT)
        .exclude(outcome="")
        .order_by("pk")
        .values_list("public_id", "indicators", "outcome", "random_pick")
    )
    names, rows, violation, random_pick = [], [], [], []
    for public_id, indicators, outcome, picked in found.iterator(chunk_size=5_000):
        if not isinstance(indicators, dict):
            raise FitRefused(f"decision {public_id}: its indicators are not an object of values")
        names.append(f"decision {public_id}")
        rows.append(indicators)
        violation.append(outcome in VIOLATIONS)
        random_pick.append(picked)
    fit = fit_weights(
        values=matrix(rows, row_names=names),
        violation=np.array(violation, dtype=bool),
        random_pick=np.array(random_pick, dtype=bool),
        current=current.weights,
        budget=current.budget,
        random_share=current.random_share,
        C=C,
        min_outcomes=min_outcomes,
        progress=progress,
    )
    checked = fit.validation
    reason = (
        f"Re-fitted by fit_risk_weights from {checked['outcomes']} inspection outcomes "
        f"({checked['random_picks']} random picks) against version {current.version}"
        + (f"; clipped to 0 (went with fewer violations): {', '.join(fit.clipped)}" if fit.clipped else "")
        + (f"; kept (never fired): {', '.join(fit.kept)}" if fit.kept else "")
    )
    validation = {**checked, "against_version": current.version}
    proposal = profiles.propose_weights(
        agency_id=agency_id, weights=fit.weights, validation=validation, reason=reason
    )
    return proposal, fit
