"""Quota use, scrape cost and memory: the figures of docs/performance.md, as ratios against a
yardstick measured in the same run (not a pass/fail test; the machines are shared and noisy).

    .venv/bin/python benchmarks/bench_scrape.py [--apps 100] [--scrapes 200] [--quick]

1. quota, in virtual time against the simulator enforcing the vendor's windows (100 apps, a
   watch list): vendor calls per cycle / the planner's minimum, 429s, the first cycle's length
   / (calls / quota), and how many apps keep their series through an overrun (interval 10 s at
   100 apps, defaults at 500 apps);
2. scrape path, over loopback HTTP at ~10,000 series: /metrics p50 and p99 of the exporter /
   bare prometheus_client serving the same families, interleaved;
3. memory: RSS of an exporter process after warm-up, after 10 concurrent scrapes, and after
   they end; scrape mode with 10 concurrent scrapes: vendor calls / minimum, 429s, and the
   answer time against X-Prometheus-Scrape-Timeout-Seconds: 10.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, start_http_server

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.collectors import SOURCES  # noqa: E402
from exporter.runtime import Runtime  # noqa: E402
from exporter.scheduler import TimerScheduler  # noqa: E402
from exporter.settings import load_settings  # noqa: E402
from exporter.simulator import Simulator  # noqa: E402
from exporter.simulator.demo import DEMO_ROOM  # noqa: E402
from tests.conftest import VirtualClock, VirtualWaiter  # noqa: E402
from tests.procs import ExporterProc, SimProc, wait_for  # noqa: E402

AK, SK = "AKLTbench", "bench-secret"
WATCH = [{"room_id": DEMO_ROOM, "user_ids": ["alice", "bob", "carol", "erin"]}]


def settings(sim: Simulator, **kw: Any) -> Any:
    apps = [{"app_id": a.app_id, **({"call_detail": WATCH} if i == 0 else {})}
            for i, a in enumerate(sim.running_apps)]  # fmt: skip
    base: dict[str, Any] = {
        "endpoint": "http://sim.invalid",
        "credentials": {"access_key_id": AK, "secret_access_key": SK},
        "apps": apps,
    }
    return load_settings(None, **(base | kw))


class Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.inner.handle_request(request)
        self.calls[request.url.params["Action"]] += 1
        self.statuses[r.status_code] += 1
        return r


# -- 1. quota ----------------------------------------------------------------------------------


def quota(apps: int) -> dict[str, float]:
    clock = VirtualClock(1_704_196_800.0)
    sim = Simulator(apps=apps, credentials={AK: SK}, clock=clock, sleep=clock.advance)
    transport = Counting(sim.transport())
    rt = Runtime.build(
        settings(sim), transport=transport, clock=clock, waiter=VirtualWaiter(clock), inline=True
    )
    minimum = Counter[str]()
    for p in rt.refresher.plan.sources.values():
        minimum.update(p.calls)
    started = clock.t
    rt.refresher.refresh("realtime_operation")
    first_cycle = clock.t - started
    for name in rt.sources:
        if name != "realtime_operation":
            rt.refresher.refresh(name)
    rt.refresher.refresh("rooms")  # the watch list grew: call_detail's minimum with it
    minimum = Counter[str]()
    for p in rt.refresher.plan.sources.values():
        minimum.update(p.calls)
    before = Counter(transport.calls)
    for name in rt.sources:
        rt.refresher.refresh(name)
    cycle = Counter(transport.calls) - before
    ratio = sum(cycle.values()) / sum(minimum.values())
    n = rt.refresher.plan.sources["realtime_operation"].calls["ListRealTimeOperationData"]
    rt.stop()
    return {
        "calls_ratio": ratio,
        "throttled": transport.statuses[429],
        "first_cycle_ratio": first_cycle / (n / 2.0),
    }


def overrun(apps: int, interval: float | None) -> tuple[int, int]:
    """(apps whose series never vanished, apps) over 4 effective intervals, virtual time."""
    clock = VirtualClock(1_704_196_800.0)
    sim = Simulator(apps=apps, credentials={AK: SK}, clock=clock, sleep=clock.advance)
    only = {c.name: {"enabled": c.name == "realtime_operation"} for c in SOURCES}
    if interval is not None:
        only["realtime_operation"] = {"interval_seconds": interval}
    rt = Runtime.build(
        settings(sim, sources=only), transport=sim.transport(), clock=clock,
        waiter=VirtualWaiter(clock), inline=True,
    )  # fmt: skip
    effective = rt.refresher.interval("realtime_operation")
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    start, lost = clock.t, set()
    while clock.t < start + 4 * effective:
        nearest = scheduler.tick()
        if clock.t - start >= effective:
            for app in sim.running_apps:
                entry = rt.cache.get("realtime_operation", app.app_id)
                if entry is None or not entry.fresh(
                    clock.t, rt.refresher.staleness("realtime_operation")
                ):
                    lost.add(app.app_id)
        clock.t = max(clock.t, nearest)
    rt.stop()
    return apps - len(lost), apps


# -- 2. scrape path ----------------------------------------------------------------------------


class Frozen:
    def __init__(self, families: list[Any]) -> None:
        self.families = families

    def collect(self) -> list[Any]:
        return self.families


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def scrape_path(apps: int, scrapes: int) -> dict[str, float]:
    sim = Simulator(apps=apps, credentials={AK: SK}, qps=1e9)
    s = settings(
        sim,
        rate_limit={"requests_per_second": 1e4},
        sources={"call_detail": {"max_client_series": 20_000}, "rooms": {"enabled": False}},
        web={"listen_address": "127.0.0.1:0"},
    )
    rt = Runtime.build(s, transport=sim.transport(), inline=True)
    for name in rt.sources:
        rt.refresher.refresh(name)
    host, port = rt.start()
    bare = CollectorRegistry(auto_describe=False)
    bare.register(Frozen(list(rt.registry.collect())))  # type: ignore[arg-type]
    server, thread = start_http_server(0, addr="127.0.0.1", registry=bare)
    bare_url = f"http://127.0.0.1:{server.server_port}/metrics"
    ours_url = f"http://{host}:{port}/metrics"
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    with httpx.Client(timeout=30) as client:
        series = sum(
            1 for ln in client.get(ours_url).text.splitlines() if ln and not ln.startswith("#")
        )
        for _ in range(scrapes):  # interleaved: the same noise for both
            for name, url in (("ours", ours_url), ("bare", bare_url)):
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                times[name].append(time.perf_counter() - t0)
    server.shutdown()
    rt.stop()
    ours, base = times["ours"], times["bare"]
    return {
        "series": series,
        "ours_p50": statistics.median(ours) * 1000,
        "ours_p99": percentile(ours, 0.99) * 1000,
        "bare_p50": statistics.median(base) * 1000,
        "bare_p99": percentile(base, 0.99) * 1000,
    }


# -- 3. memory and scrape mode (processes) -----------------------------------------------------


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def concurrent(url: str, n: int, headers: dict[str, str] | None = None) -> list[float]:
    times: list[float] = []

    def one() -> None:
        t0 = time.perf_counter()
        httpx.get(url, timeout=60, headers=headers or {})
        times.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times


def memory_and_scrape_mode(tmp: Path, apps: int) -> dict[str, float]:
    out: dict[str, float] = {}
    sim = SimProc(tmp, apps=apps, qps=1000)
    cfg = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [{"app_id": a, **({"call_detail": WATCH} if i == 0 else {})} for i, a in enumerate(sim.apps)],
        "rate_limit": {"requests_per_second": 1000},
        "sources": {"call_detail": {"max_client_series": 20_000}},
    }  # fmt: skip
    exp = ExporterProc(tmp, cfg)
    try:
        exp.wait_ready(120)
        time.sleep(5)
        out["series"] = sum(
            1 for ln in exp.metrics_text().splitlines() if ln and not ln.startswith("#")
        )
        out["rss_warm"] = rss_mib(exp.p.pid)
        concurrent(exp.url + "/metrics", 10)
        out["rss_10"] = rss_mib(exp.p.pid)
        time.sleep(5)
        out["rss_after"] = rss_mib(exp.p.pid)
    finally:
        exp.stop()
        sim.stop()
    return out | scrape_mode(tmp)


def scrape_mode(tmp: Path) -> dict[str, float]:
    """Scrape mode against the vendor's real quota (2/s, sliding window), 10 concurrent scrapes
    with a 10 s timeout header while another process keeps a core busy."""
    out: dict[str, float] = {}
    tmp2 = tmp / "scrape"
    tmp2.mkdir()
    sim = SimProc(tmp2, apps=10, qps=None)
    only = {
        c.name: {"enabled": c.name in ("realtime_operation", "realtime_quality")} for c in SOURCES
    }
    cfg = {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [{"app_id": a} for a in sim.apps],
        "sources": only,
    }
    exp = ExporterProc(tmp2, cfg, ["--refresh.mode=scrape"])
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        wait_for(lambda: httpx.get(exp.url + "/-/healthy").status_code == 200, 30, "up")
        times = concurrent(exp.url + "/metrics", 10, {"X-Prometheus-Scrape-Timeout-Seconds": "10"})
        out["scrape_rss"] = rss_mib(exp.p.pid)
        wait_for(lambda: exp.get("volcengine_rtc_exporter_source_refresh_duration_seconds",
                                 source="realtime_quality") is not None, 60, "cycle done")  # fmt: skip
        stats = sim.stats()
    finally:
        busy.kill()
        busy.wait()
        exp.stop()
        sim.stop()
    calls = sum(
        c.get("200", 0) + c.get("429", 0) for a, c in stats.items() if a.startswith("ListRealTime")
    )
    out["scrape_calls_ratio"] = calls / (10 + 20)  # 10 apps: operations 10, quality 2 x 10
    out["scrape_429"] = sum(c.get("429", 0) for c in stats.values() if isinstance(c, dict))
    out["scrape_max_answer"] = max(times)
    return out


def main() -> None:
    import tempfile

    p = argparse.ArgumentParser()
    p.add_argument("--apps", type=int, default=100)
    p.add_argument("--scrapes", type=int, default=200)
    p.add_argument("--quick", action="store_true", help="fewer apps and scrapes")
    args = p.parse_args()
    apps, scrapes = (20, 50) if args.quick else (args.apps, args.scrapes)
    q = quota(apps)
    print(f"quota ({apps} apps, virtual time): calls per cycle / minimum {q['calls_ratio']:.3f}; "
          f"429s {q['throttled']}; first cycle / (N / quota) {q['first_cycle_ratio']:.2f}")  # fmt: skip
    for n, interval in ((apps, 10.0), (5 * apps, None)):
        kept, total = overrun(n, interval)
        label = f"interval {interval:g}s" if interval else "defaults"
        print(f"overrun ({n} apps, {label}): {kept} of {total} apps keep their series")
    s = scrape_path(max(10, apps // 2), scrapes)
    print(f"scrape ({s['series']:.0f} series): exporter p50 {s['ours_p50']:.1f} ms p99 {s['ours_p99']:.1f} ms; "
          f"bare prometheus_client p50 {s['bare_p50']:.1f} ms p99 {s['bare_p99']:.1f} ms; "
          f"ratio p50 {s['ours_p50'] / s['bare_p50']:.2f} p99 {s['ours_p99'] / s['bare_p99']:.2f}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        m = memory_and_scrape_mode(Path(tmp), max(10, apps // 2))
    print(f"memory ({m['series']:.0f} series): RSS warm {m['rss_warm']:.0f} MiB, after 10 concurrent "
          f"scrapes {m['rss_10']:.0f} MiB, 5 s later {m['rss_after']:.0f} MiB")  # fmt: skip
    print(f"scrape mode (10 apps, 10 concurrent scrapes, timeout 10 s, a core kept busy): calls / "
          f"minimum {m['scrape_calls_ratio']:.2f}, 429s {m['scrape_429']:.0f}, slowest answer "
          f"{m['scrape_max_answer']:.1f} s, RSS after {m['scrape_rss']:.0f} MiB")  # fmt: skip


if __name__ == "__main__":
    main()
