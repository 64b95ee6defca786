"""core.read_ahead: order, errors, the bound on how far ahead it reads (by count and by
weight), stopping, and a producer that dies or cannot start."""

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


@pytest.mark.parametrize("fail_at", [0, 1, 4, 5, 9, 10, 25])
def test_an_error_comes_after_every_item_before_it(fail_at):
    got = []
    with pytest.raises(LookupError, match=f"bad item {fail_at}"):
        for value in read_ahead(Counted(100, fail_at=fail_at), batch=5, batches=2):
            got.append(value)
    assert got == list(range(fail_at))


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


@pytest.mark.parametrize(
    ("weights", "batch", "batches"), [([1, 3000, 5] * 200, 100, 2), ([40] * 500, 100, 4)]
)
def test_it_reads_no_further_ahead_than_its_weight(weights, batch, batches):
    source = Counted(len(weights))
    items = read_ahead(source, batch=batch, batches=batches, weight=weights.__getitem__)
    assert next(items) == 0
    for _ in range(20):
        threading.Event().wait(0.01)
    # Each batch weighs less than `batch` plus its last item; the queue's, the one handed
    # over and the one being gathered.
    most = (batches + 2) * (batch + max(weights))
    assert 0 < sum(weights[: source.taken]) <= most
    assert source.taken < len(weights)
    items.close()


def test_closing_before_the_first_item_starts_nothing():
    source = Counted(100)
    before = threading.active_count()
    with closing(read_ahead(source, batch=10, batches=3)):
        pass
    assert source.taken == 0
    assert threading.active_count() == before


@pytest.mark.parametrize("taken", [1, 7, 300])
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


# The producer's thread dies of its error, which the thread's own hook reports.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_producer_that_dies_handing_nothing_over_does_not_leave_the_caller_waiting(monkeypatch):
    from core import read_ahead as module

    class Unhandable:
        def __init__(self, error):
            raise MemoryError("no memory to hand the error over")

    monkeypatch.setattr(module, "_Failed", Unhandable)
    got = []
    with pytest.raises(RuntimeError, match="ended without its last items"):
        for value in read_ahead(Counted(100, fail_at=12), batch=5, batches=2):
            got.append(value)
    assert got == list(range(12))


def test_where_no_thread_can_start_the_items_come_in_turn(monkeypatch):
    def refused(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", refused)
    source = Counted(30)
    assert list(read_ahead(source, batch=4, batches=2)) == list(range(30))
    assert source.threads == {threading.current_thread().name}
