"""Account-wide request pacing: one limiter per API action, shared by every app and thread.

The vendor's quota is per account and per action, with up to three windows (per second, per
minute, per day: Volcengine allows 2 requests/s for most data APIs, BytePlus far fewer, e.g.
ListQuality 10/min and 60/day). A limiter

* spaces the sends of one action evenly at the tightest of its windows' rates (limit x headroom
  / shards), so a daily cap is spread over the day instead of being used up by morning;
* never lets a window's count (limit / shards) be exceeded, counted on the *actual* send times:
  the slot is taken just before the request is written (``slot()``), and the send time recorded
  when the request has gone out (``Slot.sent``), so a delayed sender cannot bunch two sends
  together at the wire;
* pauses the action when the vendor says it is throttling us (``penalise``);
* waits on an injected clock through the caller's cancellable waiter, so tests run in
  virtual time and a shutdown interrupts every wait.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from exporter.errors import ExporterError

__all__ = [
    "WINDOWS",
    "ActionLimiter",
    "Cancelled",
    "Limiters",
    "Quota",
    "Slot",
    "Waiter",
    "backoff",
]

WINDOWS = {"second": 1.0, "minute": 60.0, "day": 86400.0}


class Cancelled(ExporterError):
    """The exporter is shutting down: a wait for a slot was interrupted."""


@dataclass(frozen=True)
class Quota:
    """An action's vendor quota: requests per second, per minute and per day (None: no limit)."""

    per_second: float | None = None
    per_minute: float | None = None
    per_day: float | None = None

    def windows(self) -> dict[str, float]:
        """window name -> limit, for the windows that have one."""
        out = {"second": self.per_second, "minute": self.per_minute, "day": self.per_day}
        return {k: v for k, v in out.items() if v is not None}


class Waiter:
    """Sleeps that a shutdown interrupts. ``wait()`` returns False when cancelled."""

    def __init__(self) -> None:
        self._stop = threading.Event()

    def wait(self, seconds: float) -> bool:
        if seconds > 0:
            self._stop.wait(seconds)
        return not self._stop.is_set()

    def cancel(self) -> None:
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()


class Slot:
    """The right to send one request now. ``sent()`` records when it went out."""

    def __init__(self, limiter: ActionLimiter, granted: float) -> None:
        self._limiter = limiter
        self.granted = granted
        self.sent_at: float | None = None

    def sent(self) -> None:
        """Record the send time and let the next sender of this action go (once)."""
        if self.sent_at is None:
            self.sent_at = self._limiter._record()
            self._limiter._wire.release()

    def trace(self, event: str, info: object) -> None:
        """httpcore trace hook: the request counts as sent once its body has been written."""
        if event.endswith("send_request_body.complete"):
            self.sent()


class ActionLimiter:
    def __init__(
        self,
        action: str,
        quota: Quota,
        *,
        headroom: float = 0.9,
        shards: int = 1,
        clock: Callable[[], float],
    ) -> None:
        windows = quota.windows()
        if not windows:
            raise ValueError(f"{action}: a quota needs at least one window")
        self.action = action
        self.quota = quota
        # hard caps on the count within each window, this instance's share
        self.caps = {w: max(1, math.floor(limit / shards)) for w, limit in windows.items()}
        # even spacing at the tightest window's rate, with headroom
        self.spacing = max(WINDOWS[w] / (limit * headroom / shards) for w, limit in windows.items())
        self._clock = clock
        self._wire = threading.Lock()  # one sender of this action at a time, until it is sent
        self._lock = threading.Lock()  # protects the fields below
        self._sends: deque[float] = deque()
        self._held_until = -math.inf
        self._horizon = max(WINDOWS[w] for w in windows)

    @property
    def rate(self) -> float:
        """Sustained requests per second this limiter allows."""
        return 1.0 / self.spacing

    def _earliest(self, now: float) -> float:
        t = max(now, self._held_until)
        if self._sends:
            t = max(t, self._sends[-1] + self.spacing)
        for window, cap in self.caps.items():
            if len(self._sends) >= cap:
                t = max(t, self._sends[-cap] + WINDOWS[window])
        return t

    @contextmanager
    def slot(self, waiter: Waiter) -> Iterator[Slot]:
        """Wait for the right to send, hold it until the request is sent (or fails).
        ``waiter`` sleeps (and lets a shutdown interrupt the wait)."""
        self._wire.acquire()
        try:
            while True:
                now = self._clock()
                with self._lock:
                    at = self._earliest(now)
                if at <= now:
                    break
                if not waiter.wait(at - now):
                    raise Cancelled(f"shutting down while waiting to call {self.action}")
        except BaseException:
            self._wire.release()
            raise
        slot = Slot(self, now)
        try:
            yield slot
        finally:
            slot.sent()  # not traced (e.g. a test transport, a failed connect): sent by now

    def _record(self) -> float:
        now = self._clock()
        with self._lock:
            if self._sends and now < self._sends[-1]:
                now = self._sends[-1]  # keep the log sorted even if two clocks disagree
            self._sends.append(now)
            horizon = now - self._horizon
            while self._sends and self._sends[0] <= horizon:
                self._sends.popleft()
        return now

    def penalise(self, seconds: float) -> None:
        """Hold every caller of this action for ``seconds`` (vendor said: throttled)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)

    def remaining(self, window: str) -> float | None:
        """Requests left in the trailing ``window`` (this instance's share), or None."""
        cap = self.caps.get(window)
        if cap is None and window == "minute" and "second" in self.caps:
            cap = self.caps["second"] * 60  # implied by the per-second limit
        if cap is None:
            return None
        now = self._clock()
        with self._lock:
            sends = list(self._sends)
        used = len(sends) - bisect.bisect_right(sends, now - WINDOWS[window])
        return float(max(0, cap - used))


class Limiters:
    """One ActionLimiter per action, created on first use from the quota table."""

    def __init__(
        self,
        quotas: dict[str, Quota],
        default: Quota,
        *,
        headroom: float = 0.9,
        shards: int = 1,
        clock: Callable[[], float],
    ) -> None:
        self._quotas = dict(quotas)
        self._default = default
        self._headroom = headroom
        self._shards = shards
        self._clock = clock
        self._limiters: dict[str, ActionLimiter] = {}
        self._lock = threading.Lock()

    def quota(self, action: str) -> Quota:
        return self._quotas.get(action, self._default)

    def __getitem__(self, action: str) -> ActionLimiter:
        with self._lock:
            lim = self._limiters.get(action)
            if lim is None:
                lim = ActionLimiter(
                    action,
                    self.quota(action),
                    headroom=self._headroom,
                    shards=self._shards,
                    clock=self._clock,
                )
                self._limiters[action] = lim
            return lim


def backoff(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential back-off with jitter: uniform(0.5, 1) * min(cap, base * 2**attempt)."""
    r = rng or random
    return float(r.uniform(0.5, 1.0) * min(cap, base * (2**attempt)))
