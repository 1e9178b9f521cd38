"""The simulator shows issue 22's vendor behaviours as scenarios (for the demo and e2e tests):
apps_spike, product_type_error, clock_ahead, duplicate_points; and the exporter, in process
against it, behaves as docs/scenarios.md says."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exporter.runtime import Runtime
from exporter.simulator.quirks import spike_app_ids
from tests.conftest import AK, SK, FrozenClock, SimTransport, make_settings
from tests.simapi import make

RTQ = {"Indicator": ["stall_rate"], "ProductType": "web"}


def pts(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for ind in result["Indicators"] for p in ind["Data"]]


def test_apps_spike_pages_like_real_apps_and_the_extra_apps_do_not_exist() -> None:
    sim, _, api = make(apps=3)
    real = api.ok("ListApps", {"Limit": "100"})["Total"]
    sim.activate("apps_spike", {"count": 150})
    first = api.ok("ListApps", {"Limit": "100", "Offset": "0"})
    second = api.ok("ListApps", {"Limit": "100", "Offset": "100"})
    ids = [a["AppId"] for a in first["AppList"] + second["AppList"]]
    assert first["Total"] == real + 150 and len(ids) == real + 150 == len(set(ids))
    assert ids[real:] == spike_app_ids(150)
    _, err = api.error("ListRealTimeQuality", api.window(-300, AppId=ids[-1], **RTQ))
    assert err["Code"] == "InvalidParameter.NotExistAppId"


def test_product_type_error_fails_one_product_type_only() -> None:
    sim, _, api = make()
    sim.activate("product_type_error", {})
    status, doc = api.post("ListRealTimeQuality", api.window(-300, **RTQ))
    assert status == 200 and doc["ResponseMetadata"]["Error"]["Code"] == "InternalError"
    assert "Result" not in doc
    assert pts(api.ok("ListRealTimeQuality", api.window(-300, **(RTQ | {"ProductType": "native"}))))
    assert api.ok("ListRealTimeOperationData", api.window(-300, Indicator=["online_user_count"]))


def test_clock_ahead_and_duplicate_points() -> None:
    sim, _, api = make()
    normal = pts(api.ok("ListRealTimeQuality", api.window(-300, **RTQ)))
    sim.activate("clock_ahead", {"seconds": 3600})
    ahead = pts(api.ok("ListRealTimeQuality", api.window(-300, **RTQ)))
    shift = [dt.datetime.fromisoformat(b["TimeStamp"]) - dt.datetime.fromisoformat(a["TimeStamp"])
             for a, b in zip(normal, ahead, strict=True)]  # fmt: skip
    assert set(shift) == {dt.timedelta(hours=1)}
    sim.deactivate()
    sim.activate("duplicate_points", {"factor": 2, "last": 2})
    result = api.ok("ListRealTimeQuality", api.window(-300, **RTQ))
    assert len(pts(result)) == len(normal) + 2 * len(result["Indicators"])
    last = result["Indicators"][0]["Data"]
    assert last[-1]["TimeStamp"] == last[-2]["TimeStamp"] != last[-3]["TimeStamp"]
    assert last[-1]["Value"] == 2 * last[-2]["Value"]


def test_the_exporter_keeps_native_while_web_fails_and_holds_a_spike() -> None:
    clock = FrozenClock(1704196800.0)
    from exporter.simulator import Simulator

    sim = Simulator(apps=2, credentials={AK: SK}, clock=clock, qps=1000.0)
    sources = {"realtime_quality": {"enabled": True}, "apps": {"enabled": True}}
    settings = make_settings(apps=None, sources={
        n: sources.get(n, {"enabled": False}) for n in
        ("realtime_operation", "quality_report", "operation_report", "call_detail",
         "realtime_breakdown", "report_breakdown", "operation_breakdown", "rooms")} | sources)  # fmt: skip
    rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
    try:
        rt.refresher.refresh("apps")
        rt.refresher.refresh("realtime_quality")
        sim.activate("product_type_error", {})
        sim.activate("apps_spike", {"count": 300})
        clock.t += 60
        rt.refresher.refresh("apps")
        rt.refresher.refresh("realtime_quality")
        assert len(rt.targets.current()) == 2 and rt.targets.pending() == 300
        app = sim.running_apps[0].app_id
        get = rt.registry.get_sample_value
        labels = {"app_id": app, "media": "audio", "threshold": "0.08"}
        assert get("volcengine_rtc_stall_ratio", labels | {"product_type": "native"}) is not None
        assert get("volcengine_rtc_stall_ratio", labels | {"product_type": "web"}) is not None
        assert get("volcengine_rtc_exporter_source_up",
                   {"source": "realtime_quality", "app_id": app}) == 0.0  # fmt: skip
    finally:
        rt.stop()


def test_the_exporter_on_a_vendor_clock_ahead_and_duplicate_points() -> None:
    """Rows 3 and 4 as the demo shows them, against the simulator's scenarios: future points
    are counted while the last good series and their (ageing) data timestamp stay; duplicates
    that agree are used, duplicates that disagree are counted and never exported."""
    from exporter.simulator import Simulator

    clock = FrozenClock(1704196800.0)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0)
    app = sim.running_apps[0].app_id
    others = ("realtime_operation", "quality_report", "operation_report", "call_detail",
              "realtime_breakdown", "report_breakdown", "operation_breakdown", "rooms", "apps")  # fmt: skip
    settings = make_settings(endpoint="http://sim.test", apps=[{"app_id": app}],
                             sources={n: {"enabled": False} for n in others})  # fmt: skip
    rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
    get = rt.registry.get_sample_value
    source = {"source": "realtime_quality", "app_id": app}

    def skipped(reason: str) -> float:
        return get("volcengine_rtc_exporter_points_skipped_total",
                   {"source": "realtime_quality", "reason": reason}) or 0.0  # fmt: skip

    def stalls() -> dict[tuple[str, str, str], float]:
        return {(s.labels["product_type"], s.labels["media"], s.labels["threshold"]): s.value
                for m in rt.registry.collect() if m.name == "volcengine_rtc_stall_ratio"
                for s in m.samples}  # fmt: skip

    try:
        rt.refresher.refresh("realtime_quality")
        before, data_ts = stalls(), get("volcengine_rtc_exporter_source_data_timestamp_seconds",
                                        source)  # fmt: skip
        assert before and data_ts is not None
        sim.activate("clock_ahead", {"seconds": 3600})
        for _ in range(2):
            clock.t += 60
            rt.refresher.refresh("realtime_quality")
            assert skipped("future") > 0 and stalls() == before
            assert get("volcengine_rtc_exporter_source_data_timestamp_seconds", source) == data_ts
            assert get("volcengine_rtc_exporter_source_up", source) == 1.0
        future = skipped("future")
        sim.deactivate()
        clock.t += 60
        rt.refresher.refresh("realtime_quality")  # the vendor's clock is right again
        assert skipped("future") == future
        fresh = get("volcengine_rtc_exporter_source_data_timestamp_seconds", source)
        assert fresh is not None and fresh > data_ts
        control = stalls()
        sim.activate("duplicate_points", {"factor": 1, "last": 0})  # every point twice, agreeing
        rt.refresher.refresh("realtime_quality")
        assert stalls() == control and skipped("duplicate") == 0
        sim.deactivate()
        sim.activate("duplicate_points", {"factor": 2, "last": 0})  # every point contradicted
        rt.refresher.refresh("realtime_quality")
        assert skipped("duplicate") > 0
        assert stalls() == {}  # no bucket is unambiguous: no number the vendor contradicted
        assert get("volcengine_rtc_exporter_source_up", source) == 1.0
    finally:
        rt.stop()
