"""Configuration: precedence, secrets, and clear errors with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporter.cli import main
from exporter.errors import ConfigError
from exporter.settings import load_settings

GOOD = """
endpoint: http://127.0.0.1:8080
region: cn-north-1
credentials:
  access_key_id: AKLTexample
  secret_access_key: Sup3r-Secret-Value
apps:
  - app_id: "661e0000543cf"
    call_detail:
      - room_id: room-1
        user_ids: [alice, bob]
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yml"
    p.write_text(text)
    return p


def test_example_config_loads(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, GOOD))
    assert s.endpoint == "http://127.0.0.1:8080"
    assert s.apps is not None and s.apps[0].call_detail[0].user_ids == ["alice", "bob"]
    assert s.sources.realtime_operation.interval_seconds == 30
    assert s.sources.realtime_quality.interval_seconds == 60
    assert (
        s.sources.quality_report.interval_seconds == 3600
        and s.sources.quality_report.granularity == "1d"
    )
    assert s.sources.call_detail.interval_seconds == 60 and s.sources.apps.interval_seconds == 600
    assert s.rate_limit.requests_per_second == 2.0
    assert s.sources.realtime_operation.staleness == 90
    assert "Sup3r" not in repr(s) and "Sup3r" not in str(s.model_dump())


def test_precedence_flags_over_env_over_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(
        tmp_path,
        GOOD + "refresh: {mode: timer}\nsources: {realtime_quality: {interval_seconds: 120}}\n",
    )
    monkeypatch.setenv("VOLC_RTC_EXPORTER_SOURCES__REALTIME_QUALITY__INTERVAL_SECONDS", "90")
    monkeypatch.setenv("VOLC_RTC_EXPORTER_REFRESH__MODE", "scrape")
    s = load_settings(path)
    assert s.sources.realtime_quality.interval_seconds == 90 and s.refresh.mode == "scrape"
    s = load_settings(path, refresh={"mode": "timer"})
    assert s.refresh.mode == "timer"


def test_vendor_env_credentials_and_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "apps: [{app_id: a}]\n")
    monkeypatch.setenv("VOLCENGINE_ACCESS_KEY", "AKenv")
    monkeypatch.setenv("VOLCENGINE_SECRET_KEY", "SKenv")
    s = load_settings(path)
    assert s.credentials.access_key_id == "AKenv" and s.secret_key == "SKenv"
    monkeypatch.delenv("VOLCENGINE_SECRET_KEY")
    secret = tmp_path / "sk"
    secret.write_text("SKfile\n")
    s = load_settings(write(tmp_path, f"credentials: {{secret_access_key_file: {secret}}}\n"))
    assert s.secret_key == "SKfile"


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("credentials: {access_key_id: A}\n", "credentials.secret_access_key", "required"),
        (
            GOOD + "sources: {realtime_quality: {window_seconds: 7200}}\n",
            "sources.realtime_quality",
            "maximum",
        ),
        (
            GOOD + "sources: {realtime_operation: {interval_seconds: -1}}\n",
            "sources.realtime_operation.interval_seconds",
            "greater than 0",
        ),
        (
            GOOD + "sources: {quality_report: {granularity: 1h}}\n",
            "sources.quality_report.granularity",
            "'1d' or '5min'",
        ),
        (GOOD + "refresh: {mode: sometimes}\n", "refresh.mode", "'timer' or 'scrape'"),
        (GOOD + "colour: blue\n", "colour", "Extra inputs"),
        (GOOD + "web: {listen_address: nope}\n", "web.listen_address", "host]:port"),
        (GOOD + "timezone: Asia/Shanghai\n", "timezone", "UTC offset"),
        (GOOD + "shard: 3/2\n", "shard", "N/M"),
        (GOOD.replace('app_id: "661e0000543cf"', "app_id: ''"), "apps.0.app_id", "at least 1"),
        ("credentials: [\n", "", "not valid YAML"),
        ("- a\n- b\n", "", "mapping"),
    ],
)
def test_bad_config_names_key_and_reason(tmp_path: Path, text: str, key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text))
    assert key in str(e.value) and reason in str(e.value)
    assert "Sup3r" not in str(e.value)


def test_cli_exits_2_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD.replace("Sup3r-Secret-Value", "[1, 2]"))
    assert main(["--config.file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "credentials.secret_access_key" in err and "invalid configuration" in err
    assert main(["--config.file", str(tmp_path / "missing.yml")]) == 2


def test_cli_config_check_prints_summary_without_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD)
    assert main(["--config.file", str(path), "--config.check", "--refresh.mode", "scrape"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "mode=scrape" in out and "Sup3r" not in out


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    path = write(tmp_path, "bogus: 1\n")
    res = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(path)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "bogus" in res.stderr
    res = subprocess.run(
        [sys.executable, "-m", "exporter", "--version"], capture_output=True, text=True
    )
    assert res.returncode == 0 and "volc-rtc-exporter" in res.stdout
