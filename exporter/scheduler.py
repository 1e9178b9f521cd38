"""Refreshing the cache in timer mode: ``TimerScheduler`` (the ``Refresher`` it drives lives in
``exporter.refresher`` and is re-exported here).

* Timer mode: ``TimerScheduler`` runs each source every *effective* interval (the quota
  planner's), on the monotonic clock: a wall clock that jumps never stops or bunches refreshes.
  A run that comes due while the previous one still runs is skipped and counted.
* The next run of a source is ``start of its last run + the interval the plan gives now``
  (plus a small fixed jitter), recomputed on every tick: when the app list shrinks (5,000 apps
  -> 1) the next run comes forward at once, and when it grows it moves back. The refresher wakes
  the scheduler on every plan change and every early-run request (``Refresher.subscribe``).
* Scrape mode: ``Refresher.refresh_due(timeout)`` triggers the sources that are due and waits
  for them up to the scrape timeout; what is not done by then is served from the cache on this
  scrape and lands in the cache for the next.

Workers are daemon threads and every wait is cancellable, so shutdown takes well under 2 s.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterable

from exporter.log import get_logger
from exporter.pool import DaemonPool
from exporter.refresher import Refresher

__all__ = ["DaemonPool", "Refresher", "TimerScheduler"]

log = get_logger(__name__)


class TimerScheduler:
    """Timer mode: each source every effective interval, on the monotonic clock.

    Interface: ``start()``, ``shutdown()``, ``tick()`` (start what is due, return when the next
    source is due; tests drive it in virtual time), ``next_run(source)`` and ``adopt(old,
    sources)`` (a reload carries the schedule of sources it does not change)."""

    def __init__(
        self,
        refresher: Refresher,
        *,
        jitter: float = 2.0,
        rng: random.Random | None = None,
    ) -> None:
        self._refresher = refresher
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._skipping: set[str] = set()
        self._runs: dict[str, tuple[float, float]] = {}  # source -> (last run at, jitter)
        self._thread: threading.Thread | None = None
        refresher.subscribe(self._wake.set)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()

    def adopt(self, old: TimerScheduler, sources: Iterable[str]) -> None:
        """Go on with ``old``'s schedule for ``sources`` (the rest runs at once)."""
        for name in sources:
            if name in old._runs:
                self._runs[name] = old._runs[name]

    def next_run(self, name: str) -> float | None:
        return self._refresher.cache.status(name).next_due

    def due_at(self, name: str, now: float) -> float:
        """When ``name`` runs next: its last run + the planned interval now, or earlier when
        the refresher asked for it; ``now`` when it never ran."""
        run = self._runs.get(name)
        due = now if run is None else run[0] + self._refresher.interval(name) + run[1]
        early = self._refresher.early(name)
        return due if early is None else min(due, early)

    def tick(self) -> float:
        """Start every due source; return the monotonic time of the next due one."""
        r = self._refresher
        r.replan()
        now = r.clock.monotonic()
        nearest = now + 3600.0
        for name in r.sources:
            due = self.due_at(name, now)
            if due <= now:
                self._run(name, now)
                due = self.due_at(name, now)
            if r.cache.status(name).next_due != due:
                r.cache.update_status(name, owner=r, next_due=due)
            nearest = min(nearest, due)
        return nearest

    def _run(self, name: str, now: float) -> None:
        r = self._refresher
        interval = r.interval(name)
        if r.running(name):
            r.telemetry.runs_skipped.labels(name).inc()
            r.cancel_early(name)  # a run asked for early is skipped like a planned one
            if name not in self._skipping:
                self._skipping.add(name)
                log.warning(
                    "refresh still running, skipping runs until it ends",
                    source=name,
                    interval_seconds=round(interval, 1),
                )
        else:
            if name in self._skipping:
                self._skipping.discard(name)
                log.info("refresh caught up", source=name)
            r.trigger(name)
        spread = min(self._jitter, interval / 10)
        self._runs[name] = (now, self._rng.uniform(-spread, spread))

    def _loop(self) -> None:
        r = self._refresher
        while not self._stop.is_set():
            try:
                nearest = self.tick()
            except Exception as exc:  # never let the scheduler thread die
                log.error("scheduler tick failed", error=f"{type(exc).__name__}: {exc}")
                nearest = r.clock.monotonic() + 1.0
            self._wake.wait(max(0.05, min(60.0, nearest - r.clock.monotonic())))
            self._wake.clear()
