"""Statements given a time limit, on the embedded default's SQLite (tests/time_limit_checks.py),
and the least time a block takes."""

import pytest
from django.db import connection

from core import time_limits
from tests import time_limit_checks as checks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("check", checks.CHECKS, ids=lambda check: check.__name__)
def test_statements_limited_to(check):
    assert connection.vendor == "sqlite"
    check()


class Clock:
    """Stands in for the time module: a block's time passes when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(("took", "slept"), [(0.1, [0.15]), (0.0, [0.25]), (0.25, []), (3.0, [])])
def test_a_block_takes_at_least_its_time(monkeypatch, took, slept):
    clock = Clock()
    monkeypatch.setattr(time_limits, "time", clock)
    with time_limits.taking_at_least(0.25):
        clock.now += took
    assert clock.slept == pytest.approx(slept)


def test_a_block_that_raised_takes_its_time_too(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time_limits, "time", clock)
    with pytest.raises(ValueError), time_limits.taking_at_least(0.25):
        clock.now += 0.05
        raise ValueError("refused")
    assert clock.slept == pytest.approx([0.2])
