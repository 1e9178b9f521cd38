"""Traffic-aware planning: busy apps at the configured interval as far as the quota allows, the
tail in chunks with its minimum share, tiers from the online users, the cycle's order."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.planner import MARGIN, make_plan
from exporter.runtime import Runtime
from exporter.settings import PlanningSettings
from exporter.traffic import Traffic
from exporter.types import AppTarget
from tests.conftest import FrozenClock, envelope, make_settings

SECONDS_PER_CALL = MARGIN / 1.8  # 2/s x 0.9 headroom, plus the planning margin


def runtime(apps: int, **kw: Any) -> Runtime:
    app_list = [{"app_id": f"app{i:03d}"} for i in range(apps)]
    settings = make_settings(
        apps=app_list, rate_limit={"headroom": 0.9, "requests_per_second": None}, **kw
    )
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=envelope({})))
    return Runtime.build(settings, transport=transport, clock=FrozenClock(0))


def plan_for(rt: Runtime, busy: int, share: float = 0.2) -> Any:
    targets = rt.targets.current()
    hot = frozenset(a.app_id for a in targets[:busy])
    return make_plan(rt.sources, targets, rt.engine.limiters, hot, share)


def test_busy_apps_keep_the_configured_interval_and_the_tail_shares_the_rest() -> None:
    rt = runtime(500)
    q = plan_for(rt, 20).sources["realtime_quality"]
    assert q.tiers["busy"].apps == 20 and q.tiers["tail"].apps == 480
    assert q.effective == q.configured == 60  # 40 busy calls need 23 s of the 60 s
    # the rest of the cycle: 60 s / 0.583 s = 102 calls, 40 for the busy apps, 31 tail apps
    chunk = math.floor((60 - 40 * SECONDS_PER_CALL) / (2 * SECONDS_PER_CALL))
    assert q.tail_per_cycle == chunk == 31
    assert q.tiers["tail"].interval == math.ceil(480 / chunk) * 60
    assert q.calls == {"ListRealTimeQuality": 40 + 2 * chunk}
    assert q.calls["ListRealTimeQuality"] * SECONDS_PER_CALL <= q.effective  # within quota
    assert q.staleness == 3 * q.tiers["tail"].interval  # tail series never go stale
    # the even spread gave every app 583 s; the breakdown's busy apps get their 300 s too
    b = plan_for(rt, 20).sources["realtime_breakdown"]
    assert b.effective == 300 and b.tiers["tail"].apps == 480 and b.tail_per_cycle >= 1


def test_the_tail_keeps_its_minimum_share_when_busy_apps_outgrow_the_quota() -> None:
    rt = runtime(300)
    q = plan_for(rt, 200, share=0.25).sources["realtime_quality"]
    need = 400 * SECONDS_PER_CALL  # 233 s for the busy apps alone
    assert q.effective == pytest.approx(need / 0.75)  # the busy tier is lengthened...
    tail_calls = q.calls["ListRealTimeQuality"] - 400
    assert tail_calls * SECONDS_PER_CALL >= 0.25 * q.effective - 2 * SECONDS_PER_CALL
    assert q.tail_per_cycle >= 1  # ...and the tail never starves
    assert q.calls["ListRealTimeQuality"] * SECONDS_PER_CALL <= q.effective + 1e-6
    assert "busy-tier ListRealTimeQuality calls" in q.arithmetic()


def test_no_busy_app_and_no_tail() -> None:
    rt = runtime(100)
    idle = plan_for(rt, 0).sources["realtime_quality"]
    assert idle.tiers["busy"].apps == 0 and idle.effective == 60
    assert idle.tiers["tail"].interval == 2 * 60  # 51 of the 100 per cycle
    hot = plan_for(rt, 100).sources["realtime_quality"]
    assert hot.tiers["tail"].apps == 0 and hot.tail_per_cycle is None
    assert hot.effective == pytest.approx(200 * SECONDS_PER_CALL)  # the even spread


def test_untiered_sources_have_no_tiers() -> None:
    plan = plan_for(runtime(10), 2)
    assert plan.sources["realtime_operation"].tiers == {}
    assert plan.sources["report_breakdown"].tiers == {}
    assert "busy 2 @ 60s, tail 8 @ 60s" in plan.table()


def test_traffic_tiers_follow_the_peak_of_the_window() -> None:
    t = Traffic(PlanningSettings(traffic_floor=50, traffic_window_seconds=600), signal=True)
    assert t.busy() == frozenset()  # no reading yet: tail
    assert t.observe("a", 80, now=0) and t.busy() == {"a"}
    assert not t.observe("a", 3, now=300)  # the peak of the window still counts
    assert t.peak("a") == 80 and t.busy() == {"a"}
    assert t.observe("a", 3, now=601)  # the 80 left the window
    assert t.busy() == frozenset() and t.peak("a") == 3
    v = t.version
    t.observe("b", 50, now=700)
    assert t.busy() == {"b"} and t.version == v + 1
    t.forget({"a"})
    assert t.busy() == frozenset()
    assert Traffic(PlanningSettings(traffic_floor=0), signal=True).busy() is None
    assert Traffic(PlanningSettings(), signal=False).busy() is None  # no realtime_operation


def test_a_cycle_takes_trouble_then_busy_by_traffic_then_the_oldest_tail() -> None:
    t = Traffic(PlanningSettings(), signal=True)
    apps = [AppTarget(f"app{i}") for i in range(8)]
    for app_id, users in (("app5", 900), ("app2", 60), ("app7", 5000), ("app1", 3)):
        t.observe(app_id, users, now=0)
    order = t.cycle("q", apps, 2, now=10, first=frozenset({"app4"}))
    assert [a.app_id for a in order] == ["app4", "app7", "app5", "app2", "app0", "app1"]
    # the next chunk is the tail apps refreshed longest ago (never first), round and round
    order = t.cycle("q", apps, 2, now=20)
    assert [a.app_id for a in order][3:] == ["app3", "app4"]
    assert [a.app_id for a in t.cycle("q", apps, 2, now=30)][3:] == ["app6", "app0"]


def test_planning_settings_are_validated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from exporter.cli import main

    path = tmp_path / "c.yml"
    for bad, key in (
        ("planning: {tail_min_share: 0}", "planning.tail_min_share"),
        ("planning: {traffic_floor: -1}", "planning.traffic_floor"),
        ("planning: {triggers: {thresholds: {video_stall_max: 2}}}", "video_stall_max"),
        ("planning: {triggers: {thresholds: {video_stall: 0.1}}}", "video_stall"),
    ):
        path.write_text("credentials: {access_key_id: A, secret_access_key: B}\n" + bad + "\n")
        assert main(["--config.file", str(path), "--config.check"]) == 2, bad
        err = capsys.readouterr().err
        assert key in err and "Traceback" not in err, err


def test_an_app_taking_traffic_is_busy_after_one_realtime_operation_cycle() -> None:
    from tests.faults.harness import build, only, value

    apps = [f"app-{i:04d}" for i in range(10)]
    configured = [{"app_id": a} for a in apps]
    rt, vendor, _ = build(apps, only("realtime_operation", "realtime_quality"), apps=configured)
    users = {a: 5.0 for a in apps}

    def traffic(action: str, params: dict[str, Any]) -> None:
        vendor.value = users.get(params.get("AppId", ""), 1.0) if "Operation" in action else 1.0

    vendor.hook = traffic
    rt.refresher.refresh("realtime_operation")
    tier = "volcengine_rtc_exporter_source_tier_apps"
    assert value(rt, tier, source="realtime_quality", tier="busy") == 0
    assert value(rt, tier, source="realtime_quality", tier="tail") == 10
    users["app-0007"] = 500.0  # starts taking traffic
    rt.refresher.refresh("realtime_operation")  # one cycle later: busy
    assert rt.refresher.traffic.busy() == {"app-0007"}
    assert value(rt, tier, source="realtime_quality", tier="busy") == 1
    assert value(rt, tier, source="realtime_quality", tier="tail") == 9
    seconds = "volcengine_rtc_exporter_source_tier_interval_seconds"
    assert value(rt, seconds, source="realtime_quality", tier="busy") == 60
    start = len(vendor.calls)
    rt.refresher.refresh("realtime_quality")
    first = next(app for action, app, _ in vendor.calls[start:] if action == "ListRealTimeQuality")
    assert first == "app-0007"  # the busy app first
    page = rt.view.landing()
    assert "Busy apps (1" in page and "app-0007" in page and "500 users at peak" in page


def test_a_busy_apps_data_goes_stale_at_the_busy_pace_and_tiers_survive_a_reload() -> None:
    from tests.faults.harness import build, only, series

    apps = [f"app-{i:04d}" for i in range(200)]
    configured = [{"app_id": a} for a in apps]
    quota = {"requests_per_second": 2.0, "headroom": 0.9, "max_retries": 0}
    sources = only("realtime_operation", "realtime_quality")
    rt, vendor, clock = build(apps, sources, apps=configured, rate_limit=quota)
    vendor.hook = lambda action, params: setattr(
        vendor, "value", 500.0 if "Operation" in action and params["AppId"] == "app-0007" else 1.0
    )
    rt.refresher.refresh("realtime_operation")
    rt.refresher.refresh("realtime_quality")
    plan = rt.refresher.plan.sources["realtime_quality"]
    assert plan.busy_staleness == 180 < plan.staleness  # 3 x 60 s; the tail's: 3 x its interval
    assert rt.refresher.staleness("realtime_quality", "app-0007") == 180
    assert rt.refresher.staleness("realtime_quality", "app-0001") == plan.staleness
    for pt in ("native", "web"):
        vendor.fail[("ListRealTimeQuality", pt)] = "InternalError"
    clock.advance(181)
    rt.refresher.refresh("realtime_quality")  # fails for the apps it calls
    stall = series(rt, "volcengine_rtc_stall_ratio")
    shown = {dict(labels)["app_id"] for labels in stall}
    assert "app-0007" not in shown  # the busy app's data is stale after 3 busy intervals
    assert "app-0001" in shown  # a tail app's is not: it is refreshed less often
    rt.reload(rt.settings)
    assert rt.refresher.traffic.busy() == {"app-0007"}  # the new engine goes on with the tiers
    rt.refresher.replan()
    assert rt.refresher.plan.sources["realtime_quality"].tiers["busy"].apps == 1


def test_only_busy_apps_trigger_a_breakdown() -> None:
    from tests.faults.harness import build, only

    apps = [f"app-{i:04d}" for i in range(4)]
    configured = [{"app_id": a} for a in apps]
    sources = only("realtime_operation", "realtime_quality", "realtime_breakdown")
    rt, vendor, _ = build(apps, sources, apps=configured)

    def values(action: str, params: dict[str, Any]) -> None:
        busy = params.get("AppId") == "app-0002"
        if "Operation" in action:
            vendor.value = 500.0 if busy else 5.0
        else:  # every app's quality is bad: 50 % join success, 50 % stall
            vendor.value = 50.0

    vendor.hook = values
    rt.refresher.refresh("realtime_operation")
    rt.refresher.refresh("realtime_quality")
    called = {app for action, app, _ in vendor.calls if action == "ListRealTimeQualityDistribution"}
    assert called == {"app-0002"}  # the tail's few users: no trigger, no quota spent
    assert rt.refresher.ondemand.judge.troubled() == {"app-0002"}


def test_a_triggered_answer_replaces_its_series_and_keeps_the_entrys_fetch_time() -> None:
    from tests.faults.harness import build, only, series

    configured = [{"app_id": "app-0000"}]
    sources = only("realtime_operation", "realtime_quality", "realtime_breakdown")
    rt, vendor, clock = build(["app-0000"], sources, apps=configured)
    state = {"bad": False}

    def values(action: str, params: dict[str, Any]) -> None:
        if "Operation" in action:
            vendor.value = 500.0
        elif "Distribution" in action:
            vendor.value = 77.0 if state["bad"] else 1.0
        else:
            vendor.value = 50.0 if state["bad"] else 1.0

    vendor.hook = values
    rt.refresher.refresh("realtime_operation")
    rt.refresher.refresh("realtime_breakdown")
    fetched = rt.cache.get("realtime_breakdown", "app-0000").fetched_mono  # type: ignore[union-attr]
    clock.advance(100)
    state["bad"] = True
    # 50 % join success triggers; this fake names its stall without a medium, which no alert
    # judges: no trigger for the stall
    rt.refresher.refresh("realtime_quality")
    entry = rt.cache.get("realtime_breakdown", "app-0000")
    assert entry is not None and entry.fetched_mono == fetched  # the others look no fresher
    join = series(rt, "volcengine_rtc_breakdown_join_room_success_ratio")
    assert set(join.values()) == {0.77} and len(join) == 4  # 2 product types x 2 dimensions
    stall = series(rt, "volcengine_rtc_breakdown_stall_ratio")
    assert set(stall.values()) == {0.01}  # not triggered: the routine answer stays
