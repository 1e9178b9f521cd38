"""Issue 22 rows 3 and 4: points dated in the future, duplicate timestamps.

Rows 3: a vendor clock ahead by an hour is skipped and counted (``reason="future"``), logged once
per change, and the data timestamp keeps ageing so ``RtcDataStale`` can fire. Row 4: one rule for
a bucket listed twice (agreeing values are used, disagreeing ones make the bucket unusable and
the one before is used, counted as ``duplicate``), independent of the order, and an out-of-range
copy never hides a valid one."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporter.collectors.points import MAX_FUTURE_SKEW
from exporter.types import AppTarget
from tests.fakes import T, find, indicators, make_source
from tests.faults.harness import build, only, series, value

APP = AppTarget("app1")
OPS = "ListRealTimeOperationData"
USERS = "volcengine_rtc_online_users"


def users(pts: list[tuple[float, Any]]) -> Any:
    src, _ = make_source("realtime_operation", {OPS: indicators(("online_user_count", "", pts))})
    return src.fetch(APP, T)


def online(snap: Any) -> list[float]:
    return [s.value for s in find(snap, USERS)]


# -- row 4: duplicate timestamps ---------------------------------------------------------------


def test_disagreeing_copies_of_a_bucket_are_not_used_the_bucket_before_is() -> None:
    for pts in ([(-120, 5), (-60, 7), (-60, 9)], [(-60, 9), (-60, 7), (-120, 5)]):
        snap = users(pts)
        assert online(snap) == [5.0]
        assert snap.data_timestamp == T - 120
        assert snap.skipped["duplicate"] == 2


def test_agreeing_copies_are_one_point() -> None:
    snap = users([(-120, 5), (-60, 7), (-60, 7)])
    assert online(snap) == [7.0] and snap.skipped["duplicate"] == 0


def test_an_out_of_range_copy_never_hides_the_valid_one() -> None:
    for data in ([(-120, 50.0), (-90, 150.0), (-90, 97.0)], [(-90, 97.0), (-90, 150.0)]):
        src, _ = make_source(
            "realtime_quality",
            {"ListRealTimeQuality": indicators(("5s_join_room_success_rate", "%", data))},
            product_types=["native"],
        )
        snap = src.fetch(APP, T)
        assert [s.value for s in find(snap, "volcengine_rtc_join_room_success_ratio")] == [0.97]
        assert snap.skipped["out_of_range"] == 1 and snap.skipped["duplicate"] == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([-240, -180, -120, -60]), st.sampled_from([1, 2, -3, None])),
        max_size=8,
    ),
    st.randoms(use_true_random=False),
)
def test_the_result_never_depends_on_the_order_of_the_points(
    pts: list[tuple[float, Any]], rnd: Any
) -> None:
    shuffled = list(pts)
    rnd.shuffle(shuffled)
    a, b = users(pts), users(shuffled)
    assert (online(a), a.data_timestamp, a.skipped) == (online(b), b.data_timestamp, b.skipped)


# -- row 3: points dated in the future -----------------------------------------------------------


def test_future_points_are_skipped_and_counted_within_the_skew_they_are_ordinary() -> None:
    snap = users([(-60, 4), (3600, 9), (3630, 9)])
    assert online(snap) == [4.0]
    assert snap.skipped["future"] == 2 and snap.ahead_seconds == 3630
    snap = users([(-60, 4), (MAX_FUTURE_SKEW - 1, 9)])  # ahead, but within the skew
    assert online(snap) == [4.0] and snap.skipped["future"] == 0


def test_a_vendor_clock_an_hour_ahead_is_counted_logged_once_and_ages_the_data(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rt, vendor, clock = build(["app1"], only("realtime_operation"), apps=[{"app_id": "app1"}])
    labels = {"source": "realtime_operation", "app_id": "app1"}
    data_ts = "volcengine_rtc_exporter_source_data_timestamp_seconds"
    rt.refresher.refresh("realtime_operation")
    before = value(rt, data_ts, **labels)
    assert before is not None and value(rt, USERS, app_id="app1") == 5.0

    vendor.ahead = 3600.0
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(4):
            clock.advance(30)
            rt.refresher.refresh("realtime_operation")
            assert value(rt, data_ts, **labels) == before  # ageing: RtcDataStale can fire
            assert value(rt, "volcengine_rtc_exporter_source_up", **labels) == 1.0
    skipped = value(rt, "volcengine_rtc_exporter_points_skipped_total",
                    source="realtime_operation", reason="future")  # fmt: skip
    assert skipped is not None and skipped > 0
    assert series(rt, USERS) == {}  # the last usable values went stale (3 x 30 s)
    lines = [r for r in caplog.records if "future" in r.getMessage()]
    assert len(lines) == 1 and lines[0].fields["ahead_seconds"] >= 3600  # type: ignore[attr-defined]

    vendor.ahead = 0.0
    with caplog.at_level(logging.INFO, logger="exporter"):
        clock.advance(30)
        rt.refresher.refresh("realtime_operation")
    assert value(rt, USERS, app_id="app1") == 5.0
    assert value(rt, data_ts, **labels) > before  # type: ignore[operator]
    assert any("no longer dated in the future" in r.getMessage() for r in caplog.records)


def test_a_vendor_clock_ahead_from_the_start_still_exports_an_ageing_data_timestamp() -> None:
    rt, vendor, clock = build(["app1"], only("realtime_operation"), apps=[{"app_id": "app1"}])
    vendor.ahead = 3600.0
    rt.refresher.refresh("realtime_operation")
    first = clock.t
    clock.advance(30)
    rt.refresher.refresh("realtime_operation")
    labels = {"source": "realtime_operation", "app_id": "app1"}
    assert value(rt, "volcengine_rtc_exporter_source_data_timestamp_seconds", **labels) == first
