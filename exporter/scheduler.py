"""Refreshing the cache in timer mode: ``TimerScheduler`` (the ``Refresher`` it drives lives in
``exporter.refresher`` and is re-exported here).

* Timer mode: ``TimerScheduler`` runs each source every *effective* interval (the quota
  planner's). APScheduler 3.x is the timer: one job per source, on a ``BackgroundScheduler``.
  A run that comes due while the previous one still runs is skipped and counted.
* The next run of a source is ``start of its last run + the interval the plan gives now``
  (plus a small fixed jitter), recomputed whenever it is asked for: when the app list shrinks
  (5,000 apps -> 1) the next run comes forward at once, and when it grows it moves back. The
  refresher wakes the scheduler on every plan change and every early-run request
  (``Refresher.subscribe``).
* The guard against wall-clock jumps: APScheduler 3.x keeps run times as wall-clock datetimes,
  so a clock set back 10 minutes used to stop every job for 10 minutes, and one set forward ran
  them all at once. Here no wall time is ever stored. The plan is kept on the monotonic clock,
  and ``PlanJobStore`` answers APScheduler's questions ("which jobs are due at ``now``?",
  "when is the next one?") by mapping each source's monotonic due time into the wall clock
  *as it reads at that moment*: ``now + (due - monotonic())``. A jump shifts ``now`` and the
  answers together, so nothing stops or bunches; APScheduler sleeps on ``threading.Event``
  (a monotonic wait) for the difference. The store also never lets APScheduler sleep longer
  than ``GUARD_SECONDS``, so a lost wake-up costs at most that.
* Scrape mode: ``Refresher.refresh_due(timeout)`` triggers the sources that are due and waits
  for them up to the scrape timeout; what is not done by then is served from the cache on this
  scrape and lands in the cache for the next.

Jobs run in APScheduler's own thread (``DebugExecutor``): a job only decides and calls
``Refresher.trigger``, which hands the cycle to the refresher's daemon workers, so the next
run time is computed after the run was recorded. Every wait is cancellable and shutdown takes
well under 2 s.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import random
import weakref
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from apscheduler.executors.debug import DebugExecutor
from apscheduler.jobstores.base import BaseJobStore, ConflictingIdError, JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger

from exporter.log import get_logger
from exporter.pool import DaemonPool
from exporter.refresher import Refresher

__all__ = [
    "GUARD_SECONDS",
    "DaemonPool",
    "PlanJobStore",
    "PlanTrigger",
    "Refresher",
    "TimerScheduler",
]

log = get_logger(__name__)

GUARD_SECONDS = 60.0  # APScheduler re-reads the plan at least this often, whatever happens
_TICK = dt.timedelta(microseconds=1)
_FAR = 365 * 86400.0  # "never" (a datetime cannot hold infinity)

# APScheduler logs every run at info ("Running job ...", "... executed successfully"): one
# line per source per interval. Its warnings and errors still show.
logging.getLogger("apscheduler").setLevel(logging.WARNING)

Due = Callable[[str, float], float]  # (source, monotonic now) -> monotonic time it is due
Now = Callable[[], dt.datetime]


T = TypeVar("T")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _weak(method: Callable[..., T], gone: T) -> Callable[..., T]:
    """``method`` without a strong reference to its object (``gone`` once it is freed).

    APScheduler's jobs and store, and the refresher's subscriptions, hold the scheduler only
    this way: no reference cycle, so a replaced engine is freed at once rather than at the
    next full garbage collection (a reload storm would otherwise pile them up)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> T:
        bound = ref()
        return gone if bound is None else bound(*args)

    return call


def wall_image(due: float, now: dt.datetime, monotonic: float) -> dt.datetime:
    """Monotonic time ``due`` as the wall clock reads it when it reads ``now`` (at the
    monotonic time ``monotonic``); later than ``now`` unless ``due`` has come (datetimes
    count whole microseconds: a due time a nanosecond away must not look due yet)."""
    image = now + dt.timedelta(seconds=min(due - monotonic, _FAR))
    return image if due <= monotonic else max(image, now + _TICK)


class PlanTrigger(BaseTrigger):  # type: ignore[misc]  # APScheduler 3.x is untyped
    """Fires a source when the plan says: its monotonic due time mapped to ``now``'s frame.

    Always later than ``now`` (APScheduler asks again until it gets a later time, before the
    run it is about to start); the store re-derives the time from the plan on every read."""

    def __init__(self, name: str, due: Due, monotonic: Callable[[], float]) -> None:
        self.name = name
        self._due = due
        self._monotonic = monotonic

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime:
        mono = self._monotonic()
        return max(wall_image(self._due(self.name, mono), now, mono), now + _TICK)

    def __str__(self) -> str:
        return f"plan[{self.name}]"


