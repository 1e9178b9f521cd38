"""`promtool test rules` for every row of "pages that stay honest": tiers and their timing,
the traffic gate (a drained join outage still pages), web-only incidents, alerts held while data
is missing (vendor outage, exporter death) yet resolving at once on good data, the blind alert
and its cause, per-app overrides, threshold selection, worst segments, health alerts.

Expression cases run on a copy of the rules without annotations (promtool compares annotations
too); the annotation cases run the generated file itself with hand-written expected text.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mixin.config import MixinConfig
from exporter.mixin.quality import quality_views
from exporter.mixin.render import RULES_PATH, dump_yaml
from exporter.mixin.rules import FAILURES, QUALITY_ALERTS, alert_rules, build_rules, worst_record
from exporter.mixin.rules.quality import QualityAlert
from tests.conftest import ROOT, need_binary
from tests.test_mixin_callbacks import CALLBACK_CASES

INST = {"job": "volc-rtc", "instance": "x:9877"}
CFG = MixinConfig()


def sel(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in {**INST, **labels}.items()) + "}"


def series(metric: str, values: str, **labels: str) -> dict[str, str]:
    return {"series": metric + sel(**labels), "values": values}


def exp(alert: str, **labels: str) -> dict[str, Any]:
    rule = next(r for r in alert_rules(CFG) if r["alert"] == alert)
    return {"exp_labels": {**rule["labels"], **INST, **labels}}


def run_promtool(
    tmp: Path, rules: dict[str, Any], tests: list[dict[str, Any]], every: str = "30s"
) -> None:
    promtool = need_binary("promtool")
    (tmp / "rules.yml").write_text(dump_yaml(rules))
    doc = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": every,
        # promtool evaluates groups in random order unless told: recording rules first, as
        # the alerts read them (Prometheus itself runs groups on their own timers)
        "group_eval_order": [g["name"] for g in rules["groups"]],
        "tests": tests,
    }
    (tmp / "tests.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], capture_output=True, text=True, cwd=tmp
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def without_annotations(cfg: MixinConfig) -> dict[str, Any]:
    rules = build_rules(cfg)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return rules


# -- each quality alert: tier timing, gate, web-only, threshold selection --------------------


def _values(qa: QualityAlert) -> tuple[float, float]:
    """A bad value (between the tiers for the sustained one) and a good value."""
    views = {v.metric: v for v in quality_views()}
    tier = CFG.thresholds if qa.tier == "sustained" else CFG.severe
    limit = float(getattr(tier, qa.threshold))
    if views[qa.families[0]].worse == "higher":
        return round(limit * 1.25, 4), round(limit * 0.5, 4)
    return round(limit - 0.02, 4), round(min(1.0, limit + 0.02), 4)


def quality_case(qa: QualityAlert) -> dict[str, Any]:
    """Apps: a (native) and w (web only) fire; b is bad with too few users; c turns bad
    later than the for duration allows; t is bad on another `threshold` label."""
    view = next(v for v in quality_views() if v.metric == qa.families[0])
    bad, good = _values(qa)
    media = qa.media if qa.media in ("audio", "video") else ("video" if view.media else "")
    labels = {"media": media} if media else {}
    if view.threshold:
        labels["threshold"] = view.thresholds[media]
    metric = view.live
    for_min = int(
        CFG.for_.quality.rstrip("m") if qa.tier == "sustained" else CFG.for_.severe.rstrip("m")
    )
    n = 2 * (for_min + 2)
    rows = [
        ("a", 300, {"native": f"{bad}x{n}"}),
        ("w", 300, {"native": f"{good}x{n}", "web": f"{bad}x{n}"}),
        ("b", 20, {"native": f"{bad}x{n}"}),
        ("c", 300, {"native": f"{good}x3 {bad}x{n}"}),
    ]
    inputs = []
    for app, users, by_type in rows:
        inputs.append(series("volcengine_rtc_online_users", f"{users}x{n}", app_id=app))
        for pt, values in by_type.items():
            inputs.append(series(metric, values, app_id=app, product_type=pt, **labels))
    if view.threshold:
        other = {**labels, "threshold": "99"}
        inputs.append(series("volcengine_rtc_online_users", f"300x{n}", app_id="t"))
        inputs.append(series(metric, f"{bad}x{n}", app_id="t", product_type="native", **other))
    extra = {"media": media} if qa.media else {}
    if len(qa.families) > 1:
        extra["stage"] = "send"
    expected = [
        exp(qa.name, app_id="a", product_type="native", **extra),
        exp(qa.name, app_id="w", product_type="web", **extra),
    ]
    return {
        "interval": "30s",
        "input_series": inputs,
        "alert_rule_test": [
            {"eval_time": f"{for_min}m30s", "alertname": qa.name, "exp_alerts": expected},
            {"eval_time": f"{for_min - 1}m30s", "alertname": qa.name, "exp_alerts": []},
        ],
    }


def test_each_quality_alert(tmp_path: Path) -> None:
    run_promtool(tmp_path, without_annotations(CFG), [quality_case(qa) for qa in QUALITY_ALERTS])


# -- the rows of the issue -------------------------------------------------------------------


def vendor_outage_during_stall() -> dict[str, Any]:
    """Video stall (30 %) from t=0; at 15m the vendor API fails for the app (realtime_quality
    source down, reason server; the exporter drops the stale series); at 45m30s data is back
    and good. The severe page is held through the outage; the sustained tier never fires on
    top of it."""
    video = {"media": "video", "threshold": "0.5", "product_type": "native"}
    return {
        "interval": "30s",
        "input_series": [
            series("up", "1x120"),
            series("volcengine_rtc_app_info", "1x120", app_id="a", app_name="Alpha"),
            series("volcengine_rtc_online_users", "300x29 _x61 300x29", app_id="a"),
            series("volcengine_rtc_stall_ratio", "0.3x29 _x61 0.01x29", app_id="a", **video),
            series(
                "volcengine_rtc_exporter_source_up",
                "1x29 0x61 1x29",
                source="realtime_quality",
                app_id="a",
            ),
            series(
                "volcengine_rtc_exporter_source_data_timestamp_seconds",
                "-60+30x29 _x61 2670+30x29",
                source="realtime_quality",
                app_id="a",
            ),
            series(
                "volcengine_rtc_exporter_api_request_failures_total",
                "0x29 10+10x90",
                action="ListRealTimeQuality",
                reason="server",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "12m", "alertname": "RtcVideoStallSevere",
             "exp_alerts": [exp("RtcVideoStallSevere", app_id="a", product_type="native", media="video")]},
            {"eval_time": "12m", "alertname": "RtcVideoStallHigh", "exp_alerts": []},
            # held through the outage
            {"eval_time": "44m", "alertname": "RtcVideoStallSevere",
             "exp_alerts": [exp("RtcVideoStallSevere", app_id="a", product_type="native", media="video")]},
            {"eval_time": "44m", "alertname": "RtcVideoStallHigh", "exp_alerts": []},
            # the on-call is told the exporter is blind for the app: > 15 min without data
            {"eval_time": "28m", "alertname": "RtcQualityBlind", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "RtcQualityBlind",
             "exp_alerts": [exp("RtcQualityBlind", app_id="a")]},
            {"eval_time": "30m", "alertname": "RtcSourceDown",
             "exp_alerts": [exp("RtcSourceDown", app_id="a", source="realtime_quality", reason="server")]},
            # resolves at the first evaluation with good data (nothing bad within for.clear
            # of it: the last bad value is 30 minutes old), blind too
            {"eval_time": "46m", "alertname": "RtcVideoStallSevere", "exp_alerts": []},
            {"eval_time": "46m", "alertname": "RtcQualityBlind", "exp_alerts": []},
        ],
    }  # fmt: skip


def exporter_death_during_join_incident() -> dict[str, Any]:
    """Join success 90 % from t=0; the exporter dies at 15m (up 0, every series gone)."""
    return {
        "interval": "30s",
        "input_series": [
            series("up", "1x29 0x60"),
            series("volcengine_rtc_online_users", "300x29", app_id="a"),
            series(
                "volcengine_rtc_join_room_success_ratio",
                "0.9x29",
                app_id="a",
                product_type="native",
                threshold="5",
            ),
            series(
                "volcengine_rtc_exporter_source_data_timestamp_seconds",
                "-60+30x29",
                source="realtime_quality",
                app_id="a",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "12m", "alertname": "RtcJoinRoomSuccessLow",
             "exp_alerts": [exp("RtcJoinRoomSuccessLow", app_id="a", product_type="native")]},
            {"eval_time": "21m", "alertname": "RtcExporterDown", "exp_alerts": [exp("RtcExporterDown")]},
            {"eval_time": "40m", "alertname": "RtcJoinRoomSuccessLow",
             "exp_alerts": [exp("RtcJoinRoomSuccessLow", app_id="a", product_type="native")]},
            {"eval_time": "40m", "alertname": "RtcQualityBlind",
             "exp_alerts": [exp("RtcQualityBlind", app_id="a")]},
        ],
    }  # fmt: skip


def drained_join_outage() -> dict[str, Any]:
    """Nobody can join: users drain from 1000 to 20 within minutes; the gate looks at the
    last hour's peak, so the severe tier still pages within 3 minutes (and the sustained tier
    stays quiet under it)."""
    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_online_users", "1000 800 600 400 200 100 50 20x40", app_id="a"),
            series(
                "volcengine_rtc_join_room_success_ratio",
                "0x47",
                app_id="a",
                product_type="native",
                threshold="5",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "2m30s", "alertname": "RtcJoinRoomSuccessSevere",
             "exp_alerts": [exp("RtcJoinRoomSuccessSevere", app_id="a", product_type="native")]},
            {"eval_time": "11m", "alertname": "RtcJoinRoomSuccessSevere",
             "exp_alerts": [exp("RtcJoinRoomSuccessSevere", app_id="a", product_type="native")]},
            {"eval_time": "11m", "alertname": "RtcJoinRoomSuccessLow", "exp_alerts": []},
        ],
    }  # fmt: skip


def severe_onset() -> dict[str, Any]:
    """Video stall jumps from 2 % to 30 % at 10m: the severe tier fires at 12m (for: 2m);
    Alertmanager's pager group_wait (30s) brings the page within 3 minutes of the data."""
    video = {"media": "video", "threshold": "0.5", "product_type": "native"}
    firing = [exp("RtcVideoStallSevere", app_id="a", product_type="native", media="video")]
    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_online_users", "300x40", app_id="a"),
            series("volcengine_rtc_stall_ratio", "0.02x19 0.3x20", app_id="a", **video),
        ],
        "alert_rule_test": [
            {"eval_time": "11m30s", "alertname": "RtcVideoStallSevere", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "RtcVideoStallSevere", "exp_alerts": firing},
        ],
    }


