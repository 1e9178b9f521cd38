"""operation_report: ListOperationData -> report families with granularity (pure fetch)."""

from __future__ import annotations

from exporter.collectors.operation_report import ROWS
from exporter.types import AppTarget
from tests.fakes import T, find, indicators, make_source

APP = AppTarget("app1")
DAY = 86400.0


def test_minutes_become_seconds_and_counts_stay() -> None:
    src, client = make_source(
        "operation_report",
        {
            "ListOperationData": indicators(
                ("per_call_time", "min", [(-2 * DAY, 11.5)]),
                ("avg_online_time", "分钟", [(-2 * DAY, 2.0)]),
                ("total_online_time", "", [(-2 * DAY, 3.0)]),  # no unit: minutes
                ("user_count", "人", [(-2 * DAY, 52311)]),
            )
        },
    )
    snap = src.fetch(APP, T)
    get = lambda m: [s.value for s in find(snap, m)]  # noqa: E731
    assert get("volcengine_rtc_report_session_duration_average_seconds") == [690.0]
    assert get("volcengine_rtc_report_room_online_duration_average_seconds") == [120.0]
    assert get("volcengine_rtc_report_room_online_duration_seconds") == [180.0]
    assert get("volcengine_rtc_report_users") == [52311.0]
    assert client.calls[0][1]["AggregateGranularity"] == "1d"


def test_hourly_granularity_window_aligned_to_the_hour() -> None:
    src, client = make_source(
        "operation_report",
        {"ListOperationData": indicators(("user_count", "", [(-10 * 3600, 7)]))},
        granularity="1h",
        window_seconds=86400,
    )
    snap = src.fetch(APP, T)
    assert client.calls[0][1]["StartTime"].isoformat() == "2024-01-01T20:00:00+08:00"
    assert dict(snap.samples[0].labels)["granularity"] == "1h"


def test_the_open_day_is_not_exported() -> None:
    # the current day is not complete, nor is yesterday before the 8 h report delay
    src, _ = make_source(
        "operation_report",
        {"ListOperationData": indicators(("user_count", "", [(-20 * 3600, 7)]))},
    )
    assert src.fetch(APP, T).samples == []


def test_twelve_indicators_twelve_families() -> None:
    src, _ = make_source("operation_report", {})
    assert len(ROWS) == len(src.specs) == 12
    assert all(s.labels == ("app_id", "granularity") for s in src.specs)
