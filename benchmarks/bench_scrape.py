"""Scrape cost and memory against app count: prints figures and ratios (not a pass/fail test).

    .venv/bin/python benchmarks/bench_scrape.py [--apps 20 200] [--scrapes 30]

Each run fills the cache from the in-process simulator (no sockets), then times /metrics
rendering (the hot path: a scrape in timer mode only reads the cache) and measures the cache's
memory with tracemalloc.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import tracemalloc

from prometheus_client import generate_latest

from exporter.runtime import Runtime
from exporter.settings import load_settings
from exporter.simulator import Simulator

AK, SK = "AKLTbench", "bench-secret"


def run(apps: int, scrapes: int) -> dict[str, float]:
    sim = Simulator(apps=apps, credentials={AK: SK}, qps=1e9)
    watch = [{"room_id": "room-1", "user_ids": [f"u{i}" for i in range(20)]}]
    settings = load_settings(
        None,
        endpoint="http://sim.invalid",
        credentials={"access_key_id": AK, "secret_access_key": SK},
        apps=[
            {"app_id": a.app_id, **({"call_detail": watch} if i == 0 else {})}
            for i, a in enumerate(sim.running_apps)
        ],
        rate_limit={"requests_per_second": 1e6, "per_action": {}},
    )
    gc.collect()
    tracemalloc.start()
    rt = Runtime.build(settings, transport=sim.transport())
    started = time.perf_counter()
    for name in rt.sources:
        rt.refresher.refresh(name)
    refresh_s = time.perf_counter() - started
    cache_bytes = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    text = generate_latest(rt.registry)
    series = sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))
    times = []
    for _ in range(scrapes):
        t0 = time.perf_counter()
        generate_latest(rt.registry)
        times.append(time.perf_counter() - t0)
    rt.stop()
    return {
        "apps": apps,
        "series": series,
        "scrape_ms": statistics.median(times) * 1000,
        "us_per_series": statistics.median(times) / series * 1e6,
        "refresh_s": refresh_s,
        "memory_mib": cache_bytes / 2**20,
        "bytes": len(text),
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--apps", type=int, nargs="+", default=[20, 200])
    p.add_argument("--scrapes", type=int, default=30)
    args = p.parse_args()
    rows = [run(n, args.scrapes) for n in args.apps]
    print(
        f"{'apps':>6} {'series':>7} {'scrape ms':>10} {'us/series':>10} {'refresh s':>10} {'MiB':>7} {'KiB out':>8}"
    )
    for r in rows:
        print(
            f"{r['apps']:>6} {r['series']:>7} {r['scrape_ms']:>10.2f} {r['us_per_series']:>10.2f} "
            f"{r['refresh_s']:>10.2f} {r['memory_mib']:>7.2f} {r['bytes'] / 1024:>8.0f}"
        )
    base, top = rows[0], rows[-1]
    print(
        f"ratios {top['apps']}/{base['apps']} apps: series x{top['series'] / base['series']:.1f}, "
        f"scrape time x{top['scrape_ms'] / base['scrape_ms']:.1f}, "
        f"memory x{top['memory_mib'] / base['memory_mib']:.1f} "
        "(linear in series is the target: no per-scrape work beyond rendering)"
    )


if __name__ == "__main__":
    main()