class PlanJobStore(BaseJobStore):  # type: ignore[misc]  # APScheduler 3.x is untyped
    """In-memory jobs whose run times come from the monotonic plan, never from a stored wall
    time: every read maps each job's due time into the wall clock of that moment.

    A job id is a source name; ``due(name, monotonic_now)`` is its next monotonic due time.
    A paused job (``next_run_time`` None) stays paused."""

    def __init__(
        self,
        due: Due,
        monotonic: Callable[[], float],
        wall: Now = _utc_now,
        guard: float = GUARD_SECONDS,
    ) -> None:
        super().__init__()
        self._due = due
        self._monotonic = monotonic
        self._wall = wall
        self._guard = dt.timedelta(seconds=guard)
        self._jobs: dict[str, Any] = {}

    def _timed(self, now: dt.datetime) -> list[Any]:
        """The scheduled jobs, soonest first, their run times set in ``now``'s frame."""
        mono = self._monotonic()
        jobs = [job for job in self._jobs.values() if job.next_run_time is not None]
        for job in jobs:
            job.next_run_time = wall_image(self._due(job.id, mono), now, mono)
        return sorted(jobs, key=lambda job: job.next_run_time)  # stable: sources in order

    def lookup_job(self, job_id: str) -> Any:
        return self._jobs.get(job_id)

    def get_due_jobs(self, now: dt.datetime) -> list[Any]:
        return [job for job in self._timed(now) if job.next_run_time <= now]

    def get_next_run_time(self) -> dt.datetime | None:
        now = self._wall()
        jobs = self._timed(now)
        if not jobs:
            return None
        soonest: dt.datetime = jobs[0].next_run_time
        return min(soonest, now + self._guard)  # bounded sleep: a lost wake-up costs little

    def get_all_jobs(self) -> list[Any]:
        jobs = self._timed(self._wall())
        return jobs + [job for job in self._jobs.values() if job.next_run_time is None]

    def add_job(self, job: Any) -> None:
        if job.id in self._jobs:
            raise ConflictingIdError(job.id)
        self._jobs[job.id] = job

    def update_job(self, job: Any) -> None:
        if job.id not in self._jobs:
            raise JobLookupError(job.id)
        self._jobs[job.id] = job

    def remove_job(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is None:
            raise JobLookupError(job_id)

    def remove_all_jobs(self) -> None:
        self._jobs.clear()


class TimerScheduler:
    """Timer mode: each source every effective interval, timed by APScheduler on the plan.

    Interface: ``start()``, ``shutdown()``, ``tick()`` (start what is due, return when the next
    source is due; tests drive it in virtual time), ``next_run(source)``, ``due_at(source,
    now)`` and ``adopt(old, sources)`` (a reload carries the schedule of sources it does not
    change). ``apscheduler`` is the APScheduler instance (its jobs are the sources; a
    ``BackgroundScheduler`` unless one is given); ``wall`` is the wall clock it reads."""

    def __init__(
        self,
        refresher: Refresher,
        *,
        jitter: float = 2.0,
        rng: random.Random | None = None,
        wall: Now = _utc_now,
        apscheduler: BaseScheduler | None = None,
    ) -> None:
        self._refresher = refresher
        self._jitter = jitter
        self._rng = rng or random.Random()
        self._skipping: set[str] = set()
        self._runs: dict[str, tuple[float, float]] = {}  # source -> (last run at, jitter)
        mono = refresher.clock.monotonic
        due = _weak(self.due_at, math.inf)  # never due once this scheduler is gone
        # UTC: APScheduler would otherwise look up the host's zone (it only ever compares)
        if apscheduler is None:
            apscheduler = BackgroundScheduler(timezone=dt.UTC)
        self.apscheduler = apscheduler
        self.apscheduler.configure(
            jobstores={"default": PlanJobStore(due, mono, wall)},
            executors={"default": DebugExecutor()},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=dt.UTC,
        )
        for name in refresher.sources:
            trigger = PlanTrigger(name, due, mono)
            fire = _weak(self._fire, None)
            self.apscheduler.add_job(fire, trigger, args=(name,), id=name, name=name)
        refresher.subscribe(_weak(self._changed, None))

    def start(self) -> None:
        self.apscheduler.start()

    def shutdown(self) -> None:
        if self.apscheduler.running:
            self.apscheduler.shutdown(wait=False)

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
        for name in r.sources:
            if self.due_at(name, now) <= now:
                self._run(name, now)
        return self._publish(now)

    def _fire(self, name: str) -> None:
        """APScheduler's job for ``name``: run it if the plan (re-read now) says it is due."""
        r = self._refresher
        try:
            r.replan()
            now = r.clock.monotonic()
            if self.due_at(name, now) <= now:
                self._run(name, now)
            self._publish(now)
        except Exception as exc:  # never let a job's error reach APScheduler's thread
            log.error("scheduler tick failed", error=f"{type(exc).__name__}: {exc}")

    def _changed(self) -> None:
        """The plan changed or a run was asked for early: show it and wake APScheduler."""
        self._publish(self._refresher.clock.monotonic())
        if self.apscheduler.running:
            self.apscheduler.wakeup()

    def _publish(self, now: float) -> float:
        """Write each source's next due time to the cache status; return the nearest."""
        r = self._refresher
        nearest = now + 3600.0
        for name in r.sources:
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
