"""A whole day of a BytePlus account in virtual time: the simulator enforces every per-second,
per-minute and per-day window; the exporter must never be refused and must refresh every source
at its planned interval."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest

from exporter.runtime import Runtime
from exporter.scheduler import TimerScheduler
from exporter.simulator import Simulator
from exporter.simulator.demo import DEMO_ROOM, DEMO_USERS
from tests.conftest import AK, SK, VirtualClock, VirtualWaiter, make_settings

DAY = float(__import__("os").environ.get("QUOTA_DAY_SECONDS", "86400"))


class Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, clock: VirtualClock) -> None:
        self.inner, self.clock = inner, clock
        self.statuses: Counter[int] = Counter()
        self.times: dict[str, list[float]] = defaultdict(list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.statuses[response.status_code] += 1
        self.times[request.url.params["Action"]].append(self.clock.t)
        return response


@pytest.mark.slow  # a minute of simulated vendor data; the windows are unit-tested in test_limiter
def test_a_byteplus_day_with_ten_apps_and_a_watch_list_is_never_throttled() -> None:
    clock = VirtualClock(1_704_067_200.0)  # 2024-01-01T00:00:00Z
    sim = Simulator(
        apps=10, credentials={AK: SK}, provider="byteplus", clock=clock, sleep=clock.advance
    )
    transport = Counting(sim.transport(), clock)
    apps: list[dict[str, Any]] = [{"app_id": a.app_id} for a in sim.running_apps]
    apps[0]["call_detail"] = [{"room_id": DEMO_ROOM, "user_ids": DEMO_USERS}]
    settings = make_settings(
        provider="byteplus",
        apps=apps,
        rate_limit={"headroom": 0.9, "requests_per_second": None, "max_retries": 0},
        sources={
            "realtime_operation": {"interval_seconds": 300},
            "realtime_quality": {"interval_seconds": 300},
            "call_detail": {"window_seconds": 200},
            "apps": {"enabled": False},
        },
    )
    rt = Runtime.build(
        settings, transport=transport, clock=clock, waiter=VirtualWaiter(clock), inline=True
    )
    plan = rt.refresher.plan.sources
    # the planner lengthened what the BytePlus quota cannot deliver
    assert plan["quality_report"].effective > 8 * 3600
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    start = clock.t
    while clock.t < start + DAY:
        clock.t = max(clock.t, scheduler.tick())
    assert transport.statuses[429] == 0, transport.statuses
    assert set(transport.statuses) == {200}
    # every source ran at its planned interval: as many cycles as the day allows, give or take one
    per_cycle = {
        "quality_report": ("ListQuality", 20),
        "operation_report": ("ListOperationData", 10),
        "realtime_operation": ("ListRealTimeOperationData", 10),
        "realtime_quality": ("ListRealTimeQuality", 20),
        "call_detail": ("ListCallDetail", 1),
    }
    for source, (action, calls) in per_cycle.items():
        cycles = len(transport.times[action]) / calls
        expected = DAY / plan[source].effective
        assert expected - 1 <= cycles <= expected + 1, (source, cycles, expected)
    # and the vendor's own windows agree: at most 60 ListQuality calls in the day
    assert len(transport.times["ListQuality"]) <= 60
    rt.stop()
