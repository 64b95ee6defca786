"""Iterating on a thread of its own, a bounded amount ahead of the consumer.

A producer that is pure Python (an import's reading and validation) and a consumer that
mostly waits on a database (its writing) take turns on one core when run in sequence; on a
thread, the producer can run while the consumer waits, since a database driver waiting on
its socket releases the interpreter's lock. What is read ahead is bounded by a weight the
caller gives each item (an import row weighs its mentions), so memory is bounded too."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
# How often a producer held up by a full queue looks whether the consumer has stopped, and
# a consumer waiting on an empty one whether the producer is still there.
_POLL_SECONDS = 0.05


@dataclass
class _Failed:
    error: BaseException


def _one(_: object) -> int:
    return 1


def read_ahead(
    items: Iterable[T], *, batch: int, batches: int, weight: Callable[[T], int] = _one
) -> Iterator[T]:
    """The items of `items`, in order, produced on a thread of their own and handed over in
    batches, each closed once its items weigh `batch` (`weight`, 1 each by default). At
    most `batches` batches wait to be taken; with the one being gathered and the one the
    caller is taking, at most `batches + 2` batches, each weighing less than `batch` plus
    its last item, are in memory. An exception raised while producing is raised to the
    caller after every item produced before it. Closing the iterator (leaving a `for`
    early, or `contextlib.closing`) stops the producer and waits for its thread, so that
    what it reads (an open file) may be closed right after. Where no thread can be started,
    the items are produced in turn, as they are asked for.

    The items must not need the caller's thread: a Django database connection, say, is per
    thread, and one opened there would be outside the caller's transaction."""
    if batch < 1 or batches < 1:
        raise ValueError("batch and batches must be at least 1")
    handed: queue.Queue[object] = queue.Queue(maxsize=batches)
    stopped = threading.Event()

    def hand(value: object) -> bool:
        while not stopped.is_set():
            try:
                handed.put(value, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        pending: list[T] = []
        gathered = 0
        try:
            for item in items:
                pending.append(item)
                gathered += weight(item)
                if gathered >= batch:
                    if not hand(pending):
                        return
                    pending, gathered = [], 0
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            if hand(pending):
                hand(_Failed(error))
            return
        if hand(pending):
            hand(_DONE)

    # A daemon: an interpreter leaving on an error the caller did not survive (the thread is
    # joined otherwise) does not wait for a producer whose items no one will take.
    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    try:
        thread.start()
    except RuntimeError:
        # The process may start no more threads: slower in turn, but the same items.
        yield from items
        return
    try:
        while True:
            try:
                got = handed.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                # A producer that died handing nothing more (out of memory while handing its
                # error) would otherwise leave the caller waiting, its transaction open.
                if not thread.is_alive() and handed.empty():
                    raise RuntimeError("the read-ahead thread ended without its last items") from None
                continue
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.error
            yield from got  # type: ignore[misc]
    finally:
        stopped.set()
        thread.join()
