"""Helpers to run the simulator and the exporter as separate processes over loopback HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log = log.open("wb")
        self.p = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
        )

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._log.close()
        return self.p.returncode


class SimProc(Proc):
    def __init__(
        self, tmp: Path, apps: int = 2, qps: float | None = 50.0, extra: list[str] | None = None
    ) -> None:
        """``qps=None``: the provider's documented per-action quotas (2/s for most actions)."""
        self.secret = "sim-Secret-" + os.urandom(6).hex()
        sk_file = tmp / "sim-sk"
        sk_file.write_text(self.secret)
        self.port = free_port()
        args = [
            sys.executable,
            "-m",
            "exporter.simulator",
            "--port",
            str(self.port),
            "--apps",
            str(apps),
            *(["--qps", str(qps)] if qps is not None else []),
            "--access-key-id",
            "AKLTinteg",
            "--secret-access-key-file",
            str(sk_file),
        ]
        super().__init__(args + (extra or []), tmp / "simulator.log")
        self.url = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: httpx.get(self.url + "/-/healthy").status_code == 200, 15, "simulator up")
        # it answers before it prints its summary line (the event feed starts in between)
        wait_for(lambda: self._summary() is not None, 15, "simulator summary line")
        self.info = json.loads(self._summary() or "")
        self.apps: list[str] = self.info["apps"]

    def _summary(self) -> str | None:
        complete = self.output().split("\n")[:-1]  # lines already ended
        return next((ln for ln in complete if ln.startswith("{")), None)

    def scenario(self, name: str, **params: Any) -> None:
        r = httpx.post(self.url + "/-/scenarios", json={"name": name, "params": params})
        assert r.status_code == 200, r.text

    def clear(self, name: str | None = None) -> None:
        httpx.delete(self.url + "/-/scenarios" + (f"/{name}" if name else ""))

    def stats(self) -> dict[str, dict[str, int]]:
        return httpx.get(self.url + "/-/stats").json()  # type: ignore[no-any-return]

    def app_keys(self) -> list[str]:
        # read straight from the API the exporter talks to: the secrets it must never leak
        from exporter.simulator.data import make_apps

        return [k for a in make_apps(len(self.apps)) for k in (a.app_key, a.secondary_app_key)]


class ExporterProc(Proc):
    def __init__(self, tmp: Path, config: dict[str, Any], args: list[str] | None = None) -> None:
        self.port = free_port()
        cfg = tmp / "config.yml"
        cfg.write_text(yaml.safe_dump(config, allow_unicode=True))
        self.cfg_path = cfg
        cmd = [
            sys.executable,
            "-m",
            "exporter",
            f"--config.file={cfg}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            *(args or []),
        ]
        super().__init__(cmd, tmp / "exporter.log")
        self.url = f"http://127.0.0.1:{self.port}"

    def metrics_text(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=10).text

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        out = {}
        for fam in text_string_to_metric_families(self.metrics_text()):
            for s in fam.samples:
                out[(s.name, frozenset(s.labels.items()))] = s.value
        return out

    def get(self, name: str, **labels: str) -> float | None:
        want = set(labels.items())
        hits = [v for (n, ls), v in self.samples().items() if n == name and want <= ls]
        return sum(hits) if hits else None

    def wait_ready(self, timeout: float = 30) -> None:
        def ready() -> bool:
            if self.p.poll() is not None:
                raise AssertionError("exporter exited:\n" + self.output())
            try:
                return httpx.get(self.url + "/-/ready").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, timeout, "exporter ready")


def wait_for(cond: Callable[[], bool], timeout: float, what: str, interval: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except (httpx.HTTPError, OSError) as exc:
            last = exc
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} ({last})")
