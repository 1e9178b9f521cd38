"""Issue 22 row 2: ``ResponseMetadata.Error`` for ``ProductType=web`` only.

Product types fail and recover independently: the native series stay current, web's last good
series are served until they are stale, ``source_up`` is 0 (with the reason counted) while a
part fails, and one log line marks each change."""

from __future__ import annotations

import logging

import pytest

from tests.faults.harness import build, only, series, value

APP = "app-1"
UP = "volcengine_rtc_exporter_source_up"


def product_types(rt, family: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {dict(labels)["product_type"] for labels in series(rt, family)}


@pytest.mark.parametrize(
    ("source", "action", "family"),
    [
        ("realtime_quality", "ListRealTimeQuality", "volcengine_rtc_stall_ratio"),
        ("realtime_breakdown", "ListRealTimeQualityDistribution",
         "volcengine_rtc_breakdown_stall_ratio"),
    ],
)  # fmt: skip
def test_one_product_type_failing_keeps_the_other(
    source: str, action: str, family: str, caplog: pytest.LogCaptureFixture
) -> None:
    rt, vendor, clock = build([APP], only(source), apps=[{"app_id": APP}])
    interval = rt.refresher.interval(source)
    rt.refresher.refresh(source)
    assert product_types(rt, family) == {"native", "web"}
    assert value(rt, UP, source=source, app_id=APP) == 1.0
    success = value(rt, "volcengine_rtc_exporter_source_last_success_timestamp_seconds",
                    source=source, app_id=APP)  # fmt: skip

    vendor.fail[(action, "web")] = "InternalError"
    with caplog.at_level(logging.INFO, logger="exporter"):
        for _ in range(4):  # past web's staleness (3 intervals): native refreshed each time
            clock.advance(interval)
            rt.refresher.refresh(source)
            assert "native" in product_types(rt, family)
            assert value(rt, UP, source=source, app_id=APP) == 0.0
            data_ts = value(rt, "volcengine_rtc_exporter_source_data_timestamp_seconds",
                            source=source, app_id=APP)  # fmt: skip
            assert data_ts is not None and data_ts > clock.t - interval - 200
    assert product_types(rt, family) == {"native"}  # web's last good series are stale now
    assert (
        value(rt, "volcengine_rtc_exporter_source_last_success_timestamp_seconds",
              source=source, app_id=APP) == success
    )  # fmt: skip
    assert value(rt, "volcengine_rtc_exporter_api_request_failures_total",
                 action=action, reason="server") == 4  # fmt: skip
    entry = rt.cache.get(source, APP)
    assert entry is not None and entry.last_error == "server (product_type=web)"
    down = [r for r in caplog.records if "partly down" in r.getMessage()]
    assert len(down) == 1 and down[0].fields["product_type"] == "web"  # type: ignore[attr-defined]

    del vendor.fail[(action, "web")]
    with caplog.at_level(logging.INFO, logger="exporter"):
        clock.advance(interval)
        rt.refresher.refresh(source)
    assert product_types(rt, family) == {"native", "web"}
    assert value(rt, UP, source=source, app_id=APP) == 1.0
    assert any("part recovered" in r.getMessage() for r in caplog.records)


def test_web_failing_is_served_from_its_last_answer_until_stale() -> None:
    rt, vendor, clock = build([APP], only("realtime_quality"), apps=[{"app_id": APP}])
    rt.refresher.refresh("realtime_quality")
    web = {k: v for k, v in series(rt, "volcengine_rtc_stall_ratio").items()
           if ("product_type", "web") in k}  # fmt: skip
    vendor.fail[("ListRealTimeQuality", "web")] = "InternalError"
    clock.advance(60)
    rt.refresher.refresh("realtime_quality")
    now = series(rt, "volcengine_rtc_stall_ratio")
    assert {k: now[k] for k in web} == web  # held: the last good web values
    clock.advance(121)  # 181 s after web's last answer: past 3 x 60 s
    assert not [k for k in series(rt, "volcengine_rtc_stall_ratio") if ("product_type", "web") in k]


def test_every_product_type_failing_fails_the_refresh() -> None:
    rt, vendor, clock = build([APP], only("realtime_quality"), apps=[{"app_id": APP}])
    rt.refresher.refresh("realtime_quality")
    for pt in ("native", "web"):
        vendor.fail[("ListRealTimeQuality", pt)] = "InternalError"
    clock.advance(200)
    rt.refresher.refresh("realtime_quality")
    assert series(rt, "volcengine_rtc_stall_ratio") == {}
    entry = rt.cache.get("realtime_quality", APP)
    assert entry is not None and not entry.up and entry.last_error == "server"
