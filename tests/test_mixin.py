"""Generated dashboards, rules and routing: committed, valid, tested with promtool and amtool."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.collectors import all_specs
from exporter.mixin.cli import main as mixin_main
from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import DASHBOARDS, build_dashboards
from exporter.mixin.render import ALERTMANAGER_PATH, RULES_PATH, render_all
from exporter.mixin.rules import ALERTS, RECORDING, build_rules
from tests.conftest import ROOT, need_binary
from tests.contract import contract_families

RULES = ROOT / RULES_PATH
AM = ROOT / ALERTMANAGER_PATH


def test_generated_files_are_committed_and_current() -> None:
    for rel, content in render_all(MixinConfig()).items():
        path = ROOT / rel
        assert path.exists(), f"{rel} missing: run volc-rtc-exporter mixin"
        assert path.read_text(encoding="utf-8") == content, (
            f"{rel} is stale: run volc-rtc-exporter mixin"
        )


def test_layout_pictures_exist() -> None:
    for uid in DASHBOARDS:
        data = (ROOT / "grafana" / "dashboards" / f"{uid}.png").read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000


def test_cli_regenerates_with_user_thresholds(tmp_path: Path) -> None:
    cfg = tmp_path / "thresholds.yml"
    cfg.write_text(
        'selector: job="rtc"\nmin_online_users: 500\nthresholds: {video_stall_max: 0.2}\nfor: {quality: 7m}\n'
    )
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path)]) == 0
    rules = yaml.safe_load((tmp_path / RULES_PATH).read_text())
    video = next(
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "RtcVideoStallHigh"
    )
    assert "> 0.2" in video["expr"] and ">= 500" in video["expr"] and video["for"] == "7m"
    assert 'volcengine_rtc_stall_ratio{job="rtc", media="video"}' in video["expr"]
    dash = json.loads((tmp_path / "grafana/dashboards/rtc-overview.json").read_text())
    panel_exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert panel_exprs and all(
        'job="rtc"' in e for e in panel_exprs if "volcengine_rtc_" in e and ":" not in e
    )
    watch = json.loads((tmp_path / "grafana/dashboards/rtc-client-watch.json").read_text())
    assert all(
        'job="rtc"' in v["query"] for v in watch["templating"]["list"] if v["type"] == "query"
    )
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path), "--check"]) == 0
    assert mixin_main(["--out", str(tmp_path), "--check"]) == 1  # defaults differ from the files
    bad = tmp_path / "bad.yml"
    bad.write_text("thresholds: {video_stall_max: 5}\n")
    assert mixin_main(["--config", str(bad), "--out", str(tmp_path)]) == 2


def test_promtool_check_rules() -> None:
    promtool = need_binary("promtool")
    res = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "SUCCESS: 14 rules found" in res.stdout


def test_rule_conventions() -> None:
    rules = build_rules(MixinConfig())
    alerts = [r for g in rules["groups"] for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} == {a.name for a in ALERTS}
    for a in alerts:
        assert a["alert"].startswith("Rtc")
        assert a["labels"]["severity"] in ("critical", "warning")
        assert set(a["annotations"]) == {"summary", "description", "runbook_url", "dashboard_url"}
        assert a["annotations"]["runbook_url"].endswith("#" + a["alert"].lower())
        if a["labels"].get("category") == "quality" and a["alert"] != "RtcOnlineUsersDropped":
            assert "app_id:volcengine_rtc_online_users:max >=" in a["expr"], "traffic gate"
            assert a["for"] == "5m"
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    for a in alerts:
        assert f"## {a['alert']}" in runbooks


# -- promtool test rules ----------------------------------------------------------------------


def annotations(alert: str, labels: dict[str, str], value: str) -> dict[str, str]:
    """The alert's annotation templates with labels and a hand-written rendered $value."""
    rule = next(
        r
        for g in build_rules(MixinConfig())["groups"]
        for r in g["rules"]
        if r.get("alert") == alert
    )
    out = {}
    for k, v in rule["annotations"].items():
        v = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m.group(1), ""), v)
        v = re.sub(r"\{\{ (printf \"[^\"]+\" )?\$value( \| \w+)? \}\}", value, v)
        out[k] = v
    return out


