"""The receiver in a real exporter process: SIGHUP keeps the EventId cache and swaps the
secret; under load (slow: 2,000 signed events from 8 senders, a fresh connection each) every
event counts exactly once, the answers stay fast and memory flat; end to end (slow) the
simulator's upload failures page RtcRecordingUploadFailing naming platform and region."""

from __future__ import annotations

import http.client
import signal
import threading
import time
from pathlib import Path
from typing import Any

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
