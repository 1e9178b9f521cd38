"""The quota planner: effective intervals from the app list and every quota window."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from exporter.planner import MARGIN
from exporter.runtime import Runtime
from tests.conftest import FrozenClock, envelope, make_settings


def runtime(apps: int, **kw: Any) -> Runtime:
    app_list = [{"app_id": f"app{i:03d}"} for i in range(apps)]
    settings = make_settings(
        apps=app_list, rate_limit={"headroom": 0.9, "requests_per_second": None}, **kw
    )
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=envelope({})))
    return Runtime.build(settings, transport=transport, clock=FrozenClock(0))


def test_a_slow_quota_lengthens_the_interval_instead_of_losing_series() -> None:
    # traffic_floor 0: every app is busy, one tier (tests/test_planner_tiers.py: two tiers)
    rt = runtime(
        100, sources={"realtime_operation": {"interval_seconds": 10}}, planning={"traffic_floor": 0}
    )
    p = rt.refresher.plan.sources["realtime_operation"]
    # 100 calls at 2/s x 0.9: 55.6 s, plus the planning margin
    assert p.calls == {"ListRealTimeOperationData": 100}
    assert p.effective == pytest.approx(100 / 1.8 * MARGIN)
    assert p.lengthened and p.staleness == pytest.approx(3 * p.effective)
    assert "100 ListRealTimeOperationData calls per cycle" in p.arithmetic()
    # two product types are two calls per app
    q = rt.refresher.plan.sources["realtime_quality"]
    assert q.calls == {"ListRealTimeQuality": 200}
    assert q.effective == pytest.approx(200 / 1.8 * MARGIN)


def test_within_quota_keeps_the_configured_interval() -> None:
    rt = runtime(3)
    for p in rt.refresher.plan.sources.values():
        assert p.effective == p.configured and not p.lengthened
        assert p.arithmetic() == "within quota"


def test_byteplus_daily_caps_are_spread_over_the_day() -> None:
    rt = runtime(10, provider="byteplus", endpoint="http://rtc.test")
    p = rt.refresher.plan.sources["quality_report"]
    # ListQuality 60/day x 0.9 headroom: 20 calls per cycle (10 apps x 2 product types)
    assert p.calls == {"ListQuality": 20}
    assert p.effective == pytest.approx(20 * 86400 / 54 * MARGIN)
    assert p.limited_by == "ListQuality day"
    assert 86400 / p.effective * 20 <= 54  # calls per day within the cap


def test_shards_divide_the_quota() -> None:
    one = runtime(100, sources={"realtime_operation": {"interval_seconds": 10}})
    two = runtime(100, sources={"realtime_operation": {"interval_seconds": 10}}, shard="1/2")
    a = one.refresher.plan.sources["realtime_operation"]
    b = two.refresher.plan.sources["realtime_operation"]
    # each shard serves about half the apps at half the quota: the same period
    assert b.calls["ListRealTimeOperationData"] < 100
    assert b.effective == pytest.approx(
        b.calls["ListRealTimeOperationData"] / 0.9 * MARGIN, rel=1e-6
    )
    assert a.effective == pytest.approx(100 / 1.8 * MARGIN)


def test_configured_staleness_never_shorter_than_two_intervals() -> None:
    rt = runtime(
        100, sources={"realtime_operation": {"interval_seconds": 10, "max_staleness_seconds": 20}}
    )
    p = rt.refresher.plan.sources["realtime_operation"]
    assert p.staleness == pytest.approx(2 * p.effective)


def test_plan_table_and_interval_metrics() -> None:
    rt = runtime(100, sources={"realtime_operation": {"interval_seconds": 10}})
    table = rt.refresher.plan.table()
    assert table.splitlines()[0].split()[:3] == ["source", "apps", "calls/cycle"]
    assert "realtime_operation" in table and "ListRealTimeOperationData=100" in table
    get = rt.registry.get_sample_value
    labels = {"source": "realtime_operation"}
    assert (
        get("volcengine_rtc_exporter_source_interval_seconds", labels | {"kind": "configured"})
        == 10
    )
    effective = get(
        "volcengine_rtc_exporter_source_interval_seconds", labels | {"kind": "effective"}
    )
    assert effective == pytest.approx(100 / 1.8 * MARGIN)


def test_config_check_prints_the_plan(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from exporter.cli import main

    apps = "".join(f"  - app_id: app{i}\n" for i in range(100))
    path = tmp_path / "c.yml"
    path.write_text(
        "credentials: {access_key_id: A, secret_access_key: Sup3rSecret}\n"
        "sources: {realtime_operation: {interval_seconds: 10}}\napps:\n" + apps
    )
    assert main(["--config.file", str(path), "--config.check"]) == 0
    out = capsys.readouterr().out
    assert "quota plan" in out and "ListRealTimeOperationData=100" in out
    # the live quality's traffic tiers: no app has shown traffic yet, all in the tail
    assert "busy 0 @ 60s, tail 100 @ 120s (51 per cycle)" in out
    assert "Sup3rSecret" not in out


def test_a_lengthened_interval_is_logged_once_not_at_every_watch_list_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from exporter.types import WatchRoom

    caplog.set_level(logging.WARNING)
    rt = runtime(100, sources={"realtime_operation": {"interval_seconds": 10}})
    for i in range(5):  # the rooms source changes the watch list every minute
        rt.targets.set_auto_watch("app000", (WatchRoom(f"r{i}", ("u",)),))
        rt.refresher.replan()
    lines = [r for r in caplog.records if "cannot keep" in r.getMessage()]
    assert len([r for r in lines if r.fields["source"] == "realtime_operation"]) == 1  # type: ignore[attr-defined]
