"""A series cap shared by every app of one refresh cycle (call detail, breakdowns)."""

from __future__ import annotations

import threading

from exporter.collectors.base import Collected
from exporter.types import Snapshot

__all__ = ["SeriesBudget"]


class SeriesBudget:
    """A series cap shared by every app of one refresh cycle (``reset`` at each cycle)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._remaining = limit
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._remaining = self.limit

    def take(self, out: Collected) -> Snapshot:
        """The snapshot of ``out``, cut to what is left of the cap (the cut is counted)."""
        with self._lock:
            snap, _ = out.snapshot(limit=max(0, self._remaining))
            self._remaining -= len(snap.samples)
        return snap
