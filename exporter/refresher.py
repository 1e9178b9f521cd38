"""The ``Refresher``: refresh cycles of each source over its apps, into the shared cache.

Shared by both refresh modes (the timer scheduler and scrape mode drive it). Its interface:

* ``trigger(source)`` starts one refresh cycle over all the source's apps, unless one is in
  flight, in which case the caller gets the in-flight one (single flight). ``refresh(source)``
  triggers and waits. A cycle goes through the apps in order (a few at a time, paced by the
  account-wide limiter), so every app is refreshed once per cycle and none starves.
* ``plan`` / ``replan()`` / ``interval(source)`` / ``staleness(source)``: the quota plan for
  the current app list (``exporter.planner``), recomputed whenever ``Targets.version`` changes.
* ``subscribe(callback)``: called (from any thread) when the plan changes or a source asks to
  run early; a scheduler re-reads ``interval()`` and ``early()`` then, so a shorter plan brings
  the next run forward at once and a longer one pushes it back.
* ``request_run(source, delay)`` / ``early(source)``: a run wanted sooner than the plan says
  (discovery re-checks a spike this way); cleared when the source is triggered.
* ``retire()``: this refresher's engine was replaced (reload) or is stopping: every wait is
  cancelled and nothing it still has in flight writes to the cache, the watch list or the log.

Writes are fenced in the cache (``SnapshotCache.claim``/``set_apps``): an app that vanishes from
the app list loses its entries at once and is neither fetched nor written again (in-flight
cycles skip it); a retired refresher's late answers and aborted calls are dropped.
"""

from __future__ import annotations

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
from exporter.ondemand import OnDemand
from exporter.planner import Plan, SourcePlan, make_plan
from exporter.pool import DaemonPool, settle
from exporter.refresh_log import RefreshLog
from exporter.targets import Targets
from exporter.telemetry import Telemetry
from exporter.traffic import PlanningSettings, Traffic
from exporter.types import AppTarget, Clock, Snapshot

__all__ = ["RECHECK_SECONDS", "Refresher"]

log = get_logger("exporter.scheduler")

