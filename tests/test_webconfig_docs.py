"""docs/web.md: its web config example loads and authenticates; its scrape config passes promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from exporter.web.auth import AuthMiddleware
from exporter.web.source import WebConfigSource as WebConfig
from tests.conftest import ROOT, need_binary
from tests.test_webconfig import _call
from tests.test_webserver_tls import PKI

DOC = (ROOT / "docs" / "web.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    m = re.search(rf"<!-- example: {name} -->\s*```\w*\n(.*?)```", DOC, re.S)
    assert m, f"docs/web.md example {name!r} not found"
    return m.group(1)


async def _ok(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def test_web_config_example_loads_and_its_password_works(tmp_path: Path) -> None:
    PKI(tmp_path).issue("server")
    path = tmp_path / "web.yml"
    path.write_text(example("web-config"))
    cfg = WebConfig.load(path)
    assert cfg.tls_enabled and cfg.server_tls() is not None
    status, headers = _call(AuthMiddleware(_ok, cfg), ("prometheus", "example-password"))
    assert status == 200
    assert headers["strict-transport-security"] == "max-age=31536000"


def test_every_web_config_key_is_documented() -> None:
    from exporter.web.config import HTTPServerConfig, RateLimitConfig, TLSServerConfig

    for model, prefix in (
        (TLSServerConfig, "tls_server_config."),
        (HTTPServerConfig, "http_server_config."),
        (RateLimitConfig, "rate_limit."),
    ):
        for name in model.model_fields:
            assert f"`{prefix}{name}`" in DOC or f"`{name}`" in DOC, name
    assert "`basic_auth_users`" in DOC


def test_scrape_example_passes_promtool(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    cfg = tmp_path / "prometheus.yml"
    secrets = tmp_path / "files"
    secrets.mkdir()
    text = example("web-scrape")
    for f in re.findall(r"/etc/prometheus/[\w.-]+", text):
        (secrets / Path(f).name).write_text("x")
        text = text.replace(f, str(secrets / Path(f).name))
    cfg.write_text(text)
    res = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
