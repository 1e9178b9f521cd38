"""The first severe page carries the worst segment when the breakdown comes on a trigger.

The severe alerts' description reads the worst-segment recording rule of the live breakdown
(``Worst segment: os=android at 45%.``). With the breakdown fetched on a trigger, the segment is
in Prometheus within one realtime_quality interval (60 s) of the app-level value showing the
stall (tests/test_planner_day.py proves that part in virtual time), long before the severe
tier's ``for`` (2m) elapses: the first notification names it. With the routine breakdown cycle
alone (every 300 s or more) the first page goes out without it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from exporter.mixin.render import RULES_PATH
from tests.conftest import ROOT, need_binary
from tests.test_mixin_rules import exp, series

VIDEO = {"media": "video", "threshold": "0.5", "product_type": "native"}
URL = "https://github.com/volc-rtc-exporter/volc-rtc-exporter/blob/main/docs/runbooks.md"


def case(breakdown_from: int, worst: str) -> dict[str, Any]:
    """The app's video stall goes from 2 % to 30 % at 2m; the android segment (45 %) is in the
    breakdown from ``breakdown_from`` samples (30 s each) on; the page at 4m."""
    present = f"_x{breakdown_from - 1} " if breakdown_from else ""
    seg = {"app_id": "a", "dimension": "os", **VIDEO}
    return {
        "interval": "30s",
        "input_series": [
            series("volcengine_rtc_app_info", "1x20", app_id="a", app_name="Alpha", status="running"),
            series("volcengine_rtc_online_users", "300x20", app_id="a"),
            series("volcengine_rtc_stall_ratio", "0.02x3 0.3x16", app_id="a", **VIDEO),
            series("volcengine_rtc_breakdown_stall_ratio", f"{present}0.45x20", segment="android", **seg),
            series("volcengine_rtc_breakdown_stall_ratio", f"{present}0.2x20", segment="ios", **seg),
        ],
        "alert_rule_test": [{
            "eval_time": "3m30s", "alertname": "RtcVideoStallSevere", "exp_alerts": [],
        }, {
            "eval_time": "4m",  # the first evaluation that fires: the first notification
            "alertname": "RtcVideoStallSevere",
            "exp_alerts": [{
                **exp("RtcVideoStallSevere", app_id="a", product_type="native", media="video"),
                "exp_annotations": {
                    "summary": "RTC video stalling badly for Alpha: 30%",
                    "description": "30% of video call time stalls longer than 500 ms for app Alpha "
                    "(a, native clients); threshold 20%, since 1970-01-01 00:02:00 +0000 UTC; "
                    f"resolves after 3m under 8%.{worst}",
                    "app_name": "Alpha",
                    "dashboard_url": "http://localhost:3000/d/rtc-diagnosis/rtc-diagnosis"
                    "?var-app_id=a&var-product_type=native&var-media=video",
                    "runbook_url": f"{URL}#rtcvideostallsevere",
                },
            }],
        }],
    }  # fmt: skip


def test_the_first_severe_page_carries_the_triggered_worst_segment(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    rules = (ROOT / RULES_PATH).read_text()
    (tmp_path / "rules.yml").write_text(rules)
    doc = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "30s",
        "group_eval_order": [g["name"] for g in yaml.safe_load(rules)["groups"]],
        "tests": [
            # triggered: the segment lands 60 s after the app value shows the stall (2m -> 3m)
            case(7, " Worst segment: os=android at 45%."),
            # routine cycle only: the segment comes at 7m, after the first page
            case(15, ""),
        ],
    }
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    res = subprocess.run(
        [promtool, "test", "rules", "tests.yml"], capture_output=True, text=True, cwd=tmp_path
    )
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-2000:]
