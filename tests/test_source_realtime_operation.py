"""realtime_operation: ListRealTimeOperationData -> online users and rooms (pure fetch)."""

from __future__ import annotations

from exporter.types import AppTarget
from tests.fakes import T, find, indicators, make_source

APP = AppTarget("app1")


def test_window_ends_now_in_the_configured_offset() -> None:
    src, client = make_source("realtime_operation", {"ListRealTimeOperationData": indicators()})
    src.fetch(APP, T)
    action, params = client.calls[0]
    assert action == "ListRealTimeOperationData"
    assert params["StartTime"].isoformat() == "2024-01-02T19:55:00+08:00"
    assert params["EndTime"].isoformat() == "2024-01-02T20:00:00+08:00"
    assert params["Indicator"] == ["online_user_count", "online_room_count"]


def test_newest_complete_bucket_after_the_documented_delay() -> None:
    # 30 s buckets, 20 s vendor delay: the bucket at -60 ended at -30, complete since -10;
    # the bucket at -30 ends at 0 and is complete only at +20: still filling.
    pts = [(-90, 10.0), (-60, 20.0), (-30, 30.0), (0, 99.0)]
    src, _ = make_source(
        "realtime_operation",
        {"ListRealTimeOperationData": indicators(("online_user_count", "", pts))},
    )
    snap = src.fetch(APP, T)
    assert [s.value for s in find(snap, "volcengine_rtc_online_users")] == [20.0]
    assert snap.data_timestamp == T - 60
    # a user who wants the newest bucket regardless can set settle_seconds to 0
    src, _ = make_source(
        "realtime_operation",
        {"ListRealTimeOperationData": indicators(("online_user_count", "", pts))},
        settle_seconds=0,
    )
    assert [s.value for s in find(src.fetch(APP, T), "volcengine_rtc_online_users")] == [30.0]


def test_missing_points_give_no_sample_never_zero() -> None:
    src, _ = make_source(
        "realtime_operation",
        {"ListRealTimeOperationData": indicators(("online_user_count", "", [(-120, None)]))},
    )
    assert find(src.fetch(APP, T), "volcengine_rtc_online_users") == []


def test_unknown_unit_is_skipped_and_counted_never_guessed() -> None:
    src, _ = make_source(
        "realtime_operation",
        {
            "ListRealTimeOperationData": indicators(
                ("online_user_count", "kilo-users", [(-120, 10.0)]),
                ("online_room_count", "个", [(-120, 4.0)]),
            )
        },
    )
    snap = src.fetch(APP, T)
    assert find(snap, "volcengine_rtc_online_users") == []
    assert [s.value for s in find(snap, "volcengine_rtc_online_rooms")] == [4.0]
    assert snap.unknown_units == {"kilo-users": 1}


def test_out_of_range_and_unreadable_points_are_counted() -> None:
    pts = [(-150, float("nan")), (-120, -3.0), (-90, "12"), (-60, 7.0)]
    src, _ = make_source(
        "realtime_operation",
        {"ListRealTimeOperationData": indicators(("online_user_count", "", pts))},
    )
    snap = src.fetch(APP, T)
    assert [s.value for s in find(snap, "volcengine_rtc_online_users")] == [7.0]
    assert snap.skipped["value"] == 1
    # an out-of-range newest point costs that point only: the bucket before it is used (and
    # the data timestamp says how old it is); older points beyond the one used are not looked at
    pts = [(-180, -1.0), (-120, 5.0), (-60, -3.0)]
    src, _ = make_source(
        "realtime_operation",
        {"ListRealTimeOperationData": indicators(("online_user_count", "", pts))},
    )
    snap = src.fetch(APP, T)
    assert [s.value for s in find(snap, "volcengine_rtc_online_users")] == [5.0]
    assert snap.data_timestamp == T - 120
    assert snap.skipped["out_of_range"] == 1


def test_help_names_action_indicator_conversion_and_caching() -> None:
    src, _ = make_source("realtime_operation", {})
    help_ = {s.name: s.help for s in src.specs}["volcengine_rtc_online_users"]
    assert "ListRealTimeOperationData" in help_ and "online_user_count" in help_
    assert "no conversion" in help_ and "Cached" in help_


def test_times_are_sent_in_the_configured_offset() -> None:
    import datetime as dt

    from exporter.collectors.realtime_operation import RealtimeOperationSource
    from tests.fakes import FakeClient

    for offset, start in ((0, "2024-01-02T11:55:00+00:00"), (-5.5, "2024-01-02T06:25:00-05:30")):
        client = FakeClient({"ListRealTimeOperationData": indicators()})
        tz = dt.timezone(dt.timedelta(hours=offset))
        src = RealtimeOperationSource(client, RealtimeOperationSource.settings_model(), tz)  # type: ignore[arg-type]
        src.fetch(APP, T)
        assert client.calls[0][1]["StartTime"].isoformat() == start