RECHECK_SECONDS = 60.0  # a discovery spike is confirmed this soon (or at the interval if shorter)


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
        planning: PlanningSettings | None = None,
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
        self._plan_lock = threading.RLock()
        self._inflight: dict[str, Future[None]] = {}
        # inline: cycles and fetches run in the caller's thread (virtual-time tests)
        self._cycles = DaemonPool(0 if inline else max(1, len(sources)), "refresh")
        self._fetches = {n: DaemonPool(0 if inline else concurrency, f"fetch-{n}") for n in sources}
        self._log = RefreshLog()
        self._attempted: set[str] = set()
        self._plan_version: tuple[int, int] = (-1, -1)
        self._apps_version = -1
        self._logged_intervals: dict[str, float] = {}  # effective intervals last logged
        self._listeners: list[Callable[[], None]] = []
        self._early: dict[str, float] = {}
        self.retired = False
        self.plan: Plan = Plan({})
        # traffic tiers (exporter.traffic) and triggered breakdowns (exporter.ondemand)
        self.planning = planning or PlanningSettings()
        feeds = any(s.feeds_traffic for s in sources.values())
        self.traffic = Traffic(self.planning, signal=feeds)
        self.ondemand = OnDemand(sources, cache, self, telemetry, clock, waiter,
                                 self.planning.triggers, self.staleness, inline=inline)  # fmt: skip
        self._tiers_logged: dict[str, str] = {}
        cache.claim(self)  # the newest refresher owns the cache; older ones can no longer write
        self.replan()

    def retire(self) -> None:
        """Stop for good: cancel every wait; nothing still in flight writes anything."""
        self.retired = True
        self.shutdown()

    def shutdown(self) -> None:
        self.waiter.cancel()
        self._cycles.shutdown()
        self.ondemand.shutdown()
        for pool in self._fetches.values():
            pool.shutdown()

    def _live(self) -> bool:
        return not self.retired and self.cache.owned_by(self)

    # -- planning ------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[], None]) -> None:
        """``callback()`` whenever the plan changes or a run is requested early."""
        self._listeners.append(callback)

    def _notify(self) -> None:
        for callback in list(self._listeners):
            callback()

    def replan(self) -> Plan:
        """Recompute the plan when the app list changed; drop what vanished from the cache;
        log what the quota lengthens; tell the subscribers."""
        with self._plan_lock:
            version = (self.targets.version, self.traffic.version)
            if version == self._plan_version:
                return self.plan
            self._apps_version = self.targets.apps_version
            ids = self.targets.app_ids()
            self.cache.set_apps(ids, owner=self)  # vanished apps' series go now
            self._log.forget_apps(ids)
            self.traffic.forget(ids)
            self.ondemand.judge.forget(ids)
            plan = make_plan(self.sources, self.targets.current(), self.limiters,
                             self.traffic.busy(), self.planning.tail_min_share)  # fmt: skip
            self._plan_version = version
            old = self.plan
            for name, p in plan.sources.items():
                self.cache.update_status(
                    name,
                    owner=self,
                    configured_interval=p.configured,
                    effective_interval=p.effective,
                    staleness=p.staleness,
                    tiers=tuple((t, x.apps, x.interval) for t, x in p.tiers.items()),
                )
                self._log_lengthened(name, p)
                self._log_tiers(name, p)
            self.plan = plan
        if any(
            (o := old.sources.get(n)) is not None and o.effective != p.effective
            for n, p in plan.sources.items()
        ):
            self._notify()
        return plan

    def _log_lengthened(self, name: str, p: Any) -> None:
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

    def _log_tiers(self, name: str, p: SourcePlan) -> None:
        summary = p.tier_summary()
        if summary and self._tiers_logged.get(name) != summary:
            self._tiers_logged[name] = summary
            log.info("traffic tiers", source=name, tiers=summary)

    def interval(self, name: str) -> float:
        return self.plan.sources[name].effective

    def staleness(self, name: str, app_id: str = "") -> float:
        """How long ``name``'s data of ``app_id`` is served: a busy app's follows the busy
        tier's interval, every other app's the tail's."""
        p = self.plan.sources[name]
        if app_id and p.tiers and app_id in (self.traffic.busy() or ()):
            return p.busy_staleness
        return p.staleness

    def request_run(self, name: str, delay: float) -> None:
        """Ask for a run of ``name`` within ``delay`` seconds (kept until it is triggered)."""
        at = self.clock.monotonic() + delay
        with self._lock:
            self._early[name] = min(at, self._early.get(name, at))
        self._notify()

    def early(self, name: str) -> float | None:
        """The monotonic time by which ``name`` was asked to run, if earlier than planned."""
        with self._lock:
            return self._early.get(name)

    def cancel_early(self, name: str) -> None:
        with self._lock:
            self._early.pop(name, None)

    # -- triggering ----------------------------------------------------------------------------

    def trigger(self, name: str) -> Future[None]:
        with self._lock:
            fut = self._inflight.get(name)
            if fut is not None and not fut.done():
                return fut
            placeholder: Future[None] = Future()
            self._inflight[name] = placeholder
            self._early.pop(name, None)
        self.cache.update_status(
            name, owner=self, cycle_started=self.clock.monotonic(), running=True
        )
        fut = self._cycles.submit(partial(self._cycle, name))
        fut.add_done_callback(lambda f: settle(placeholder, f))
        return placeholder

    def running(self, name: str) -> bool:
        with self._lock:
            fut = self._inflight.get(name)
            return fut is not None and not fut.done()

    def refresh(self, name: str) -> None:
        """Run (or join) one refresh cycle of ``name`` and wait for it."""
        self.trigger(name).result()

    def due(self, name: str, now: float) -> bool:
        early = self.early(name)
        if early is not None and early <= now:
            return True
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

    def _apps_for(self, src: Source[Any]) -> tuple[list[AppTarget], int]:
        """The cycle's apps, in order, and how many lead it as in trouble or busy."""
        if src.scope == "account":
            return [AppTarget("")], 1
        if self.targets.needs_discovery():
            for name, other in self.sources.items():
                if other.discovers_apps:
                    self.refresh(name)  # discovery first; joins a cycle already in flight
        apps = [a for a in self.targets.current() if src.wants(a)]
        busy = self.traffic.busy()
        if not src.tiered or busy is None:
            return apps, len(apps)
        # apps in trouble, busy apps by traffic, then the tail's chunk
        plan = self.replan().sources.get(src.name)
        chunk = plan.tail_per_cycle if plan is not None else None
        troubled = self.ondemand.judge.troubled() & busy  # an app back in the tail is not
        apps = self.traffic.cycle(src.name, apps, chunk, self.clock.monotonic(), troubled)
        return apps, sum(1 for a in apps if a.app_id in busy or a.app_id in troubled)

    def _cycle(self, name: str) -> None:
        src = self.sources[name]
        started = self.clock.monotonic()
        try:
            apps, first = self._apps_for(src)
            # the series cap may drop tail apps' series for apps in trouble and busy apps
            dropped = src.cycle_apps(apps, self.targets.app_ids(), first)
            if dropped:
                log.warning("series cap reached: tail apps' series dropped for busy apps",
                            source=name, apps=len(dropped))  # fmt: skip
            src.begin_cycle()
            pool = self._fetches[name]
            futures = [pool.submit(partial(self._fetch_one, src, app)) for app in apps]
            wait(futures)
            if src.scope == "app":  # (a tiered cycle's tail apps outside its chunk stay)
                wanted = {a.app_id for a in self.targets.current() if src.wants(a)}
                self.cache.retain(name, wanted - dropped, owner=self)
        except Cancelled:
            return
        except Exception as exc:  # a bug must not kill the refresher; the source shows down
            if self._live():
                log.error("refresh cycle failed", source=name,
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        finally:
            now = self.clock.monotonic()
            self.cache.update_status(
                name, owner=self, cycle_finished=now, cycle_duration=now - started, running=False
            )
            if self._live():
                self.replan()

    def _fetch_one(self, src: Source[Any], app: AppTarget) -> None:
        # an app that vanished since the cycle started is not called (nor written, see cache)
        if self.waiter.cancelled or not self.targets.monitors(app.app_id):
            return
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
        self._record(src, app, snapshot)

    def _failed(self, src: Source[Any], app: AppTarget, reason: str, error: str) -> None:
        if self.waiter.cancelled or not self.cache.put_failure(
            src.name, app.app_id, reason, owner=self
        ):
            return  # an aborted call of a retired engine, or an app no longer monitored
        self._log.failed(src.name, app.app_id, reason, error)

    def _record(self, src: Source[Any], app: AppTarget, snapshot: Snapshot) -> None:
        now = self.clock.monotonic()
        if not self.cache.put_success(
            src.name, app.app_id, snapshot, now, self.clock.time(), owner=self
        ):
            return
        self._log.answered(src.name, app.app_id, snapshot)
        self._log.skipped(src.name, app.app_id, snapshot)
        for reason, n in snapshot.skipped.items():
            self.telemetry.points_skipped.labels(src.name, reason).inc(n)
        for unit, n in snapshot.unknown_units.items():
            self.telemetry.count_unknown_unit(src.actions[0], unit, n)
        if snapshot.dropped:
            self.telemetry.series_dropped.labels(src.name).inc(snapshot.dropped)
            log.warning("series cap reached", source=src.name, app_id=app.app_id,
                        dropped=snapshot.dropped)  # fmt: skip
        src.contribute(snapshot, self.targets)
        if src.feeds_traffic and self.traffic.observe_snapshot(app.app_id, snapshot, now):
            self.replan()  # an app changed tier: the next cycles take it in its new tier
        busy = self.traffic.busy()
        if busy is None or app.app_id in busy:  # the tail is under the alerts' traffic gate
            self.ondemand.check(src, app.app_id, snapshot)
        if src.discovers_apps:
            self._spike(src)
        if self.targets.apps_version != self._apps_version:
            self.replan()  # the app list changed: drop what vanished, re-plan, now
        # (a watch-list change waits for the end of the cycle: one re-plan, not one per app)

    def _spike(self, src: Source[Any]) -> None:
        held = self.targets.pending()
        recheck = min(RECHECK_SECONDS, float(src.settings.interval_seconds))
        self._log.spike(src.name, held, len(self.targets.app_ids()), recheck)
        if held:
            self.request_run(src.name, recheck)
