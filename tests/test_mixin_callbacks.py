"""`promtool test rules` for the event-callback alerts: recording start and upload failures
(shares summed across the exporter's replicas, the floor of failures, the page naming the
storage platform and region), an app gone silent while it has users (also across a restart),
and the rejected share by outcome. Also the dashboard's queries use only served families."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from exporter.callbacks.families import SPECS
from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import build_dashboards
from exporter.mixin.render import dump_yaml
from exporter.mixin.rules import alert_rules, build_rules
from tests.conftest import need_binary

CFG = MixinConfig()
JOB = "volc-rtc"


def s(metric: str, values: str, instance: str = "x:9877", **labels: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, "instance": instance, **labels}.items())
    return {"series": f"{metric}{{{inner}}}", "values": values}


def exp(alert: str, **labels: str) -> dict[str, Any]:
    rule = next(r for r in alert_rules(CFG) if r["alert"] == alert)
    return {"exp_labels": {**rule["labels"], "job": JOB, **labels}}


def promtool(tmp: Path, rules: dict[str, Any], tests: list[dict[str, Any]]) -> None:
    binary = need_binary("promtool")
    (tmp / "rules.yml").write_text(dump_yaml(rules))
    doc = {"rule_files": ["rules.yml"], "evaluation_interval": "30s", "tests": tests}
    (tmp / "tests.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run(
        [binary, "test", "rules", "tests.yml"], capture_output=True, text=True, cwd=tmp
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]


def no_annotations() -> dict[str, Any]:
    rules = build_rules(CFG)
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    return rules


UP = "volcengine_rtc_recording_uploads_total"
ST = "volcengine_rtc_recording_tasks_started_total"
S3 = {"storage_platform": "s3", "storage_region": "us-east-1"}
OSS = {"storage_platform": "aliyun_oss", "storage_region": "oss-cn-hangzhou"}


def upload_failing() -> dict[str, Any]:
    """App a fails half its S3 uploads, seen half on each replica; app b fails once only (under
    the floor); app c fails 1 in 100 (under the share); app a's OSS uploads are fine."""
    return {
        "interval": "1m",
        "input_series": [
            s(UP, "0+1x30", app_id="a", result="failure", **S3),
            s(UP, "0+1x30", "y:9877", app_id="a", result="failure", **S3),
            s(UP, "0+2x30", app_id="a", result="success", **S3),
            s(UP, "0+5x30", app_id="a", result="success", **OSS),
            s(UP, "0x10 1x20", app_id="b", result="failure", **S3),
            s(UP, "0+1x30", app_id="b", result="success", **S3),
            s(UP, "0+1x30", app_id="c", result="failure", **S3),
            s(UP, "0+100x30", app_id="c", result="success", **S3),
        ],
        "alert_rule_test": [
            {"eval_time": "4m", "alertname": "RtcRecordingUploadFailing", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "RtcRecordingUploadFailing",
             "exp_alerts": [exp("RtcRecordingUploadFailing", app_id="a", **S3)]},
        ],
    }  # fmt: skip


def start_failing() -> dict[str, Any]:
    return {
        "interval": "1m",
        "input_series": [
            s(ST, "0+1x30", app_id="a", result="failure"),
            s(ST, "0+3x30", app_id="a", result="success"),
            s(ST, "0+0x30", app_id="b", result="failure"),
            s(ST, "0+3x30", app_id="b", result="success"),
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "RtcRecordingStartFailing", "exp_alerts": []},
            {"eval_time": "12m", "alertname": "RtcRecordingStartFailing",
             "exp_alerts": [exp("RtcRecordingStartFailing", app_id="a")]},
        ],
    }  # fmt: skip


def silent() -> dict[str, Any]:
    """a: events stop at 10 min; d: events stop and the exporter restarts (the gauge is gone);
    b: events go on; c: too few users; e: never had an event (not subscribed)."""
    last = "volcengine_rtc_callback_last_event_timestamp_seconds"
    users = "volcengine_rtc_online_users"
    return {
        "interval": "1m",
        "input_series": [
            *(s(users, "50x60", app_id=a) for a in "abde"),
            s(users, "5x60", app_id="c"),
            s(last, "0+60x10 600x50", app_id="a"),
            s(last, "0+60x60", app_id="b"),
            s(last, "0+60x10 600x50", app_id="c"),
            s(last, "0+60x10", app_id="d"),
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": "RtcCallbacksSilent", "exp_alerts": []},
            {"eval_time": "35m", "alertname": "RtcCallbacksSilent",
             "exp_alerts": [exp("RtcCallbacksSilent", app_id="a"),
                            exp("RtcCallbacksSilent", app_id="d")]},
        ],
    }  # fmt: skip


def rejected() -> dict[str, Any]:
    req = "volcengine_rtc_callback_requests_total"
    return {
        "interval": "1m",
        "input_series": [
            s(req, "0+100x40", outcome="accepted"),
            s(req, "0+30x40", outcome="bad_signature"),
            s(req, "0+1x40", outcome="stale"),
            s(req, "0x40", outcome="too_large"),
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "RtcCallbacksRejected", "exp_alerts": []},
            {"eval_time": "30m", "alertname": "RtcCallbacksRejected",
             "exp_alerts": [exp("RtcCallbacksRejected", outcome="bad_signature")]},
        ],
    }  # fmt: skip


CALLBACK_CASES = [upload_failing(), start_failing(), silent(), rejected()]


def test_callback_alerts(tmp_path: Path) -> None:
    promtool(tmp_path, no_annotations(), CALLBACK_CASES)


def test_the_upload_page_names_platform_and_region(tmp_path: Path) -> None:
    case = upload_failing()
    rule = next(r for r in alert_rules(CFG) if r["alert"] == "RtcRecordingUploadFailing")
    labels = {"app_id": "a", **S3, "job": JOB}

    def render(text: str) -> str:
        text = text.replace("{{ $value | humanizePercentage }}", "50%")
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

    expected = {k: render(v) for k, v in rule["annotations"].items()}
    assert expected["summary"] == "Recordings of a fail to upload to s3 us-east-1"
    case["alert_rule_test"] = case["alert_rule_test"][1:]
    case["alert_rule_test"][0]["exp_alerts"][0]["exp_annotations"] = expected
    promtool(tmp_path, build_rules(CFG), [case])


def test_the_events_dashboard_reads_only_served_families() -> None:
    dash = build_dashboards(CFG)["rtc-events"]
    exprs = " ".join(t["expr"] for p in dash["panels"] if "targets" in p for t in p["targets"])
    used = {re.sub(r"_bucket$", "", n) for n in re.findall(r"volcengine_rtc_[a-z_]+", exprs)}
    families = {spec.name for spec in SPECS.values()}
    assert used - {"volcengine_rtc_app_info"} <= families  # app names for the legends
    assert families - used == set()  # every callback family has a panel
