"""What a newcomer meets first: --help names the mixin subcommand, a mistyped key names the
closest valid one, a YAML syntax error says where and why, the start-up summary says whether
TLS and basic auth are on, stopping the demo early prints no traceback, and the documented
mixin settings are the real ones."""

from __future__ import annotations

import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.cli import main
from exporter.errors import ConfigError
from exporter.settings import load_settings
from tests.conftest import ROOT

GOOD = """credentials:
  access_key_id: AKLTexample
  secret_access_key: Sup3r-Secret-Value
apps:
  - app_id: "661e0000543cf"
"""


def write(tmp: Path, text: str, name: str = "config.yml") -> Path:
    path = tmp / name
    path.write_text(text)
    return path


def test_help_names_the_mixin_subcommand() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "exporter", "--help"], capture_output=True, text=True, check=True
    )
    assert "volc-rtc-exporter mixin [--config FILE]" in res.stdout
    mixin = subprocess.run(
        [sys.executable, "-m", "exporter", "mixin", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--check" in mixin.stdout  # the subcommand the help points to answers --help


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("refesh: {mode: scrape}\n", "refesh: Extra inputs are not permitted (unknown key; "
         "did you mean 'refresh'?)"),
        ("sources: {realtime_quality: {intervall_seconds: 90}}\n",
         "sources.realtime_quality.intervall_seconds: Extra inputs are not permitted (unknown "
         "key; did you mean 'interval_seconds'?)"),
        ("sources: {realtime_qualty: {}}\n", "did you mean 'realtime_quality'?"),
        ("web: {listen_adress: ':9100'}\n", "did you mean 'listen_address'?"),
        ("rate_limit: {quotas: {ListQuality: {per_secnd: 1}}}\n", "did you mean 'per_second'?"),
        ("log: {zzz: 1}\n", "log.zzz: Extra inputs are not permitted (unknown key; valid here: "
         "format, level)"),
    ],
)  # fmt: skip
def test_a_mistyped_key_names_the_closest_valid_one(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, GOOD + text))
    assert message in str(e.value)
    assert "Sup3r" not in str(e.value)


def test_a_mistyped_key_in_a_list_item(tmp_path: Path) -> None:
    text = GOOD.replace('app_id: "661e0000543cf"', 'app_id: "661e0000543cf"\n    nmae: x')
    with pytest.raises(ConfigError, match=r"apps\.0\.nmae: .*did you mean 'name'\?"):
        load_settings(write(tmp_path, text))


@pytest.mark.parametrize(
    ("text", "where", "cause"),
    [
        ("credentials:\n  access_key_id: A\n  x: y: z\n", "line 3 column 7",
         "mapping values are not allowed here"),
        ("apps:\n\t- app_id: a\n", "line 2 column 1",
         "found character '\\t' that cannot start any token"),
        ("credentials: {access_key_id: 'A\n", "line 2 column 1",
         "found unexpected end of stream (while scanning a quoted scalar)"),
    ],
)  # fmt: skip
def test_a_yaml_syntax_error_gives_line_and_cause(
    tmp_path: Path, text: str, where: str, cause: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text))
    assert f"{where}: not valid YAML: {cause}" in str(e.value)


