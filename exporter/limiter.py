"""Account-wide request pacing: one limiter per API action, shared by every app and thread.

The vendor's quota is per account and per action (2 requests/s by default on Volcengine, far
fewer on BytePlus). A limiter spaces calls of one action evenly at ``rate`` per second, so a
large app list is spread over time instead of being throttled, and it pauses the action when the
vendor says it is throttling us (``penalise``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

__all__ = ["Deadline", "Limiters", "RateLimiter", "backoff"]


class Deadline(Exception):
    """Waiting for a slot would pass the caller's deadline."""


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self._interval = 1.0 / rate
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self, deadline: float | None = None) -> None:
        """Block until this caller may send. Raises Deadline (without booking) if too late."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            if deadline is not None and slot > deadline:
                raise Deadline(f"next slot in {slot - now:.2f}s is past the deadline")
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)

    def penalise(self, seconds: float) -> None:
        """Hold every caller of this action for ``seconds`` (vendor said: throttled)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)


class Limiters:
    """One RateLimiter per action, created on first use with the configured rate."""

    def __init__(
        self,
        default_rate: float,
        per_action: dict[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._default = default_rate
        self._per_action = dict(per_action or {})
        self._limiters: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def rate(self, action: str) -> float:
        return self._per_action.get(action, self._default)

    def __getitem__(self, action: str) -> RateLimiter:
        with self._lock:
            lim = self._limiters.get(action)
            if lim is None:
                lim = RateLimiter(self.rate(action), clock=self._clock, sleep=self._sleep)
                self._limiters[action] = lim
            return lim


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: uniform(0.5, 1) * min(cap, base * 2**attempt)."""
    r = rng or random
    return float(r.uniform(0.5, 1.0) * min(cap, base * (2**attempt)))
