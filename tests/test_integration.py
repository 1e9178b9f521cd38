"""Simulator and exporter as separate processes over real loopback HTTP, per scenario."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.callbacks.families import SPECS as CALLBACK_SPECS
from tests.contract import contract_families
from tests.procs import ExporterProc, SimProc, wait_for

FAST = {
    "realtime_operation": {"interval_seconds": 1},
    "realtime_quality": {"interval_seconds": 1},
    "quality_report": {"interval_seconds": 5},
    "operation_report": {"interval_seconds": 5},
    "call_detail": {"interval_seconds": 2},
    "apps": {"interval_seconds": 5},
    "realtime_breakdown": {"interval_seconds": 5},
    "report_breakdown": {"interval_seconds": 5},
    "operation_breakdown": {"interval_seconds": 5},
    "rooms": {"interval_seconds": 2},
}


def config(sim: SimProc, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "endpoint": sim.url,
        "region": "cn-north-1",
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [
            {
                "app_id": sim.apps[0],
                "call_detail": [{"room_id": "room-1", "user_ids": ["alice", "bob"]}],
            },
            {"app_id": sim.apps[1]},
        ],
        "sources": FAST,
        "rate_limit": {
            "requests_per_second": 40,
            "per_action": {"ListCallDetail": 40},
            "max_retries": 0,
        },
        "timeout_seconds": 2,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimProc, ExporterProc]]:
    tmp = tmp_path_factory.mktemp("stack")
    sim = SimProc(tmp)
    exp = ExporterProc(tmp, config(sim), ["--log.level=info"])
    try:
        exp.wait_ready()
        yield sim, exp
    finally:
        exp.stop()
        sim.stop()


@pytest.fixture
def clean(stack: tuple[SimProc, ExporterProc]) -> Iterator[tuple[SimProc, ExporterProc]]:
    sim, exp = stack
    sim.clear()
    yield sim, exp
    sim.clear()
    # every test leaves the exporter healthy again for the next
    for source in ("realtime_quality", "realtime_operation"):
        wait_for(
            lambda source=source: (
                exp.get("volcengine_rtc_exporter_source_up", source=source, app_id=sim.apps[0])
                == 1.0
            ),
            15,
            f"recovery of {source}",
        )


def test_every_contract_family_within_one_refresh(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean

    # the event callback families need the receiver: tests/test_demo.py, test_simulator_callbacks.py
    polled = contract_families() - {spec.name for spec in CALLBACK_SPECS.values()}

    def samples_of_every_family() -> bool:
        text = exp.metrics_text()
        wanted = polled - {"volcengine_rtc_exporter_unknown_unit_total"}
        return all(re.search(rf"^{f}(_count)?[{{ ]", text, re.M) for f in wanted)

    # client_info comes one rooms refresh after the busiest rooms' users were picked
    wait_for(samples_of_every_family, 20, "a sample of every family")
    text = exp.metrics_text()
    present = {
        line.split("{")[0].split(" ")[0]
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    present |= {line.split(" ")[2] for line in text.splitlines() if line.startswith("# TYPE")}
    missing = {f for f in polled if f not in present and f + "_count" not in present}
    assert missing == set()
    # vendor families have samples, not just HELP lines (unknown_unit has none when all is well)
    for fam in polled - {"volcengine_rtc_exporter_unknown_unit_total"}:
        assert any(
            line.startswith(fam) for line in text.splitlines() if not line.startswith("#")
        ), fam
    info = exp.get(
        "volcengine_rtc_app_info", app_id=sim.apps[0], app_name="demo-app-1", status="running"
    )
    assert info == 1.0


def test_no_secret_in_output_or_metrics(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    wait_for(
        lambda: exp.get("volcengine_rtc_app_info", app_id=sim.apps[0], status="running") == 1.0,
        15,
        "apps listed",
    )
    pages = exp.metrics_text() + httpx.get(exp.url + "/").text
    for secret in [sim.secret, *sim.app_keys()]:
        assert secret not in pages
        assert secret not in exp.output()


def test_stall_spike_raises_stall_for_that_app_only(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    a, b = sim.apps[0], sim.apps[1]
    before_b = exp.get("volcengine_rtc_stall_ratio", app_id=b, media="video", product_type="native")
    sim.scenario("stall_spike", app_id=a, media="video", value=30)
    wait_for(
        lambda: (
            exp.get("volcengine_rtc_stall_ratio", app_id=a, media="video", product_type="native")
            == 0.3
        ),
        15,
        "stall spike",
    )
    assert (
        exp.get(
            "volcengine_rtc_stall_ratio",
            app_id=a,
            media="audio",
            threshold="0.08",
            product_type="native",
        )
        < 0.1
    )
    assert (
        exp.get("volcengine_rtc_stall_ratio", app_id=b, media="video", product_type="native") < 0.1
    )
    assert before_b is not None and before_b < 0.1


@pytest.mark.parametrize(
    ("scenario", "metric", "value"),
    [
        ("join_drop", "volcengine_rtc_join_room_success_ratio", 0.8),
        ("first_frame_failure", "volcengine_rtc_first_frame_send_success_ratio", 0.85),
        ("first_frame_failure", "volcengine_rtc_first_frame_decode_success_ratio", 0.85),
        ("network_delay", "volcengine_rtc_network_delay_within_threshold_ratio", 0.7),
    ],
)
def test_quality_scenarios(
    clean: tuple[SimProc, ExporterProc], scenario: str, metric: str, value: float
) -> None:
    sim, exp = clean
    sim.scenario(scenario, app_id=sim.apps[1])
    labels = {"app_id": sim.apps[1], "product_type": "native"} | (
        {} if "join" in metric else {"media": "audio"}
    )
    wait_for(lambda: exp.get(metric, **labels) == value, 15, scenario)
    other = exp.get(
        metric,
        app_id=sim.apps[0],
        product_type="native",
        **({} if "join" in metric else {"media": "audio"}),
    )
    assert other is not None and other > 0.9


def failures(exp: ExporterProc, reason: str, action: str = "") -> float:
    labels = {"reason": reason} | ({"action": action} if action else {})
    return exp.get("volcengine_rtc_exporter_api_request_failures_total", **labels) or 0.0


def test_throttling_storm_counts_and_keeps_serving(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    a = sim.apps[0]
    good = exp.get("volcengine_rtc_online_users", app_id=a)
    assert good is not None
    start = failures(exp, "throttled")
    sim.scenario("throttle_storm", action="ListRealTimeOperationData")
    wait_for(lambda: failures(exp, "throttled") > start + 2, 15, "throttled failures")
    # last good values still served within max_staleness; the source is down, not gone
    assert exp.get("volcengine_rtc_online_users", app_id=a) is not None
    assert (
        exp.get("volcengine_rtc_exporter_source_up", source="realtime_operation", app_id=a) == 0.0
    )
    assert exp.get("volcengine_rtc_exporter_source_up", source="realtime_quality", app_id=a) == 1.0
    rising = failures(exp, "throttled")
    wait_for(lambda: failures(exp, "throttled") > rising, 10, "more throttled failures")
    # (no source gives up)
    sim.clear()
    wait_for(
        lambda: (
            exp.get("volcengine_rtc_exporter_source_up", source="realtime_operation", app_id=a)
            == 1.0
        ),
        15,
        "recover",
    )


def test_series_disappear_when_stale(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    a = sim.apps[0]
    sim.scenario("server_errors", action="ListRealTimeOperationData", status=503)
    wait_for(
        lambda: exp.get("volcengine_rtc_online_users", app_id=a) is None, 15, "stale series gone"
    )
    assert (
        exp.get("volcengine_rtc_exporter_source_up", source="realtime_operation", app_id=a) == 0.0
    )
    assert failures(exp, "server", "ListRealTimeOperationData") > 0
    assert (
        exp.get("volcengine_rtc_online_users", app_id=sim.apps[1]) is None
    )  # same source, all apps
    assert exp.get("volcengine_rtc_stall_ratio", app_id=a) is not None  # other sources unaffected


def test_expired_credentials_give_auth_reason_and_readable_log(
    clean: tuple[SimProc, ExporterProc],
) -> None:
    sim, exp = clean
    start = failures(exp, "auth")
    sim.scenario("expired_credentials")
    wait_for(lambda: failures(exp, "auth") > start, 15, "auth failures")

    # the rooms source may log its own "action refused" line first: pick the source-down line
    def down_lines() -> list[str]:
        return [
            ln
            for ln in exp.output().splitlines()
            if "code=InvalidAccessKey" in ln and 'msg="source down"' in ln
        ]

    wait_for(lambda: bool(down_lines()), 10, "source-down log line")
    line = down_lines()[0]
    assert "level=warn " in line and "reason=auth" in line
    assert sim.secret not in exp.output()


def test_malformed_json_gives_schema_reason_and_nothing_crashes(
    clean: tuple[SimProc, ExporterProc],
) -> None:
    sim, exp = clean
    start = failures(exp, "schema", "ListRealTimeQuality")
    sim.scenario("malformed_json", action="ListRealTimeQuality")
    wait_for(lambda: failures(exp, "schema", "ListRealTimeQuality") > start, 15, "schema failures")
    assert exp.p.poll() is None
    wait_for(
        lambda: (
            exp.get(
                "volcengine_rtc_exporter_source_up", source="realtime_quality", app_id=sim.apps[0]
            )
            == 0.0
        ),
        10,
        "realtime_quality down",
    )
    assert (
        exp.get(
            "volcengine_rtc_exporter_source_up", source="realtime_operation", app_id=sim.apps[0]
        )
        == 1.0
    )


def test_error_in_http_200_is_a_failure(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    start = failures(exp, "server", "ListRealTimeQuality")
    sim.scenario("error_200", action="ListRealTimeQuality", code="InternalError")
    wait_for(lambda: failures(exp, "server", "ListRealTimeQuality") > start, 15, "error in 200")
    start_c = failures(exp, "client", "ListRealTimeQuality")
    sim.scenario("error_200", action="ListRealTimeQuality", code="InvalidParameter.NotExistAppId")
    wait_for(
        lambda: failures(exp, "client", "ListRealTimeQuality") > start_c, 15, "client error in 200"
    )


def test_slow_responses_time_out(clean: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = clean
    start = failures(exp, "timeout", "ListRealTimeQuality")
    sim.scenario("slow", action="ListRealTimeQuality", seconds=3)
    wait_for(lambda: failures(exp, "timeout", "ListRealTimeQuality") > start, 20, "timeouts")
    count = exp.get(
        "volcengine_rtc_exporter_api_request_duration_seconds_count", action="ListRealTimeQuality"
    )
    assert count and count > 0
    sim.clear()


def test_discovery_mode_monitors_running_apps(tmp_path: Path) -> None:
    sim = SimProc(tmp_path, apps=3)
    exp = ExporterProc(tmp_path, config(sim, apps=None), [])
    try:
        exp.wait_ready()
        wait_for(
            lambda: exp.get("volcengine_rtc_online_users", app_id=sim.apps[2]) is not None,
            15,
            "discovered",
        )
        infos = [ls for (n, ls), _ in exp.samples().items() if n == "volcengine_rtc_app_info"]
        assert {dict(ls)["app_id"] for ls in infos} == set(sim.apps)  # the suspended app is skipped
    finally:
        exp.stop()
        sim.stop()


def test_sigterm_stops_cleanly(tmp_path: Path) -> None:
    sim = SimProc(tmp_path)
    exp = ExporterProc(tmp_path, config(sim), [])
    try:
        exp.wait_ready()
    finally:
        code = exp.stop()
        sim.stop()
    assert code == 0
    assert "msg=stopped" in exp.output()