def test_incident_rows(tmp_path: Path) -> None:
    cases = [
        vendor_outage_during_stall(),
        exporter_death_during_join_incident(),
        drained_join_outage(),
        severe_onset(),
    ]
    run_promtool(tmp_path, without_annotations(CFG), cases)


def test_per_app_override(tmp_path: Path) -> None:
    cfg = MixinConfig.model_validate(
        {"overrides": [{"app_id": "x", "thresholds": {"video_stall_max": 0.15}}]}
    )
    video = {"media": "video", "threshold": "0.5", "product_type": "native"}
    case = {
        "interval": "30s",
        "input_series": [
            *(series("volcengine_rtc_online_users", "300x30", app_id=a) for a in ("a", "x", "y")),
            series("volcengine_rtc_stall_ratio", "0.12x30", app_id="a", **video),
            series("volcengine_rtc_stall_ratio", "0.12x30", app_id="x", **video),
            series("volcengine_rtc_stall_ratio", "0.18x30", app_id="y", **video),
        ],
        "alert_rule_test": [
            {
                "eval_time": "11m",
                "alertname": "RtcVideoStallHigh",
                "exp_alerts": [
                    exp("RtcVideoStallHigh", app_id=a, product_type="native", media="video")
                    for a in ("a", "y")
                ],
            }
        ],
    }
    rules = without_annotations(cfg)
    video_rules = [r for r in alert_rules(cfg) if r["alert"] == "RtcVideoStallHigh"]
    assert len(video_rules) == 2 and 'app_id!~"x"' in video_rules[0]["expr"]
    assert 'app_id="x"' in video_rules[1]["expr"] and "> 0.15" in video_rules[1]["expr"]
    run_promtool(tmp_path, rules, [case])
    # and with y at 0.18 over x's own threshold, x fires too
    case["input_series"][4] = series("volcengine_rtc_stall_ratio", "0.18x30", app_id="x", **video)
    case["alert_rule_test"][0]["exp_alerts"] = [
        exp("RtcVideoStallHigh", app_id=a, product_type="native", media="video")
        for a in ("a", "x", "y")
    ]
    run_promtool(tmp_path, rules, [case])


