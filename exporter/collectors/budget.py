"""A series cap shared by every app of one refresh cycle (call detail, breakdowns).

A tiered source's cycle refreshes only some of its tail apps; the others keep the series of
their last answer. ``plan()`` counts those series against the cap, so the series exported stay
within it, and the cycle's apps (in priority order: apps in trouble, busy apps, the tail's
chunk) share what is left. ``hold()`` records a triggered answer, which is never cut.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from exporter.collectors.base import Collected
from exporter.types import Snapshot

__all__ = ["SeriesBudget"]


class SeriesBudget:
    """A series cap shared by every app of one refresh cycle (``reset`` at each cycle)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._remaining = limit
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}  # app -> series of its last answer
        self._elsewhere = 0  # series held by monitored apps outside this cycle

    def plan(self, cycle: Iterable[str], monitored: Iterable[str]) -> None:
        """Before ``reset``: the apps of the next cycle and every monitored app."""
        cycle, monitored = set(cycle), set(monitored)
        with self._lock:
            self._held = {a: n for a, n in self._held.items() if a in monitored}
            self._elsewhere = sum(n for a, n in self._held.items() if a not in cycle)

    def reset(self) -> None:
        with self._lock:
            self._remaining = max(0, self.limit - self._elsewhere)

    def take(self, out: Collected, app_id: str = "") -> Snapshot:
        """The snapshot of ``out``, cut to what is left of the cap (the cut is counted)."""
        with self._lock:
            snap, _ = out.snapshot(limit=max(0, self._remaining))
            self._remaining -= len(snap.samples)
            if app_id:
                self._held[app_id] = len(snap.samples)
        return snap

    def hold(self, app_id: str, series: int) -> None:
        """``app_id`` now holds ``series`` (a triggered answer: never cut)."""
        with self._lock:
            self._held[app_id] = series
