"""APScheduler as timer mode's timer, and the guard that keeps it on the monotonic plan.

Most tests run APScheduler's own job processing (``BaseScheduler._process_jobs``, one step at a
time, no thread) on a virtual clock whose wall time can jump: APScheduler reads the wall clock
through ``datetime.now`` in its scheduler module, which these tests point at the virtual clock.
The driver then does what ``BackgroundScheduler``'s thread does: wait (a monotonic wait, here
a jump of the virtual clock) for as long as the step asked, then step again."""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any

import apscheduler.schedulers.base as aps_base
import httpx
import pytest
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import BaseScheduler

from exporter.runtime import Runtime
from exporter.scheduler import GUARD_SECONDS, PlanJobStore, PlanTrigger, TimerScheduler
from tests.conftest import FrozenClock, VirtualClock, make_settings
from tests.faults.harness import build, only
from tests.test_scheduler import ONLY_OPERATIONS, Recorder, runtime

KEEP = "app-0000"
QUALITY = "ListRealTimeQuality"


class JumpClock(VirtualClock):
    """Virtual time whose wall clock can be set (``offset``) apart from the monotonic one."""

    offset = 0.0

    def time(self) -> float:
        return self.t + self.offset

    def wall(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)


class Stepper(BaseScheduler):  # type: ignore[misc]
    """APScheduler's processing without its thread: ``step()`` is one wake-up."""

    def __init__(self) -> None:
        super().__init__(timezone=dt.UTC)
        self.wakeups = 0

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait)

    def wakeup(self) -> None:
        self.wakeups += 1

    def step(self) -> float | None:
        wait: float | None = self._process_jobs()
        return wait


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> JumpClock:
    """A jumpable clock that APScheduler's scheduler module reads as its wall clock."""
    clock = JumpClock(1_000_000.0)
    monkeypatch.setattr(aps_base, "datetime", virtual_datetime(clock))
    return clock


def virtual_datetime(clock: Any) -> type[dt.datetime]:
    """``datetime`` whose ``now()`` is ``clock``'s wall time."""

    class VirtualDatetime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Any:
            return dt.datetime.fromtimestamp(clock.time(), tz)

    return VirtualDatetime


def run_until(stepper: Stepper, clock: VirtualClock, until: float) -> list[float]:
    """Step APScheduler, waiting (monotonic) as long as each step asks; the waits."""
    waits = []
    for _ in range(100_000):
        if clock.t >= until:
            return waits
        wait = stepper.step()
        assert wait is not None  # there are jobs: APScheduler always has a next wake-up
        waits.append(wait)
        clock.t += wait
    raise AssertionError("APScheduler kept asking to wake at once")


def started(rt: Any, clock: JumpClock, **kw: Any) -> tuple[TimerScheduler, Stepper]:
    stepper = Stepper()
    scheduler = TimerScheduler(rt.refresher, jitter=0.0, wall=clock.wall, apscheduler=stepper,
                               **kw)  # fmt: skip
    scheduler.start()
    return scheduler, stepper


def test_apscheduler_keeps_the_interval_through_wall_clock_jumps(clock: JumpClock) -> None:
    rt, rec = runtime(3, clock)
    scheduler, stepper = started(rt, clock)
    run_until(stepper, clock, clock.t + 60)
    assert len(rec.calls["app000"]) >= 6
    for jump in (-600.0, +1200.0, -600.0):
        clock.offset += jump
        t0 = clock.t
        waits = run_until(stepper, clock, t0 + 95)
        times = [t for t in rec.calls["app000"] if t >= t0]
        periods = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(times) >= 9  # neither stopped ...
        assert min(periods) == pytest.approx(10.0)  # ... nor bunched: every 10 s, monotonic
        assert max(waits) <= 10.0
    up = rt.registry.get_sample_value(
        "volcengine_rtc_exporter_source_up", {"source": "realtime_operation", "app_id": "app000"}
    )
    assert up == 1.0
    scheduler.shutdown()


