"""docs/diagnosis.md: its configuration examples are valid and its quota figures are the plan's."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
import yaml

from exporter.collectors.rooms import series_per_user
from exporter.runtime import Runtime
from exporter.settings import Settings, load_settings
from tests.conftest import ROOT, FrozenClock

DOC = (ROOT / "docs" / "diagnosis.md").read_text(encoding="utf-8")
DIAG = ("realtime_breakdown", "report_breakdown", "operation_breakdown", "rooms")


def example(name: str) -> str:
    m = re.search(rf"<!-- example: {name} -->\s*```yaml\n(.*?)```", DOC, re.S)
    assert m, f"example {name!r} not found in docs/diagnosis.md"
    return m.group(1)


def settings_of(name: str, tmp_path: Path) -> Settings:
    secret = tmp_path / "sk"
    secret.write_text("s3cret\n")
    cfg = tmp_path / f"{name}.yml"
    cfg.write_text(example(name).replace("/run/secrets/volcengine_sk", str(secret)))
    return load_settings(cfg)


def plan_of(settings: Settings) -> dict[str, tuple[dict[str, int], float]]:
    def no_calls(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the plan needs no API call")

    rt = Runtime.build(settings, transport=httpx.MockTransport(no_calls), clock=FrozenClock(0))
    try:
        return {n: (p.calls, p.effective) for n, p in rt.refresher.plan.sources.items()}
    finally:
        rt.stop()


def test_the_settings_shown_are_the_defaults() -> None:
    shown = yaml.safe_load(example("diagnosis-settings"))["sources"]
    creds = {"credentials": {"access_key_id": "AK", "secret_access_key": "SK"}}
    documented = load_settings(None, **creds, sources=shown)
    defaults = load_settings(None, **creds)
    for name in (*DIAG, "call_detail"):
        assert documented.source(name) == defaults.source(name), name
        assert set(shown[name]) <= set(type(defaults.source(name)).model_fields), name


def test_byteplus_defaults_are_lengthened_as_documented(tmp_path: Path) -> None:
    plan = plan_of(settings_of("diagnosis-byteplus-defaults", tmp_path))
    assert plan["realtime_breakdown"] == (
        {"ListRealTimeQualityDistribution": 20},
        pytest.approx(1400),
    )
    # province is not on BytePlus's ListQualityDistribution page: os and network only
    assert plan["report_breakdown"] == ({"ListQualityDistribution": 20}, pytest.approx(33600))
    assert "**1400 s**" in DOC and "**33600 s**" in DOC


def test_byteplus_tuned_keeps_the_configured_intervals(tmp_path: Path) -> None:
    plan = plan_of(settings_of("diagnosis-byteplus-tuned", tmp_path))
    assert plan["realtime_breakdown"] == ({"ListRealTimeQualityDistribution": 4}, 300.0)
    assert plan["report_breakdown"] == ({"ListQualityDistribution": 2}, 3600.0)
    assert plan["rooms"][0]["GetRoomOnlineUsers"] == 2
    assert plan["call_detail"] == ({"ListCallDetail": 1}, 60.0)


def test_the_users_that_fit_table_is_the_estimate() -> None:
    rows = re.findall(r"^\| (\d+) \| (\d+) \| (\d+) \|$", DOC, re.M)
    assert len(rows) == 5
    for size, per_user, users in rows:
        assert series_per_user(int(size)) == int(per_user)
        assert 2000 // int(per_user) == int(users)
