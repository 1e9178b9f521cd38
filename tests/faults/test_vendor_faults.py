"""A hostile or broken vendor, through the exporter as a separate process over real HTTP.

For each fault: /metrics answers 200 and passes `promtool check metrics` throughout, the
source of the faulty action counts the right reason, the other sources are unaffected, nothing
secret leaks, memory stays bounded, and the exporter recovers when the fault ends.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import need_binary
from tests.procs import ExporterProc, SimProc, wait_for

LIVE = "ListRealTimeQuality"
FAST = {
    "realtime_operation": {"interval_seconds": 1},
    "realtime_quality": {"interval_seconds": 1},
    "call_detail": {"interval_seconds": 1},
    "rooms": {"enabled": False},
    "realtime_breakdown": {"enabled": False},
    "report_breakdown": {"enabled": False},
    "operation_breakdown": {"enabled": False},
    "quality_report": {"enabled": False},
    "operation_report": {"enabled": False},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimProc, ExporterProc]]:
    tmp = tmp_path_factory.mktemp("faults")
    sim = SimProc(tmp, apps=2, qps=1000)
    cfg: dict[str, Any] = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [
            {
                "app_id": sim.apps[0],
                "call_detail": [{"room_id": "room-demo-1", "user_ids": ["alice", "bob"]}],
            },
            {"app_id": sim.apps[1]},
        ],
        "sources": FAST,
        "rate_limit": {"requests_per_second": 100, "max_retries": 0},
        "timeout_seconds": 2,
        "max_response_bytes": 4 << 20,
    }
    exp = ExporterProc(tmp, cfg, ["--log.level=info"])
    try:
        exp.wait_ready()
        yield sim, exp
    finally:
        exp.stop()
        sim.stop()


def up(exp: ExporterProc, source: str, app: str) -> float | None:
    return exp.get("volcengine_rtc_exporter_source_up", source=source, app_id=app)


def failures(exp: ExporterProc, reason: str, action: str = LIVE) -> float:
    return (
        exp.get("volcengine_rtc_exporter_api_request_failures_total", action=action, reason=reason)
        or 0.0
    )


def skipped(exp: ExporterProc, reason: str, source: str = "realtime_quality") -> float:
    return (
        exp.get("volcengine_rtc_exporter_points_skipped_total", source=source, reason=reason) or 0.0
    )


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def promtool_clean(text: str, tmp: Path) -> None:
    promtool = need_binary("promtool")
    path = tmp / "metrics.prom"
    path.write_bytes(text.encode("utf-8"))
    with path.open("rb") as f:
        res = subprocess.run(
            [promtool, "check", "metrics"], stdin=f, capture_output=True, text=True
        )
    # promtool lints names too (e.g. counters); only a parse error is a broken exposition
    assert (
        "error while linting" not in res.stderr and "text format parsing error" not in res.stderr
    ), res.stderr


def healthy(exp: ExporterProc, tmp: Path) -> str:
    for path in ("/metrics", "/"):
        r = httpx.get(exp.url + path, timeout=10)
        assert r.status_code == 200, (path, r.status_code)
    text = exp.metrics_text()
    promtool_clean(text, tmp)
    return text


@pytest.fixture
def clean(
    stack: tuple[SimProc, ExporterProc], tmp_path: Path
) -> Iterator[tuple[SimProc, ExporterProc]]:
    sim, exp = stack
    sim.clear()
    yield sim, exp
    sim.clear()
    for source in ("realtime_quality", "realtime_operation"):  # recovered for the next test
        wait_for(
            lambda source=source: up(exp, source, sim.apps[0]) == 1.0, 20, f"{source} recovery"
        )
    healthy(exp, tmp_path)


SLOW = pytest.mark.slow  # the same path as a case kept in the default run; run by make soak


@pytest.mark.parametrize(
    "field",
    [
        "Unit",
        "PeerId",
        *(pytest.param(f, marks=SLOW) for f in ("Name", "AppId", "RoomId", "UserId")),
    ],
)
def test_lone_surrogates_never_break_metrics(clean: Any, tmp_path: Path, field: str) -> None:
    sim, exp = clean
    action = LIVE if field in ("Unit", "Name", "AppId") else "ListCallDetail"
    sim.scenario("surrogates", field=field, action=action)
    start = exp.get("volcengine_rtc_exporter_api_requests_total", action=action) or 0
    wait_for(
        lambda: (
            (exp.get("volcengine_rtc_exporter_api_requests_total", action=action) or 0) > start + 2
        ),
        15,
        "calls",
    )
    text = healthy(exp, tmp_path)
    assert "\ufffd" not in text or "\\ud800" not in text
    assert up(exp, "realtime_operation", sim.apps[0]) == 1.0


@pytest.mark.parametrize(("scenario", "params", "reason"), [
    ("huge_body", {"megabytes": 40}, "schema"),
    pytest.param("endless_body", {}, "schema", marks=SLOW),
    ("trickle", {"bytes_per_second": 50}, "timeout"),
])  # fmt: skip
def test_huge_endless_and_trickling_bodies(
    clean: Any, tmp_path: Path, scenario: str, params: dict[str, Any], reason: str
) -> None:
    sim, exp = clean
    before_rss = rss_mib(exp.p.pid)
    start = failures(exp, reason)
    sim.scenario(scenario, action=LIVE, **params)
    wait_for(lambda: failures(exp, reason) >= start + 2, 30, f"{reason} failures")
    healthy(exp, tmp_path)
    wait_for(lambda: up(exp, "realtime_quality", sim.apps[0]) == 0.0, 10, "realtime_quality down")
    assert up(exp, "realtime_operation", sim.apps[0]) == 1.0  # other sources unaffected
    assert rss_mib(exp.p.pid) < before_rss + 60  # the cap bounds memory (4 MiB here)


@pytest.mark.parametrize(
    "kind",
    [
        "nan",
        "huge",
        "string",
        *(pytest.param(k, marks=SLOW) for k in ("inf", "-inf", "negative", "bool")),
    ],
)
def test_out_of_range_and_mistyped_values_are_skipped_and_counted(
    clean: Any, tmp_path: Path, kind: str
) -> None:
    sim, exp = clean
    before = skipped(exp, "out_of_range") + skipped(exp, "value")
    sim.scenario("bad_values", kind=kind, action=LIVE)
    wait_for(
        lambda: skipped(exp, "out_of_range") + skipped(exp, "value") > before, 15, "skipped points"
    )
    text = healthy(exp, tmp_path)
    for line in text.splitlines():
        if line.startswith("volcengine_rtc_stall_ratio{"):
            value = float(line.rsplit(" ", 1)[1])
            assert 0 <= value <= 1, line  # never NaN, never a ratio of 1e306
    assert up(exp, "realtime_quality", sim.apps[0]) == 1.0  # the call is used, not failed


def test_broken_timestamps_cost_those_points_only(clean: Any, tmp_path: Path) -> None:
    sim, exp = clean
    before = skipped(exp, "timestamp")
    sim.scenario("bad_points", kind="mixed", action=LIVE)
    wait_for(lambda: skipped(exp, "timestamp") > before, 15, "skipped timestamps")
    healthy(exp, tmp_path)
    assert up(exp, "realtime_quality", sim.apps[0]) == 1.0


def test_random_units_stay_bounded(clean: Any, tmp_path: Path) -> None:
    sim, exp = clean
    sim.scenario("random_units", action=LIVE)
    wait_for(
        lambda: exp.get("volcengine_rtc_exporter_unknown_unit_total", action=LIVE, unit="other"),
        30,
        "folded units",
    )
    before = exp.get("volcengine_rtc_exporter_unknown_unit_total", action=LIVE, unit="other") or 0
    wait_for(
        lambda: (
            (exp.get("volcengine_rtc_exporter_unknown_unit_total", action=LIVE, unit="other") or 0)
            > before + 20
        ),
        30,
        "more",
    )
    text = healthy(exp, tmp_path)
    labels = re.findall(
        r'^volcengine_rtc_exporter_unknown_unit_total\{action="ListRealTimeQuality",unit="([^"]*)"',
        text,
        re.M,
    )
    assert len(labels) <= 9 and "other" in labels  # a few named, the rest folded
    lines = [ln for ln in exp.output().splitlines() if "unknown unit" in ln and LIVE in ln]
    assert len(lines) <= 9  # one line per unit per hour at most


def test_hostile_ids_and_echoed_secrets_never_reach_logs_raw(clean: Any, tmp_path: Path) -> None:
    sim, exp = clean
    sim.scenario("hostile_ids", action="ListCallDetail")
    sim.scenario("echo_secret", action=LIVE)
    wait_for(lambda: failures(exp, "client") + failures(exp, "auth") > 0, 15, "echoed error")
    wait_for(lambda: 'msg="source down"' in exp.output(), 10, "log line")
    healthy(exp, tmp_path)
    out = exp.output()
    assert sim.secret not in out and "\x1b" not in out and "\r" not in out
    assert all(k not in out for k in sim.app_keys())
    pages = exp.metrics_text() + httpx.get(exp.url + "/").text
    assert sim.secret not in pages and all(k not in pages for k in sim.app_keys())
