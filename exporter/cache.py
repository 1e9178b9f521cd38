"""The one cache both refresh modes share: the latest snapshot per (source, app_id), and the
refresh status of every source. Written by the refresher, read by ``metrics`` and ``server``.

A failed refresh keeps the last good snapshot; ``Entry.fresh()`` hides it once it is older than
the source's staleness limit, measured on the monotonic clock (a wall clock that jumps neither
keeps stale data alive nor hides fresh data). Every change bumps ``generation``, so readers can
reuse what they built from an unchanged cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from exporter.types import Snapshot

__all__ = ["Entry", "SnapshotCache", "SourceStatus"]


@dataclass(frozen=True)
class Entry:
    snapshot: Snapshot | None = None
    success_mono: float | None = None  # monotonic time of the last success
    success_wall: float | None = None  # the same moment in wall time (exported)
    last_error: str = ""  # reason of the last failed attempt, "" after a success
    up: bool = False

    def fresh(self, now_mono: float, max_staleness: float) -> bool:
        return self.success_mono is not None and now_mono - self.success_mono <= max_staleness


@dataclass
class SourceStatus:
    """Refresh bookkeeping of one source (monotonic times)."""

    configured_interval: float = 0.0
    effective_interval: float = 0.0
    staleness: float = 0.0
    cycle_started: float | None = None
    cycle_finished: float | None = None
    cycle_duration: float | None = None
    next_due: float | None = None
    running: bool = False


class SnapshotCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Entry] = {}
        self._status: dict[str, SourceStatus] = {}
        self._generations: dict[str, int] = {}
        self.generation = 0

    def _bump(self, source: str) -> None:
        self.generation += 1
        self._generations[source] = self._generations.get(source, 0) + 1

    def source_generation(self, source: str) -> int:
        """Changes with every write of one of ``source``'s entries."""
        with self._lock:
            return self._generations.get(source, 0)

    # -- entries ---------------------------------------------------------------------------------

    def put_success(
        self, source: str, app_id: str, snapshot: Snapshot, mono: float, wall: float
    ) -> None:
        with self._lock:
            self._entries[(source, app_id)] = Entry(snapshot, mono, wall, "", True)
            self._bump(source)

    def put_failure(self, source: str, app_id: str, reason: str) -> None:
        with self._lock:
            old = self._entries.get((source, app_id), Entry())
            self._entries[(source, app_id)] = replace(old, last_error=reason, up=False)
            self._bump(source)

    def get(self, source: str, app_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get((source, app_id))

    def entries(self) -> dict[tuple[str, str], Entry]:
        with self._lock:
            return dict(self._entries)

    def retain(self, source: str, app_ids: set[str]) -> None:
        """Forget apps of ``source`` that are no longer monitored."""
        with self._lock:
            gone = [k for k in self._entries if k[0] == source and k[1] not in app_ids]
            for key in gone:
                del self._entries[key]
            if gone:
                self._bump(source)

    def forget_source(self, source: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == source]:
                del self._entries[key]
            self._status.pop(source, None)
            self._bump(source)

    # -- refresh status ----------------------------------------------------------------------------

    def status(self, source: str) -> SourceStatus:
        """A copy of the source's status."""
        with self._lock:
            return replace(self._status.get(source) or SourceStatus())

    def statuses(self) -> dict[str, SourceStatus]:
        with self._lock:
            return {k: replace(v) for k, v in self._status.items()}

    def update_status(self, source: str, **changes: object) -> None:
        with self._lock:
            current = self._status.setdefault(source, SourceStatus())
            for key, value in changes.items():
                setattr(current, key, value)
            self.generation += 1
