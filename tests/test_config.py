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
    assert s.provider == "volcengine" and s.region == "cn-north-1"
    assert s.sources.realtime_quality.product_types == ["native", "web"]
    assert s.sources.realtime_operation.settle_seconds == 20  # the documented data delays
    assert s.sources.realtime_quality.settle_seconds == 60
    assert s.sources.call_detail.settle_seconds == 100
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
    assert s.credential_triple() == ("AKenv", "SKenv", None)
    monkeypatch.delenv("VOLCENGINE_SECRET_KEY")
    secret = tmp_path / "sk"
    secret.write_text("SKfile\n")
    s = load_settings(write(tmp_path, f"credentials: {{secret_access_key_file: {secret}}}\n"))
    assert s.credential_triple()[1] == "SKfile"


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
            "greater than or equal to 1",
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


BAD_NUMBERS = [
    ("sources: {realtime_quality: {interval_seconds: .inf}}", "interval_seconds", "finite"),
    ("sources: {realtime_quality: {interval_seconds: 1e300}}", "interval_seconds", "less than"),
    ("sources: {realtime_quality: {interval_seconds: 0.001}}", "interval_seconds", "greater"),
    ("timeout_seconds: .inf", "timeout_seconds", "finite"),
    ("timeout_seconds: 0", "timeout_seconds", "greater"),
    ("rate_limit: {requests_per_second: 1e-300}", "rate_limit.requests_per_second", "greater"),
    ("rate_limit: {headroom: .nan}", "rate_limit.headroom", "finite"),
    ("rate_limit: {quotas: {ListQuality: {}}}", "rate_limit.quotas.ListQuality", "at least one"),
    ("max_response_bytes: 10", "max_response_bytes", "greater"),
    ("apps: []", "apps", "at least one app"),
    ("endpoint: https://user:pw@rtc.volcengineapi.com", "endpoint", "user:password@"),
    ("shard: 1/99999", "shard", "N/M"),
    ("sources: {realtime_quality: {product_types: [desktop]}}", "product_types", "native"),
    ("sources: {realtime_quality: {product_types: []}}", "product_types", "at least 1"),
    ("provider: aliyun", "provider", "volcengine"),
]


BASE = "credentials: {access_key_id: AKLTexample, secret_access_key: Sup3r-Secret-Value}\n"


@pytest.mark.parametrize(
    ("extra", "key", "reason"), BAD_NUMBERS, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD_NUMBERS)]
)
def test_every_number_and_key_has_sane_bounds(
    tmp_path: Path, extra: str, key: str, reason: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, BASE + extra + "\n"))
    assert key in str(e.value) and reason in str(e.value), str(e.value)
    assert "Sup3r" not in str(e.value) and "pw@" not in str(e.value)


def test_duplicate_yaml_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, GOOD + "timeout_seconds: 5\ntimeout_seconds: 6\n"))
    assert "duplicate key 'timeout_seconds'" in str(e.value) and "line" in str(e.value)


def test_non_utf8_files_name_the_file_never_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_bytes(GOOD.encode() + b"\nname: \xff\xfe\n")
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert "not valid UTF-8" in str(e.value) and "0xff" not in str(e.value)
    secret = tmp_path / "sk"
    secret.write_bytes(b"Sup3r\xe9Secret")
    text = "apps: [{app_id: a}]\ncredentials: {access_key_id: A, secret_access_key_file: %s}\n"
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text % secret))
    msg = str(e.value)
    assert "secret_access_key_file" in msg and "UTF-8" in msg
    assert "Sup3r" not in msg and "0xe9" not in msg and "Secret" not in msg.split("UTF-8")[-1]


def test_bad_json_in_an_environment_variable_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOLC_RTC_EXPORTER_WEB", "{")
    path = write(tmp_path, GOOD)
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert "VOLC_RTC_EXPORTER_WEB" in str(e.value)
    assert main(["--config.file", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_session_token_from_file_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token = tmp_path / "token"
    token.write_text("STS-token-value\n")
    text = GOOD.replace(
        "  secret_access_key: Sup3r-Secret-Value",
        f"  secret_access_key: Sup3r-Secret-Value\n  session_token_file: {token}",
    )
    assert load_settings(write(tmp_path, text)).credential_triple()[2] == "STS-token-value"
    monkeypatch.setenv("VOLCENGINE_SESSION_TOKEN", "from-env")
    assert load_settings(write(tmp_path, GOOD)).credential_triple()[2] == "from-env"


def test_byteplus_provider_sets_endpoint_region_and_quotas(tmp_path: Path) -> None:
    from exporter.runtime import quotas_for

    s = load_settings(
        write(
            tmp_path,
            GOOD.replace(
                "endpoint: http://127.0.0.1:8080\nregion: cn-north-1\n", "provider: byteplus\n"
            ),
        )
    )
    assert s.base_url == "https://open.byteplusapi.com" and s.signing_region == "ap-singapore-1"
    q = quotas_for(s)
    assert (q["ListQuality"].per_minute, q["ListQuality"].per_day) == (10, 60)
    assert q["ListRealTimeQualityDistribution"].per_day == 1440
    s = load_settings(
        write(
            tmp_path,
            GOOD + "provider: byteplus\nrate_limit: {quotas: {ListQuality: {per_day: 100}}}\n",
        )
    )
    assert (
        quotas_for(s)["ListQuality"].per_day == 100
        and quotas_for(s)["ListQuality"].per_minute == 10
    )
    assert s.base_url == "http://127.0.0.1:8080"  # an explicit endpoint wins


def test_port_in_use_and_bad_demo_flags_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write(tmp_path, GOOD)
        assert main(["--config.file", str(path), f"--web.listen-address=127.0.0.1:{port}"]) == 2
        err = capsys.readouterr().err
        assert f"127.0.0.1:{port}" in err and "Traceback" not in err
        assert main(["--demo", f"--demo.listen-address=127.0.0.1:{port}"]) == 2
        assert "--demo" in capsys.readouterr().err
    assert main(["--demo", "--demo.apps=100000"]) == 2
    assert main(["--config.file", str(path), "--web.listen-address=no.such.host.invalid:9877"]) == 2
    assert "no.such.host.invalid" in capsys.readouterr().err
