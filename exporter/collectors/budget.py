"""A series cap shared by every app of one refresh cycle (call detail, breakdowns).

A tiered source's cycle refreshes only some of its tail apps; the others keep the series of
their last answer. ``plan()`` counts those series against the cap, so the series exported stay
within it, and the cycle's apps (in priority order: apps in trouble, busy apps, the tail's
chunk) share what is left; when the apps in trouble and the busy apps needed more last time
than that, tail apps outside the cycle lose their series for them. ``hold()`` records a
triggered answer, which is never cut.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

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
        self._need: dict[str, int] = {}  # app -> series its last answer had before the cap
        self._elsewhere = 0  # series held by monitored apps outside this cycle

    def plan(self, cycle: Sequence[str], monitored: Iterable[str], first: int) -> frozenset[str]:
        """Before ``reset``: the apps of the next cycle (the ``first`` of them in trouble or
        busy) and every monitored app. Returns the apps outside the cycle whose series must go
        to make room for what the first ones needed last time (largest holders first)."""
        monitored = set(monitored)
        with self._lock:
            self._held = {a: n for a, n in self._held.items() if a in monitored}
            self._need = {a: n for a, n in self._need.items() if a in monitored}
            inside = set(cycle)
            outside = {a: n for a, n in self._held.items() if a not in inside and n}
            want = sum(self._need.get(a, 0) for a in cycle[:first])
            over = sum(outside.values()) + want - self.limit
            evict = []
            for app in sorted(outside, key=lambda a: (-outside[a], a)):
                if over <= 0:
                    break
                evict.append(app)
                over -= outside.pop(app)
                self._held[app] = 0
            self._elsewhere = sum(outside.values())
            return frozenset(evict)

    def reset(self) -> None:
        with self._lock:
            self._remaining = max(0, self.limit - self._elsewhere)

    def take(self, out: Collected, app_id: str = "") -> Snapshot:
        """The snapshot of ``out``, cut to what is left of the cap (the cut is counted)."""
        with self._lock:
            snap, cut = out.snapshot(limit=max(0, self._remaining))
            self._remaining -= len(snap.samples)
            if app_id:
                self._held[app_id] = len(snap.samples)
                self._need[app_id] = len(snap.samples) + cut
        return snap

    def hold(self, app_id: str, series: int) -> None:
        """``app_id`` now holds ``series`` (a triggered answer: never cut)."""
        with self._lock:
            self._held[app_id] = series
            self._need[app_id] = max(series, self._need.get(app_id, 0))
