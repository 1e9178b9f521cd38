"""Load on the HTTP serving layer: figures and ratios, not a pass/fail test.

    .venv/bin/python benchmarks/bench_load.py [--modes timer scrape] [--duration 60]
        [--scrapers 50] [--interval 1] [--idle 1000] [--apps 5]

The exporter runs in a child process (its own GIL) over the in-process simulator: ``--apps``
apps, the first ``--watched`` of them with a 20-user watch list (about 3,800 series each):
about 10,000 series with the defaults (40 apps, 2 watched). For each refresh mode it measures, from the parent process over loopback:

1. lone: one scraper, sequential scrapes: the reference p50;
2. load: ``--scrapers`` scrapers for ``--duration`` s, each on its own kept-alive connection,
   one scrape every ``--interval`` s (0 = back to back, i.e. saturation);
3. idle: ``--idle`` connections that never send a byte (re-opened when the server drops them)
   while one scraper measures.

and prints p50 / p99 / max latency, p99 / lone p50, errors, the server's threads and RSS (peak)
and the kernel's listen-queue overflow count.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
AK, SK = "AKLTbench", "bench-secret"


# -- the child: the exporter -------------------------------------------------------------------


def child(apps: int, watched: int, mode: str, server_kind: str) -> None:
    """The exporter, talking HTTP to the simulator in a process of its own (as to the vendor)."""
    import tempfile

    from prometheus_client import generate_latest

    from exporter.runtime import Runtime
    from exporter.settings import load_settings

    sk_file = Path(tempfile.mkdtemp()) / "sk"
    sk_file.write_text(SK)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        sim_port = s.getsockname()[1]
    sim = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator", "--port", str(sim_port), "--apps", str(apps),
         "--qps", "1e6", "--access-key-id", AK, "--secret-access-key-file", str(sk_file)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert sim.stdout is not None
    app_ids = json.loads(sim.stdout.readline())["apps"]
    watch = [
        {
            "room_id": "room-demo-1",
            "user_ids": ["alice", "bob", "carol", "erin"] + [f"user-{i:02d}" for i in range(1, 15)],
        }
    ]
    settings = load_settings(
        None,
        endpoint=f"http://127.0.0.1:{sim_port}",
        credentials={"access_key_id": AK, "secret_access_key": SK},
        apps=[
            {"app_id": a, **({"call_detail": watch} if i < watched else {})}
            for i, a in enumerate(app_ids)
        ],
        sources={"call_detail": {"max_client_series": 4000 * watched}},
        rate_limit={"requests_per_second": 1e4},
        refresh={"mode": mode},
        web={"listen_address": "127.0.0.1:0"},
    )
    rt = Runtime.build(settings)
    for name in rt.sources:  # fill the cache at once...
        rt.refresher.refresh(name)
    series = sum(1 for ln in generate_latest(rt.registry).splitlines() if not ln.startswith(b"#"))
    host, port = rt.start()
    # ... then refresh as in production: paced by the vendor's default quotas (2/s per action)
    paced = settings.model_dump(exclude={"rate_limit"}) | {"rate_limit": {}}
    rt.reload(load_settings(None, **paced))
    print(json.dumps({"port": port, "series": series, "pid": os.getpid()}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    sim.terminate()
    sim.wait(10)
    os._exit(0)


# -- the parent: load and measurements --------------------------------------------------------


def proc_status(pid: int) -> tuple[int, float]:
    threads, rss = 0, 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            threads = int(line.split()[1])
        elif line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    return threads, rss


def listen_overflows() -> int:
    lines = Path("/proc/net/netstat").read_text().splitlines()
    for head, values in zip(lines[::2], lines[1::2], strict=False):
        if head.startswith("TcpExt:"):
            return int(dict(zip(head.split(), values.split(), strict=False))["ListenOverflows"])
    return 0


class Sampler(threading.Thread):
    """Peak threads and RSS of the server process while a phase runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop, self.threads, self.rss = pid, threading.Event(), 0, 0.0

    def run(self) -> None:
        while not self.stop.is_set():
            t, r = proc_status(self.pid)
            self.threads, self.rss = max(self.threads, t), max(self.rss, r)
            self.stop.wait(0.2)


