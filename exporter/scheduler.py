"""Refreshing the cache: the ``Refresher`` (shared by both modes) and the timer-mode scheduler.

* ``Refresher.trigger(source)`` starts one refresh cycle of a source over all its apps, unless
  one is already in flight, in which case the caller gets the in-flight one (single flight).
  A cycle goes through the apps in order (a few at a time, paced by the account-wide limiter),
  so every app is refreshed once per cycle and none starves.
* Timer mode: ``TimerScheduler`` runs each source every *effective* interval (the quota
  planner's), on the monotonic clock: a wall clock that jumps never stops or bunches refreshes.
  A run that comes due while the previous one still runs is skipped and counted.
* Scrape mode: ``Refresher.refresh_due(timeout)`` triggers the sources that are due and waits
  for them up to the scrape timeout; what is not done by then is served from the cache on this
  scrape and lands in the cache for the next.

Workers are daemon threads and every wait is cancellable, so shutdown takes well under 2 s.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from concurrent.futures import Future, wait
from functools import partial
from typing import Any

from exporter.cache import SnapshotCache
from exporter.collectors.base import Source
from exporter.errors import ApiError
from exporter.limiter import Cancelled, Limiters, Waiter
from exporter.log import get_logger
from exporter.planner import Plan, make_plan
from exporter.targets import Targets
from exporter.telemetry import Telemetry
from exporter.types import AppTarget, Clock, Snapshot

__all__ = ["DaemonPool", "Refresher", "TimerScheduler"]

log = get_logger(__name__)


class DaemonPool:
    """A small executor of daemon threads (a stuck vendor call never blocks process exit).

    With ``workers=0`` it runs each task in the caller's thread: deterministic virtual-time
    tests drive whole refresh cycles this way."""

    def __init__(self, workers: int, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        self._closed = False
        for t in self._threads:
            t.start()

    def submit(self, fn: Callable[[], Any]) -> Future[Any]:
        fut: Future[Any] = Future()
        if self._closed:
            fut.cancel()  # shutting down: never run, never waited for
            fut.set_running_or_notify_cancel()
            return fut
        if not self._threads:
            fut.set_running_or_notify_cancel()
            try:
                fut.set_result(fn())
            except BaseException as exc:
                fut.set_exception(exc)
            return fut
        self._queue.put((fut, fn))
        return fut

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, fn = item
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the waiter, never lost
                fut.set_exception(exc)

    def shutdown(self) -> None:
        self._closed = True
        for _ in self._threads:
            self._queue.put(None)


def _settle(target: Future[None], source: Future[Any]) -> None:
    exc = source.exception()
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(None)


class Refresher:
    def __init__(
        self,
        sources: dict[str, Source[Any]],
        cache: SnapshotCache,
        targets: Targets,
        limiters: Limiters,
        telemetry: Telemetry,
        clock: Clock,
        waiter: Waiter,
        *,
        concurrency: int = 2,
        inline: bool = False,
    ) -> None:
        self.sources = sources
        self.cache = cache
        self.targets = targets
        self.limiters = limiters
        self.telemetry = telemetry
        self.clock = clock
        self.waiter = waiter
        self._concurrency = concurrency
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[None]] = {}
        # inline: cycles and fetches run in the caller's thread (virtual-time tests)
        self._cycles = DaemonPool(0 if inline else max(1, len(sources)), "refresh")
        self._fetches = {n: DaemonPool(0 if inline else concurrency, f"fetch-{n}") for n in sources}
        self._last_reason: dict[tuple[str, str], str] = {}
        self._skips_logged: set[tuple[str, str]] = set()
        self._attempted: set[str] = set()
        self._plan_version = -1
        self._logged_intervals: dict[str, float] = {}  # effective intervals last logged
        self.plan: Plan = self.replan()

    def shutdown(self) -> None:
        self.waiter.cancel()
        self._cycles.shutdown()
        for pool in self._fetches.values():
            pool.shutdown()

    # -- planning ------------------------------------------------------------------------------

    def replan(self) -> Plan:
        """Recompute the plan when the app list changed; log what the quota lengthens."""
        version = self.targets.version
        if version == self._plan_version:
            return self.plan
        plan = make_plan(self.sources, self.targets.current(), self.limiters)
        self._plan_version = version
        for name, p in plan.sources.items():
            self.cache.update_status(
                name,
                configured_interval=p.configured,
                effective_interval=p.effective,
                staleness=p.staleness,
            )
            logged = self._logged_intervals.get(name)
            changed = logged is None or abs(p.effective - logged) > 0.1 * logged
            if p.lengthened and changed:
                self._logged_intervals[name] = p.effective
                log.warning(
                    "quota cannot keep the configured interval",
                    source=name,
                    apps=p.apps,
                    configured_seconds=p.configured,
                    effective_seconds=round(p.effective, 1),
                    arithmetic=p.arithmetic(),
                )
        self.plan = plan
        return plan

    def interval(self, name: str) -> float:
        return self.plan.sources[name].effective

    def staleness(self, name: str) -> float:
        return self.plan.sources[name].staleness

    # -- triggering ----------------------------------------------------------------------------

    def trigger(self, name: str) -> Future[None]:
        with self._lock:
            fut = self._inflight.get(name)
            if fut is not None and not fut.done():
                return fut
            placeholder: Future[None] = Future()
            self._inflight[name] = placeholder
            self.cache.update_status(name, cycle_started=self.clock.monotonic(), running=True)
        fut = self._cycles.submit(partial(self._cycle, name))
        fut.add_done_callback(lambda f: _settle(placeholder, f))
        return placeholder

    def running(self, name: str) -> bool:
        with self._lock:
            fut = self._inflight.get(name)
            return fut is not None and not fut.done()

    def refresh(self, name: str) -> None:
        """Run (or join) one refresh cycle of ``name`` and wait for it."""
        self.trigger(name).result()

    def due(self, name: str, now: float) -> bool:
        started = self.cache.status(name).cycle_started
        return started is None or now - started >= self.interval(name)

    def refresh_due(self, timeout: float) -> None:
        """Scrape mode: refresh every due source, waiting at most ``timeout`` seconds."""
        self.replan()
        now = self.clock.monotonic()
        futures = []
        order = sorted(self.sources, key=lambda n: not self.sources[n].discovers_apps)
        for name in order:
            if self.running(name):
                # join a refresh a concurrent scrape just started; one that has been running
                # longer than a scrape timeout (a source the quota paces over minutes) is not
                # waited for: this scrape serves its cached values
                started = self.cache.status(name).cycle_started
                if started is not None and now - started < timeout:
                    futures.append(self.trigger(name))
            elif self.due(name, now):
                futures.append(self.trigger(name))
        if futures:
            wait(futures, timeout=max(0.0, timeout))

    def ready(self) -> bool:
        """Every enabled source has finished a refresh cycle or at least one fetch."""
        with self._lock:
            attempted = set(self._attempted)
        return all(
            name in attempted or self.cache.status(name).cycle_finished is not None
            for name in self.sources
        )

    # -- one cycle -----------------------------------------------------------------------------

    def _apps_for(self, src: Source[Any]) -> list[AppTarget]:
        if src.scope == "account":
            return [AppTarget("")]
        if self.targets.needs_discovery():
            for name, other in self.sources.items():
                if other.discovers_apps:
                    self.refresh(name)  # discovery first; joins a cycle already in flight
        return [a for a in self.targets.current() if src.wants(a)]

    def _cycle(self, name: str) -> None:
        src = self.sources[name]
        started = self.clock.monotonic()
        try:
            apps = self._apps_for(src)
            src.begin_cycle()
            pool = self._fetches[name]
            futures = [pool.submit(partial(self._fetch_one, src, app)) for app in apps]
            wait(futures)
            if src.scope == "app":
                self.cache.retain(name, {a.app_id for a in apps})
        except Cancelled:
            return
        except Exception as exc:  # a bug must not kill the refresher; the source shows down
            log.error("refresh cycle failed", source=name, error=f"{type(exc).__name__}: {exc}")
        finally:
            now = self.clock.monotonic()
            self.cache.update_status(
                name, cycle_finished=now, cycle_duration=now - started, running=False
            )
            self.replan()

    def _fetch_one(self, src: Source[Any], app: AppTarget) -> None:
        if self.waiter.cancelled:
            return
        key = (src.name, app.app_id)
        try:
            snapshot = src.fetch(app, self.clock.time())
        except Cancelled:
            return
        except ApiError as exc:
            self._failed(src, app, exc.reason, str(exc))
            return
        except Exception as exc:
            if self.waiter.cancelled:
                return  # the client was closed under us while shutting down
            self._failed(src, app, "internal", f"{type(exc).__name__}: {exc}")
            return
        finally:
            with self._lock:
                self._attempted.add(src.name)
        if self._last_reason.pop(key, None):
            log.info("source recovered", source=src.name, app_id=app.app_id)
        self._record(src, app, snapshot)

    def _failed(self, src: Source[Any], app: AppTarget, reason: str, error: str) -> None:
        key = (src.name, app.app_id)
        self.cache.put_failure(src.name, app.app_id, reason)
        first = self._last_reason.get(key) != reason
        self._last_reason[key] = reason
        log.log(
            logging.WARNING if first else logging.DEBUG,
            "source down",
            source=src.name,
            app_id=app.app_id,
            reason=reason,
            error=error,
        )

    def _record(self, src: Source[Any], app: AppTarget, snapshot: Snapshot) -> None:
        self.cache.put_success(
            src.name, app.app_id, snapshot, self.clock.monotonic(), self.clock.time()
        )
        for reason, n in snapshot.skipped.items():
            self.telemetry.points_skipped.labels(src.name, reason).inc(n)
            if (src.name, reason) not in self._skips_logged:
                self._skips_logged.add((src.name, reason))
                log.warning(
                    "skipping unreadable data points",
                    source=src.name,
                    app_id=app.app_id,
                    reason=reason,
                    count=n,
                )
        for unit, n in snapshot.unknown_units.items():
            self.telemetry.count_unknown_unit(src.actions[0], unit, n)
        if snapshot.dropped:
            self.telemetry.series_dropped.labels(src.name).inc(snapshot.dropped)
            log.warning("series cap reached", source=src.name, app_id=app.app_id,
                        dropped=snapshot.dropped)  # fmt: skip
        src.contribute(snapshot, self.targets)


class TimerScheduler:
    """Timer mode: each source every effective interval, on the monotonic clock."""

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
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._wake.set()

    def next_run(self, name: str) -> float | None:
        return self._refresher.cache.status(name).next_due

    def tick(self) -> float:
        """Start every due source; return the monotonic time of the next due one."""
        r = self._refresher
        r.replan()
        now = r.clock.monotonic()
        nearest = now + 3600.0
        for name in r.sources:
            status = r.cache.status(name)
            due = status.next_due if status.next_due is not None else now
            if due <= now:
                interval = r.interval(name)
                if r.running(name):
                    r.telemetry.runs_skipped.labels(name).inc()
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
                due = now + interval + self._rng.uniform(-spread, spread)
                r.cache.update_status(name, next_due=due)
            nearest = min(nearest, due)
        return nearest

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
