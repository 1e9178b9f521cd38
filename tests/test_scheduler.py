"""The timer scheduler in virtual time: round robin, overruns, clock jumps, skipped runs."""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from typing import Any

import httpx
import pytest

from exporter.collectors import SOURCES
from exporter.runtime import Runtime
from exporter.scheduler import TimerScheduler
from tests.conftest import FrozenClock, VirtualClock, VirtualWaiter, envelope, make_settings

ONLY_OPERATIONS: dict[str, Any] = {
    cls.name: {"enabled": cls.name == "realtime_operation"} for cls in SOURCES
} | {"realtime_operation": {"interval_seconds": 10}}


class Recorder(httpx.BaseTransport):
    """Answers every call at once with one fresh point; records (app_id, virtual time)."""

    def __init__(self, clock: Any) -> None:
        self.clock = clock
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.block: threading.Event | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.block is not None:
            self.block.wait(10)
        body = json.loads(request.content or b"{}")
        self.calls[body.get("AppId", "")].append(self.clock.monotonic())
        point = {"TimeStamp": "2024-01-02T19:58:00+08:00", "Value": 5}
        result = {"Indicators": [{"Name": "online_user_count", "Unit": "", "Data": [point]}]}
        return httpx.Response(200, content=envelope(result))


def runtime(apps: int, clock: Any, inline: bool = True, **kw: Any) -> tuple[Runtime, Recorder]:
    settings = make_settings(
        apps=[{"app_id": f"app{i:03d}"} for i in range(apps)],
        sources=ONLY_OPERATIONS,
        **({"rate_limit": {"headroom": 0.9, "requests_per_second": None}} | kw),
    )
    rec = Recorder(clock)
    waiter = VirtualWaiter(clock) if inline else None
    rt = Runtime.build(settings, transport=rec, clock=clock, waiter=waiter, inline=inline)
    return rt, rec


def drive(rt: Runtime, clock: VirtualClock, until: float, check: Any = None) -> None:
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    while clock.t < until:
        nearest = scheduler.tick()
        if check is not None:
            check()
        clock.t = max(clock.t, nearest)


@pytest.mark.parametrize("apps", [100, 500])
def test_every_app_is_refreshed_round_robin_and_never_vanishes(apps: int) -> None:
    clock = VirtualClock(1_000_000.0)
    rt, rec = runtime(apps, clock)
    effective = rt.refresher.interval("realtime_operation")
    assert effective > 10  # the quota, not the configured 10 s, sets the pace
    start = clock.t
    seen_down: list[float] = []

    def check() -> None:
        if clock.t - start < effective:
            return  # the first cycle is still filling the cache
        (up,) = [m for m in rt.registry.collect() if m.name == "volcengine_rtc_exporter_source_up"]
        values = {s.labels["app_id"]: s.value for s in up.samples}
        if len(values) != apps or set(values.values()) != {1.0}:
            seen_down.append(clock.t)

    drive(rt, clock, start + 4 * effective, check)
    assert seen_down == []
    assert len(rec.calls) == apps
    for times in rec.calls.values():
        periods = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert len(periods) >= 3
        assert max(periods) <= 1.1 * effective


def test_a_wall_clock_jump_neither_stops_refreshes_nor_ages_data() -> None:
    class JumpClock(VirtualClock):
        offset = 0.0

        def time(self) -> float:
            return self.t + self.offset

    clock = JumpClock(1_000_000.0)
    rt, rec = runtime(3, clock)
    drive(rt, clock, clock.t + 60)
    before = len(rec.calls["app000"])
    for jump in (-600.0, +1200.0):
        clock.offset += jump
        t0 = clock.t
        drive(rt, clock, t0 + 95)
        times = [t for t in rec.calls["app000"] if t >= t0]
        assert len(times) >= 9  # still every 10 s on the monotonic clock
        up = rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_up",
            {"source": "realtime_operation", "app_id": "app000"},
        )
        assert up == 1.0
        last = rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_last_success_timestamp_seconds",
            {"source": "realtime_operation", "app_id": "app000"},
        )
        assert last == pytest.approx(clock.time(), abs=11)  # exported in wall time
    assert before >= 6


def test_overruns_are_skipped_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FrozenClock(1_000_000.0)  # real threads: monotonic time must really pass
    rt, rec = runtime(
        2, clock, inline=False, rate_limit={"requests_per_second": 1e4, "headroom": 1}
    )
    rec.block = threading.Event()
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    caplog.set_level(logging.INFO)
    try:
        scheduler.tick()  # starts a cycle that hangs
        for _ in range(3):
            clock.t += 10
            scheduler.tick()
        skipped = rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_runs_skipped_total", {"source": "realtime_operation"}
        )
        assert skipped == 3
        warnings = [r for r in caplog.records if "still running" in r.getMessage()]
        assert len(warnings) == 1
        rec.block.set()
        rt.refresher.trigger("realtime_operation").result(10)
        clock.t += 10
        scheduler.tick()
        assert any("caught up" in r.getMessage() for r in caplog.records)
    finally:
        rec.block.set()
        rt.stop()


def test_shutdown_cancels_waits_for_a_slot() -> None:
    clock = VirtualClock(1_000_000.0)
    settings = make_settings(
        apps=[{"app_id": "a"}],
        provider="byteplus",
        rate_limit={
            "headroom": 0.9,
            "requests_per_second": None,
            "quotas": {"ListRealTimeOperationData": {"per_day": 2}},
        },
        sources=ONLY_OPERATIONS,
    )
    rec = Recorder(clock)
    rt = Runtime.build(settings, transport=rec, clock=clock)
    rt.refresher.refresh("realtime_operation")  # one send: the next slot is half a day away
    fut = rt.refresher.trigger("realtime_operation")
    rt.stop()
    fut.result(timeout=10)  # the cycle ended: its wait was cancelled
    assert len(rec.calls["a"]) == 1
