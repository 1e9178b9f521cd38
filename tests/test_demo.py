"""The quick start: `volc-rtc-exporter --demo` serves every contract family with zero config."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.contract import contract_families
from tests.procs import Proc, free_port, wait_for


def start_demo(tmp_path: Path, *args: str) -> tuple[Proc, str]:
    port = free_port()
    proc = Proc(
        [
            sys.executable,
            "-m",
            "exporter",
            "--demo",
            f"--web.listen-address=127.0.0.1:{port}",
            *args,
        ],
        tmp_path / "demo.log",
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(url + "/-/ready").status_code == 200, 60, "demo ready")
    return proc, url


def test_demo_serves_every_family(tmp_path: Path) -> None:
    proc, url = start_demo(tmp_path)
    try:
        text = httpx.get(url + "/metrics").text
        for fam in contract_families() - {"volcengine_rtc_exporter_unknown_unit_total"}:
            assert re.search(rf"^{fam}(_count)?[{{ ]", text, re.M), fam
        sim = re.search(r"simulator=(\S+)", proc.output())
        assert sim is not None
        # the generated secret never shows, not even in the demo's own log
        assert "secret_access_key" not in proc.output()
    finally:
        assert proc.stop() == 0


@pytest.mark.slow
def test_demo_20_apps_five_minutes_never_throttled(tmp_path: Path) -> None:
    """The default limiter keeps the exporter under the simulator's QPS limits."""
    seconds = float(os.environ.get("DEMO_SOAK_SECONDS", "300"))
    proc, url = start_demo(tmp_path, "--demo.apps=20")
    try:
        sim_url = re.search(r"simulator=(\S+)", proc.output()).group(1)  # type: ignore[union-attr]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert proc.p.poll() is None
            time.sleep(5)
        stats = httpx.get(sim_url + "/-/stats").json()
        text = httpx.get(url + "/metrics").text
    finally:
        proc.stop()
    assert sum(c.get("429", 0) for c in stats.values()) == 0, stats
    realtime = stats["ListRealTimeOperationData"]["200"]
    assert realtime >= 20 * int(seconds // 30)  # every app refreshed every interval
    assert not re.search(r'failures_total\{action="[^"]+",reason="throttled"\} [1-9]', text)
    assert len(re.findall(r"^volcengine_rtc_online_users\{", text, re.M)) == 20