def quality_case(
    alert: str,
    metric: str,
    series_labels: str,
    bad: float,
    good: float,
    exp: dict[str, str],
    value: str,
) -> dict[str, Any]:
    """Apps: a fires; b has bad quality but too few users (traffic gate); c is bad for only
    2.5 minutes (the for duration); d is fine."""
    series = []
    for app, users, values in (
        ("a", 100, f"{bad}x40"),
        ("b", 10, f"{bad}x40"),
        ("c", 100, f"{good}x15 {bad}x25"),
        ("d", 100, f"{good}x40"),
    ):
        series.append(
            {"series": f'volcengine_rtc_online_users{{app_id="{app}"}}', "values": f"{users}x40"}
        )
        series.append({"series": f'{metric}{{app_id="{app}",{series_labels}}}', "values": values})
    labels = {"alertname": alert, "app_id": "a", "category": "quality", **exp}
    sev = {
        "severity": next(
            r
            for g in build_rules(MixinConfig())["groups"]
            for r in g["rules"]
            if r.get("alert") == alert
        )["labels"]["severity"]
    }
    labels |= sev
    exp_alert = {
        "exp_labels": {k: v for k, v in labels.items() if k != "alertname"},
        "exp_annotations": annotations(alert, labels, value),
    }
    return {
        "interval": "30s",
        "input_series": series,
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": alert, "exp_alerts": [exp_alert]},
            # at 9m45s c has been bad for 2 minutes only, a for 9m45s: still only a
            {"eval_time": "3m", "alertname": alert, "exp_alerts": []},  # a still pending (for 5m)
        ],
    }


QUALITY = [
    (
        "RtcJoinRoomSuccessLow",
        "volcengine_rtc_join_room_success_ratio",
        'threshold="5"',
        0.9,
        0.99,
        {},
        "90%",
    ),
    (
        "RtcAudioStallHigh",
        "volcengine_rtc_stall_ratio",
        'media="audio",threshold="0.08"',
        0.1,
        0.01,
        {"media": "audio"},
        "10%",
    ),
    (
        "RtcVideoStallHigh",
        "volcengine_rtc_stall_ratio",
        'media="video",threshold="0.5"',
        0.2,
        0.02,
        {"media": "video"},
        "20%",
    ),
    (
        "RtcFirstFrameFailuresHigh",
        "volcengine_rtc_first_frame_send_success_ratio",
        'media="video"',
        0.9,
        0.999,
        {"media": "video", "stage": "send"},
        "90%",
    ),
    (
        "RtcFirstFrameFailuresHigh",
        "volcengine_rtc_first_frame_decode_success_ratio",
        'media="audio"',
        0.8,
        0.999,
        {"media": "audio", "stage": "decode"},
        "80%",
    ),
    (
        "RtcNetworkDelayShareLow",
        "volcengine_rtc_network_delay_within_threshold_ratio",
        'media="audio",threshold="0.4"',
        0.8,
        0.97,
        {"media": "audio"},
        "80%",
    ),
]