def test_apscheduler_unguarded_stops_after_a_backward_jump(clock: JumpClock) -> None:
    """Why the guard exists: stock APScheduler 3.x (memory store, interval trigger) on the
    same driver runs nothing for the 10 minutes the wall clock was set back."""
    stepper = Stepper()
    stepper.configure(  # as TimerScheduler's, but with APScheduler's own store and trigger
        executors={"default": DebugExecutor()},
        job_defaults={"coalesce": True, "misfire_grace_time": None},
        timezone=dt.UTC,
    )
    runs: list[float] = []
    stepper.add_job(lambda: runs.append(clock.t), "interval", seconds=10, start_date=clock.wall())
    stepper.start()
    run_until(stepper, clock, clock.t + 60)
    assert len(runs) >= 5
    clock.offset -= 600
    t0 = clock.t
    run_until(stepper, clock, t0 + 95)
    assert [t for t in runs if t0 <= t < t0 + 95] == []


def test_every_app_is_refreshed_by_apscheduler_round_robin(clock: JumpClock) -> None:
    rt, rec = runtime(100, clock)
    effective = rt.refresher.interval("realtime_operation")
    assert effective > 10  # the quota sets the pace
    _, stepper = started(rt, clock)
    run_until(stepper, clock, clock.t + 4 * effective)
    assert len(rec.calls) == 100
    for times in rec.calls.values():
        periods = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(periods) >= 3
        assert max(periods) <= 1.1 * effective


