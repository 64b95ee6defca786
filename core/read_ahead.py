"""Iterating on a thread of its own, a bounded number of items ahead of the consumer.

A producer that is pure Python (an import's reading and validation) and a consumer that
mostly waits on a database (its writing) take turns on one core when run in sequence; on a
thread, the producer runs while the consumer waits, since a database driver waiting on its
socket releases the interpreter's lock. The look-ahead is bounded, so memory is too."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_DONE = object()
# How often a producer held up by a full queue looks whether the consumer has stopped.
_STOP_POLL_SECONDS = 0.05


@dataclass
class _Failed:
    error: BaseException


def read_ahead(items: Iterable[T], *, batch: int, batches: int) -> Iterator[T]:
    """The items of `items`, in order, produced on a thread of their own at most `batches`
    batches of `batch` items ahead of the caller. An exception raised while producing is
    raised to the caller after the items produced before it. Closing the iterator (leaving
    a `for` early, or `contextlib.closing`) stops the producer and waits for its thread,
    so that what it reads (an open file) may be closed right after.

    The items must not need the caller's thread: a Django database connection, say, is per
    thread, and one opened there would be outside the caller's transaction."""
    if batch < 1 or batches < 1:
        raise ValueError("batch and batches must be at least 1")
    handed: queue.Queue = queue.Queue(maxsize=batches)
    stopped = threading.Event()

    def hand(value: object) -> bool:
        while not stopped.is_set():
            try:
                handed.put(value, timeout=_STOP_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            pending: list[T] = []
            for item in items:
                pending.append(item)
                if len(pending) >= batch:
                    if not hand(pending):
                        return
                    pending = []
            if pending and not hand(pending):
                return
            hand(_DONE)
        except BaseException as error:  # noqa: BLE001 - handed to the caller, raised there
            hand(_Failed(error))

    thread = threading.Thread(target=produce, name="read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            got = handed.get()
            if got is _DONE:
                return
            if isinstance(got, _Failed):
                raise got.error
            yield from got
    finally:
        stopped.set()
        thread.join()
