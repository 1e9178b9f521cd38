"""A whole day of a BytePlus account in virtual time: the simulator enforces every per-second,
per-minute and per-day window; the exporter must never be refused and must refresh every source
at its planned interval."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest

from exporter.collectors import SOURCES
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
        self.errors: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            self.errors.append(
                f"{request.url.params['Action']} at {self.clock.t} {request.url.params.get('StartTime')}: {response.read()[:300]!r}"
            )
        self.times[request.url.params["Action"]].append(self.clock.t)
        return response


CYCLE_CALLS = {  # source -> (action, calls per cycle) for 10 apps and one watched room
    "realtime_operation": ("ListRealTimeOperationData", 10),
    "realtime_quality": ("ListRealTimeQuality", 20),
    "quality_report": ("ListQuality", 20),
    "operation_report": ("ListOperationData", 10),
    "call_detail": ("ListCallDetail", 1),
    "realtime_breakdown": ("ListRealTimeQualityDistribution", 200),
    # BytePlus's ListQualityDistribution page has no Province: os and network only
    "report_breakdown": ("ListQualityDistribution", 200),
    "operation_breakdown": ("ListOperationDistribution", 20),
}


@pytest.mark.slow  # a minute of simulated vendor data; the windows are unit-tested in test_limiter
@pytest.mark.parametrize("source", list(CYCLE_CALLS))
def test_a_byteplus_day_with_ten_apps_and_a_watch_list_is_never_throttled(source: str) -> None:
    """Each source on its own virtual clock (sources use different actions, so they never share
    a quota window; in the exporter they run in parallel threads): 24 h of a BytePlus account."""
    clock = VirtualClock(1_704_067_200.0)  # 2024-01-01T00:00:00Z
    sim = Simulator(
        apps=10, credentials={AK: SK}, provider="byteplus", clock=clock, sleep=clock.advance
    )
    transport = Counting(sim.transport(), clock)
    apps: list[dict[str, Any]] = [{"app_id": a.app_id} for a in sim.running_apps]
    apps[0]["call_detail"] = [{"room_id": DEMO_ROOM, "user_ids": DEMO_USERS}]
    only = {cls.name: {"enabled": cls.name == source} for cls in SOURCES}
    only["realtime_operation"] |= {"interval_seconds": 300}
    only["realtime_quality"] |= {"interval_seconds": 300}
    only["call_detail"] |= {"window_seconds": 200}
    settings = make_settings(
        provider="byteplus",
        apps=apps,
        rate_limit={"headroom": 0.9, "requests_per_second": None, "max_retries": 0},
        sources=only,
    )
    rt = Runtime.build(
        settings, transport=transport, clock=clock, waiter=VirtualWaiter(clock), inline=True
    )
    plan = rt.refresher.plan.sources[source]
    action, calls = CYCLE_CALLS[source]
    assert plan.calls == {action: calls}
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    start = clock.t
    while clock.t < start + DAY:
        nearest = scheduler.tick()  # inline: the due cycle runs now, moving the clock
        clock.t = max(clock.t, nearest)
    assert transport.statuses[429] == 0, transport.statuses
    assert set(transport.statuses) == {200}, transport.errors[:3]
    # the source ran at its planned interval: as many cycles as the day allows, give or take one
    sent = [t for t in transport.times[action] if t < start + DAY]
    expected = DAY / plan.effective
    assert expected - 1 <= len(sent) / calls <= expected + 1, (len(sent) / calls, expected)
    # and the vendor's own windows agree
    quota = rt.engine.limiters.quota(action)
    if quota.per_day:
        assert len(sent) <= quota.per_day
    if quota.per_minute:
        assert max(sum(1 for u in sent if t <= u < t + 60) for t in sent) <= quota.per_minute
    rt.stop()
