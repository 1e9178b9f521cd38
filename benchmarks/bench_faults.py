"""Issue 22's figures, in virtual time against the fault-injecting fake vendor
(``tests/faults/vendor.py``): what the exporter does when the vendor changes its mind.

    .venv/bin/python benchmarks/bench_faults.py [--apps 5000]

Not a pass/fail test (the tests in ``tests/faults/`` are); it prints one line per figure so a
run on another revision shows the difference. It uses only interfaces older revisions have.

1. ListApps lists ``--apps`` apps, then one again while the realtime_breakdown cycle is under
   way: calls to vanished apps after that, vanished app ids still exported, and how far away
   the next realtime_breakdown run is;
2. ``ProductType=web`` failing for 4 intervals: native series still exported;
3. the vendor clock one hour ahead: points counted as future, data timestamp still exported;
5. a reload: client_* series after the new engine's first call_detail cycle;
6. a reload while a call hangs, the call then aborted: source_up and timeouts counted;
8. a reload that removes an app: its series right after the reload.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.collectors import SOURCES  # noqa: E402
from exporter.runtime import Runtime  # noqa: E402
from exporter.scheduler import TimerScheduler  # noqa: E402
from tests.conftest import FrozenClock, VirtualClock, VirtualWaiter, make_settings  # noqa: E402
from tests.faults.vendor import FaultyVendor  # noqa: E402

T = 1704196800.0
FAST = {"requests_per_second": 1000.0, "headroom": 1.0, "max_retries": 0}


def only(*names: str) -> dict[str, Any]:
    return {c.name: {"enabled": c.name in names} for c in SOURCES}


def family(rt: Runtime, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for f in rt.registry.collect() for s in f.samples if s.name == name]


def virtual(listed: list[str], sources: dict[str, Any], **kw: Any) -> tuple[Runtime, Any, Any]:
    clock = VirtualClock(T)
    vendor = FaultyVendor(clock, listed)
    s = make_settings(sources=sources, **({"rate_limit": FAST} | kw))
    rt = Runtime.build(s, transport=vendor, clock=clock, waiter=VirtualWaiter(clock), inline=True)
    return rt, vendor, clock


def frozen(listed: list[str], sources: dict[str, Any], **kw: Any) -> tuple[Runtime, Any, Any]:
    clock = FrozenClock(T)
    vendor = FaultyVendor(clock, listed)
    s = make_settings(sources=sources, **({"rate_limit": FAST} | kw))
    return Runtime.build(s, transport=vendor, clock=clock, inline=True), vendor, clock


def row1(n: int) -> None:
    apps = [f"app-{i:05d}" for i in range(n)]
    quota = {"requests_per_second": 2.0, "headroom": 0.9, "max_retries": 0}
    sources = only("apps", "realtime_breakdown")  # one call per app (not 20) keeps it quick
    sources["realtime_breakdown"] |= {
        "dimensions": ["os"], "indicators": ["stall_rate"], "product_types": ["native"],
    }  # fmt: skip
    rt, vendor, clock = virtual(apps, sources, apps=None, rate_limit=quota)
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    rt.refresher.refresh("apps")
    mark: dict[str, int] = {}

    def hook(action: str, params: dict[str, Any]) -> None:
        if action == "ListRealTimeQualityDistribution" and "at" not in mark:
            if sum(1 for c in vendor.calls if c[0] == action) == 5:
                mark["at"] = len(vendor.calls)
                vendor.apps = apps[:1]
                rt.refresher.refresh("apps")

    vendor.hook = hook
    started = clock.monotonic()
    scheduler.tick()
    vanished = set(apps[1:])
    calls = sum(1 for _, app, _ in vendor.calls[mark["at"] :] if app in vanished)
    exported = {labels.get("app_id") for labels in family(rt, "volcengine_rtc_exporter_source_up")}
    nxt = scheduler.next_run("realtime_breakdown")
    print(f"row 1: {n} apps -> 1 during a cycle: {calls} calls to vanished apps afterwards, "
          f"{len(exported & vanished)} vanished app ids in source_up, next realtime_breakdown "
          f"run {(nxt or 0) - started:.0f} s after the last")  # fmt: skip


def row2() -> None:
    rt, vendor, clock = virtual(["a"], only("realtime_quality"), apps=[{"app_id": "a"}])
    rt.refresher.refresh("realtime_quality")
    vendor.fail[("ListRealTimeQuality", "web")] = "InternalError"
    for _ in range(4):
        clock.advance(60)
        rt.refresher.refresh("realtime_quality")
    fam = family(rt, "volcengine_rtc_stall_ratio")
    native = sum(1 for labels in fam if labels["product_type"] == "native")
    print(f"row 2: web failing 4 min: {native} native stall series exported")


def row3() -> None:
    rt, vendor, clock = virtual(["a"], only("realtime_operation"), apps=[{"app_id": "a"}])
    rt.refresher.refresh("realtime_operation")
    vendor.ahead = 3600.0
    for _ in range(4):
        clock.advance(30)
        rt.refresher.refresh("realtime_operation")
    skipped = rt.registry.get_sample_value(
        "volcengine_rtc_exporter_points_skipped_total",
        {"source": "realtime_operation", "reason": "future"},
    )
    data_ts = family(rt, "volcengine_rtc_exporter_source_data_timestamp_seconds")
    print(f"row 3: clock 1 h ahead for 2 min: points_skipped{{future}} {skipped}, "
          f"data timestamp series {len(data_ts)}")  # fmt: skip


def row5() -> None:
    rt, _, clock = frozen(["a"], only("rooms", "call_detail"), apps=[{"app_id": "a"}])
    for name in ("rooms", "call_detail"):
        rt.refresher.refresh(name)
    before = len(family(rt, "volcengine_rtc_client_stall_duration_seconds"))
    rt.reload(rt.settings)
    clock.t += 60
    rt.refresher.refresh("call_detail")
    after = len(family(rt, "volcengine_rtc_client_stall_duration_seconds"))
    print(f"row 5: client series before a reload {before}, after its first call_detail {after}")


def row6() -> None:
    clock = FrozenClock(T)
    vendor = FaultyVendor(clock, ["a"])
    s = make_settings(sources=only("quality_report"), apps=[{"app_id": "a"}], rate_limit=FAST)
    rt = Runtime.build(s, transport=vendor, clock=clock)
    rt.refresher.refresh("quality_report")
    hang, release = threading.Event(), threading.Event()

    def hook(action: str, params: dict[str, Any]) -> None:
        if action == "ListQuality" and not release.is_set():
            hang.set()
            release.wait(10)
            raise httpx.ReadTimeout("aborted")

    vendor.hook = hook
    cycle = rt.refresher.trigger("quality_report")
    hang.wait(10)
    rt.reload(rt.settings)
    release.set()
    cycle.result(10)
    up = rt.registry.get_sample_value(
        "volcengine_rtc_exporter_source_up", {"source": "quality_report", "app_id": "a"}
    )
    timeouts = rt.registry.get_sample_value(
        "volcengine_rtc_exporter_api_request_failures_total",
        {"action": "ListQuality", "reason": "timeout"},
    )
    rt.stop()
    print(f"row 6: aborted call of the replaced engine: source_up {up}, timeouts {timeouts}")


def row8() -> None:
    rt, _, _ = frozen(["a", "b"], only("realtime_operation"),
                      apps=[{"app_id": "a"}, {"app_id": "b"}])  # fmt: skip
    rt.refresher.refresh("realtime_operation")
    rt.reload(make_settings(sources=only("realtime_operation"), apps=[{"app_id": "a"}],
                            rate_limit=FAST))  # fmt: skip
    left = sum(1 for f in rt.registry.collect() for s in f.samples if s.labels.get("app_id") == "b")
    print(f"row 8: series of the removed app right after the reload: {left}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", type=int, default=5000)
    args = ap.parse_args()
    row1(args.apps)
    row2()
    row3()
    row5()
    row6()
    row8()


if __name__ == "__main__":
    main()
