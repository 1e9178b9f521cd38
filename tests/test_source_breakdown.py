"""realtime_breakdown and report_breakdown: quality split by one dimension per call (pure fetch)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from exporter.collectors.breakdown import BreakdownSettings, ReportBreakdownSettings
from exporter.collectors.quality import ROWS
from exporter.errors import ApiAuthError
from exporter.types import AppTarget
from tests.fakes import TZ, T, find, make_source, ts

APP = AppTarget("app1")
LIVE = "ListRealTimeQualityDistribution"
REPORT = "ListQualityDistribution"
SEGMENTS = {"OS": ["android", "ios", "windows"], "Access": ["wifi", "4g"],
            "Province": ["广东", "上海"], "Country": ["中国"]}  # fmt: skip
RETURNED = {  # base indicator -> the names the API returns for it
    "join_room_success_rate": ["5s_join_room_success_rate"],
    "stall_rate": ["80ms_audio_stall_rate", "500ms_video_stall_rate"],
    "first_frame_send_success_rate": ["audio_first_frame_send_success_rate",
                                      "video_first_frame_send_success_rate"],
    "first_frame_recv_success_rate": ["audio_first_frame_recv_success_rate",
                                      "video_first_frame_recv_success_rate"],
    "network_trans_delay": ["400ms_audio_network_trans_delay", "400ms_video_network_trans_delay"],
}  # fmt: skip


def value_of(product: str, name: str, segment: str) -> float:
    """A distinct percentage per (product type, returned name, segment): a merge would show."""
    return round(50 + (product == "web") * 10 + len(name) * 0.5 + sum(map(ord, segment)) % 17, 2)


def world(offset: float = -120) -> Any:
    """Documented shape: Indicators[{Name, Data[{Dimension, TimeStamp, Value}]}], no Unit."""

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        names = RETURNED[params["Indicator"]]
        segments = SEGMENTS[params["Dimension"]]
        return {
            "Indicators": [
                {"Name": n, "Data": [
                    {"Dimension": seg, "TimeStamp": ts(offset), "Value": value_of(params["ProductType"], n, seg)}
                    for seg in segments
                ]}
                for n in names
            ]
        }  # fmt: skip

    return payload


def test_one_call_per_indicator_dimension_and_product_type_with_capitalised_dimensions() -> None:
    src, client = make_source("realtime_breakdown", {LIVE: world()})
    src.fetch(APP, T)
    sent = [(p["Indicator"], p["Dimension"], p["ProductType"]) for _, p in client.calls]
    assert len(sent) == 20 == len(set(sent))
    assert {d for _, d, _ in sent} == {"OS", "Access"}
    assert {i for i, _, _ in sent} == {row.key for row in ROWS}
    assert {p for _, _, p in sent} == {"native", "web"}
    assert src.calls(APP) == {LIVE: 20}
    start, end = client.calls[0][1]["StartTime"], client.calls[0][1]["EndTime"]
    assert (end - start).total_seconds() == 600 and end.timestamp() == T


def test_every_segment_is_a_series_with_the_contract_labels_and_ratio_values() -> None:
    src, _ = make_source("realtime_breakdown", {LIVE: world()})
    snap = src.fetch(APP, T)
    # 9 returned names x (3 OS + 2 network segments) x 2 product types
    assert len(snap.samples) == 9 * 5 * 2 and snap.dropped == 0
    [stall] = find(snap, "volcengine_rtc_breakdown_stall_ratio", product_type="web", media="video",
                   dimension="network", segment="4g")  # fmt: skip
    assert dict(stall.labels) == {
        "app_id": "app1", "product_type": "web", "media": "video", "threshold": "0.5",
        "dimension": "network", "segment": "4g",
    }  # fmt: skip
    assert stall.value == pytest.approx(value_of("web", "500ms_video_stall_rate", "4g") / 100)
    [join] = find(snap, "volcengine_rtc_breakdown_join_room_success_ratio", product_type="native",
                  segment="ios")  # fmt: skip
    assert dict(join.labels)["threshold"] == "5" and dict(join.labels)["dimension"] == "os"
    for spec in src.specs:
        for s in find(snap, spec.name):
            assert [k for k, _ in s.labels] == [n for n in spec.labels if n in dict(s.labels)]
    assert snap.data_timestamp == T - 120


def test_newest_complete_point_per_segment_not_per_indicator() -> None:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        data = [
            {"Dimension": "android", "TimeStamp": ts(-300), "Value": 90.0},
            {"Dimension": "android", "TimeStamp": ts(-150), "Value": 91.0},  # newest complete
            {"Dimension": "android", "TimeStamp": ts(-60), "Value": 10.0},  # not complete yet
            {"Dimension": "ios", "TimeStamp": ts(-270), "Value": 80.0},  # ios has only an older one
            {"Dimension": "ios", "TimeStamp": ts(-240), "Value": None},  # missing, never 0
        ]
        return {"Indicators": [{"Name": "5s_join_room_success_rate", "Data": data}]}

    src, _ = make_source("realtime_breakdown", {LIVE: payload}, product_types=["native"],
                         indicators=["join_room_success_rate"], dimensions=["os"])  # fmt: skip
    snap = src.fetch(APP, T)
    got = {dict(s.labels)["segment"]: s.value for s in snap.samples}
    assert got == {"android": 0.91, "ios": 0.8}


def test_segments_are_trimmed_never_rewritten_and_odd_points_are_counted() -> None:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        data = [
            {"Dimension": "  macos ", "TimeStamp": ts(-150), "Value": 97.5},
            {"Dimension": "Inner Mongolia", "TimeStamp": ts(-150), "Value": 96.0},
            {"Dimension": "", "TimeStamp": ts(-150), "Value": 1.0},  # no segment
            {"Dimension": None, "TimeStamp": ts(-150), "Value": 1.0},
            {"Dimension": "linux", "TimeStamp": "yesterday", "Value": 1.0},
            {"Dimension": "linux", "TimeStamp": ts(-150), "Value": "n/a"},
            {"Dimension": "web", "TimeStamp": ts(-150), "Value": 250.0},  # not a percentage
            "garbage",
        ]
        return {"Indicators": [{"Name": "5s_join_room_success_rate", "Data": data},
                               {"Name": "something_new", "Data": data},
                               {"Name": None, "Data": data}]}  # fmt: skip

    src, _ = make_source("realtime_breakdown", {LIVE: payload}, product_types=["native"],
                         indicators=["join_room_success_rate"], dimensions=["os"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert {dict(s.labels)["segment"]: s.value for s in snap.samples} == {
        "macos": 0.975, "Inner Mongolia": 0.96,
    }  # fmt: skip
    # each unreadable point counted once per indicator that carried it; the nameless one whole
    assert snap.skipped == {"malformed": 2 * 3 + 1, "timestamp": 2, "value": 2, "out_of_range": 1}


def test_a_returned_unit_is_honoured_and_an_unknown_one_is_skipped() -> None:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        data = [{"Dimension": "wifi", "TimeStamp": ts(-150), "Value": 99.0}]
        unit = {"stall_rate": "%", "join_room_success_rate": "ms"}.get(params["Indicator"])
        return {
            "Indicators": [{"Name": RETURNED[params["Indicator"]][0], "Unit": unit, "Data": data}]
        }

    src, _ = make_source("realtime_breakdown", {LIVE: payload}, product_types=["native"],
                         indicators=["join_room_success_rate", "stall_rate"], dimensions=["network"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert [s.metric for s in snap.samples] == ["volcengine_rtc_breakdown_stall_ratio"]
    assert snap.unknown_units == {"ms": 1}


def test_series_cap_is_shared_by_the_apps_of_a_cycle_and_the_cut_is_counted() -> None:
    src, _ = make_source("realtime_breakdown", {LIVE: world()}, max_breakdown_series=60)
    src.begin_cycle()
    first = src.fetch(APP, T)
    second = src.fetch(AppTarget("app2"), T)
    assert len(first.samples) == 60 and first.dropped == 90 - 60
    assert second.samples == [] and second.dropped == 90
    src.begin_cycle()
    assert len(src.fetch(AppTarget("app2"), T).samples) == 60


def test_settings_choose_the_calls_and_the_planner_sees_them() -> None:
    src, client = make_source("realtime_breakdown", {LIVE: world()}, product_types=["web"],
                              dimensions=["country", "os", "country"], indicators=["stall_rate"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert [(p["Dimension"], p["ProductType"]) for _, p in client.calls] == [
        ("Country", "web"),
        ("OS", "web"),
    ]
    assert src.calls(APP) == {LIVE: 2}
    assert {dict(s.labels)["dimension"] for s in snap.samples} == {"country", "os"}


@pytest.mark.parametrize(
    "bad",
    [{"dimensions": []}, {"dimensions": ["Access"]}, {"indicators": ["stall"]},
     {"product_types": ["ios"]}, {"window_seconds": 7200}, {"max_breakdown_series": -1}],
)  # fmt: skip
def test_bad_settings_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        BreakdownSettings.model_validate(bad)


def test_a_refused_call_fails_the_fetch_of_that_source_only() -> None:
    src, client = make_source("realtime_breakdown", {LIVE: ApiAuthError("no", action=LIVE)})
    with pytest.raises(ApiAuthError):
        src.fetch(APP, T)
    assert len(client.calls) == 1  # the first refusal stops the refresh: no quota wasted


# -- report ------------------------------------------------------------------------------------


def test_report_defaults_add_province_and_query_the_last_complete_day() -> None:
    s = ReportBreakdownSettings()
    assert s.dimensions == ["os", "network", "province"] and s.interval_seconds == 3600
    src, client = make_source("report_breakdown", {REPORT: world(offset=-2 * 86400)})
    src.fetch(APP, T)
    assert src.calls(APP) == {REPORT: 30} and len(client.calls) == 30
    assert {p["Dimension"] for _, p in client.calls} == {"OS", "Access", "Province"}
    # T is 2024-01-02 20:00 +08:00; minus the 8 h delay is 12:00, so 01-02 is not complete:
    # the window is 01-01 00:00 .. 01-02 00:00 in the API's time zone
    params = client.calls[0][1]
    assert params["StartTime"] == dt.datetime(2024, 1, 1, tzinfo=TZ)
    assert params["EndTime"] == dt.datetime(2024, 1, 2, tzinfo=TZ)


def test_report_window_moves_to_the_next_day_once_the_delay_has_passed() -> None:
    src, client = make_source("report_breakdown", {REPORT: world()})
    morning = dt.datetime(2024, 1, 3, 8, 0, 1, tzinfo=TZ).timestamp()
    src.fetch(APP, morning)
    assert client.calls[-1][1]["EndTime"] == dt.datetime(2024, 1, 3, tzinfo=TZ)
    src.fetch(APP, morning - 2)
    assert client.calls[-1][1]["EndTime"] == dt.datetime(2024, 1, 2, tzinfo=TZ)


def test_report_uses_the_newest_point_inside_the_window_only() -> None:
    day = dt.datetime(2024, 1, 1, tzinfo=TZ).timestamp()

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        def at(t: float, v: float) -> dict[str, Any]:
            return {
                "Dimension": "广东",
                "TimeStamp": dt.datetime.fromtimestamp(t, TZ).isoformat(),
                "Value": v,
            }

        data = [at(day - 86400, 90.0), at(day, 95.5), at(day + 86400, 10.0)]  # last: not in window
        return {"Indicators": [{"Name": "5s_join_room_success_rate", "Data": data}]}

    src, _ = make_source("report_breakdown", {REPORT: payload}, product_types=["native"],
                         indicators=["join_room_success_rate"], dimensions=["province"])  # fmt: skip
    snap = src.fetch(APP, T)
    [sample] = snap.samples
    assert sample.metric == "volcengine_rtc_report_breakdown_join_room_success_ratio"
    assert dict(sample.labels)["segment"] == "广东" and sample.value == 0.955
    assert snap.data_timestamp == day


def test_report_window_may_span_up_to_seven_days() -> None:
    src, client = make_source("report_breakdown", {REPORT: world()}, window_seconds=7 * 86400)
    src.fetch(APP, T)
    params = client.calls[0][1]
    assert (params["EndTime"] - params["StartTime"]).days == 7
    with pytest.raises(ValidationError):
        ReportBreakdownSettings(window_seconds=8 * 86400)


def test_families_reuse_the_quality_table_with_the_contract_labels() -> None:
    live, _ = make_source("realtime_breakdown", {})
    report, _ = make_source("report_breakdown", {})
    assert [s.name for s in live.specs] == ["volcengine_rtc_breakdown_" + r.metric for r in ROWS]
    assert [s.name for s in report.specs] == [
        "volcengine_rtc_report_breakdown_" + r.metric for r in ROWS
    ]
    for spec in (*live.specs, *report.specs):
        assert spec.labels[:2] == ("app_id", "product_type")
        assert spec.labels[-2:] == ("dimension", "segment")
        assert "percent / 100" in spec.help and "Cached" in spec.help
    assert [row.key for row in ROWS] == BreakdownSettings().indicators
