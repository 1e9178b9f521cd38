"""``DaemonPool``: a small executor of daemon threads for refresh cycles and fetches."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["DaemonPool", "settle"]


class DaemonPool:
    """A small executor of daemon threads (a stuck vendor call never blocks process exit).

    With ``workers=0`` it runs each task in the caller's thread: deterministic virtual-time
    tests drive whole refresh cycles this way."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        self._closed = False
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        if self._closed:
            fut.cancel()  # shutting down: never run, never waited for
            fut.set_running_or_notify_cancel()
            return fut
        if not self._threads:
            fut.set_running_or_notify_cancel()
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)
            return fut
        self._queue.put((fut, fn))
        return fut

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the waiter, never lost
                fut.set_exception(exc)

    def shutdown(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)


def settle(target: Future[None], source: Future[Any]) -> None:
    """Complete ``target`` as ``source`` completed (a cancelled source completes it empty)."""
    if source.cancelled():
        target.set_result(None)
        return
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(None)
