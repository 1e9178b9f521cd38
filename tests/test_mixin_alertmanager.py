"""The generated routing on the real Alertmanager: alerts are posted to its API, their status is
read back from ``/api/v2/alerts`` and ``/api/v2/alerts/groups``, and what it sends arrives at
a webhook receiver run by the test."""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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

    def post(
        self, *alerts: dict[str, str], since: dt.datetime | None = None, resolved: bool = False
    ) -> None:
        """As Prometheus sends them: firing (ends in the future, resent while firing, with the
        same start) or resolved (ends now)."""
        now = dt.datetime.now(dt.UTC)
        ends = now if resolved else now + dt.timedelta(hours=1)
        body = [
            {
                "labels": labels,
                "annotations": {"summary": labels["alertname"]},
                "startsAt": (since or now - dt.timedelta(seconds=1)).isoformat(),
                "endsAt": ends.isoformat(),
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
                "group_interval": "1s",
                "pager_group_wait": "1s",
                "pager_group_interval": "1s",
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
    # the realtime quality source failing for another app does inhibit that app's page (the
    # source alert first: posted together, a loaded machine may flush the page before the
    # inhibitor has seen its source)
    manager.post(source_down("app-r", "w:1", "realtime_quality", "server"))
    wait_for(
        lambda: state(manager, alertname="RtcSourceDown", app_id="app-r")["state"] == "active",
        30,
        "source alert",
    )
    manager.post(quality("RtcVideoStallHigh", "app-r", "w:1", media="video"))
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


def notifications(m: Manager, path: str, **group: str) -> list[dict[str, Any]]:
    """The webhook documents one receiver got for one group (matched on its group labels)."""
    return [
        doc
        for p, doc in m.receiver.received
        if p == path and group.items() <= doc["groupLabels"].items()
    ]


def sent(docs: list[dict[str, Any]], status: str, instance: str = "") -> list[tuple[str, str]]:
    """(alertname, app_id) of every alert with ``status`` (of one instance) in these
    notifications."""
    return [
        (a["labels"]["alertname"], a["labels"].get("app_id", ""))
        for doc in docs
        for a in doc["alerts"]
        if a["status"] == status and instance in ("", a["labels"].get("instance"))
    ]


QUIET = 1.5  # seconds: longer than every group_wait / group_interval of the test routing


def test_audio_and_video_stall_on_one_app_is_one_page(manager: Manager) -> None:
    manager.post(
        quality("RtcAudioStallHigh", "app-av", "av:1", media="audio"),
        quality("RtcVideoStallSevere", "app-av", "av:1", media="video", tier="severe"),
        since=dt.datetime.now(dt.UTC),  # not older than group_wait: one flush for both
    )
    wait_for(lambda: bool(notifications(manager, "/pager", app_id="app-av")), 30, "page")
    groups = manager.groups("pager", app_id="app-av")
    assert len(groups) == 1 and len(groups[0]["alerts"]) == 2
    first = notifications(manager, "/pager", app_id="app-av")[0]
    assert {a["labels"]["alertname"] for a in first["alerts"]} == {
        "RtcAudioStallHigh",
        "RtcVideoStallSevere",
    }
    pages = notifications(manager, "/pager", app_id="app-av")
    assert {p["groupKey"] for p in pages} == {first["groupKey"]}  # one incident


def tier_change_never_resolves_what_was_not_paged(manager: Manager) -> None:
    """What the rules send when a moderate stall turns severe (tests/test_mixin_incidents.py,
    tier_changes): the sustained alert, then the severe one too, then both resolved. No tier
    is inhibited, so every resolve the pager gets is of an alert it got as firing."""
    high = quality("RtcVideoStallHigh", "app-t", "t:1", media="video")
    severe = quality("RtcVideoStallSevere", "app-t", "t:1", media="video", tier="severe")
    start = dt.datetime.now(dt.UTC)
    manager.post(high, since=start)
    wait_for(lambda: bool(notifications(manager, "/pager", app_id="app-t")), 30, "page")
    manager.post(high, severe, since=start)
    wait_for(
        lambda: (
            ("RtcVideoStallSevere", "app-t")
            in sent(notifications(manager, "/pager", app_id="app-t"), "firing")
        ),
        30,
        "update",
    )
    manager.post(high, severe, since=start, resolved=True)
    wait_for(
        lambda: len(sent(notifications(manager, "/pager", app_id="app-t"), "resolved")) == 2,
        30,
        "resolve",
    )
    docs = notifications(manager, "/pager", app_id="app-t")
    assert set(sent(docs, "resolved")) <= set(sent(docs, "firing"))
    assert {d["groupKey"] for d in docs} == {docs[0]["groupKey"]}


def test_five_apps_source_down_is_one_chat_message(manager: Manager) -> None:
    apps = [f"app-v{i}" for i in range(5)]
    # started now: Alertmanager flushes a new group at once for an alert older than group_wait,
    # which would race the rest of the batch
    now = dt.datetime.now(dt.UTC)
    manager.post(*(source_down(a, "v:1", "realtime_operation", "server") for a in apps), since=now)

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


# -- issue 21, point 6: what the rules send in each incident, through the real routing -----------


def health(alertname: str, instance: str, severity: str, **labels: str) -> dict[str, str]:
    return {
        "alertname": alertname,
        "severity": severity,
        "category": "health",
        "job": "volc-rtc",
        "instance": instance,
        **labels,
    }


def vendor_outage_is_one_page_not_one_per_app(manager: Manager) -> None:
    """tests/test_mixin_incidents.py (vendor_outage): RtcVendorApiFailing fires 3 minutes into
    the outage; after 15 minutes every app is blind too; all resolve when data is back."""
    apps = [f"app-o{i}" for i in range(3)]
    vendor = health("RtcVendorApiFailing", "o:1", "critical", source="realtime_quality")
    blind = [
        health("RtcQualityBlind", "o:1", "critical", source="realtime_quality", app_id=a)
        for a in apps
    ]
    start = dt.datetime.now(dt.UTC)
    manager.post(vendor, since=start)
    manager.post(vendor, *blind, since=start)
    wait_for(lambda: bool(sent(vendor_pages(manager), "firing", "o:1")), 30, "vendor page")
    assert all(
        state(manager, alertname="RtcQualityBlind", app_id=a)["state"] == "suppressed" for a in apps
    )
    time.sleep(QUIET)
    manager.post(vendor, *blind, since=start, resolved=True)
    wait_for(lambda: bool(sent(vendor_pages(manager), "resolved", "o:1")), 30, "vendor resolve")
    time.sleep(QUIET)
    pages = [d for p, d in manager.receiver.received if p == "/pager"]
    # one page and its resolve, of the account-level group (other account-level alerts of this
    # Alertmanager update it too, and each update lists it); not one per app
    assert set(sent(pages, "firing", "o:1")) == {("RtcVendorApiFailing", "")}
    assert set(sent(pages, "resolved", "o:1")) == {("RtcVendorApiFailing", "")}
    keys = {d["groupKey"] for d in pages if sent([d], "firing", "o:1")}
    assert len(keys) == 1


def vendor_pages(m: Manager) -> list[dict[str, Any]]:
    return [
        d
        for p, d in m.receiver.received
        if p == "/pager"
        and any(a["labels"]["alertname"] == "RtcVendorApiFailing" for a in d["alerts"])
    ]


def alert_fired_during_a_gap_pages_once_when_the_data_returns(manager: Manager) -> None:
    """tests/test_mixin_incidents.py (data_gap): the pending sustained alert fires during an
    exporter blip; RtcExporterDown mutes it; the page goes out, once, when the exporter is
    back (and the alert still fires)."""
    down = health("RtcExporterDown", "g:1", "critical")
    stall = quality("RtcVideoStallHigh", "app-g", "g:1", media="video")
    start = dt.datetime.now(dt.UTC)
    manager.post(down, stall, since=start)
    wait_for(lambda: state(manager, app_id="app-g")["state"] == "suppressed", 30, "muted")
    time.sleep(QUIET)
    assert notifications(manager, "/pager", app_id="app-g") == []
    manager.post(down, since=start, resolved=True)
    manager.post(stall, since=start)
    wait_for(lambda: bool(notifications(manager, "/pager", app_id="app-g")), 30, "page")
    time.sleep(QUIET)
    docs = notifications(manager, "/pager", app_id="app-g")
    assert sent(docs, "firing") == [("RtcVideoStallHigh", "app-g")]


def flapping_stall_is_one_page_and_one_resolve(manager: Manager) -> None:
    """tests/test_mixin_incidents.py (flapping_stall): with resolve hysteresis the severe
    alert stays firing through the flaps (Prometheus resends it with its first start), then
    resolves once. Without it, each flap would be a new page and a resolve."""
    severe = quality("RtcVideoStallSevere", "app-f", "f:1", media="video", tier="severe")
    start = dt.datetime.now(dt.UTC)
    for _ in range(3):  # resent over several pager group intervals (1 s here)
        manager.post(severe, since=start)
        time.sleep(1.1)
    manager.post(severe, since=start, resolved=True)
    wait_for(
        lambda: sent(notifications(manager, "/pager", app_id="app-f"), "resolved") != [],
        30,
        "resolve",
    )
    time.sleep(QUIET)
    docs = notifications(manager, "/pager", app_id="app-f")
    assert [d["status"] for d in docs] == ["firing", "resolved"]


def warning_muted_during_a_problem_is_not_sent_after_it(manager: Manager) -> None:
    """RtcApiThrottled mutes the RtcSourceDown it explains. The rules keep RtcApiThrottled
    firing until those have resolved (a slow source stays down until its next refresh), so the
    source-down warning never reaches chat after throttling is over. The contrast shows what
    that hold prevents: the explaining alert resolving first unmutes a warning for a problem
    that is over."""

    def chat_source_down(source: str) -> list[dict[str, Any]]:
        return notifications(manager, "/chat", alertname="RtcSourceDown", source=source)

    start = dt.datetime.now(dt.UTC)
    pairs = {  # source -> (RtcApiThrottled, RtcSourceDown); report_breakdown: the contrast
        source: (
            health("RtcApiThrottled", "w:1", "warning", source=source, reason="throttled"),
            source_down(f"app-{source}", "w:1", source, "throttled"),
        )
        for source in ("operation_breakdown", "report_breakdown")
    }
    manager.post(*(a for pair in pairs.values() for a in pair), since=start)
    wait_for(
        lambda: all(state(manager, alertname="RtcSourceDown", source=s)["state"] == "suppressed"
                    for s in pairs),
        30,
        "muted",
    )  # fmt: skip
    time.sleep(QUIET)
    throttled, down = pairs["operation_breakdown"]
    manager.post(down, since=start, resolved=True)  # as the rules order it
    contrast_throttled, contrast_down = pairs["report_breakdown"]
    manager.post(contrast_throttled, since=start, resolved=True)  # the other way round
    time.sleep(QUIET)
    manager.post(throttled, since=start, resolved=True)
    manager.post(contrast_down, since=start, resolved=True)
    time.sleep(QUIET)
    assert sent(chat_source_down("operation_breakdown"), "firing") == []
    # the noise the hold prevents
    assert sent(chat_source_down("report_breakdown"), "firing") == [
        ("RtcSourceDown", "app-report_breakdown")
    ]


INCIDENTS = (
    tier_change_never_resolves_what_was_not_paged,
    vendor_outage_is_one_page_not_one_per_app,
    alert_fired_during_a_gap_pages_once_when_the_data_returns,
    flapping_stall_is_one_page_and_one_resolve,
    warning_muted_during_a_problem_is_not_sent_after_it,
)


def test_incidents_through_alertmanager(manager: Manager) -> None:
    """Each incident above, at the same time on the one Alertmanager (they use their own
    instances and apps): real time is spent waiting for group intervals, not in sequence."""
    with ThreadPoolExecutor(len(INCIDENTS)) as pool:
        futures = {pool.submit(case, manager): case.__name__ for case in INCIDENTS}
    failed = {name: f.exception() for f, name in futures.items() if f.exception()}
    assert not failed, "\n".join(f"{n}: {e!r}" for n, e in failed.items())
