"""End to end with the real binaries: demo exporter -> Prometheus (generated rules) ->
Alertmanager (generated routing) -> a webhook receiver run by the test."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import build_dashboards
from exporter.mixin.render import ALERTMANAGER_PATH, RULES_PATH, render_all
from tests.conftest import need_binary
from tests.procs import Proc, free_port, wait_for

pytestmark = pytest.mark.e2e


class Receiver:
    """Records every Alertmanager webhook notification, by path (/pager or /chat)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def alerts(self, path: str | None = None) -> list[dict[str, Any]]:
        return [a for p, doc in self.received if path is None or p == path for a in doc["alerts"]]


@dataclass
class Stack:
    exporter: Proc
    prometheus: Proc
    alertmanager: Proc
    receiver: Receiver
    prom_url: str
    app_id: str

    def query(self, expr: str) -> list[Any]:
        r = httpx.get(self.prom_url + "/api/v1/query", params={"query": expr}, timeout=10)
        assert r.status_code == 200, r.text
        return list(r.json()["data"]["result"])


def start_stack(tmp: Path, scenario: str | None) -> Stack:
    prometheus = need_binary("prometheus")
    alertmanager = need_binary("prometheus-alertmanager")
    receiver = Receiver()
    cfg = MixinConfig.model_validate(
        {
            "for": {"quality": "10s", "exporter_down": "10s", "source_down": "20s"},
            "rule_interval": "2s",
            "receivers": {
                "pager_webhook_url": f"http://127.0.0.1:{receiver.port}/pager",
                "chat_webhook_url": f"http://127.0.0.1:{receiver.port}/chat",
                "group_wait": "1s",
                "group_interval": "2s",
                "repeat_interval": "1h",
            },
        }
    )
    files = render_all(cfg)
    (tmp / "rules.yml").write_text(files[RULES_PATH])
    (tmp / "alertmanager.yml").write_text(files[ALERTMANAGER_PATH])

    exp_port, prom_port, am_port = free_port(), free_port(), free_port()
    args = [
        sys.executable,
        "-m",
        "exporter",
        "--demo",
        f"--web.listen-address=127.0.0.1:{exp_port}",
    ]
    if scenario:
        args.append(f"--demo.scenario={scenario}")
    exporter = Proc(args, tmp / "exporter.log")
    wait_for(
        lambda: httpx.get(f"http://127.0.0.1:{exp_port}/-/ready").status_code == 200, 60, "exporter"
    )
    app_id = re.search(
        r'volcengine_rtc_app_info\{app_id="([0-9a-f]+)",app_name="demo-app-1"',
        httpx.get(f"http://127.0.0.1:{exp_port}/metrics").text,
    ).group(1)  # type: ignore[union-attr]

    am = Proc(
        [
            alertmanager,
            f"--config.file={tmp / 'alertmanager.yml'}",
            f"--storage.path={tmp / 'am'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        tmp / "alertmanager.log",
    )
    prom_cfg = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": [str(tmp / "rules.yml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
        },
        "scrape_configs": [
            {"job_name": "volc-rtc", "static_configs": [{"targets": [f"127.0.0.1:{exp_port}"]}]}
        ],
    }
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg))
    prom = Proc(
        [
            prometheus,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ],
        tmp / "prometheus.log",
    )
    prom_url = f"http://127.0.0.1:{prom_port}"
    wait_for(lambda: httpx.get(prom_url + "/-/ready").status_code == 200, 60, "prometheus ready")
    wait_for(
        lambda: httpx.get(f"http://127.0.0.1:{am_port}/-/ready").status_code == 200,
        60,
        "alertmanager ready",
    )
    stack = Stack(exporter, prom, am, receiver, prom_url, app_id)
    wait_for(lambda: bool(stack.query('up{job="volc-rtc"} == 1')), 30, "target up")
    return stack


@pytest.fixture
def stack_factory(tmp_path: Path) -> Iterator[Any]:
    stacks: list[Stack] = []

    def make(scenario: str | None) -> Stack:
        s = start_stack(tmp_path, scenario)
        stacks.append(s)
        return s

    yield make
    for s in stacks:
        for p in (s.prometheus, s.alertmanager, s.exporter):
            p.stop()
        s.receiver.server.shutdown()


def test_stall_spike_pages_the_on_call(stack_factory: Any) -> None:
    stack = stack_factory("stall_spike:media=video,value=30")
    wait_for(
        lambda: any(
            a["labels"]["alertname"] == "RtcVideoStallHigh" for a in stack.receiver.alerts("/pager")
        ),
        120,
        "page",
        interval=1,
    )
    page = next(
        a
        for a in stack.receiver.alerts("/pager")
        if a["labels"]["alertname"] == "RtcVideoStallHigh"
    )
    assert page["labels"]["app_id"] == stack.app_id
    assert page["labels"]["media"] == "video"
    assert page["labels"]["severity"] == "critical"
    assert page["status"] == "firing"
    assert page["annotations"]["runbook_url"].endswith("#rtcvideostallhigh")
    # only the spiked app and medium
    pages = {
        (a["labels"]["alertname"], a["labels"].get("app_id"), a["labels"].get("media"))
        for a in stack.receiver.alerts("/pager")
    }
    assert pages == {("RtcVideoStallHigh", stack.app_id, "video")}

    # every panel of every dashboard returns data from this Prometheus
    time.sleep(6)  # a few more scrapes so rate() windows have two points
    subst = {
        "$app_id": ".*",
        "$media": ".*",
        "$granularity": ".*",
        "$room_id": ".*",
        "$user_id": ".*",
        "$__rate_interval": "1m",
    }
    empty = []
    for uid, dash in build_dashboards(MixinConfig()).items():
        for panel in dash["panels"]:
            targets = panel.get("targets", [])
            if not targets:
                continue
            results = []
            for t in targets:
                expr = t["expr"]
                for k, v in subst.items():
                    expr = expr.replace(k, v)
                results.append(stack.query(expr))
            if not any(results):
                empty.append(f"{uid}: {panel['title']}")
    assert empty == []


def test_no_scenario_no_quality_alert(stack_factory: Any) -> None:
    stack = stack_factory(None)
    # the rules have been evaluated well past their 10 s `for` on real data
    wait_for(lambda: bool(stack.query("volcengine_rtc_stall_ratio")), 30, "quality data")
    time.sleep(25)
    assert stack.query('ALERTS{category="quality"}') == []
    assert [a for a in stack.receiver.alerts() if a["labels"].get("category") == "quality"] == []
    # the pipeline itself works: rules are loaded and evaluated
    groups = httpx.get(stack.prom_url + "/api/v1/rules").json()["data"]["groups"]
    assert {g["name"] for g in groups} == {"volc-rtc.recording", "volc-rtc.alerts"}
    assert stack.query("app_id:volcengine_rtc_online_users:max")
