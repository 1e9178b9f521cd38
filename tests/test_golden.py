"""A fixed fixture set -> the exact /metrics exposition, accepted by promtool."""

from __future__ import annotations

import os
import re
import subprocess

from prometheus_client.parser import text_string_to_metric_families

from exporter.runtime import Runtime
from tests.conftest import (
    GOLDEN_APP,
    GOLDEN_TIME,
    ROOT,
    FrozenClock,
    fixture_result,
    fixture_transport,
    golden_settings,
    need_binary,
)

GOLDEN = ROOT / "tests" / "golden" / "metrics.prom"
# series whose values depend on the machine, not on the fixtures
VOLATILE = re.compile(
    r"^(volcengine_rtc_exporter_api_request_duration_seconds_(bucket|sum)\{"
    r"|volcengine_rtc_exporter_source_refresh_duration_seconds\{"
    r"|volcengine_rtc_exporter_build_info\{"
    r"|process_|python_)"
)


def exposition() -> str:
    app_id = fixture_result("ListApps")["AppList"][0]["AppId"]
    assert app_id == GOLDEN_APP
    transport, _ = fixture_transport()
    rt = Runtime.build(golden_settings(), transport=transport, clock=FrozenClock(GOLDEN_TIME))
    for name in ["rooms", *rt.sources]:  # rooms twice: the watched users get described too
        rt.refresher.refresh(name)
    text = rt.view.body("text").decode()  # exactly what /metrics serves
    rt.stop()
    return text


def masked(text: str) -> str:
    out = []
    for line in text.splitlines():
        if line.startswith("volcengine_rtc_exporter_build_info{"):
            line = "volcengine_rtc_exporter_build_info{<version, revision, python>} 1.0"
        elif VOLATILE.match(line):
            line = line.rsplit(" ", 1)[0] + " <volatile>"
        out.append(line)
    return "\n".join(out) + "\n"


def test_golden_exposition() -> None:
    got = masked(exposition())
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(got)
    assert GOLDEN.exists(), "run with UPDATE_GOLDEN=1 to create the golden file"
    assert got == GOLDEN.read_text(), "exposition changed; rerun with UPDATE_GOLDEN=1 and review"


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def find(text: str, name: str, **labels: str) -> float:
    want = set(labels.items())
    hits = [v for (n, ls), v in samples(text).items() if n == name and want <= ls]
    assert len(hits) == 1, (name, labels, hits)
    return hits[0]


def test_golden_values_are_converted() -> None:
    text = exposition()
    # 1d quality report: the newest complete day (2024-01-01) of the fixture, % -> ratio, and
    # native and web from their own answers
    for product_type in ("native", "web"):
        result = fixture_result("ListQuality", f"ProductType={product_type}")
        join = next(i for i in result["Indicators"] if i["Name"] == "5s_join_room_success_rate")
        day = next(p for p in join["Data"] if p["TimeStamp"].startswith("2024-01-01"))
        got = find(
            text,
            "volcengine_rtc_report_join_room_success_ratio",
            threshold="5",
            granularity="1d",
            product_type=product_type,
        )
        assert got == round(day["Value"] / 100, 6)
    native = find(text, "volcengine_rtc_stall_ratio", media="video", product_type="native")
    assert find(text, "volcengine_rtc_stall_ratio", media="video", product_type="web") != native
    # minutes -> seconds: the fixture's per_call_time for 2024-01-01 times 60
    doc = fixture_result("ListOperationData")
    per_call = next(i for i in doc["Indicators"] if i["Name"] == "per_call_time")
    day = next(p for p in per_call["Data"] if p["TimeStamp"].startswith("2024-01-01"))
    got = find(text, "volcengine_rtc_report_session_duration_average_seconds")
    assert got == round(day["Value"] * 60, 6)
    # kbps -> bytes/s (x125); the uplink series has no peer
    v = find(
        text,
        "volcengine_rtc_client_bitrate_bytes_per_second",
        user_id="alice",
        room_id="room-1",
        media="audio",
        direction="up",
        peer_id="",
    )
    assert 4000 < v < 8000 and v % 0.125 == 0
    # a downlink series names the peer
    find(
        text,
        "volcengine_rtc_client_bitrate_bytes_per_second",
        user_id="alice",
        room_id="room-1",
        media="audio",
        direction="down",
        peer_id="bob",
    )
    # live quality: thresholds from the returned names
    for pt in ("native", "web"):
        assert (
            0
            < find(
                text, "volcengine_rtc_stall_ratio", media="audio", threshold="0.08", product_type=pt
            )
            < 0.1
        )
        assert (
            0
            < find(
                text, "volcengine_rtc_stall_ratio", media="video", threshold="0.5", product_type=pt
            )
            < 0.1
        )


def test_promtool_accepts_exposition(tmp_path) -> None:  # type: ignore[no-untyped-def]
    promtool = need_binary("promtool")
    path = tmp_path / "metrics.prom"
    path.write_text(exposition())
    with path.open("rb") as f:
        res = subprocess.run(
            [promtool, "check", "metrics"], stdin=f, capture_output=True, text=True
        )
    assert res.returncode == 0, res.stdout + res.stderr
