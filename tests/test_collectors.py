"""Sources: windows with a frozen clock, newest complete point, missing data, mapping, caps."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest
from prometheus_client import generate_latest

from exporter.collectors.base import newest_complete
from exporter.collectors.call_detail import ROWS, find_row
from exporter.runtime import Runtime
from tests.conftest import GOLDEN_APP, FrozenClock, envelope, fixture_transport, make_settings

T = 1704196800.0  # 2024-01-02T12:00:00Z = 20:00+08:00


def run(
    settings_kw: dict[str, Any], handler: Any, source: str
) -> tuple[Runtime, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def h(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    rt = Runtime.build(
        make_settings(**settings_kw), transport=httpx.MockTransport(h), clock=FrozenClock(T)
    )
    rt.refresher.refresh(source)
    return rt, seen


def value(rt: Runtime, name: str, **labels: str) -> float | None:
    return rt.registry.get_sample_value(name, labels)


def ts(offset: float) -> str:
    return dt.datetime.fromtimestamp(T + offset, dt.timezone(dt.timedelta(hours=8))).isoformat()


def ops(points: list[tuple[float, float | None]], unit: str = "") -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        data = [{"TimeStamp": ts(o), "Value": v} for o, v in points]
        inds = [{"Name": "online_user_count", "Unit": unit, "Data": data}]
        return httpx.Response(200, content=envelope({"Indicators": inds}))

    return handler


def test_realtime_window_with_frozen_clock() -> None:
    _, seen = run({}, ops([]), "realtime_operation")
    body = json.loads(seen[0].content)
    assert body["StartTime"] == "2024-01-02T19:55:00+08:00"
    assert body["EndTime"] == "2024-01-02T20:00:00+08:00"
    assert body["Indicator"] == ["online_user_count", "online_room_count"]


def test_report_windows_are_aligned_and_within_span() -> None:
    handler = lambda r: httpx.Response(200, content=envelope({"Indicators": []}))  # noqa: E731
    _, seen = run({}, handler, "quality_report")
    body = json.loads(seen[0].content)
    # 3 days back from 20:00 on 01-02, aligned forward to a day boundary in +08:00
    assert body["StartTime"] == "2023-12-31T00:00:00+08:00"
    assert body["EndTime"] == "2024-01-02T20:00:00+08:00"
    assert body["AggregateGranularity"] == "1d"
    _, seen = run(
        {"sources": {"operation_report": {"granularity": "1h", "window_seconds": 86400}}},
        handler,
        "operation_report",
    )
    body = json.loads(seen[0].content)
    assert body["StartTime"] == "2024-01-01T20:00:00+08:00" and body["AggregateGranularity"] == "1h"


def test_call_detail_window_and_chunks_of_20() -> None:
    users = [f"u{i}" for i in range(45)]
    handler = lambda r: httpx.Response(200, content=envelope({"UserCallDetail": []}))  # noqa: E731
    kw = {"apps": [{"app_id": "app1", "call_detail": [{"room_id": "r1", "user_ids": users}]}]}
    _, seen = run(kw, handler, "call_detail")
    assert [len(r.url.params["UserId"].split(",")) for r in seen] == [20, 20, 5]
    assert seen[0].url.params["StartTime"] == "2024-01-02T19:50:00+08:00"
    assert seen[0].url.params["EndTime"] == "2024-01-02T20:00:00+08:00"


def test_newest_complete_point_wins_and_partial_bucket_is_ignored() -> None:
    # buckets at -90, -60, -30 (complete), 0 (still open)
    rt, _ = run({}, ops([(-90, 10.0), (-60, 20.0), (-30, 30.0), (-10, 99.0)]), "realtime_operation")
    assert value(rt, "volcengine_rtc_online_users", app_id="app1") == 30.0
    assert (
        value(
            rt,
            "volcengine_rtc_exporter_source_data_timestamp_seconds",
            source="realtime_operation",
            app_id="app1",
        )
        == T - 30
    )


def test_missing_points_give_no_sample_never_zero() -> None:
    rt, _ = run({}, ops([(-60, None), (-30, None)]), "realtime_operation")
    assert value(rt, "volcengine_rtc_online_users", app_id="app1") is None
    assert (
        value(rt, "volcengine_rtc_exporter_source_up", source="realtime_operation", app_id="app1")
        == 1.0
    )
    rt, _ = run({}, ops([]), "realtime_operation")
    assert value(rt, "volcengine_rtc_online_users", app_id="app1") is None


def test_unknown_unit_is_skipped_and_counted() -> None:
    rt, _ = run({}, ops([(-60, 10.0)], unit="kilo-users"), "realtime_operation")
    assert value(rt, "volcengine_rtc_online_users", app_id="app1") is None
    assert (
        value(
            rt,
            "volcengine_rtc_exporter_unknown_unit_total",
            action="ListRealTimeOperationData",
            unit="kilo-users",
        )
        == 1.0
    )


def test_quality_names_without_threshold_use_documented_defaults() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        data = [{"TimeStamp": ts(-60), "Value": 1.5}]
        inds = [
            {"Name": "audio_stall_rate", "Unit": "%", "Data": data},
            {"Name": "video_stall_rate", "Unit": "", "Data": data},
            {"Name": "join_room_success_rate", "Unit": "%", "Data": data},
            {"Name": "something_new", "Unit": "%", "Data": data},
        ]
        return httpx.Response(200, content=envelope({"Indicators": inds}))

    rt, _ = run({}, handler, "realtime_quality")
    assert (
        value(rt, "volcengine_rtc_stall_ratio", app_id="app1", media="audio", threshold="0.08")
        == 0.015
    )
    assert (
        value(rt, "volcengine_rtc_stall_ratio", app_id="app1", media="video", threshold="0.5")
        == 0.015
    )
    assert (
        value(rt, "volcengine_rtc_join_room_success_ratio", app_id="app1", threshold="5") == 0.015
    )


def test_call_detail_maps_by_desc_then_name() -> None:
    row = ROWS[4]
    assert find_row(row.desc, "whatever") is row
    assert find_row("", row.name) is row
    assert find_row("音频 发送码率", "") is row  # spacing differences in Desc
    assert find_row("unknown", "unknown") is None
    assert len({(r.family, r.labels) for r in ROWS}) == len(ROWS) == 27


def test_call_detail_series_cap_counts_dropped() -> None:
    transport, _ = fixture_transport()
    app_id = GOLDEN_APP
    kw = {
        "apps": [
            {"app_id": app_id, "call_detail": [{"room_id": "room-1", "user_ids": ["alice", "bob"]}]}
        ],
        "sources": {"call_detail": {"max_client_series": 10, "window_seconds": 200}},
    }
    rt = Runtime.build(make_settings(**kw), transport=transport, clock=FrozenClock(T))
    rt.refresher.refresh("call_detail")
    text = generate_latest(rt.registry).decode()
    client_lines = [ln for ln in text.splitlines() if ln.startswith("volcengine_rtc_client_")]
    assert len(client_lines) == 10
    dropped = value(rt, "volcengine_rtc_exporter_series_dropped_total", source="call_detail")
    assert dropped is not None and dropped > 0
    # what was kept plus what was dropped is everything the fixture had
    rt2 = Runtime.build(
        make_settings(**{**kw, "sources": {"call_detail": {"window_seconds": 200}}}),
        transport=transport,
        clock=FrozenClock(T),
    )
    rt2.refresher.refresh("call_detail")
    full = [
        ln
        for ln in generate_latest(rt2.registry).decode().splitlines()
        if ln.startswith("volcengine_rtc_client_")
    ]
    assert len(full) == 10 + dropped


def test_discovery_pages_and_keeps_running_apps_only() -> None:
    apps = [
        {
            "AppId": f"a{i:03d}",
            "AppName": f"n{i}",
            "AppKey": f"KEY{i}",
            "Status": 1 if i % 10 else 6,
        }
        for i in range(150)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        off, lim = int(body["Offset"]), int(body["Limit"])
        return httpx.Response(
            200, content=envelope({"AppList": apps[off : off + lim], "Total": len(apps)})
        )

    rt, seen = run({"apps": None}, handler, "apps")
    assert len(seen) == 2
    monitored = {t.app_id for t in rt.targets.current()}
    assert len(monitored) == 135 and "a010" not in monitored
    text = generate_latest(rt.registry).decode()
    assert 'volcengine_rtc_app_info{app_id="a001",app_name="n1",status="running"} 1.0' in text
    assert "KEY1" not in text


def test_newest_complete_helper() -> None:
    assert newest_complete([(0, 1.0), (10, 2.0)], 5, 12) == (0, 1.0)
    assert newest_complete([(0, 1.0), (10, 2.0)], 5, 15) == (10, 2.0)
    assert newest_complete([(0, None)], 0, 100) is None


@pytest.mark.parametrize(
    "tz,start", [("+00:00", "2024-01-02T11:55:00+00:00"), ("-05:30", "2024-01-02T06:25:00-05:30")]
)
def test_times_are_sent_in_the_configured_offset(tz: str, start: str) -> None:
    _, seen = run({"timezone": tz}, ops([]), "realtime_operation")
    assert json.loads(seen[0].content)["StartTime"] == start
