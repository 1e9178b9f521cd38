"""Plain data types shared by every layer. A leaf module: it imports nothing of the exporter.

* ``Sample`` / ``Snapshot``: what a source's ``fetch()`` produces and the cache keeps.
* ``MetricSpec``: one exported family (name, HELP, label names).
* ``AppTarget`` / ``WatchRoom``: what a source is asked to refresh.
* ``Clock``: wall time for API windows and exported timestamps, monotonic time for scheduling
  and staleness (a wall clock that jumps must never stop refreshes or keep stale data alive).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "AppTarget",
    "Clock",
    "Labels",
    "MetricSpec",
    "Sample",
    "Snapshot",
    "SystemClock",
    "WatchRoom",
]

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricSpec:
    """One exported family: name, HELP and label names (in exposition order)."""

    name: str
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: Labels
    value: float


@dataclass
class Snapshot:
    """The result of one successful fetch of one source for one app."""

    samples: list[Sample] = field(default_factory=list)
    data_timestamp: float | None = None  # start of the newest vendor bucket used (wall time)
    skipped: Counter[str] = field(default_factory=Counter)  # unreadable points, by reason
    unknown_units: Counter[str] = field(default_factory=Counter)  # values skipped, by unit
    dropped: int = 0  # series cut by the source's series cap
    # parts of the answer that failed while the rest answered, e.g. ((product_type, web),) ->
    # (reason, message): their series are served from the last answer that had them
    failed_parts: dict[Labels, tuple[str, str]] = field(default_factory=dict)
    ahead_seconds: float = 0.0  # how far the newest point refused as future-dated was ahead

    def add(self, sample: Sample, data_timestamp: float | None = None) -> None:
        self.samples.append(sample)
        if data_timestamp is not None:
            self.data_timestamp = max(self.data_timestamp or data_timestamp, data_timestamp)


@dataclass(frozen=True)
class WatchRoom:
    """A room of the per-user watch list and the users to watch in it."""

    room_id: str
    user_ids: tuple[str, ...]


@dataclass(frozen=True)
class AppTarget:
    app_id: str
    watch: tuple[WatchRoom, ...] = ()


class Clock(Protocol):
    def time(self) -> float:
        """Wall time (Unix seconds): API windows and exported timestamps only."""

    def monotonic(self) -> float:
        """Monotonic seconds: scheduling, pacing and staleness."""


class SystemClock:
    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()
