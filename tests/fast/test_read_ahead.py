"""core.read_ahead: order, errors, the bound on how far ahead it reads, and stopping."""

from __future__ import annotations

import threading
from contextlib import closing

import pytest

from core.read_ahead import read_ahead


class Counted:
    """A source that counts what was taken from it and on which thread."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.taken = 0
        self.threads: set[str] = set()
        self.finished = False

    def __iter__(self):
        try:
            for value in range(self.count):
                if value == self.fail_at:
                    raise LookupError(f"bad item {value}")
                self.taken += 1
                self.threads.add(threading.current_thread().name)
                yield value
        finally:
            self.finished = True


@pytest.mark.parametrize(
    ("count", "batch", "batches"), [(0, 1, 1), (1, 3, 2), (10, 3, 2), (1000, 50, 4), (7, 7, 1)]
)
def test_every_item_comes_in_order(count, batch, batches):
    assert list(read_ahead(Counted(count), batch=batch, batches=batches)) == list(range(count))


def test_the_items_are_produced_on_another_thread():
    source = Counted(20)
    assert list(read_ahead(source, batch=4, batches=2)) == list(range(20))
    assert source.threads == {"read-ahead"}


@pytest.mark.parametrize("fail_at", [0, 1, 9, 10, 25])
def test_an_error_comes_after_the_items_before_it(fail_at):
    got = []
    with pytest.raises(LookupError, match=f"bad item {fail_at}"):
        for value in read_ahead(Counted(100, fail_at=fail_at), batch=5, batches=2):
            got.append(value)
    assert got == list(range(fail_at - fail_at % 5))


@pytest.mark.parametrize(("batch", "batches"), [(1, 1), (5, 2), (50, 4)])
def test_it_reads_no_further_ahead_than_its_bound(batch, batches):
    source = Counted(10_000)
    items = read_ahead(source, batch=batch, batches=batches)
    assert next(items) == 0
    # The producer has filled the queue and waits: give it every chance to read on.
    for _ in range(20):
        threading.Event().wait(0.01)
    # The batch handed over, the queue's batches, and one being gathered.
    assert source.taken <= batch * (batches + 2)
    items.close()


@pytest.mark.parametrize("taken", [0, 1, 7, 300])
def test_closing_stops_the_producer_and_ends_its_thread(taken):
    source = Counted(100_000)
    before = {thread.ident for thread in threading.enumerate()}
    with closing(read_ahead(source, batch=10, batches=3)) as items:
        for index, value in enumerate(items):
            assert value == index
            if index + 1 >= taken:
                break
    assert source.finished
    assert source.taken < 100_000
    assert not [
        thread
        for thread in threading.enumerate()
        if thread.name == "read-ahead" and thread.ident not in before
    ]


@pytest.mark.parametrize(("batch", "batches"), [(0, 1), (1, 0), (-1, 5)])
def test_a_bound_below_one_is_refused(batch, batches):
    with pytest.raises(ValueError, match="at least 1"):
        list(read_ahead([1, 2], batch=batch, batches=batches))
