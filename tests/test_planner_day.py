"""Done-when of traffic-aware planning, in virtual time with the simulator's quotas: 500 apps,
heavy-tailed (20 apps with thousands of users, 480 under the traffic floor)."""

from __future__ import annotations

import pytest

from exporter.collectors import SOURCES
from exporter.runtime import Runtime
from exporter.simulator import Simulator
from tests.conftest import AK, SK, VirtualWaiter, make_settings
from tests.lanes import Calls, LaneClock, drive

T0 = 1_704_198_600.0  # 2024-01-02 12:30 UTC, 20:30 in +08:00: the evening peak
BUSY_PEAKS = [6000 - 250 * i for i in range(20)]  # 6,000 .. 1,250 users; the rest 20
LIVE = "ListRealTimeQuality"


def account(apps: int, lanes: list[str], **sources: dict[str, object]) -> tuple[Runtime, ...]:
    clock = LaneClock(T0, lanes)
    peaks = BUSY_PEAKS + [20] * (apps - len(BUSY_PEAKS))
    sim = Simulator(apps=apps, credentials={AK: SK}, clock=clock, sleep=clock.advance,
                    peaks=peaks)  # fmt: skip
    calls = Calls(sim.transport(), clock)
    enabled = {cls.name: {"enabled": cls.name in lanes} for cls in SOURCES}
    for name, extra in sources.items():
        enabled[name] |= extra
    settings = make_settings(
        apps=[{"app_id": a.app_id, "name": a.name} for a in sim.running_apps],
        rate_limit={"headroom": 0.9, "requests_per_second": None, "max_retries": 0},
        sources=enabled,
    )
    rt = Runtime.build(settings, transport=calls, clock=clock, waiter=VirtualWaiter(clock),
                       inline=True)  # fmt: skip
    return rt, sim, clock, calls


def refreshes(times: list[float]) -> list[float]:
    """One time per refresh of an app (its calls, one per product type, come together)."""
    out: list[float] = []
    for t in sorted(times):
        if not out or t - out[-1] > 10:
            out.append(t)
    return out


@pytest.mark.slow  # ~20,000 simulated calls
def test_busy_apps_stay_fresh_and_every_app_keeps_its_series_at_500_apps() -> None:
    rt, sim, clock, calls = account(500, ["realtime_operation", "realtime_quality"])
    busy_ids = {a.app_id for a in sim.running_apps[:20]}
    end = T0 + 2 * 3600
    drive(rt.refresher, clock, end)
    plan = rt.refresher.plan.sources["realtime_quality"]
    assert rt.refresher.traffic.busy() == busy_ids
    assert plan.tiers["busy"].apps == 20 and plan.tiers["tail"].apps == 480
    tail_interval = plan.tiers["tail"].interval
    assert calls.statuses() == {200: len(calls.sent)}  # 0 x 429
    # from the first realtime_operation cycle on (the tiers are known), measured per app
    settled = T0 + rt.refresher.plan.sources["realtime_operation"].effective + 120
    times = calls.times(LIVE)
    busy_gaps = []
    for app_id in busy_ids:
        seen = [t for t in refreshes(times[app_id]) if t >= settled]
        busy_gaps += [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert busy_gaps and max(busy_gaps) <= 1.5 * 60, max(busy_gaps)
    tail_gaps = []
    for app in sim.running_apps[20:]:
        seen = refreshes(times[app.app_id])
        assert seen, app.app_id
        seen = [settled, *(t for t in seen if t >= settled), end]
        tail_gaps += [b - a for a, b in zip(seen, seen[1:], strict=False)]
    assert max(tail_gaps) <= tail_interval, (max(tail_gaps), tail_interval)
    # every app keeps its series: the quality of all 500 apps is exported at the end
    clock.lane = "realtime_quality"
    body = rt.collector.collect()
    stall = next(f for f in body if f.name == "volcengine_rtc_stall_ratio")
    assert {s.labels["app_id"] for s in stall.samples} == {a.app_id for a in sim.running_apps}
    rt.stop()
