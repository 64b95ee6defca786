"""targeting.fitting given a profile an admin may set (every share from 0 to 1 is valid):
a random share of the budget so small that its inverse is not a number is refused as the
fit's own refusal, never an error of the library it hands the weights to."""

import numpy as np
import pytest

from targeting import fitting, profiles
from targeting.indicators import DEFAULT_WEIGHTS

NAMES = list(DEFAULT_WEIGHTS)


@pytest.mark.parametrize(("budget", "random_share"), [(1e-160, 1e-160), (5e-324, 1.0)])
def test_a_chance_too_small_to_invert_is_refused(budget, random_share) -> None:
    # Both are shares a profile change accepts.
    assert profiles._share("budget", budget) == budget
    assert profiles._share("random_share", random_share) == random_share
    rng = np.random.default_rng(3)
    values = (rng.random((200, len(NAMES))) < 0.3).astype(float)
    violation = values[:, 0] + rng.random(200) > 1.0
    random_pick = rng.random(200) < 0.5
    with pytest.raises(fitting.FitRefused, match="random"):
        fitting.fit_weights(
            values=values,
            violation=violation,
            random_pick=random_pick,
            current=DEFAULT_WEIGHTS,
            budget=budget,
            random_share=random_share,
        )
