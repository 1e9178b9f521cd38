"""Issue 22 row 9: every SIGHUP is handled (coalesced reloads are fine, lost ones are not) and
SIGTERM always ends the process within 2 s, with hundreds of signals in a row."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.collectors import SOURCES
from exporter.signals import Signals
from tests.procs import ExporterProc, free_port, wait_for

INTERVAL = "volcengine_rtc_exporter_source_interval_seconds"


def test_a_storm_of_sighups_in_process_ends_with_a_reload_after_the_last() -> None:
    starts: list[float] = []
    signals = Signals(lambda: (starts.append(time.monotonic()), time.sleep(0.002)))
    signals.install()
    outcome: dict[str, Any] = {}

    def storm() -> None:
        for i in range(300):
            os.kill(os.getpid(), signal.SIGHUP)
            if i % 10 == 0:
                time.sleep(0.001)
        last = time.monotonic()
        deadline = last + 5
        while time.monotonic() < deadline and not (starts and starts[-1] > last):
            time.sleep(0.005)
        outcome["covered"] = bool(starts) and starts[-1] > last
        outcome["sent"] = time.monotonic()
        os.kill(os.getpid(), signal.SIGTERM)

    sender = threading.Thread(target=storm)
    try:
        sender.start()
        assert signals.wait_for_stop() == signal.SIGTERM
        stopped = time.monotonic()
    finally:
        sender.join(10)
        signals.uninstall()
    assert outcome["covered"], "the last SIGHUP was not followed by a reload"
    assert stopped - outcome["sent"] < 1.5
    assert 1 <= len(starts) <= signals.hups <= 300  # coalesced, not one reload per signal


def test_a_stop_that_hangs_still_ends_the_process(tmp_path: Path) -> None:
    """The watchdog: a shutdown stuck for good exits within the deadline (in a child)."""
    code = (
        "import threading, time\n"
        "from exporter.signals import Signals\n"
        "s = Signals(lambda: None, deadline=0.5)\n"
        "s.stop_within(lambda: threading.Event().wait())\n"
    )
    import subprocess
    import sys

    started = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert res.returncode == 0 and "shutdown is taking too long" in res.stderr
    assert time.monotonic() - started < 10


def config(interval: int) -> dict[str, Any]:
    sources = {c.name: {"enabled": c.name == "realtime_operation"} for c in SOURCES}
    sources["realtime_operation"] = {"interval_seconds": interval}
    return {
        "endpoint": f"http://127.0.0.1:{free_port()}",  # nobody listens: calls fail at once
        "credentials": {"access_key_id": "AKLTsignals", "secret_access_key": "signals-Secret"},
        "apps": [{"app_id": "app-1"}],
        "sources": sources,
        "rate_limit": {"max_retries": 0},
    }


def configured(exp: ExporterProc) -> float | None:
    return exp.get(INTERVAL, source="realtime_operation", kind="configured")


def bursts(tmp_path: Path, rounds: int, per_round: int = 3) -> ExporterProc:
    """``rounds`` bursts of SIGHUPs, the configuration changed before the last of each; after
    each burst the running configuration must be the last one written (nothing lost)."""
    exp = ExporterProc(tmp_path, config(100))
    wait_for(lambda: configured(exp) == 100, 30, "exporter up")
    for r in range(1, rounds + 1):
        for i in range(per_round):
            if i == per_round - 1:
                exp.cfg_path.write_text(yaml.safe_dump(config(100 + r)))
            exp.p.send_signal(signal.SIGHUP)
        wait_for(lambda r=r: configured(exp) == 100 + r, 5, f"reload of burst {r}", 0.02)  # type: ignore[misc]
    return exp


def sigterm(exp: ExporterProc) -> float:
    started = time.monotonic()
    exp.p.send_signal(signal.SIGTERM)
    rc = exp.p.wait(10)
    took = time.monotonic() - started
    assert rc == 0, exp.output()
    return took


def test_bursts_of_sighup_then_sigterm_against_the_process(tmp_path: Path) -> None:
    exp = bursts(tmp_path, rounds=10)
    try:
        assert sigterm(exp) < 2.0
        assert "Traceback" not in exp.output()
    finally:
        exp.stop()


@pytest.mark.slow
def test_600_sighups_in_bursts_none_lost(tmp_path: Path) -> None:
    exp = bursts(tmp_path, rounds=200)
    try:
        assert sigterm(exp) < 2.0
    finally:
        exp.stop()


@pytest.mark.slow
def test_sigterm_in_a_sighup_storm_always_ends_within_2s(tmp_path: Path) -> None:
    for run in range(10):
        (tmp_path / str(run)).mkdir()
        exp = ExporterProc(tmp_path / str(run), config(100))
        wait_for(lambda exp=exp: configured(exp) == 100, 30, "exporter up")  # type: ignore[misc]
        stop = threading.Event()

        def storm(exp: ExporterProc = exp, stop: threading.Event = stop) -> None:
            while not stop.is_set() and exp.p.poll() is None:
                exp.p.send_signal(signal.SIGHUP)
                time.sleep(0.0005)

        sender = threading.Thread(target=storm)
        sender.start()
        try:
            time.sleep(0.5 + run * 0.05)  # SIGTERM lands at a different point of a reload
            took = sigterm(exp)
        finally:
            stop.set()
            sender.join(5)
            exp.stop()
        assert took < 2.0, f"run {run}: {took:.2f}s"