def test_yaml_error_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD + "web: [\n")
    assert main(["--config.file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 7 column 1: not valid YAML: expected the node content" in err
    assert "Traceback" not in err


WEB_TLS_AUTH = """tls_server_config:
  cert_file: tls/server.crt
  key_file: tls/server.key
basic_auth_users:
  prometheus: $2b$10$GP7hEWB3EwAQ2Dzor79Lp.sqZd2lPLru4fiPpU27JSbfK/nbs8ssq
"""


@pytest.mark.parametrize(
    ("web", "summary"),
    [
        (None, "tls=off basic_auth=off"),
        (WEB_TLS_AUTH, "tls=on basic_auth=on"),
        (WEB_TLS_AUTH.split("basic_auth_users")[0], "tls=on basic_auth=off"),
        (WEB_TLS_AUTH.split("tls_server_config")[0] + "basic_auth_users:\n  u: "
         "$2b$10$GP7hEWB3EwAQ2Dzor79Lp.sqZd2lPLru4fiPpU27JSbfK/nbs8ssq\n", "tls=off basic_auth=on"),
        (WEB_TLS_AUTH.replace("key_file: tls/server.key",
                              "key_file: tls/server.key\n  client_auth_type: RequireAndVerifyClientCert\n"
                              "  client_ca_file: tls/ca.crt"), "tls=mtls basic_auth=on"),
    ],
)  # fmt: skip
def test_startup_summary_says_whether_tls_and_basic_auth_are_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], web: str | None, summary: str
) -> None:
    """--config.check prints the same summary the start-up log line carries."""
    args = ["--config.file", str(write(tmp_path, GOOD)), "--config.check"]
    if web is not None:
        tls = tmp_path / "tls"
        tls.mkdir()
        for name in ("server.crt", "server.key", "ca.crt"):
            (tls / name).write_bytes((ROOT / "deploy/compose/tls" / name).read_bytes())
        args += ["--web.config.file", str(write(tmp_path, web, "web.yml"))]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f" {summary} " in out
    assert "$2b$" not in out


def test_simulator_ignores_a_client_that_hangs_up(capsys: pytest.CaptureFixture[str]) -> None:
    """The exporter stopping mid-request resets its connections to the demo simulator: the
    simulator's server must not print the standard library's traceback for that."""
    from exporter.simulator.server import Simulator

    sim = Simulator(apps=1)
    sim.start()
    try:
        for _ in range(3):
            conn = socket.create_connection(("127.0.0.1", sim.port))
            conn.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n")  # no end of headers
            time.sleep(0.05)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST: the server's read fails with ECONNRESET
        time.sleep(0.3)
        import httpx

        assert httpx.get(sim.url + "/-/healthy").status_code == 200  # still serving
    finally:
        sim.stop()
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Exception occurred" not in err


def test_sigterm_right_after_demo_start_prints_no_traceback(tmp_path: Path) -> None:
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--demo", "--web.listen-address=127.0.0.1:0"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "msg=configuration" not in log.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)  # while the first refreshes are in flight
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    text = log.read_text()
    assert "msg=stopped" in text
    assert "Traceback" not in text and "Exception occurred" not in text, text[-3000:]


# -- the documented mixin settings --------------------------------------------------------------


def _all_settings_block() -> dict[str, Any]:
    text = (ROOT / "docs" / "alerting.md").read_text(encoding="utf-8")
    section = text.split("## All settings", 1)[1].split("\n## ", 1)[0]
    m = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert m, "docs/alerting.md: no yaml block under 'All settings'"
    data = yaml.safe_load(m.group(1))
    assert isinstance(data, dict)
    return data


def test_alerting_doc_lists_every_mixin_setting_with_its_default() -> None:
    """Every knob of MixinConfig (per-app `overrides` have their own section) with its
    default value: a knob added to the model without a line here fails."""
    from exporter.mixin.config import MixinConfig, seconds

    documented = _all_settings_block()
    defaults = MixinConfig().model_dump(by_alias=True, mode="json")
    defaults.pop("overrides")
    assert set(documented) == set(defaults)
    for key, value in defaults.items():
        doc = documented[key]
        if isinstance(value, dict):
            assert set(doc) == set(value), key
            for sub, v in value.items():
                got = doc[sub]
                if isinstance(v, str) and re.fullmatch(r"\d+(ms|s|m|h|d)", v):
                    assert seconds(str(got)) == seconds(v), f"{key}.{sub}"
                else:
                    assert got == v, f"{key}.{sub}"
        else:
            assert doc == value, key
    assert MixinConfig.model_validate(documented) == MixinConfig()
