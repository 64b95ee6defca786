"""targeting.fitting on synthetic outcomes: the planted indicator leads, the guard refuses
too few random picks, the proposal keeps the current total, the fit is deterministic."""

import numpy as np
import pytest

from targeting import fitting
from targeting.indicators import DEFAULT_WEIGHTS

NAMES = list(DEFAULT_WEIGHTS)
TOTAL = sum(DEFAULT_WEIGHTS.values())


def outcomes(*, rows=3000, random_picks=300, seed=5, planted="seized_community", against=None):
    """Indicators firing at random; violations follow `planted` (and shun `against`)."""
    rng = np.random.default_rng(seed)
    values = (rng.random((rows, len(NAMES))) < 0.25) * np.round(rng.uniform(0.2, 1.0, (rows, len(NAMES))), 4)
    logit = -3.0 + 6.0 * values[:, NAMES.index(planted)]
    if against:
        logit -= 4.0 * values[:, NAMES.index(against)]
    violation = rng.random(rows) < 1 / (1 + np.exp(-logit))
    random_pick = np.zeros(rows, dtype=bool)
    random_pick[rng.choice(rows, random_picks, replace=False)] = True
    return values, violation, random_pick


def fit(values, violation, random_pick, **options):
    return fitting.fit_weights(
        values=values,
        violation=violation,
        random_pick=random_pick,
        current=DEFAULT_WEIGHTS,
        budget=0.05,
        random_share=0.1,
        **options,
    )


def test_the_planted_indicator_gets_the_largest_weight() -> None:
    found = fit(*outcomes())
    assert max(found.weights, key=found.weights.get) == "seized_community"
    assert sum(found.weights.values()) == pytest.approx(TOTAL, abs=0.05)
    checked = found.validation
    assert checked["random_picks"] == 300 and checked["folds"] == 5
    assert checked["random_pick_weight"] == pytest.approx(200)
    # Out of fold on the random picks, the fitted weights rank violations better than the defaults.
    assert checked["fitted"]["auc"] > checked["current"]["auc"]


def test_an_indicator_against_violations_is_clipped_to_zero() -> None:
    found = fit(*outcomes(against="watch_route"))
    assert found.weights["watch_route"] == 0.0
    assert "watch_route" in found.clipped
    assert found.coefficients["watch_route"] < 0


def test_an_indicator_that_never_fired_keeps_its_weight() -> None:
    values, violation, random_pick = outcomes()
    values[:, NAMES.index("partner_mismatch")] = 0
    found = fit(values, violation, random_pick)
    assert found.kept == ["partner_mismatch"]
    assert found.weights["partner_mismatch"] == DEFAULT_WEIGHTS["partner_mismatch"]
    assert sum(found.weights.values()) == pytest.approx(TOTAL, abs=0.05)


def test_fewer_random_picks_than_the_minimum_are_refused() -> None:
    with pytest.raises(fitting.FitRefused, match="49 random-pick outcomes, fewer than the 50"):
        fit(*outcomes(random_picks=49), min_outcomes=50)
    assert fit(*outcomes(random_picks=49), min_outcomes=49).validation["random_picks"] == 49


def test_outcomes_all_alike_are_refused() -> None:
    values, _, random_pick = outcomes()
    with pytest.raises(fitting.FitRefused, match="alike"):
        fit(values, np.zeros(len(values), dtype=bool), random_pick)


def test_the_fit_is_deterministic() -> None:
    first, second = fit(*outcomes()), fit(*outcomes())
    assert first.weights == second.weights
    assert first.validation == second.validation


def test_random_picks_weigh_by_the_inverse_of_their_chance() -> None:
    weights = fitting.sample_weights(np.array([True, False]), budget=0.05, random_share=0.1)
    assert weights.tolist() == [pytest.approx(200.0), 1.0]
    with pytest.raises(fitting.FitRefused, match="no random"):
        fitting.sample_weights(np.array([True]), budget=0.05, random_share=0.0)


def test_matrix_reads_missing_as_zero_and_names_a_bad_row() -> None:
    values = fitting.matrix([{"watch_hs": 0.5, "retired_indicator": 1.0}, {}])
    assert values.shape == (2, len(NAMES))
    assert values[0, NAMES.index("watch_hs")] == 0.5
    assert values.sum() == 0.5
    with pytest.raises(fitting.FitRefused, match="decision x: watch_hs is 'high'"):
        fitting.matrix([{"watch_hs": "high"}], row_names=["decision x"])
