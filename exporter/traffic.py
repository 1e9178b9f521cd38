"""Traffic-aware planning: which apps are busy, from the last known online users.

``realtime_operation`` (one cheap call per app) feeds ``Traffic.observe`` with each app's online
users; an app whose peak over ``planning.traffic_window_seconds`` (default: the last hour) is at
least ``planning.traffic_floor`` (default: the warning-level alerts' traffic gate, 50 users) is
**busy**, every other app is in the **tail** (an app with no reading yet too). The tiered
sources (live quality and its breakdown) refresh the busy apps at the configured interval as far
as the quota allows and share the rest of the quota among the tail apps, in chunks, at least
``planning.tail_min_share`` of it (``exporter.planner``); ``Traffic.cycle`` picks the apps of one
cycle: apps in trouble first, the busy ones by traffic, then the tail apps refreshed longest ago.

An app that starts taking traffic is busy after the first ``realtime_operation`` answer that
shows it, and in the next cycle of every tiered source. With ``traffic_floor: 0``, or without
``realtime_operation``, every app is busy: one tier, as without traffic-aware planning.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from exporter.thresholds import TRAFFIC_FLOOR, TRAFFIC_WINDOW_SECONDS
from exporter.triggers import TriggerSettings
from exporter.types import AppTarget, Snapshot

__all__ = ["ONLINE_USERS", "PlanningSettings", "Traffic"]

ONLINE_USERS = "volcengine_rtc_online_users"  # the traffic signal's family


class PlanningSettings(BaseModel):
    """``planning``: traffic tiers and diagnosis triggers."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    traffic_floor: float = Field(
        default=TRAFFIC_FLOOR,
        ge=0,
        le=1e9,
        description="peak online users that make an app busy (0: every app is busy)",
    )
    traffic_window_seconds: float = Field(
        default=TRAFFIC_WINDOW_SECONDS,
        ge=60,
        le=86400,
        description="the peak is taken over this window",
    )
    tail_min_share: float = Field(
        default=0.2,
        ge=0.01,
        le=0.9,
        description="share of a tiered source's quota kept for the tail apps",
    )
    triggers: TriggerSettings = Field(default_factory=TriggerSettings)


class Traffic:
    """Each app's online users over the traffic window, and the busy set they give."""

    def __init__(self, settings: PlanningSettings, *, signal: bool) -> None:
        self.settings = settings
        self.tiered = signal and settings.traffic_floor > 0
        self._lock = threading.Lock()
        self._seen: dict[str, deque[tuple[float, float]]] = {}
        self._busy: frozenset[str] = frozenset()
        self._picked: dict[str, dict[str, float]] = {}  # source -> app -> last picked (mono)
        self.version = 0  # bumped whenever the busy set changes

    def observe(self, app_id: str, users: float, now: float) -> bool:
        """One reading of ``app_id``'s online users at monotonic ``now``; True when the app
        changed tier."""
        window = self.settings.traffic_window_seconds
        with self._lock:
            seen = self._seen.setdefault(app_id, deque())
            seen.append((now, users))
            while seen and seen[0][0] < now - window:
                seen.popleft()
            busy = max(u for _, u in seen) >= self.settings.traffic_floor
            if busy == (app_id in self._busy):
                return False
            self._busy = self._busy | {app_id} if busy else self._busy - {app_id}
            self.version += 1
            return True

    def observe_snapshot(self, app_id: str, snapshot: Snapshot, now: float) -> bool:
        """The online users of a traffic source's answer (nothing when it has none)."""
        users = [s.value for s in snapshot.samples if s.metric == ONLINE_USERS]
        return self.observe(app_id, sum(users), now) if users else False

    def adopt(self, old: Traffic) -> None:
        """After a reload: go on with ``old``'s readings (and tail rotation), so the busy apps
        stay busy instead of waiting for a whole realtime_operation cycle."""
        with old._lock:
            seen = {a: deque(v) for a, v in old._seen.items()}
            picked = {s: dict(p) for s, p in old._picked.items()}
        floor = self.settings.traffic_floor
        with self._lock:
            self._seen, self._picked = seen, picked
            self._busy = frozenset(
                a for a, v in seen.items() if v and max(u for _, u in v) >= floor
            )
            self.version += 1

    def forget(self, keep: Iterable[str]) -> None:
        """Drop apps no longer monitored."""
        keep = set(keep)
        with self._lock:
            self._seen = {a: v for a, v in self._seen.items() if a in keep}
            if not self._busy <= keep:
                self._busy &= keep
                self.version += 1

    def peak(self, app_id: str) -> float | None:
        with self._lock:
            seen = self._seen.get(app_id)
            return max(u for _, u in seen) if seen else None

    def busy(self) -> frozenset[str] | None:
        """The busy apps, or None when every app is busy (no tiers)."""
        with self._lock:
            return self._busy if self.tiered else None

    def cycle(
        self,
        source: str,
        apps: list[AppTarget],
        tail_per_cycle: int | None,
        now: float,
        first: frozenset[str] = frozenset(),
    ) -> list[AppTarget]:
        """The apps of one cycle of a tiered source, in order: ``first`` (apps in trouble),
        then the busy apps by traffic, highest first, then ``tail_per_cycle`` tail apps
        (those refreshed longest ago; None: every tail app)."""
        with self._lock:
            busy = self._busy if self.tiered else frozenset(a.app_id for a in apps)
            peaks = {a: max(u for _, u in s) for a, s in self._seen.items() if s}
            picked = self._picked.setdefault(source, {})

            def rank(app: AppTarget) -> tuple[bool, float, str]:
                return (app.app_id not in first, -peaks.get(app.app_id, -1.0), app.app_id)

            head = sorted((a for a in apps if a.app_id in busy or a.app_id in first), key=rank)
            tail = [a for a in apps if a.app_id not in busy and a.app_id not in first]
            if tail_per_cycle is not None:
                tail.sort(key=lambda a: (picked.get(a.app_id, -1e18), a.app_id))
                tail = tail[:tail_per_cycle]
            for a in tail:
                picked[a.app_id] = now
            return head + tail
