"""The web layer under hostile clients: scrape latency as ratios of a lone scrape.

    .venv/bin/python benchmarks/bench_web.py [--apps 20] [--seconds 12]

The exporter runs in a child process (its own GIL) with basic auth (a cost-10 bcrypt hash, as
`htpasswd -nBC 10` makes) against the simulator in a third process. All load comes from this
process over loopback. One scraper with the right (cached) credentials measures, back to back,
the time from sending a request to the last byte of the answer, in four phases:

* **lone**: nothing else (the yardstick; run first and last, and pooled, as the exporter's own
  refreshes come and go);
* **slowloris**: 200 connections each sending a request head one byte a second (re-opened when
  the server cuts them off);
* **slow-read**: 16 connections asking for the whole uncompressed `/metrics` with a 4 KiB
  receive buffer and never reading it (re-opened when dropped);
* **bcrypt flood**: 16 threads sending wrong passwords back to back.

Printed per phase: scrapes, p50, p99, max, p99 / lone p50, p99 / lone p99, errors. Not a pass/fail test.
"""

from __future__ import annotations

import argparse
import base64
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import bcrypt
import httpx
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.procs import ExporterProc, SimProc, wait_for  # noqa: E402

USER, PASSWORD = "prometheus", "bench-password"


def scraper(url: str, seconds: float, auth: tuple[str, str]) -> tuple[list[float], int]:
    lat: list[float] = []
    errors = 0
    until = time.monotonic() + seconds
    with httpx.Client(auth=auth, timeout=30, headers={"Accept-Encoding": "gzip"}) as c:
        while time.monotonic() < until:
            t0 = time.perf_counter()
            try:
                r = c.get(url + "/metrics")
                r.read()
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                lat.append(time.perf_counter() - t0)
            else:
                errors += 1
    return lat, errors


def slowloris(port: int, count: int, stop: threading.Event) -> None:
    head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 4000
    socks: list[tuple[socket.socket, int]] = []
    while not stop.is_set():
        while len(socks) < count:
            try:
                socks.append((socket.create_connection(("127.0.0.1", port), timeout=2), 0))
            except OSError:
                break
        kept = []
        for sock, sent in socks:
            try:
                sock.send(head[sent : sent + 1])
                kept.append((sock, sent + 1))
            except OSError:
                sock.close()
        socks = kept
        stop.wait(1.0)
    for sock, _ in socks:
        sock.close()


def slow_readers(port: int, count: int, auth: str, stop: threading.Event) -> None:
    request = (
        f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n"
        "Accept-Encoding: identity\r\n\r\n"
    ).encode()
    socks: list[socket.socket] = []
    while not stop.is_set():
        alive = []
        for sock in socks:
            try:
                sock.setblocking(False)
                alive.append(sock) if sock.recv(1, socket.MSG_PEEK) else sock.close()
            except BlockingIOError:
                alive.append(sock)
            except OSError:
                sock.close()
        socks = alive
        while len(socks) < count:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                sock.connect(("127.0.0.1", port))
                sock.sendall(request)
            except OSError:
                sock.close()
                break
            socks.append(sock)
        stop.wait(0.5)
    for sock in socks:
        sock.close()


def bcrypt_flood(url: str, threads: int, stop: threading.Event) -> None:
    def one() -> None:
        with httpx.Client(auth=(USER, "wrong"), timeout=60) as c:
            while not stop.is_set():
                try:
                    c.get(url + "/-/healthy")
                except httpx.HTTPError:
                    pass

    workers = [threading.Thread(target=one, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    stop.wait()
    for w in workers:
        w.join(5)


def phase(
    url: str, seconds: float, load: Callable[[threading.Event], None] | None
) -> tuple[list[float], int]:
    stop = threading.Event()
    runner = threading.Thread(target=load, args=(stop,), daemon=True) if load else None
    if runner:
        runner.start()
        time.sleep(2.0)  # let the load build up
    lat, errors = scraper(url, seconds, (USER, PASSWORD))
    stop.set()
    if runner:
        runner.join(10)
    return lat, errors


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def report(name: str, lat: list[float], errors: int, lone: list[float]) -> None:
    if not lat:
        print(f"{name:<14} no successful scrape, {errors} errors", flush=True)
        return
    p99 = pct(lat, 0.99)
    print(
        f"{name:<14} scrapes {len(lat):>5}  p50 {statistics.median(lat) * 1e3:6.1f} ms  "
        f"p99 {p99 * 1e3:6.1f} ms  max {max(lat) * 1e3:6.1f} ms  "
        f"p99/lone p50 {p99 / statistics.median(lone):5.1f}x  "
        f"p99/lone p99 {p99 / pct(lone, 0.99):4.1f}x  errors {errors}",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--apps", type=int, default=40)
    p.add_argument("--seconds", type=float, default=12.0)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    sim = SimProc(tmp, apps=args.apps, qps=1000)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(10)).decode()
    (tmp / "web.yml").write_text(yaml.safe_dump({"basic_auth_users": {USER: hashed}}))
    cfg = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "rate_limit": {"requests_per_second": 1000},
    }
    exp = ExporterProc(tmp, cfg, [f"--web.config.file={tmp / 'web.yml'}"])
    try:
        auth = (USER, PASSWORD)
        wait_for(lambda: httpx.get(exp.url + "/-/ready", auth=auth).status_code == 200, 60, "ready")
        size = len(httpx.get(exp.url + "/metrics", auth=auth).content)
        print(f"# bench_web: {args.apps} apps, /metrics {size / 1e6:.2f} MB uncompressed, "
              f"{args.seconds:.0f} s per phase", flush=True)  # fmt: skip
        header = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        scraper(exp.url, 5.0, auth)  # warm-up: the first refresh cycles settle
        loads: dict[str, Callable[[threading.Event], None] | None] = {
            "lone": None,
            "slowloris": lambda s: slowloris(exp.port, 200, s),
            "slow-read": lambda s: slow_readers(exp.port, 16, header, s),
            "bcrypt flood": lambda s: bcrypt_flood(exp.url, 16, s),
            "lone again": None,
        }
        results = {name: phase(exp.url, args.seconds, load) for name, load in loads.items()}
        # the exporter's own refreshes come and go: both lone phases make the yardstick
        lone = results["lone"][0] + results["lone again"][0]
        for name, (lat, errors) in results.items():
            report(name, lat, errors, lone)
        report("lone, pooled", lone, 0, lone)
    finally:
        exp.stop()
        sim.stop()


if __name__ == "__main__":
    main()