def other_cases() -> list[dict[str, Any]]:
    def one(
        alert: str,
        series: list[dict[str, str]],
        at: str,
        labels: dict[str, str],
        value: str,
        silent_at: str,
    ) -> dict[str, Any]:
        rule = next(
            r
            for g in build_rules(MixinConfig())["groups"]
            for r in g["rules"]
            if r.get("alert") == alert
        )
        full = {
            "alertname": alert,
            **labels,
            "severity": rule["labels"]["severity"],
            **{k: v for k, v in rule["labels"].items() if k != "severity"},
        }
        return {
            "interval": "30s" if "Dropped" not in alert else "5m",
            "input_series": series,
            "alert_rule_test": [
                {
                    "eval_time": at,
                    "alertname": alert,
                    "exp_alerts": [
                        {
                            "exp_labels": {k: v for k, v in full.items() if k != "alertname"},
                            "exp_annotations": annotations(alert, full, value),
                        }
                    ],
                },
                {"eval_time": silent_at, "alertname": alert, "exp_alerts": []},
            ],
        }

    return [
        one(
            "RtcOnlineUsersDropped",
            [
                {"series": 'volcengine_rtc_online_users{app_id="a"}', "values": "1000x300 100x12"},
                {
                    "series": 'volcengine_rtc_online_users{app_id="b"}',
                    "values": "1000x300 900x12",
                },  # small dip
                {
                    "series": 'volcengine_rtc_online_users{app_id="c"}',
                    "values": "40x300 5x12",
                },  # under the gate
            ],
            "25h50m",
            {"app_id": "a"},
            "100",
            "25h10m",  # a dropped at 25h05m: pending, for 15m not over
        ),
        one(
            "RtcExporterDown",
            [
                {"series": 'up{job="volc-rtc",instance="x:9877"}', "values": "0x40"},
                {"series": 'up{job="volc-rtc",instance="y:9877"}', "values": "1x40"},
                {"series": 'up{job="node",instance="z:9100"}', "values": "0x40"},
            ],
            "10m",
            {"instance": "x:9877", "job": "volc-rtc"},
            "0",
            "4m",
        ),
        one(
            "RtcSourceDown",
            [
                {
                    "series": 'volcengine_rtc_exporter_source_up{source="realtime_quality",app_id="a"}',
                    "values": "0x60",
                },
                {
                    "series": 'volcengine_rtc_exporter_source_up{source="realtime_quality",app_id="b"}',
                    "values": "1x50 0x10",
                },
            ],
            "15m",
            {"source": "realtime_quality", "app_id": "a"},
            "0",
            "9m",
        ),
        one(
            "RtcDataStale",
            [
                {
                    "series": 'volcengine_rtc_exporter_source_data_timestamp_seconds{source="realtime_operation",app_id="a"}',
                    "values": "0x60",
                },
                {
                    "series": 'volcengine_rtc_exporter_source_data_timestamp_seconds{source="realtime_operation",app_id="b"}',
                    "values": "0+30x60",
                },
                {
                    "series": 'volcengine_rtc_exporter_source_data_timestamp_seconds{source="quality_report",app_id="a"}',
                    "values": "0x60",
                },
            ],
            "20m",
            {"source": "realtime_operation", "app_id": "a"},
            "20m 0s",
            "14m",  # stale since 10m, for 5m not over at 14m
        ),
        one(
            "RtcApiThrottled",
            [
                {
                    "series": 'volcengine_rtc_exporter_api_request_failures_total{action="ListQuality",reason="throttled"}',
                    "values": "0+1x80",
                },
                {
                    "series": 'volcengine_rtc_exporter_api_request_failures_total{action="ListApps",reason="throttled"}',
                    "values": "5x80",
                },
                {
                    "series": 'volcengine_rtc_exporter_api_request_failures_total{action="ListApps",reason="server"}',
                    "values": "0+1x80",
                },
            ],
            "30m",
            {"action": "ListQuality"},
            "0.03",
            "10m",
        ),
        one(
            "RtcApiAuthFailing",
            [
                {
                    "series": 'volcengine_rtc_exporter_api_request_failures_total{action="ListRealTimeQuality",reason="auth"}',
                    "values": "0+1x40",
                },
                {
                    "series": 'volcengine_rtc_exporter_api_request_failures_total{action="ListApps",reason="auth"}',
                    "values": "3x40",
                },
            ],
            "15m",
            {"action": "ListRealTimeQuality"},
            "0.03333333333333333",
            "4m",
        ),
    ]


