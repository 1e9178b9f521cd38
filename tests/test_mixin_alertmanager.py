"""The generated routing on the real Alertmanager: alerts are posted to its API, their status is
read back from ``/api/v2/alerts`` and ``/api/v2/alerts/groups``, and what it sends arrives at
a webhook receiver run by the test."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.mixin.config import MixinConfig
from exporter.mixin.render import ALERTMANAGER_PATH, render_all
from tests.conftest import ROOT, need_binary
from tests.procs import Proc, free_port, wait_for
from tests.test_e2e import Receiver

AM = ROOT / ALERTMANAGER_PATH


@dataclass
class Manager:
    url: str
    receiver: Receiver

    def post(self, *alerts: dict[str, str]) -> None:
        now = dt.datetime.now(dt.UTC)
        body = [
            {
                "labels": labels,
                "annotations": {"summary": labels["alertname"]},
                "startsAt": now.isoformat(),
                "endsAt": (now + dt.timedelta(hours=1)).isoformat(),
            }
            for labels in alerts
        ]
        r = httpx.post(self.url + "/api/v2/alerts", json=body, timeout=5)
        assert r.status_code == 200, r.text

    def status(self, **labels: str) -> list[dict[str, Any]]:
        r = httpx.get(self.url + "/api/v2/alerts", timeout=5)
        return [a for a in r.json() if labels.items() <= a["labels"].items()]

    def groups(self, receiver: str, **labels: str) -> list[dict[str, Any]]:
        r = httpx.get(self.url + "/api/v2/alerts/groups", params={"receiver": receiver}, timeout=5)
        out = []
        for g in r.json():
            alerts = [a for a in g["alerts"] if labels.items() <= a["labels"].items()]
            if alerts:
                out.append({**g, "alerts": alerts})
        return out


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Manager]:
    binary = need_binary("prometheus-alertmanager")
    tmp = tmp_path_factory.mktemp("am")
    receiver = Receiver()
    cfg = MixinConfig.model_validate(
        {
            "receivers": {
                "pager_webhook_url": f"http://127.0.0.1:{receiver.port}/pager",
                "chat_webhook_url": f"http://127.0.0.1:{receiver.port}/chat",
                "group_wait": "1s",
                "group_interval": "2s",
                "pager_group_wait": "1s",
                "pager_group_interval": "2s",
            }
        }
    )
    (tmp / "am.yml").write_text(render_all(cfg)[ALERTMANAGER_PATH])
    port = free_port()
    proc = Proc(
        [
            binary,
            f"--config.file={tmp / 'am.yml'}",
            f"--storage.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        tmp / "am.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(url + "/-/ready").status_code == 200, 30, "alertmanager ready")
    yield Manager(url, receiver)
    proc.stop()
    receiver.server.shutdown()


def quality(alertname: str, app: str, instance: str, **extra: str) -> dict[str, str]:
    return {
        "alertname": alertname,
        "severity": "critical",
        "category": "quality",
        "source": "realtime_quality",
        "indicator": "stall",
        "tier": "sustained",
        "job": "volc-rtc",
        "instance": instance,
        "app_id": app,
        "product_type": "native",
        **extra,
    }


def source_down(app: str, instance: str, source: str, reason: str) -> dict[str, str]:
    return {
        "alertname": "RtcSourceDown",
        "severity": "warning",
        "category": "health",
        "job": "volc-rtc",
        "instance": instance,
        "app_id": app,
        "source": source,
        "reason": reason,
    }


def state(m: Manager, **labels: str) -> dict[str, Any]:
    found = m.status(**labels)
    assert len(found) == 1, found
    return dict(found[0]["status"])


def test_watch_list_failure_does_not_inhibit_a_stall_page(manager: Manager) -> None:
    stall = quality("RtcVideoStallHigh", "app-w", "w:1", media="video")
    manager.post(source_down("app-w", "w:1", "call_detail", "server"), stall)
    # the realtime quality source failing for another app does inhibit that app's page
    manager.post(
        source_down("app-r", "w:1", "realtime_quality", "server"),
        quality("RtcVideoStallHigh", "app-r", "w:1", media="video"),
    )
    wait_for(
        lambda: any(a["labels"]["app_id"] == "app-w" for a in manager.receiver.alerts("/pager")),
        30,
        "stall page",
    )
    assert state(manager, alertname="RtcVideoStallHigh", app_id="app-w") == {
        "state": "active",
        "inhibitedBy": [],
        "silencedBy": [],
    }
    wait_for(
        lambda: (
            state(manager, alertname="RtcVideoStallHigh", app_id="app-r")["state"] == "suppressed"
        ),
        30,
        "inhibition",
    )
    assert not any(a["labels"]["app_id"] == "app-r" for a in manager.receiver.alerts("/pager"))


def test_audio_and_video_stall_on_one_app_is_one_page(manager: Manager) -> None:
    manager.post(
        quality("RtcAudioStallHigh", "app-av", "av:1", media="audio"),
        quality("RtcVideoStallHigh", "app-av", "av:1", media="video"),
        quality("RtcVideoStallSevere", "app-av", "av:1", media="video", tier="severe"),
    )

    def pages() -> list[dict[str, Any]]:
        return [
            doc
            for path, doc in manager.receiver.received
            if path == "/pager" and doc["groupLabels"].get("app_id") == "app-av"
        ]

    wait_for(lambda: bool(pages()), 30, "page")
    groups = manager.groups("pager", app_id="app-av")
    assert len(groups) == 1 and len(groups[0]["alerts"]) == 3
    first = pages()[0]
    assert {a["labels"]["alertname"] for a in first["alerts"]} == {
        "RtcAudioStallHigh",
        "RtcVideoStallSevere",  # the sustained video alert is inhibited by the severe one
    }
    assert {p["groupKey"] for p in pages()} == {first["groupKey"]}  # one incident
    assert state(manager, alertname="RtcVideoStallHigh", app_id="app-av")["state"] == "suppressed"


def test_five_apps_source_down_is_one_chat_message(manager: Manager) -> None:
    apps = [f"app-v{i}" for i in range(5)]
    manager.post(*(source_down(a, "v:1", "realtime_operation", "server") for a in apps))

    def messages() -> list[dict[str, Any]]:
        return [
            doc
            for path, doc in manager.receiver.received
            if path == "/chat"
            and doc["groupLabels"] == {"alertname": "RtcSourceDown", "source": "realtime_operation"}
        ]

    wait_for(lambda: bool(messages()), 30, "chat message")
    assert len(messages()) == 1
    assert sorted(a["labels"]["app_id"] for a in messages()[0]["alerts"]) == apps
    assert [a["labels"]["reason"] for a in messages()[0]["alerts"]] == ["server"] * 5
    assert len(manager.groups("chat", alertname="RtcSourceDown", source="realtime_operation")) == 1


def test_auth_failure_inhibits_the_source_down_it_explains(manager: Manager) -> None:
    auth = {
        "alertname": "RtcApiAuthFailing",
        "severity": "critical",
        "category": "health",
        "job": "volc-rtc",
        "instance": "au:1",
        "source": "quality_report",
        "reason": "auth",
    }
    manager.post(
        auth,
        source_down("app-au", "au:1", "quality_report", "auth"),
        source_down("app-au", "au:1", "quality_report", "timeout"),  # not explained by auth
    )
    wait_for(
        lambda: state(manager, app_id="app-au", reason="auth")["state"] == "suppressed",
        30,
        "auth inhibits",
    )
    assert state(manager, app_id="app-au", reason="timeout")["state"] == "active"


def test_exporter_down_mutes_only_its_own_alerts(manager: Manager) -> None:
    down = {
        "alertname": "RtcExporterDown",
        "severity": "critical",
        "category": "health",
        "job": "volc-rtc",
        "instance": "dead:1",
    }
    manager.post(
        down,
        quality("RtcJoinRoomSuccessLow", "app-d1", "dead:1", indicator="join_room_success"),
        quality("RtcJoinRoomSuccessLow", "app-d2", "alive:1", indicator="join_room_success"),
    )
    wait_for(lambda: state(manager, app_id="app-d1")["state"] == "suppressed", 30, "exporter down")
    assert state(manager, app_id="app-d2")["state"] == "active"
    assert state(manager, alertname="RtcExporterDown", instance="dead:1")["state"] == "active"


def test_amtool_check_config() -> None:
    amtool = need_binary("amtool")
    res = subprocess.run([amtool, "check-config", str(AM)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize(
    ("labels", "receivers"),
    [
        (["severity=critical", "alertname=RtcVideoStallHigh", "app_id=a"], "pager,chat"),
        (["severity=critical", "alertname=RtcQualityBlind", "app_id=a"], "pager,chat"),
        (["severity=warning", "alertname=RtcNetworkDelayShareLow", "app_id=a"], "chat"),
        (["severity=warning", "alertname=RtcSourceDown", "category=health"], "chat"),
    ],
)
def test_amtool_routes(labels: list[str], receivers: str) -> None:
    amtool = need_binary("amtool")
    res = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={AM}", *labels],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == receivers


def test_generated_alertmanager_file_is_the_one_tested() -> None:
    assert AM.read_text() == render_all(MixinConfig())[ALERTMANAGER_PATH]
    assert Path(AM).exists()
