"""The one cache both refresh modes share: the latest snapshot per (source, app_id).

A failed refresh keeps the last good snapshot; ``fresh()`` hides it once it is older than the
source's ``max_staleness``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from exporter.collectors.base import Snapshot

__all__ = ["Entry", "SnapshotCache"]


@dataclass(frozen=True)
class Entry:
    snapshot: Snapshot | None = None
    last_success: float | None = None
    last_attempt: float | None = None
    last_error: str = ""  # reason of the last failed attempt, "" after a success
    up: bool = False

    def fresh(self, now: float, max_staleness: float) -> bool:
        return self.last_success is not None and now - self.last_success <= max_staleness


class SnapshotCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Entry] = {}

    def put_success(self, source: str, app_id: str, snapshot: Snapshot, now: float) -> None:
        with self._lock:
            self._entries[(source, app_id)] = Entry(
                snapshot=snapshot, last_success=now, last_attempt=now, last_error="", up=True
            )

    def put_failure(self, source: str, app_id: str, reason: str, now: float) -> None:
        with self._lock:
            old = self._entries.get((source, app_id), Entry())
            self._entries[(source, app_id)] = replace(
                old, last_attempt=now, last_error=reason, up=False
            )

    def get(self, source: str, app_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get((source, app_id))

    def entries(self) -> dict[tuple[str, str], Entry]:
        with self._lock:
            return dict(self._entries)

    def retain(self, source: str, app_ids: set[str]) -> None:
        """Forget apps of ``source`` that are no longer monitored."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == source and k[1] not in app_ids]:
                del self._entries[key]