def scraper(port: int, until: float, interval: float, out: list[float], errors: list[str]) -> None:
    conn: http.client.HTTPConnection | None = None
    next_at = time.monotonic() + random.uniform(0, interval)
    while time.monotonic() < until:
        if interval:
            time.sleep(max(0.0, next_at - time.monotonic()))
            next_at += interval
        t0 = time.monotonic()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("GET", "/metrics", headers={"Accept-Encoding": "gzip"})  # as Prometheus
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200 or not body:
                errors.append(f"status {resp.status}")
            else:
                out.append(time.monotonic() - t0)
            if resp.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as exc:
            errors.append(type(exc).__name__)
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def idle_holder(port: int, count: int, stop: threading.Event) -> None:
    socks: list[socket.socket] = []
    while not stop.is_set():
        alive = []
        for s in socks:  # the server may drop idle connections: open new ones
            try:
                s.setblocking(False)
                dead = s.recv(1) == b""
            except BlockingIOError:
                dead = False
            except OSError:
                dead = True
            if dead:
                s.close()
            else:
                alive.append(s)
        socks = alive
        while len(socks) < count and not stop.is_set():
            try:
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        stop.wait(0.5)
    for s in socks:
        s.close()


def phase(
    pid: int, port: int, scrapers: int, seconds: float, interval: float, idle: int = 0
) -> dict[str, Any]:
    sampler = Sampler(pid)
    sampler.start()
    stop_idle = threading.Event()
    holder = threading.Thread(target=idle_holder, args=(port, idle, stop_idle), daemon=True)
    if idle:
        holder.start()
        time.sleep(3)  # let the connections pile up first
    overflows = listen_overflows()
    lat: list[float] = []
    errors: list[str] = []
    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=scraper, args=(port, until, interval, lat, errors))
        for _ in range(scrapers)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop_idle.set()
    if idle:
        holder.join()
    sampler.stop.set()
    sampler.join()
    lat.sort()
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) >= 2 else [lat[0] if lat else 0.0] * 99  # fmt: skip
    return {
        "n": len(lat),
        "p50": statistics.median(lat) if lat else float("nan"),
        "p99": q[98],
        "max": lat[-1] if lat else float("nan"),
        "errors": len(errors),
        "threads": sampler.threads,
        "rss": sampler.rss,
        "overflows": listen_overflows() - overflows,
    }


def run_mode(mode: str, args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            mode,
            "--server",
            args.server,
            "--apps",
            str(args.apps),
            "--watched",
            str(args.watched),
        ],  # fmt: skip
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdin is not None
    info = json.loads(proc.stdout.readline())
    port, pid = info["port"], info["pid"]
    print(f"# {mode} mode, {info['series']} series, server={args.server}", flush=True)
    rows = []
    try:
        lone = phase(pid, port, 1, args.lone_seconds, 0.0)
        rows.append(("lone", lone))
        rows.append((f"{args.scrapers} scrapers", phase(pid, port, args.scrapers, args.duration, args.interval)))  # fmt: skip
        if args.idle:
            rows.append((f"{args.idle} idle + 1", phase(pid, port, 1, args.idle_seconds, 0.0, args.idle)))  # fmt: skip
    finally:
        proc.stdin.close()
        proc.wait(10)
    for _, r in rows:
        r["ratio"] = r["p99"] / lone["p50"] if lone["p50"] else float("nan")
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--modes", nargs="+", default=["timer", "scrape"])
    p.add_argument("--apps", type=int, default=40)
    p.add_argument("--watched", type=int, default=2, help="apps with a 20-user watch list")
    p.add_argument("--scrapers", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0)
    p.add_argument("--interval", type=float, default=15.0, help="s between one scraper's scrapes")
    p.add_argument("--lone-seconds", type=float, default=10.0)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--idle-seconds", type=float, default=20.0)
    p.add_argument("--server", choices=["new"], default="new", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        sys.path.insert(0, str(ROOT))
        child(args.apps, args.watched, args.child, args.server)
        return
    header = f"{'mode':<7} {'phase':<16} {'scrapes':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'p99/lone':>8} {'errors':>6} {'threads':>7} {'RSS MiB':>7} {'overflows':>9}"  # fmt: skip
    results = [(m, run_mode(m, args)) for m in args.modes]
    print(header)
    for mode, rows in results:
        for name, r in rows:
            print(
                f"{mode:<7} {name:<16} {r['n']:>7} {r['p50'] * 1e3:>8.1f} {r['p99'] * 1e3:>8.1f} "
                f"{r['max'] * 1e3:>8.1f} {r['ratio']:>8.1f} {r['errors']:>6} {r['threads']:>7} "
                f"{r['rss']:>7.0f} {r['overflows']:>9}"
            )
    print(
        f"target: p99 under {args.scrapers} scrapers <= 5 x lone p50; "
        "threads bounded whatever the idle connections"
    )


if __name__ == "__main__":
    main()
