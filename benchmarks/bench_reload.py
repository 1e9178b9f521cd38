"""Reloads with a rotating STS session token: memory and reload time over many rotations
(issue 22 row 7). Figures and ratios against the first reloads of the same run, not pass/fail.

    .venv/bin/python benchmarks/bench_reload.py [--reloads 200] [--token-bytes 1200]

The exporter runs as a process of its own against the simulator (another process), with
``credentials.session_token_file`` and ``--web.enable-lifecycle``. Each round writes a new
token (STS tokens are about a kilobyte) and asks ``POST /-/reload``, which answers once the new
configuration is in; the round trip is the reload time. RSS is read from /proc after every
reload. Printed: the median reload time of the first and of the last 20 reloads and their ratio,
RSS before and after, and its growth per rotation.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.procs import ExporterProc, SimProc, wait_for  # noqa: E402


def status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return -1


def rss_mb(pid: int) -> float:
    return status(pid, "VmRSS") / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reloads", type=int, default=200)
    ap.add_argument("--token-bytes", type=int, default=1200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    sim = SimProc(tmp, apps=2, qps=1000)
    token = tmp / "token"
    token.write_text(secrets.token_urlsafe(args.token_bytes))
    cfg = {
        "endpoint": sim.url,
        "credentials": {
            "access_key_id": "AKLTinteg",
            "secret_access_key": sim.secret,
            "session_token_file": str(token),
        },  # fmt: skip
        "apps": [{"app_id": a} for a in sim.apps],
        "rate_limit": {"requests_per_second": 100, "max_retries": 0},
    }
    exp = ExporterProc(tmp, cfg, ["--web.enable-lifecycle"])
    try:
        exp.wait_ready()
        time.sleep(2)  # the first cycles are done
        before, threads = rss_mb(exp.p.pid), status(exp.p.pid, "Threads")
        times = []
        with httpx.Client(timeout=30) as http:
            for _ in range(args.reloads):
                token.write_text(secrets.token_urlsafe(args.token_bytes))
                started = time.perf_counter()
                r = http.post(exp.url + "/-/reload")
                times.append(time.perf_counter() - started)
                assert r.status_code == 200, r.text
            wait_for(lambda: http.get(exp.url + "/-/ready").status_code == 200, 30, "ready")
        time.sleep(2)
        after, threads_after = rss_mb(exp.p.pid), status(exp.p.pid, "Threads")
    finally:
        exp.stop()
        sim.stop()
    first, last = statistics.median(times[:20]), statistics.median(times[-20:])
    print(f"reloads: {args.reloads}, token {args.token_bytes} bytes, pid cwd {os.getcwd()}")
    print(f"reload time (median): first 20 {first * 1000:.1f} ms, last 20 {last * 1000:.1f} ms, "
          f"ratio {last / first:.2f}")  # fmt: skip
    print(f"RSS: {before:.1f} MB -> {after:.1f} MB, "
          f"{(after - before) / args.reloads * 1024:.1f} KB per rotation")  # fmt: skip
    print(f"threads: {threads} -> {threads_after}")


if __name__ == "__main__":
    main()