def test_a_shorter_plan_wakes_apscheduler_and_brings_the_next_run_forward(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    apps = [f"app-{i:04d}" for i in range(300)]
    rt, vendor, clock = build(
        apps,
        only("apps", "realtime_operation", "realtime_quality"),
        apps=None,
        rate_limit={"requests_per_second": 2.0, "headroom": 0.9, "max_retries": 0},
        planning={"traffic_floor": 0},  # one tier: the quota stretches every app's interval
    )
    monkeypatch.setattr(aps_base, "datetime", virtual_datetime(clock))
    wall = lambda: dt.datetime.fromtimestamp(clock.time(), dt.UTC)  # noqa: E731
    stepper = Stepper()
    scheduler = TimerScheduler(rt.refresher, jitter=0.0, wall=wall, apscheduler=stepper)
    scheduler.start()
    stepper.step()  # every source once: 300 apps, the quota stretches realtime_quality
    long = rt.refresher.interval("realtime_quality")
    assert long > 300
    planned = scheduler.next_run("realtime_quality")
    wakeups = stepper.wakeups
    vendor.apps = [KEEP]
    rt.refresher.refresh("apps")  # the app list shrinks: the plan shortens
    assert stepper.wakeups > wakeups  # APScheduler is woken ...
    assert rt.refresher.interval("realtime_quality") == 60.0
    nxt = scheduler.next_run("realtime_quality")
    assert planned is not None and nxt is not None
    assert planned - nxt == pytest.approx(long - 60.0)  # the next run comes forward
    per_cycle = vendor.count(QUALITY, {KEEP})  # the first cycle's calls for KEEP
    assert per_cycle > 0
    run_until(stepper, clock, max(nxt, clock.t) + 1)  # ... and runs it by the new plan
    assert vendor.count(QUALITY, {KEEP}) == 2 * per_cycle


class _Job:
    def __init__(self, job_id: str) -> None:
        self.id = job_id
        self.next_run_time: dt.datetime | None = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def test_the_store_maps_the_monotonic_plan_into_the_wall_clock_of_each_read() -> None:
    clock = JumpClock(1000.0)
    due = {"a": 1010.0, "b": 1005.0, "paused": 1001.0}
    store = PlanJobStore(lambda name, _: due[name], clock.monotonic, clock.wall)
    for job_id in due:
        store.add_job(_Job(job_id))
    store.lookup_job("paused").next_run_time = None
    assert store.get_next_run_time() == clock.wall() + dt.timedelta(seconds=5)
    clock.offset -= 600  # set back: b is still 5 s away, not 605
    assert store.get_next_run_time() == clock.wall() + dt.timedelta(seconds=5)
    clock.t += 5
    assert [j.id for j in store.get_due_jobs(clock.wall())] == ["b"]
    clock.offset += 1800  # set forward: a is still 5 s away, nothing bunches
    assert [j.id for j in store.get_due_jobs(clock.wall())] == ["b"]
    assert [j.id for j in store.get_all_jobs()] == ["b", "a", "paused"]
    due["b"] = 5000.0
    assert store.get_next_run_time() == clock.wall() + dt.timedelta(seconds=5)
    due["a"] = 5000.0  # nothing for an hour: APScheduler still re-reads the plan soon
    assert store.get_next_run_time() == clock.wall() + dt.timedelta(seconds=GUARD_SECONDS)


def test_a_freed_scheduler_is_never_due_and_holds_nothing_alive(clock: JumpClock) -> None:
    rt, _ = runtime(1, clock)
    stepper = Stepper()
    scheduler = TimerScheduler(rt.refresher, jitter=0.0, wall=clock.wall, apscheduler=stepper)
    stepper.start()
    ref = weakref.ref(scheduler)
    del scheduler
    assert ref() is None  # freed at once: APScheduler and the refresher hold it weakly
    soon = clock.wall() + dt.timedelta(days=300)
    assert stepper.get_jobs()[0].next_run_time > soon  # its jobs never come due
    rt.refresher.request_run("realtime_operation", 0.0)  # the refresher's call is a no-op
    assert stepper.step() == GUARD_SECONDS


def test_the_trigger_is_always_later_than_now() -> None:
    clock = JumpClock(1000.0)
    trigger = PlanTrigger("a", lambda *_: 990.0, clock.monotonic)  # overdue
    now = clock.wall()
    assert trigger.get_next_fire_time(now, now) > now  # APScheduler loops until it is
    later = PlanTrigger("a", lambda *_: 1030.0, clock.monotonic)
    assert later.get_next_fire_time(None, now) == now + dt.timedelta(seconds=30)


class Signalling(Recorder):
    def __init__(self, clock: Any) -> None:
        super().__init__(clock)
        self.called = threading.Semaphore(0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.called.release()
        return response


def test_the_background_scheduler_runs_wakes_on_request_and_stops() -> None:
    clock = FrozenClock(1_000_000.0)
    hourly = ONLY_OPERATIONS | {"realtime_operation": {"interval_seconds": 3600}}
    settings = make_settings(apps=[{"app_id": "a"}], sources=hourly)
    rec = Signalling(clock)
    rt = Runtime.build(settings, transport=rec, clock=clock)
    scheduler = rt.engine.scheduler
    assert scheduler is not None
    before = set(threading.enumerate())
    try:
        scheduler.start()
        (thread,) = [t for t in set(threading.enumerate()) - before if t.name == "APScheduler"]
        assert thread.daemon
        assert rec.called.acquire(timeout=10)  # the first run, at once
        rt.refresher.trigger("realtime_operation").result(10)  # (joins it: over)
        assert rt.refresher.interval("realtime_operation") == 3600.0
        rt.refresher.request_run("realtime_operation", 0.0)  # wakes APScheduler's thread
        assert rec.called.acquire(timeout=10)  # long before the hour
    finally:
        rt.stop()  # shuts the scheduler down
    assert not thread.is_alive()
    assert len(rec.calls["a"]) == 2


def test_apscheduler_runs_that_come_due_during_an_overrun_are_skipped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = FrozenClock(1_000_000.0)  # real threads: monotonic time must really pass
    monkeypatch.setattr(aps_base, "datetime", virtual_datetime(clock))
    rt, rec = runtime(
        2, clock, inline=False, rate_limit={"requests_per_second": 1e4, "headroom": 1}
    )
    rec.block = threading.Event()
    stepper = Stepper()
    wall = lambda: dt.datetime.fromtimestamp(clock.time(), dt.UTC)  # noqa: E731
    scheduler = TimerScheduler(rt.refresher, jitter=0.0, wall=wall, apscheduler=stepper)
    try:
        scheduler.start()
        stepper.step()  # starts a cycle that hangs
        for _ in range(3):
            clock.t += 10
            stepper.step()
        skipped = rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_runs_skipped_total", {"source": "realtime_operation"}
        )
        assert skipped == 3
        hung = rt.refresher.trigger("realtime_operation")  # joins the hung cycle
        rec.block.set()
        hung.result(10)
        started = rt.cache.status("realtime_operation").cycle_started
        clock.t += 10
        stepper.step()  # caught up: the next run is a run again
        assert rt.cache.status("realtime_operation").cycle_started != started
    finally:
        rec.block.set()
        rt.stop()