def test_worst_segment_records(tmp_path: Path) -> None:
    common = {"app_id": "a", "product_type": "native"}
    video = {**common, "media": "video", "threshold": "0.5"}
    join = {**common, "threshold": "5"}
    b_stall, b_join = (
        "volcengine_rtc_breakdown_stall_ratio",
        "volcengine_rtc_breakdown_join_room_success_ratio",
    )
    case = {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_stall_ratio", "0.1x10", **video),
            series(b_stall, "0.3x10", dimension="os", segment="android", **video),
            series(b_stall, "0.05x10", dimension="os", segment="ios", **video),
            series(b_stall, "0.12x10", dimension="network", segment="wifi", **video),
            series("volcengine_rtc_join_room_success_ratio", "0.9x10", **join),
            series(b_join, "0.8x10", dimension="province", segment="Hubei", **join),
            series(b_join, "0.88x10", dimension="province", segment="Hunan", **join),
            series("volcengine_rtc_join_room_success_ratio", "0.9x10", app_id="n", product_type="native", threshold="5"),
            series(b_join, "0.88x10", app_id="n", product_type="native", threshold="5", dimension="os", segment="ios"),
        ],
        "promql_expr_test": [
            {"expr": worst_record(b_stall), "eval_time": "2m", "exp_samples": [
                {"labels": worst_record(b_stall) + sel(dimension="os", segment="android", **video), "value": 0.3}]},
            {"expr": worst_record(b_join), "eval_time": "2m", "exp_samples": [
                {"labels": worst_record(b_join) + sel(dimension="province", segment="Hubei", **join), "value": 0.8}]},
        ],
    }  # fmt: skip
    run_promtool(tmp_path, without_annotations(CFG), [case])


