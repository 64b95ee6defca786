"""The inspection budget's size and the random draw's share, in whole declarations."""

import pytest

from targeting.decisions import random_count
from targeting.selectors import budget_size


@pytest.mark.parametrize(
    ("budget", "scored", "size"),
    [(0.29, 100, 29), (0.05, 110, 5), (0.05, 19, 0), (0.5, 2, 1), (0.49, 2, 0), (1.0, 7, 7), (0.0, 50, 0)],
)
def test_the_budget_covers_its_share_rounded_down(budget, scored, size):
    assert budget_size(budget=budget, scored=scored) == size


@pytest.mark.parametrize(
    ("random_share", "budget", "scored", "count"),
    [(0.1, 0.05, 1000, 5), (0.1, 0.05, 100, 0), (0.3, 0.1, 100, 3), (1.0, 0.07, 100, 7)],
)
def test_the_random_draw_takes_its_share_of_the_budget(random_share, budget, scored, count):
    assert random_count(random_share=random_share, budget=budget, scored=scored) == count
