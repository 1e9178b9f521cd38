"""The receiver in a real exporter process: SIGHUP keeps the EventId cache and swaps the
secret; under load (slow: 2,000 signed events from 8 senders, a fresh connection each) every
event counts exactly once, the answers stay fast and memory flat; end to end (slow) the
simulator's upload failures page RtcRecordingUploadFailing naming platform and region."""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.callbacks_util import signed
from tests.conftest import AK, SK
from tests.procs import ExporterProc, free_port, wait_for


def post(port: int, body: bytes) -> tuple[int, str, float]:
    """One POST on a fresh connection, as the vendor sends: (status, body, seconds)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/callbacks", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        text = r.read().decode()
        return r.status, text.strip(), time.perf_counter() - started
    finally:
        conn.close()


def exporter(tmp: Path, secret_file: Path, **callbacks: Any) -> tuple[ExporterProc, int]:
    port = free_port()
    config = {
        "endpoint": "http://127.0.0.1:1",  # no vendor: the poll path fails, the receiver works
        "credentials": {"access_key_id": AK, "secret_access_key": SK},
        "apps": [{"app_id": "app1"}],
        "rate_limit": {"max_retries": 0},
        "callbacks": {"listen_address": f"127.0.0.1:{port}", "secret_file": str(secret_file)}
        | callbacks,
    }
    exp = ExporterProc(tmp, config, ["--log.level=debug"])
    wait_for(lambda: exp.p.poll() is None and post(port, b"{}")[0] == 400, 30, "receiver up")
    return exp, port


def test_sighup_keeps_the_dedup_cache_and_changes_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "cb-secret"
    secret.write_text("first-Secret-1\n")
    exp, port = exporter(tmp_path, secret)
    try:
        t = time.time()
        assert post(port, signed("UserJoinRoom", {}, t=t, event_id="e1", secret="first-Secret-1"))[
            :2
        ] == (200, "accepted")
        secret.write_text("second-Secret-2\n")
        exp.p.send_signal(signal.SIGHUP)
        wait_for(lambda: 'msg="configuration reloaded"' in exp.output(), 15, "reload")
        again = signed("UserJoinRoom", {}, t=t, event_id="e1", secret="second-Secret-2")
        assert post(port, again)[:2] == (200, "duplicate")  # the cache survived the reload
        old = signed("UserJoinRoom", {}, t=t, event_id="e2", secret="first-Secret-1")
        assert post(port, old)[:2] == (401, "bad_signature")  # the old secret is gone
        new = signed("UserJoinRoom", {}, t=t, event_id="e2", secret="second-Secret-2")
        assert post(port, new)[:2] == (200, "accepted")
        wait_for(lambda: exp.get("volcengine_rtc_callback_events_total") == 2, 10, "events")
        assert exp.p.poll() is None
        out = exp.output()
        assert "callback rejected" in out  # debug lines are written, without secrets
        assert "first-Secret-1" not in out and "second-Secret-2" not in out
    finally:
        exp.stop()


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.slow
def test_2000_events_from_8_senders_count_once_fast_and_flat(tmp_path: Path) -> None:
    secret = tmp_path / "cb-secret"
    secret.write_text("load-Secret-3\n")
    exp, port = exporter(tmp_path, secret)
    try:
        t = time.time()
        warm = [
            signed("UserJoinRoom", {"DeviceType": "iOS"}, t=t, secret="load-Secret-3")
            for _ in range(50)
        ]
        assert all(post(port, b)[0] == 200 for b in warm)
        wait_for(lambda: exp.get("volcengine_rtc_callback_events_total") == 50, 10, "warm-up")
        before = rss_bytes(exp.p.pid)
        kinds = ("UserJoinRoom", "UserLeaveRoom", "RecordStarted", "RecordStopped")
        bodies = [
            signed(kinds[i % 4], {"DeviceType": "Android", "Reason": "userLeave", "RoomId": "r",
                                  "TaskId": f"t{i}", "Code": 0, "Duration": 1000},
                   t=t, event_id=f"load-{i}", secret="load-Secret-3")
            for i in range(2000)
        ]  # fmt: skip
        work = bodies + bodies[:200]  # 200 duplicates, as the vendor may send them
        lanes = [work[i::8] for i in range(8)]
        latencies: list[float] = []
        statuses: list[str] = []
        lock = threading.Lock()
        started = time.monotonic()

        def sender(lane: list[bytes]) -> None:
            pause = 10.0 / len(lane)
            for j, body in enumerate(lane):
                delay = started + j * pause - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                status, text, took = post(port, body)
                with lock:
                    latencies.append(took)
                    statuses.append(f"{status} {text}")

        threads = [threading.Thread(target=sender, args=(lane,)) for lane in lanes]
        for th in threads:
            th.start()
        for th in threads:
            th.join(60)
        elapsed = time.monotonic() - started
        wait_for(lambda: exp.get("volcengine_rtc_callback_events_total") == 2050, 20, "all counted")
        after = rss_bytes(exp.p.pid)
        latencies.sort()
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]
        print(f"\n2200 requests in {elapsed:.1f}s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
              f"RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")  # fmt: skip
        assert statuses.count("200 accepted") == 2000 and statuses.count("200 duplicate") == 200
        assert exp.get("volcengine_rtc_callback_requests_total", outcome="accepted") == 2050
        assert exp.get("volcengine_rtc_callback_requests_total", outcome="duplicate") == 200
        assert exp.get("volcengine_rtc_user_joins_total") == 50 + 500
        assert elapsed < 12
        assert p99 <= 0.050, f"p99 {p99 * 1000:.1f} ms"
        assert after - before <= 20 * 2**20
    finally:
        exp.stop()


def named_panels(prom_url: str, app_id: str) -> dict[str, set[str]]:
    """Each per-app target of the events dashboard whose families Prometheus has, queried for
    ``app_id``: the ``app_name`` values it answers with."""
    from exporter.mixin.config import MixinConfig
    from exporter.mixin.dashboards import build_dashboards
    from tests.test_e2e import panel_families, substituted

    have = set(httpx.get(prom_url + "/api/v1/label/__name__/values", timeout=10).json()["data"])
    out = {}
    for panel in build_dashboards(MixinConfig())["rtc-events"]["panels"]:
        for t in panel.get("targets", []):
            if "group_left (app_name)" not in t["expr"]:
                continue
            if panel_families(t["expr"]) - {n.removesuffix("_bucket") for n in have}:
                continue  # not served here (no such event yet)
            query = substituted(t["expr"], app_id)
            r = httpx.get(prom_url + "/api/v1/query", params={"query": query}, timeout=10)
            assert r.json()["status"] == "success", (panel["title"], r.text)
            series = r.json()["data"]["result"]
            out[f"{panel['title']}: {t['legendFormat']}"] = {
                x["metric"].get("app_name", "") for x in series
            }
    return out


@pytest.mark.slow
@pytest.mark.e2e
def test_upload_failures_page_naming_platform_and_region(tmp_path: Path) -> None:
    """simulator (its event feed) -> receiver -> Prometheus (generated rules) -> Alertmanager
    (generated routing) -> the pager webhook."""
    from exporter.mixin.config import MixinConfig
    from exporter.mixin.render import ALERTMANAGER_PATH, RULES_PATH, render_all
    from tests.conftest import need_binary
    from tests.procs import Proc, SimProc
    from tests.test_e2e import Receiver

    prometheus, alertmanager = need_binary("prometheus"), need_binary("prometheus-alertmanager")
    receiver = Receiver()
    cfg = MixinConfig.model_validate({
        "rule_interval": "2s",
        "callbacks": {"window": "2m", "for": {"recording_upload_failing": "4s"}},
        "receivers": {
            "pager_webhook_url": f"http://127.0.0.1:{receiver.port}/pager",
            "chat_webhook_url": f"http://127.0.0.1:{receiver.port}/chat",
            "group_wait": "1s", "group_interval": "2s", "pager_group_wait": "1s",
            "pager_group_interval": "2s",
        },
    })  # fmt: skip
    files = render_all(cfg)
    (tmp_path / "rules.yml").write_text(files[RULES_PATH])
    (tmp_path / "alertmanager.yml").write_text(files[ALERTMANAGER_PATH])
    secret = tmp_path / "cb-secret"
    secret.write_text("e2e-Secret-4\n")
    cb_port = free_port()
    sim = SimProc(tmp_path, apps=2, extra=[
        f"--callbacks-url=http://127.0.0.1:{cb_port}/callbacks",
        f"--callbacks-secret-file={secret}", "--callbacks-recording-period=6",
        "--scenario=upload_failures:platform=s3,region=us-east-1",
    ])  # fmt: skip
    storage = sim.info["recording_storage"]
    config = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [{"app_id": a, "recording_storage": storage[a]} for a in sim.apps],
        "callbacks": {"listen_address": f"127.0.0.1:{cb_port}", "secret_file": str(secret)},
    }
    exp = ExporterProc(tmp_path, config)
    am_port, prom_port = free_port(), free_port()
    am = Proc([alertmanager, f"--config.file={tmp_path / 'alertmanager.yml'}",
               f"--storage.path={tmp_path / 'am'}", f"--web.listen-address=127.0.0.1:{am_port}",
               "--cluster.listen-address="], tmp_path / "alertmanager.log")  # fmt: skip
    prom_cfg = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "rule_files": [str(tmp_path / "rules.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]},
        "scrape_configs": [{"job_name": "volc-rtc",
                            "static_configs": [{"targets": [f"127.0.0.1:{exp.port}"]}]}],
    }  # fmt: skip
    (tmp_path / "prometheus.yml").write_text(json.dumps(prom_cfg))
    prom = Proc([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                 f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{prom_port}"], tmp_path / "prometheus.log")  # fmt: skip
    try:

        def paged() -> bool:
            return any(a["labels"]["alertname"] == "RtcRecordingUploadFailing"
                       for a in receiver.alerts("/pager"))  # fmt: skip

        wait_for(paged, 150, "RtcRecordingUploadFailing page", interval=1)
        pages = [
            a
            for a in receiver.alerts("/pager")
            if a["labels"]["alertname"] == "RtcRecordingUploadFailing"
        ]
        labels = {
            (a["labels"]["app_id"], a["labels"]["storage_platform"], a["labels"]["storage_region"])
            for a in pages
        }
        assert labels == {(sim.apps[0], "s3", "us-east-1")}  # the OSS app uploads fine
        summary = pages[0]["annotations"]["summary"]
        assert summary == f"Recordings of {sim.apps[0]} fail to upload to s3 us-east-1"
        assert exp.get("volcengine_rtc_callback_requests_total", outcome="bad_signature") == 0
        assert (
            exp.get("volcengine_rtc_storage_info", app_id=sim.apps[0], storage_platform="s3") == 1
        )
        # the events dashboard's per-app panels answer from this Prometheus, named by app_name
        # (a panel whose family has no sample for this app yet, e.g. no session ended in the
        # rate window, answers nothing; one that answers must name the app by its name)
        named = named_panels(f"http://127.0.0.1:{prom_port}", sim.apps[0])
        assert named["Newest event age: {{app_name}}"], named
        assert any(k.startswith("Configured storage") and v for k, v in named.items()), named
        names = set().union(*named.values())
        assert len(names) == 1 and not names & {"", sim.apps[0]}, named
    finally:
        for p in (prom, am, exp, sim):
            p.stop()
        receiver.server.shutdown()
