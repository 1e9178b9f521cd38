"""Refreshing the cache: the ``Refresher`` (shared by both modes) and the timer-mode scheduler.

* ``Refresher.trigger(source)`` starts one refresh cycle of a source over all its apps, unless
  one is already in flight, in which case the caller gets the in-flight one (single flight).
* Timer mode: an APScheduler 3.x ``BackgroundScheduler`` runs one interval job per source
  (first run at start, ``max_instances=1``, ``coalesce=True``, a little jitter).
* Scrape mode: ``Refresher.refresh_due(timeout)`` triggers the sources whose interval has passed
  and waits for them up to the scrape timeout; whatever is not done by then is served from the
  cache on this scrape and lands in the cache for the next.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from exporter.cache import SnapshotCache
from exporter.collectors.base import AppTarget, Source
from exporter.errors import ApiError
from exporter.targets import Targets

__all__ = ["Refresher", "TimerScheduler"]

log = logging.getLogger(__name__)


class Refresher:
    def __init__(
        self,
        sources: dict[str, Source[Any]],
        cache: SnapshotCache,
        targets: Targets,
        intervals: dict[str, float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sources = sources
        self.cache = cache
        self.targets = targets
        self.intervals = intervals
        self.clock = clock
        self._lock = threading.Lock()
        self._inflight: dict[str, Future[None]] = {}
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, len(sources)), thread_name_prefix="refresh"
        )
        self.cycle_started: dict[str, float] = {}
        self.cycle_finished: dict[str, float] = {}
        self.cycle_duration: dict[str, float] = {}
        self._last_reason: dict[tuple[str, str], str] = {}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- triggering ----------------------------------------------------------------------------

    def trigger(self, name: str) -> Future[None]:
        with self._lock:
            fut = self._inflight.get(name)
            if fut is not None and not fut.done():
                return fut
            self.cycle_started[name] = self.clock()
            fut = self._executor.submit(self._cycle, name)
            self._inflight[name] = fut
            return fut

    def refresh(self, name: str) -> None:
        """Run (or join) one refresh cycle of ``name`` and wait for it."""
        self.trigger(name).result()

    def due(self, name: str, now: float) -> bool:
        started = self.cycle_started.get(name)
        return started is None or now - started >= self.intervals[name]

    def refresh_due(self, timeout: float) -> None:
        """Scrape mode: refresh every due source, waiting at most ``timeout`` seconds."""
        now = self.clock()
        futures = []
        order = sorted(self.sources, key=lambda n: n != "apps")  # discovery first
        for name in order:
            with self._lock:
                running = self._inflight.get(name)
            if running is not None and not running.done():
                futures.append(running)  # join the refresh another scrape started
            elif self.due(name, now):
                futures.append(self.trigger(name))
        if futures:
            wait(futures, timeout=timeout)

    def ready(self) -> bool:
        """Every enabled source has finished at least one refresh cycle (success or not)."""
        return all(name in self.cycle_finished for name in self.sources)

    # -- one cycle -----------------------------------------------------------------------------

    def _apps_for(self, src: Source[Any]) -> list[AppTarget]:
        if self.targets.discovery and not self.targets.discovered() and "apps" in self.sources:
            self.refresh("apps")  # discovery first; joins a cycle already in flight
        return [a for a in self.targets.current() if src.wants(a)]

    def _cycle(self, name: str) -> None:
        src = self.sources[name]
        started = time.perf_counter()
        try:
            if not src.per_app:
                self._fetch_one(src, AppTarget(""))
                return
            apps = self._apps_for(src)
            src.begin_cycle()
            for app in apps:
                self._fetch_one(src, app)
            self.cache.retain(name, {a.app_id for a in apps})
        except Exception:  # a bug must not kill the refresh thread; the source shows down
            log.exception("refresh cycle failed source=%s", name)
        finally:
            self.cycle_duration[name] = time.perf_counter() - started
            self.cycle_finished[name] = self.clock()

    def _fetch_one(self, src: Source[Any], app: AppTarget) -> None:
        key = (src.name, app.app_id)
        try:
            snapshot = src.fetch(app, self.clock())
        except ApiError as exc:
            self.cache.put_failure(src.name, app.app_id, exc.reason, self.clock())
            level = logging.WARNING if self._last_reason.get(key) != exc.reason else logging.DEBUG
            log.log(level, "source down source=%s app_id=%s error=%s", src.name, app.app_id, exc)
            self._last_reason[key] = exc.reason
            return
        except Exception:
            self.cache.put_failure(src.name, app.app_id, "internal", self.clock())
            log.exception("unexpected error source=%s app_id=%s", src.name, app.app_id)
            self._last_reason[key] = "internal"
            return
        if self._last_reason.pop(key, None):
            log.info("source recovered source=%s app_id=%s", src.name, app.app_id)
        self.cache.put_success(src.name, app.app_id, snapshot, self.clock())


class TimerScheduler:
    """Timer mode: one APScheduler interval job per source."""

    def __init__(self, refresher: Refresher, jitter: float = 2.0) -> None:
        self._refresher = refresher
        self._scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
        self._scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
        for name, interval in refresher.intervals.items():
            if name not in refresher.sources:
                continue
            self._scheduler.add_job(
                refresher.refresh,
                "interval",
                args=[name],
                id=name,
                name=f"refresh {name}",
                seconds=interval,
                jitter=min(jitter, interval / 10),
                max_instances=1,
                coalesce=True,
                misfire_grace_time=max(1, int(interval)),
                next_run_time=dt.datetime.now(dt.UTC),  # first refresh at start
            )

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run(self, name: str) -> float | None:
        job = self._scheduler.get_job(name)
        if job is None or job.next_run_time is None:
            return None
        return float(job.next_run_time.timestamp())

    @staticmethod
    def _on_event(event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("refresh still running, skipped a run job=%s", event.job_id)
        elif event.exception is not None:
            log.error("refresh job failed job=%s error=%s", event.job_id, event.exception)