HEALTH_CASES: list[dict[str, Any]] = [
    {  # a failing source with no API failure counted lately (a failure inside the exporter):
       # reason unknown, not an old one; its refresh cycles keep ending with the app down
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_exporter_api_request_failures_total", "7x30", action="ListCallDetail", reason="auth"),
            series("volcengine_rtc_exporter_source_refresh_duration_seconds", "1+0.1x30", source="call_detail"),
            series("volcengine_rtc_exporter_source_up", "0x30", source="call_detail", app_id="a"),
            series("volcengine_rtc_exporter_source_up", "1x30", source="call_detail", app_id="b"),
        ],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "RtcSourceDown", "exp_alerts": []},
            {"eval_time": "11m", "alertname": "RtcSourceDown",
             "exp_alerts": [exp("RtcSourceDown", source="call_detail", app_id="a", reason="unknown")]},
        ],
    },
    {  # throttling and auth failures, named by the source whose action fails
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_exporter_api_request_failures_total", "0+1x40", action="ListQuality", reason="throttled"),
            series("volcengine_rtc_exporter_api_request_failures_total", "5x40", action="ListApps", reason="throttled"),
            series("volcengine_rtc_exporter_api_request_failures_total", "0+1x40", action="GetRoomOnlineUsers", reason="auth"),
        ],
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "RtcApiThrottled",
             "exp_alerts": [exp("RtcApiThrottled", source="quality_report")]},
            {"eval_time": "15m", "alertname": "RtcApiAuthFailing",
             "exp_alerts": [exp("RtcApiAuthFailing", source="rooms")]},
        ],
    },
    {  # the exporter's target is gone altogether
        "interval": "30s",
        "input_series": [{"series": 'up{job="node", instance="n:9100"}', "values": "1x30"}],
        "alert_rule_test": [
            {"eval_time": "9m", "alertname": "RtcExporterAbsent", "exp_alerts": []},
            {"eval_time": "11m", "alertname": "RtcExporterAbsent",
             "exp_alerts": [{"exp_labels": {**exp("RtcExporterAbsent")["exp_labels"], "instance": None}}]},
        ],
    },
    {  # realtime data stops moving although refreshes succeed (threshold 600 s + the 60 s
       # interval, for 5m)
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_exporter_source_interval_seconds", "60x60", source="realtime_operation", kind="effective"),
            series("volcengine_rtc_exporter_source_interval_seconds", "3600x60", source="quality_report", kind="effective"),
            series("volcengine_rtc_exporter_source_last_success_timestamp_seconds", "0+30x60", source="realtime_operation", app_id="a"),
            series("volcengine_rtc_exporter_source_last_success_timestamp_seconds", "0+30x60", source="realtime_operation", app_id="b"),
            series("volcengine_rtc_exporter_source_data_timestamp_seconds", "0x60", source="realtime_operation", app_id="a"),
            series("volcengine_rtc_exporter_source_data_timestamp_seconds", "0+30x60", source="realtime_operation", app_id="b"),
            series("volcengine_rtc_exporter_source_data_timestamp_seconds", "0x60", source="quality_report", app_id="a"),
        ],
        "alert_rule_test": [
            {"eval_time": "16m", "alertname": "RtcDataStale", "exp_alerts": []},
            {"eval_time": "20m", "alertname": "RtcDataStale",
             "exp_alerts": [exp("RtcDataStale", source="realtime_operation", app_id="a")]},
        ],
    },
    {  # users fell under half of a day earlier (app c is under the warning gate)
        "interval": "5m",
        "input_series": [
            series("volcengine_rtc_online_users", "1000x300 100x12", app_id="a"),
            series("volcengine_rtc_online_users", "1000x300 900x12", app_id="b"),
            series("volcengine_rtc_online_users", "40x300 5x12", app_id="c"),
        ],
        "alert_rule_test": [
            {"eval_time": "25h10m", "alertname": "RtcOnlineUsersDropped", "exp_alerts": []},
            {"eval_time": "25h50m", "alertname": "RtcOnlineUsersDropped",
             "exp_alerts": [exp("RtcOnlineUsersDropped", app_id="a")]},
        ],
    },
]  # fmt: skip


