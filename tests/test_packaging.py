"""Installing from a checkout as a user would: `pipx install .` gives a working command."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow  # builds a wheel and installs the dependencies from the package index
def test_pipx_install_from_a_checkout(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    venv.create(tools, with_pip=True)
    pip = tools / "bin" / "pip"
    subprocess.run([str(pip), "install", "--quiet", "pipx"], check=True)
    env = os.environ | {
        "PIPX_HOME": str(tmp_path / "pipx"),
        "PIPX_BIN_DIR": str(tmp_path / "bin"),
        "PIPX_MAN_DIR": str(tmp_path / "man"),
    }
    subprocess.run(
        [str(tools / "bin" / "pipx"), "install", "--python", sys.executable, str(ROOT)],
        check=True, env=env, capture_output=True,
    )  # fmt: skip
    exe = tmp_path / "bin" / "volc-rtc-exporter"
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, check=True)
    from exporter import __version__

    assert out.stdout.startswith(f"volc-rtc-exporter {__version__} (revision ")
    assert "Python 3." in out.stdout
    config = tmp_path / "config.yml"
    config.write_text(
        "credentials: {access_key_id: A, secret_access_key: S3cret}\napps: [{app_id: a}]\n"
    )
    out = subprocess.run(
        [str(exe), f"--config.file={config}", "--config.check"], capture_output=True, text=True
    )
    assert out.returncode == 0 and "configuration OK" in out.stdout and "S3cret" not in out.stdout
