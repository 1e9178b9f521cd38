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
def test_20_apps_five_minutes_with_every_source_never_throttled(tmp_path: Path) -> None:
    """The vendor's real quotas (2/s for most actions, 10/s ListCallDetail), 20 apps, every
    source on (breakdowns and the automatic room watch included): the planner and the
    limiter keep the exporter from a single 429, and every app stays visible."""
    from tests.procs import ExporterProc, SimProc

    seconds = float(os.environ.get("DEMO_SOAK_SECONDS", "300"))
    sim = SimProc(tmp_path, apps=20, qps=None)
    config = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [
            {
                "app_id": a,
                **(
                    {"call_detail": [{"room_id": "room-demo-1", "user_ids": ["alice", "bob"]}]}
                    if i == 0
                    else {}
                ),
            }
            for i, a in enumerate(sim.apps)
        ],
    }
    exp = ExporterProc(tmp_path, config)
    try:
        exp.wait_ready(timeout=120)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert exp.p.poll() is None
            time.sleep(5)
        stats = sim.stats()
        text = exp.metrics_text()
    finally:
        exp.stop()
        sim.stop()
    refused = {a: c.get("429", 0) for a, c in stats.items() if isinstance(c, dict) and c.get("429")}
    assert refused == {}, stats
    realtime = stats["ListRealTimeOperationData"]["200"]
    assert realtime >= 20 * int(seconds // 30) * 0.9  # every app refreshed about every interval
    assert not re.search(r'failures_total\{action="[^"]+",reason="throttled"\} [1-9]', text)
    assert len(re.findall(r"^volcengine_rtc_online_users\{", text, re.M)) == 20
    for family in (
        "volcengine_rtc_breakdown_stall_ratio",
        "volcengine_rtc_report_breakdown_users",
        "volcengine_rtc_room_online_users",
        "volcengine_rtc_client_info",
    ):
        assert re.search(rf"^{family}\{{", text, re.M), family
