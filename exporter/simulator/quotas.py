"""Account-wide request quotas: sliding windows of one second, one minute and one day.

Each action has, per provider, a limit for some of the windows (the docs' §3 table, in
``actions.ACTIONS``). A request is admitted only when every window of its action has room; an
admitted request counts in all of them, a refused one in none. Time comes from the injected clock.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["WINDOWS", "Quota", "QuotaBook", "parse_quota_override"]

WINDOWS = {"second": 1.0, "minute": 60.0, "day": 86400.0}


@dataclass(frozen=True)
class Quota:
    """Requests allowed per window; None: no such window."""

    second: float | None = None
    minute: float | None = None
    day: float | None = None

    def limits(self) -> dict[str, float]:
        return {w: v for w, v in (("second", self.second), ("minute", self.minute),
                                  ("day", self.day)) if v is not None}  # fmt: skip


class QuotaBook:
    """Sliding-window counters per quota key (an action, or an action variant)."""

    def __init__(self, limits: Mapping[str, Mapping[str, float]], clock: Callable[[], float]):
        self.limits = {k: dict(v) for k, v in limits.items()}
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.rejections: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )

    def admit(self, key: str) -> str | None:
        """Record a request and return None, or return the name of the first full window."""
        now = self.clock()
        limits = self.limits.get(key, {})
        with self._lock:
            for window, limit in limits.items():
                seen = self._seen[key, window]
                while seen and seen[0] <= now - WINDOWS[window]:
                    seen.popleft()
                if len(seen) >= limit:
                    self.rejections[key][window] += 1
                    return window
            for window in limits:
                self._seen[key, window].append(now)
        return None

    def remaining(self, key: str) -> dict[str, float]:
        now = self.clock()
        with self._lock:
            return {
                w: limit - sum(1 for t in self._seen[key, w] if t > now - WINDOWS[w])
                for w, limit in self.limits.get(key, {}).items()
            }


def parse_quota_override(text: str) -> tuple[str, str, float]:
    """``"ListQuality:day=1000"`` -> ("ListQuality", "day", 1000.0); ``*`` is every action,
    a limit of 0 removes the window."""
    action, sep, rest = text.partition(":")
    window, eq, value = rest.partition("=")
    if not sep or not eq or window.strip() not in WINDOWS:
        raise ValueError(
            f"quota override {text!r}: want ACTION:WINDOW=N, WINDOW in {list(WINDOWS)}"
        )
    try:
        limit = float(value)
    except ValueError:
        raise ValueError(f"quota override {text!r}: {value!r} is not a number") from None
    if limit < 0:
        raise ValueError(f"quota override {text!r}: limit must be >= 0")
    return action.strip(), window.strip(), limit
