"""`promtool test rules` for the incidents of issue 21: tiers that hand over without a resolve
the pager never saw (and the audio severe tier), a vendor outage as one account-level page, a
pending alert that survives a data gap, a flapping stall as one page and one resolve, and health
warnings that never fire after recovery. Time is in 30 s samples (index i = i * 30 s).

The real Alertmanager side of each case is in ``tests/test_mixin_alertmanager.py``; one run of
the outage and the flap through the whole stack is in ``tests/test_e2e.py`` (slow).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_mixin_rules import CFG, exp, run_promtool, series, without_annotations

VIDEO = {"media": "video", "threshold": "0.5", "product_type": "native"}
AUDIO = {"media": "audio", "threshold": "0.08", "product_type": "native"}
E = "volcengine_rtc_exporter_"


def alerting(alert: str, **labels: str) -> list[dict[str, Any]]:
    return [exp(alert, **labels)]


def video(alert: str, app: str) -> list[dict[str, Any]]:
    return alerting(alert, app_id=app, product_type="native", media="video")


# -- item 5: tiers hand over without a resolve the pager never saw ----------------------------


def tier_changes() -> dict[str, Any]:
    """a: moderate (10 %) for 12m, then severe (30 %) for 6m, then good: the sustained tier
    pages first, the severe one joins, both resolve together 3m (for.clear) after the last bad
    value. b (audio): severe (30 %) for 5m, then moderate (10 %) for 10m, then good: only the
    severe tier fires, stays open while the value is over the sustained threshold, and the
    sustained tier never fires (so the pager never gets a resolve of it)."""
    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_online_users", "300x60", app_id="a"),
            series("volcengine_rtc_online_users", "300x60", app_id="b"),
            series("volcengine_rtc_stall_ratio", "0.1x23 0.3x11 0.02x24", app_id="a", **VIDEO),
            series("volcengine_rtc_stall_ratio", "0.3x9 0.1x19 0.02x30", app_id="b", **AUDIO),
        ],
        "alert_rule_test": [
            {"eval_time": "11m", "alertname": "RtcVideoStallHigh", "exp_alerts": video("RtcVideoStallHigh", "a")},
            {"eval_time": "15m", "alertname": "RtcVideoStallSevere", "exp_alerts": video("RtcVideoStallSevere", "a")},
            {"eval_time": "15m", "alertname": "RtcVideoStallHigh", "exp_alerts": video("RtcVideoStallHigh", "a")},
            # the last bad value is at 17m30s: both stay while it is within the last 3m (range
            # selectors include both ends) and resolve together
            {"eval_time": "20m30s", "alertname": "RtcVideoStallSevere", "exp_alerts": video("RtcVideoStallSevere", "a")},
            {"eval_time": "20m30s", "alertname": "RtcVideoStallHigh", "exp_alerts": video("RtcVideoStallHigh", "a")},
            {"eval_time": "21m", "alertname": "RtcVideoStallSevere", "exp_alerts": []},
            {"eval_time": "21m", "alertname": "RtcVideoStallHigh", "exp_alerts": []},
            # audio: the severe tier pages within its 2m ...
            {"eval_time": "1m30s", "alertname": "RtcAudioStallSevere", "exp_alerts": []},
            {"eval_time": "2m", "alertname": "RtcAudioStallSevere",
             "exp_alerts": alerting("RtcAudioStallSevere", app_id="b", product_type="native", media="audio")},
            # ... holds while 10 % is over the sustained 5 % ...
            {"eval_time": "14m", "alertname": "RtcAudioStallSevere",
             "exp_alerts": alerting("RtcAudioStallSevere", app_id="b", product_type="native", media="audio")},
            # ... and the sustained tier never fires, before or after
            {"eval_time": "12m", "alertname": "RtcAudioStallHigh", "exp_alerts": []},
            {"eval_time": "17m", "alertname": "RtcAudioStallHigh", "exp_alerts": []},
            {"eval_time": "17m30s", "alertname": "RtcAudioStallSevere",
             "exp_alerts": alerting("RtcAudioStallSevere", app_id="b", product_type="native", media="audio")},
            {"eval_time": "18m", "alertname": "RtcAudioStallSevere", "exp_alerts": []},
            {"eval_time": "25m", "alertname": "RtcAudioStallHigh", "exp_alerts": []},
        ],
    }  # fmt: skip


def test_tier_changes(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [tier_changes()])


# -- item 6: vendor outage, data gap, flapping, warnings after recovery -----------------------


def _app(app: str, name: str, back: int) -> list[dict[str, str]]:
    """One app through an all-503 outage from 5m (sample 10) until sample ``back``."""
    down = back - 11  # samples 11 .. back-1 are down
    rq = {"source": "realtime_quality", "app_id": app}
    return [
        series("volcengine_rtc_app_info", "1x80", app_id=app, app_name=name),
        # online users vanish 3 refresh intervals after the last success (stale values dropped)
        series("volcengine_rtc_online_users", f"300x15 _x{back - 17} 300x{79 - back}", app_id=app),
        series(E + "source_up", f"1x10 0x{down - 1} 1x{80 - back}", **rq),
        # the newest success is at 4m30s until the app is refreshed again
        series(E + "source_last_success_timestamp_seconds",
               f"0+30x9 270x{back - 11} {30 * back}+30x{80 - back}", **rq),
        # the newest bucket lags 2 minutes; the exporter drops it when not fresh any more
        series(E + "source_data_timestamp_seconds",
               f"-120+30x9 150x5 _x{back - 17} {30 * back - 120}+30x{80 - back}", **rq),
    ]  # fmt: skip


def vendor_outage() -> dict[str, Any]:
    """Every call 503 from 5m; a and b are refreshed again at 30m30s, c only at 33m."""
    rq = {"source": "realtime_quality"}
    blind = [exp("RtcQualityBlind", app_id=a) for a in ("a", "b", "c")]
    return {
        "interval": "30s",
        "input_series": [
            series("up", "1x80"),
            series(E + "source_interval_seconds", "60x80", kind="effective", **rq),
            series(E + "api_request_failures_total", "0x10 9+9x49 453+3x4 465x14",
                   action="ListRealTimeQuality", reason="server"),
            *_app("a", "Alpha", 61),
            *_app("b", "Beta", 61),
            *_app("c", "Gamma", 66),
        ],
        "alert_rule_test": [
            # the last success is at 4m30s: one account-level page once it is older than the
            # interval (60 s) + for.vendor_failing (2m), i.e. 3 minutes into the outage
            {"eval_time": "7m30s", "alertname": "RtcVendorApiFailing", "exp_alerts": []},
            {"eval_time": "8m", "alertname": "RtcVendorApiFailing", "exp_alerts": [exp("RtcVendorApiFailing")]},
            # 15 minutes without data: every app is blind (these pages are muted by the
            # vendor alert in Alertmanager)
            {"eval_time": "25m", "alertname": "RtcQualityBlind", "exp_alerts": blind},
            {"eval_time": "25m", "alertname": "RtcVendorApiFailing", "exp_alerts": [exp("RtcVendorApiFailing")]},
            # the vendor answers again at 30m30s; c is not refreshed yet: still blind, and the
            # vendor alert holds (the blind pages must not go out unmuted)
            {"eval_time": "31m", "alertname": "RtcQualityBlind", "exp_alerts": blind[2:]},
            {"eval_time": "31m", "alertname": "RtcVendorApiFailing", "exp_alerts": [exp("RtcVendorApiFailing")]},
            # c refreshed at 33m: everything resolves at once
            {"eval_time": "33m", "alertname": "RtcQualityBlind", "exp_alerts": []},
            {"eval_time": "33m", "alertname": "RtcVendorApiFailing", "exp_alerts": []},
        ],
    }  # fmt: skip


def test_vendor_outage_is_one_page_within_5_minutes(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [vendor_outage()])


def data_gap() -> dict[str, Any]:
    """Video stall 10 % from 0; a's data stops at 4m30s (exporter or vendor blip) and comes
    back still bad at 9m30s: its sustained alert stays pending through the gap and fires at
    10m, as without the gap (before: 10 minutes after the data returned). c's data comes
    back good: its pending alert ends."""

    def pending(app: str) -> dict[str, Any]:
        fired = exp("RtcVideoStallHigh", app_id=app, product_type="native", media="video")
        labels = {**fired["exp_labels"], "alertname": "RtcVideoStallHigh", "alertstate": "pending"}
        return {
            "labels": "ALERTS{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}",
            "value": 1,
        }

    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_online_users", "300x40", app_id="a"),
            series("volcengine_rtc_online_users", "300x40", app_id="c"),
            series("volcengine_rtc_stall_ratio", "0.1x8 _x9 0.1x22", app_id="a", **VIDEO),
            series("volcengine_rtc_stall_ratio", "0.1x8 _x9 0.02x22", app_id="c", **VIDEO),
        ],
        "promql_expr_test": [
            {"expr": 'ALERTS{alertname="RtcVideoStallHigh", alertstate="pending"}',
             "eval_time": "7m", "exp_samples": [pending("a"), pending("c")]},
        ],
        "alert_rule_test": [
            {"eval_time": "9m30s", "alertname": "RtcVideoStallHigh", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "RtcVideoStallHigh", "exp_alerts": video("RtcVideoStallHigh", "a")},
            {"eval_time": "19m", "alertname": "RtcVideoStallHigh", "exp_alerts": video("RtcVideoStallHigh", "a")},
        ],
    }  # fmt: skip


def test_pending_alert_survives_a_data_gap(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [data_gap()])


def flapping_stall() -> dict[str, Any]:
    """Video stall 30 % for 3 minutes, 2 % for 2, four times (the last bad value at 17m30s):
    the severe tier fires once and resolves once at 21m, when the last bad value has left the
    3 minutes of for.clear; the sustained tier never fires."""
    cycle = "0.3x5 0.02x3"
    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_online_users", "300x60", app_id="a"),
            series("volcengine_rtc_stall_ratio", f"{cycle} {cycle} {cycle} 0.3x5 0.02x23",
                   app_id="a", **VIDEO),
        ],
        "alert_rule_test": [
            {"eval_time": "1m30s", "alertname": "RtcVideoStallSevere", "exp_alerts": []},
            *({"eval_time": t, "alertname": "RtcVideoStallSevere", "exp_alerts": video("RtcVideoStallSevere", "a")}
              for t in ("2m", "4m30s", "9m30s", "14m30s", "20m30s")),
            {"eval_time": "21m", "alertname": "RtcVideoStallSevere", "exp_alerts": []},
            *({"eval_time": t, "alertname": "RtcVideoStallHigh", "exp_alerts": []} for t in ("12m", "21m")),
        ],
    }  # fmt: skip


def test_flapping_stall_is_one_page(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [flapping_stall()])


def after_recovery() -> dict[str, Any]:
    """Three problems that end before their `for`, and whose state stays bad until the next
    refresh: none may fire once they are over.

    * quality_report throttled from 0 to 9m30s (the 5-minute failure rate lingers until 14m30s);
    * realtime_breakdown failing (503) for app a until 9m; the app is refreshed again at 13m
      (source_up 0 until then; its data frozen, 5 minutes old at the start);
    * call_detail throttled for 15 minutes, for contrast: fires while it lasts, then resolves.
    """
    bd = {"source": "realtime_breakdown", "app_id": "a"}
    return {
        "interval": "30s",
        "input_series": [
            series(E + "api_request_failures_total", "0+1x19 19x40", action="ListQuality", reason="throttled"),
            series(E + "api_request_failures_total", "0+1x30 30x30", action="ListCallDetail", reason="throttled"),
            series(E + "api_request_failures_total", "0+3x18 54x40",
                   action="ListRealTimeQualityDistribution", reason="server"),
            series(E + "source_up", "1 0x25 1x34", **bd),
            series(E + "source_interval_seconds", "300x60", source="realtime_breakdown", kind="effective"),
            series(E + "source_last_success_timestamp_seconds", "0x25 780+30x34", **bd),
            series(E + "source_data_timestamp_seconds", "-300x25 660+30x34", **bd),
        ],
        "alert_rule_test": [
            *({"eval_time": t, "alertname": "RtcSourceDown", "exp_alerts": []}
              for t in ("10m", "10m30s", "11m", "12m", "13m")),
            *({"eval_time": t, "alertname": "RtcDataStale", "exp_alerts": []}
              for t in ("10m", "12m", "14m", "16m", "20m")),
            {"eval_time": "10m", "alertname": "RtcApiThrottled", "exp_alerts": []},
            {"eval_time": "11m", "alertname": "RtcApiThrottled",
             "exp_alerts": alerting("RtcApiThrottled", source="call_detail")},
            {"eval_time": "14m", "alertname": "RtcApiThrottled",
             "exp_alerts": alerting("RtcApiThrottled", source="call_detail")},
            # call_detail throttling ended at 15m: resolved once its 5-minute rate is 0
            {"eval_time": "21m", "alertname": "RtcApiThrottled", "exp_alerts": []},
        ],
    }  # fmt: skip


def test_no_health_warning_after_recovery(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [after_recovery()])


INCIDENT_CASES = (tier_changes, vendor_outage, data_gap, flapping_stall, after_recovery)