def test_promtool_test_rules(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    tests = [quality_case(*case) for case in QUALITY] + other_cases()
    covered = {t["alert_rule_test"][0]["alertname"] for t in tests}
    assert covered == {a.name for a in ALERTS}, "every alert needs a firing and a silent case"
    doc = {"rule_files": [str(RULES)], "evaluation_interval": "30s", "tests": tests}
    path = tmp_path / "tests.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# -- Alertmanager -------------------------------------------------------------------------------


def test_amtool_check_config() -> None:
    amtool = need_binary("amtool")
    res = subprocess.run([amtool, "check-config", str(AM)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (
            [
                "severity=critical",
                "alertname=RtcVideoStallHigh",
                "app_id=a",
                "media=video",
                "category=quality",
            ],
            "pager,chat",
        ),
        (["severity=critical", "alertname=RtcJoinRoomSuccessLow", "app_id=a"], "pager,chat"),
        (["severity=warning", "alertname=RtcNetworkDelayShareLow", "app_id=a"], "chat"),
        (["severity=warning", "alertname=RtcSourceDown", "app_id=a"], "chat"),
    ],
)
def test_alertmanager_routing(labels: list[str], receivers: str) -> None:
    amtool = need_binary("amtool")
    res = subprocess.run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={AM}",
            f"--verify.receivers={receivers}",
            *labels,
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receivers


def test_inhibition_rules() -> None:
    doc = yaml.safe_load(AM.read_text())
    inhibit = doc["inhibit_rules"]
    assert {
        "source_matchers": ['alertname="RtcSourceDown"'],
        "target_matchers": ['category="quality"'],
        "equal": ["app_id"],
    } in inhibit
    assert any(
        r["source_matchers"] == ['alertname="RtcExporterDown"']
        and r["target_matchers"] == ['category="quality"']
        for r in inhibit
    )
    assert doc["route"]["group_by"] == ["alertname", "app_id"]


# -- drift between dashboards, rules and the contract -------------------------------------------


def exprs() -> list[str]:
    out = [r["expr"] for g in build_rules(MixinConfig())["groups"] for r in g["rules"]]
    for dash in build_dashboards(MixinConfig()).values():
        for p in dash["panels"]:
            out += [t["expr"] for t in p.get("targets", [])]
        out += [
            v.get("query", "")
            for v in dash["templating"]["list"]
            if isinstance(v.get("query"), str)
        ]
    return out


def test_every_metric_named_exists_in_the_contract() -> None:
    contract = contract_families()
    for expr in exprs():
        for name in re.findall(r"(?<![:\w])(volcengine_rtc_[a-z_]+)", expr):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            assert name in contract or base in contract, (
                f"{name} in {expr!r} is not in the contract"
            )
        for rec in re.findall(r"\b\w+:volcengine_rtc_\w+:\w+\b", expr):
            assert rec in RECORDING, rec


def test_every_vendor_family_appears_in_a_panel() -> None:
    panel_text = " ".join(
        t["expr"]
        for d in build_dashboards(MixinConfig()).values()
        for p in d["panels"]
        for t in p.get("targets", [])
    )
    vendor = {spec.name for _, spec in all_specs()}
    assert vendor <= contract_families()
    missing = {f for f in vendor if not re.search(rf"{f}\b", panel_text)}
    assert missing == set()


def test_dashboards_have_variables_units_links_and_annotations() -> None:
    for uid, dash in build_dashboards(MixinConfig()).items():
        names = [v["name"] for v in dash["templating"]["list"]]
        assert names[:3] == ["datasource", "app_id", "media"], uid
        app = dash["templating"]["list"][1]
        assert (
            app["multi"]
            and "volcengine_rtc_app_info" in app["query"]
            and "app_name" in app["regex"]
        )
        assert dash["annotations"]["list"][0]["expr"].startswith("ALERTS{")
        for p in dash["panels"]:
            if p["type"] in ("timeseries", "stat"):
                assert p["links"] and p["links"][0]["url"].endswith("metrics.md"), p["title"]
                unit = p["fieldConfig"]["defaults"]["unit"]
                exprs_ = " ".join(t["expr"] for t in p["targets"])
                if "_ratio" in exprs_:
                    assert unit == "percentunit", p["title"]
                if "bytes_per_second" in exprs_:
                    assert unit == "bps" and exprs_.startswith("8 * "), p["title"]
                if "frames_per_second" in exprs_:
                    assert unit == "fps"
    report = build_dashboards(MixinConfig())["rtc-daily-report"]
    assert "Delayed" in report["description"] and report["panels"][0]["type"] == "text"