def test_health_alerts(tmp_path: Path) -> None:
    for case in HEALTH_CASES:
        for t in case["alert_rule_test"]:
            for a in t["exp_alerts"]:
                a["exp_labels"] = {k: v for k, v in a["exp_labels"].items() if v is not None}
    day = [c for c in HEALTH_CASES if c["interval"] == "5m"]  # a day of data: evaluate sparsely
    run_promtool(tmp_path, without_annotations(CFG), [c for c in HEALTH_CASES if c not in day])
    run_promtool(tmp_path, without_annotations(CFG), day, every="5m")


def test_every_alert_has_a_case() -> None:
    from tests.test_mixin_incidents import INCIDENT_CASES

    covered = {qa.name for qa in QUALITY_ALERTS}
    for case in [
        vendor_outage_during_stall(),
        exporter_death_during_join_incident(),
        drained_join_outage(),
        severe_onset(),
        *HEALTH_CASES,
        *CALLBACK_CASES,  # tests/test_mixin_callbacks.py
        *(make() for make in INCIDENT_CASES),
    ]:
        covered |= {t["alertname"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert covered == {r["alert"] for r in alert_rules(CFG)}


# -- annotations, as rendered by Prometheus ---------------------------------------------------


@pytest.mark.parametrize("rules_file", [RULES_PATH])
def test_annotations_name_app_severity_since_and_worst_segment(
    tmp_path: Path, rules_file: str
) -> None:
    video = {"media": "video", "threshold": "0.5", "product_type": "native"}
    url = "https://github.com/volc-rtc-exporter/volc-rtc-exporter/blob/main/docs/runbooks.md"
    case = {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_app_info", "1x20", app_id="a", app_name="Alpha", status="running"),
            series("volcengine_rtc_online_users", "300x20", app_id="a"),
            series("volcengine_rtc_stall_ratio", "0.02x3 0.3x16", app_id="a", **video),
            series("volcengine_rtc_breakdown_stall_ratio", "0.45x20", app_id="a", dimension="os", segment="android", **video),
            series("volcengine_rtc_breakdown_stall_ratio", "0.2x20", app_id="a", dimension="os", segment="ios", **video),
        ],
        "alert_rule_test": [{
            "eval_time": "4m",
            "alertname": "RtcVideoStallSevere",
            "exp_alerts": [{
                **exp("RtcVideoStallSevere", app_id="a", product_type="native", media="video"),
                "exp_annotations": {
                    "summary": "RTC video stalling badly for Alpha: 30%",
                    "description": "30% of video call time stalls longer than 500 ms for app Alpha "
                    "(a, native clients); threshold 20%, since 1970-01-01 00:02:00 +0000 UTC; "
                    "resolves after 3m under 8%. Worst segment: os=android at 45%.",
                    "app_name": "Alpha",
                    "dashboard_url": "http://localhost:3000/d/rtc-diagnosis/rtc-diagnosis"
                    "?var-app_id=a&var-product_type=native&var-media=video",
                    "runbook_url": f"{url}#rtcvideostallsevere",
                },
            }],
        }],
    }  # fmt: skip
    blind = {
        "interval": "30s",
        "input_series": [
            series("up", "1x80"),
            series("volcengine_rtc_online_users", "300x10", app_id="a"),
            series("volcengine_rtc_exporter_source_up", "1x10 0x70", source="realtime_quality", app_id="a"),
            series("volcengine_rtc_exporter_api_request_failures_total", "0x10 1+1x70", action="ListRealTimeQuality", reason="throttled"),
        ],
        "alert_rule_test": [{
            "eval_time": "30m",
            "alertname": "RtcQualityBlind",
            "exp_alerts": [{
                **exp("RtcQualityBlind", app_id="a"),
                "exp_annotations": {
                    "summary": "RTC quality of a unknown for over 15 minutes",
                    "description": "No fresh realtime quality data for app a (a) although it had "
                    "300 users at peak in the last 1h: its quality alerts can neither fire nor "
                    "resolve. Cause: refreshing realtime_quality fails (reason: throttled).",
                    "app_name": "a",
                    "dashboard_url": "http://localhost:3000/d/rtc-exporter-health/"
                    "rtc-exporter-health?var-job=volc-rtc&var-instance=x:9877",
                    "runbook_url": f"{url}#rtcqualityblind",
                },
            }],
        }],
    }  # fmt: skip
    from tests.test_mixin_incidents import vendor_outage

    vendor = vendor_outage()
    vendor["alert_rule_test"] = [{
        "eval_time": "25m",
        "alertname": "RtcVendorApiFailing",
        "exp_alerts": [{
            **exp("RtcVendorApiFailing"),
            "exp_annotations": {
                "summary": "Volcengine RTC API failing for every app of x:9877",
                "description": "No realtime quality request of exporter x:9877 has succeeded "
                "for 20m 30s (reason: server), none since 1970-01-01 00:04:30 +0000 UTC; apps "
                "affected: 3 of 3 (Alpha, Beta, Gamma). Their quality alerts can neither fire "
                "nor resolve (open ones stay open); RtcQualityBlind is muted while this fires.",
                "dashboard_url": "http://localhost:3000/d/rtc-exporter-health/"
                "rtc-exporter-health?var-job=volc-rtc&var-instance=x:9877",
                "runbook_url": f"{url}#rtcvendorapifailing",
            },
        }],
    }]  # fmt: skip
    promtool = need_binary("promtool")
    (tmp_path / "rules.yml").write_text((ROOT / rules_file).read_text())
    groups = [g["name"] for g in yaml.safe_load((ROOT / rules_file).read_text())["groups"]]
    doc = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "30s",
        "group_eval_order": groups,
        "tests": [case, blind, vendor],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
    assert FAILURES in (ROOT / rules_file).read_text()


def test_ranking_records_and_the_overview_table(tmp_path: Path) -> None:
    """Each app's distance from its own thresholds (an override included), and the overview
    table's three queries on them: one row per app with traffic, its worst indicator, the
    value, the multiple of the threshold, its online users, and its name."""
    from exporter.mixin.dashboards import build_dashboards
    from exporter.mixin.rules import QUALITY_MULTIPLE, QUALITY_VALUE

    cfg = MixinConfig.model_validate(
        {"overrides": [{"app_id": "x", "thresholds": {"video_stall_max": 0.2}}]}
    )
    table = next(
        p
        for p in build_dashboards(cfg)["rtc-overview"]["panels"]
        if p["title"] == "Apps by distance from their thresholds"
    )
    exprs = [
        re.sub(r'=~"\$\w+"', '=~".*"', t["expr"]) for t in table["targets"]
    ]  # every variable on "All"
    join = {"product_type": "native", "threshold": "5"}
    common = {"product_type": "native", "indicator": "stall", "media": "video"}

    def row(metric: str, app: str, name: str, value: float, **labels: str) -> dict[str, Any]:
        return {"labels": metric + sel(app_id=app, app_name=name, **labels), "value": value}

    case = {
        "interval": "30s",
        "input_series": [
            *(series("volcengine_rtc_online_users", f"{u}x10", app_id=a) for a, u in (("a", 300), ("x", 80), ("q", 10))),
            series("volcengine_rtc_app_info", "1x10", app_id="a", app_name="Alpha", status="running"),
            series("volcengine_rtc_stall_ratio", "0.12x10", app_id="a", **VIDEO_LABELS),
            series("volcengine_rtc_stall_ratio", "0.12x10", app_id="x", **VIDEO_LABELS),
            series("volcengine_rtc_stall_ratio", "0.5x10", app_id="q", **VIDEO_LABELS),  # no traffic
            series("volcengine_rtc_join_room_success_ratio", "0.975x10", app_id="a", **join),
        ],
        "promql_expr_test": [
            {"expr": f'{QUALITY_VALUE}{{app_id="a"}}', "eval_time": "2m", "exp_samples": [
                {"labels": QUALITY_VALUE + sel(app_id="a", indicator="join_room_success", product_type="native"), "value": 0.975},
                {"labels": QUALITY_VALUE + sel(app_id="a", **common), "value": 0.12}]},
            # a: 12 % against 8 % = 1.5; join 2.5 % failures against 5 % allowed = 0.5
            # x: 12 % against its own 20 % = 0.6
            {"expr": f'round({QUALITY_MULTIPLE}{{app_id=~"a|x"}}, 0.001)', "eval_time": "2m", "exp_samples": [
                {"labels": sel(app_id="a", **common), "value": 1.5},
                {"labels": sel(app_id="a", indicator="join_room_success", product_type="native"), "value": 0.5},
                {"labels": sel(app_id="x", **common), "value": 0.6}]},
            # the table: q has no traffic; x has no name (its id stands in)
            {"expr": exprs[0], "eval_time": "2m", "exp_samples": [
                row("", "a", "Alpha", 1.5, **common), row("", "x", "x", 0.6, **common)]},
            {"expr": exprs[1], "eval_time": "2m", "exp_samples": [
                row("", "a", "Alpha", 0.12, **common), row("", "x", "x", 0.12, **common)]},
            {"expr": exprs[2], "eval_time": "2m", "exp_samples": [
                row("", "a", "Alpha", 300, **common), row("", "x", "x", 80, **common)]},
        ],
    }  # fmt: skip
    run_promtool(tmp_path, without_annotations(cfg), [case])


VIDEO_LABELS = {"media": "video", "threshold": "0.5", "product_type": "native"}


def test_ranking_rules_copy_an_app_only_when_its_threshold_differs() -> None:
    """One threshold_multiple rule per indicator; an app with its own threshold gets a copy
    (and is left out of the default rule), an app with only its own traffic gate does not."""
    from exporter.mixin.rules import QUALITY_MULTIPLE, build_rules

    def multiples(overrides: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cfg = MixinConfig.model_validate({"overrides": overrides})
        groups = build_rules(cfg)["groups"]
        return [r for g in groups for r in g["rules"] if r.get("record") == QUALITY_MULTIPLE]

    plain = multiples([])
    assert [r["labels"] for r in plain] == [
        {"indicator": "join_room_success"},
        {"indicator": "stall", "media": "audio"},
        {"indicator": "stall", "media": "video"},
        {"indicator": "first_frame"},
        {"indicator": "network_delay"},
    ]
    assert multiples([{"app_id": "g", "min_online_users": 5}]) == plain
    split = multiples([{"app_id": "x", "thresholds": {"video_stall_max": 0.2}}])
    video = [r for r in split if r["labels"].get("media") == "video"]
    assert [r["expr"] for r in video] == [
        'app_id:volcengine_rtc_quality:value{indicator="stall", media="video", app_id!~"x"} / 0.08',
        'app_id:volcengine_rtc_quality:value{indicator="stall", media="video", app_id="x"} / 0.2',
    ]
    assert len(split) == len(plain) + 1
