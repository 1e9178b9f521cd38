"""realtime_quality and quality_report: one table, product types, thresholds (pure fetch)."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.collectors.quality import ROWS, quality_labels
from exporter.types import AppTarget
from tests.fakes import T, find, make_source, ts

APP = AppTarget("app1")


def per_product(values: dict[str, float], names: list[str], offset: float = -120) -> Any:
    """A payload whose value depends on the requested ProductType."""

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        v = values[params.get("ProductType", "native")]
        data = [{"TimeStamp": ts(offset), "Value": v}]
        return {"Indicators": [{"Name": n, "Unit": "%", "Data": data} for n in names]}

    return payload


def test_both_product_types_by_default_each_labelled() -> None:
    src, client = make_source(
        "realtime_quality",
        {
            "ListRealTimeQuality": per_product(
                {"native": 1.5, "web": 9.0}, ["500ms_video_stall_rate"]
            )
        },
    )
    snap = src.fetch(APP, T)
    assert [p["ProductType"] for _, p in client.calls] == ["native", "web"]
    got = {
        dict(s.labels)["product_type"]: s.value for s in find(snap, "volcengine_rtc_stall_ratio")
    }
    assert got == {"native": 0.015, "web": 0.09}
    assert src.calls(APP) == {"ListRealTimeQuality": 2}


def test_one_product_type_saves_the_call() -> None:
    src, client = make_source(
        "realtime_quality",
        {
            "ListRealTimeQuality": per_product(
                {"native": 1.5, "web": 9.0}, ["500ms_video_stall_rate"]
            )
        },
        product_types=["web"],
    )
    snap = src.fetch(APP, T)
    assert len(client.calls) == 1 and src.calls(APP) == {"ListRealTimeQuality": 1}
    assert {dict(s.labels)["product_type"] for s in snap.samples} == {"web"}


@pytest.mark.parametrize(
    ("name", "media", "threshold"),
    [
        ("5s_join_room_success_rate", None, "5"),
        ("join_room_success_rate", None, "5"),
        ("80ms_audio_stall_rate", "audio", "0.08"),
        ("audio_stall_rate", "audio", "0.08"),
        ("video_500ms_stall_rate", "video", "0.5"),
        ("video_stall_rate", "video", "0.5"),
        ("400ms_video_network_trans_delay", "video", "0.4"),
        ("audio_first_frame_send_success_rate", "audio", None),
        ("video_first_frame_recv_success_rate", "video", None),
    ],
)
def test_returned_names_give_media_and_threshold_labels(
    name: str, media: str | None, threshold: str | None
) -> None:
    found = quality_labels(name)
    assert found is not None
    labels = dict(found[1])
    assert labels.get("media") == media and labels.get("threshold") == threshold


def test_unknown_names_are_ignored() -> None:
    assert quality_labels("something_new") is None and quality_labels("5s_") is None


def test_live_quality_respects_the_documented_delay() -> None:
    # 30 s buckets + 60 s delay: the bucket at -60 is complete only at +30
    src, _ = make_source(
        "realtime_quality",
        {
            "ListRealTimeQuality": per_product(
                {"native": 2.0, "web": 2.0}, ["80ms_audio_stall_rate"], -60
            )
        },
    )
    assert src.fetch(APP, T).samples == []


def test_report_window_aligned_granularity_labelled() -> None:
    src, client = make_source(
        "quality_report",
        {
            "ListQuality": per_product(
                {"native": 99.34, "web": 98.0}, ["5s_join_room_success_rate"], -3 * 86400
            )
        },
    )
    snap = src.fetch(APP, T)
    _, params = client.calls[0]
    # 3 days back from 20:00 on 01-02, aligned forward to a day boundary in +08:00
    assert params["StartTime"].isoformat() == "2023-12-31T00:00:00+08:00"
    assert params["AggregateGranularity"] == "1d"
    sample = find(snap, "volcengine_rtc_report_join_room_success_ratio", product_type="native")[0]
    assert dict(sample.labels) == {
        "app_id": "app1", "product_type": "native", "threshold": "5", "granularity": "1d",
    }  # fmt: skip
    assert sample.value == 0.9934


def test_every_quality_family_has_product_type() -> None:
    for name in ("realtime_quality", "quality_report"):
        src, _ = make_source(name, {})
        for spec in src.specs:
            assert spec.labels[:2] == ("app_id", "product_type"), spec
    assert len(ROWS) == 5
