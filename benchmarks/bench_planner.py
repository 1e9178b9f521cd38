"""Traffic-aware planning and diagnosis on demand (issue 21 items 1-2): data age of busy and
tail apps, and onset -> worst segment, at 100 and 500 apps, as ratios of the configured
intervals. Virtual time (tests/lanes.py: one lane per source), the simulator's quotas
(Volcengine: 2 requests/s per action, headroom 0.9), heavy-tailed accounts: 20 apps with 1,250
to 6,000 users, the rest with 20 (under the 50-user floor).

    .venv/bin/python benchmarks/bench_planner.py [--hours 1.5] [--apps 100 500]

Per account size:

* busy / tail data age: the longest gap between two refreshes of one app's live quality (and
  live breakdown), after the first realtime_operation cycle, ÷ the configured interval;
* onset -> worst segment: a video stall on android only on the busiest app, starting half an
  interval after a live quality cycle began; from the onset to the app-level answer showing it
  and to the breakdown answer naming the segment, ÷ the realtime_quality interval (60 s);
* before: the even spread of the same plan without tiers (``planning.traffic_floor: 0``),
  where every app waits for the whole cycle, and the breakdown comes with its routine cycle.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from exporter.planner import make_plan  # noqa: E402
from tests.lanes import drive  # noqa: E402
from tests.test_planner_day import BREAKDOWN, LIVE, T0, account, refreshes  # noqa: E402

OPERATION = ["realtime_operation", "realtime_quality", "realtime_breakdown"]


def gaps(times: dict[str, list[float]], apps: list[str], since: float, end: float) -> float:
    worst = 0.0
    for app in apps:
        seen = [since, *(t for t in refreshes(times.get(app, [])) if t >= since), end]
        worst = max(worst, *(b - a for a, b in zip(seen, seen[1:], strict=False)))
    return worst


def ages(n: int, hours: float) -> dict[str, float]:
    triggers_off = {"realtime_breakdown": {}}
    rt, sim, clock, calls = account(n, OPERATION, **triggers_off)
    rt.refresher.planning.triggers.enabled = False  # no trigger: the breakdown lane alone
    end = T0 + hours * 3600
    drive(rt.refresher, clock, end)
    plan = rt.refresher.plan.sources
    since = T0 + plan["realtime_operation"].effective + 120
    ids = [a.app_id for a in sim.running_apps]
    busy, tail = ids[:20], ids[20:]
    live, bd = calls.times(LIVE), calls.times(BREAKDOWN)
    flat = make_plan(rt.sources, rt.targets.current(), rt.engine.limiters, None).sources
    out = {
        "busy_live": gaps(live, busy, since, end) / 60,
        "tail_live": gaps(live, tail, since, end) / 60,
        "tail_live_planned": plan["realtime_quality"].tiers["tail"].interval / 60,
        "busy_breakdown": gaps(bd, busy, since, end) / 300,
        "tail_breakdown_planned": plan["realtime_breakdown"].tiers["tail"].interval / 300,
        "before_live": flat["realtime_quality"].effective / 60,
        "before_breakdown": flat["realtime_breakdown"].effective / 300,
        "429": sum(1 for *_, s in calls.sent if s == 429),
        "calls": len(calls.sent),
    }
    rt.stop()
    return out


def onset(n: int) -> dict[str, float]:
    lanes = ["realtime_operation", "realtime_quality"]
    rt, sim, clock, calls = account(n, lanes, realtime_breakdown={"enabled": True})
    drive(rt.refresher, clock, T0 + rt.refresher.plan.sources["realtime_operation"].effective + 60)
    app = sim.running_apps[0].app_id
    clock.lane = "realtime_quality"
    start = clock.t + 30  # half an interval after a live quality cycle began: the mean case
    drive(rt.refresher, clock, start)
    clock.lane = "realtime_quality"
    sim.activate("stall_spike", {"app_id": app, "media": "video", "os": "android", "value": 40})
    drive(rt.refresher, clock, start + 600)
    shown = min(t for t in calls.times(LIVE)[app] if t >= start)
    segment = min(t for t in calls.times(BREAKDOWN)[app] if t >= shown)
    rt.stop()
    return {"shown": (shown - start) / 60, "segment": (segment - start) / 60}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hours", type=float, default=1.5)
    p.add_argument("--apps", type=int, nargs="+", default=[100, 500])
    args = p.parse_args()
    print("| figure (÷ configured interval) | " + " | ".join(f"{n} apps" for n in args.apps) + " |")
    print("|---|" + "---|" * len(args.apps))
    rows: dict[str, list[str]] = {}
    began = time.monotonic()
    for n in args.apps:
        a, o = ages(n, args.hours), onset(n)
        for key, text in (
            ("busy_live", f"{a['busy_live']:.2f} (before {a['before_live']:.2f})"),
            ("tail_live", f"{a['tail_live']:.2f} (planned {a['tail_live_planned']:.2f})"),
            ("busy_breakdown", f"{a['busy_breakdown']:.2f} (before {a['before_breakdown']:.2f})"),
            ("tail_breakdown", f"planned {a['tail_breakdown_planned']:.2f}"),
            (
                "onset",
                f"{o['shown']:.2f} -> {o['segment']:.2f} (before: up to "
                f"{a['before_breakdown'] * 5:.1f} more)",
            ),
            ("429", f"{a['429']} of {a['calls']:,} calls"),
        ):
            rows.setdefault(key, []).append(text)
    names = {
        "busy_live": "busy apps: live quality data age (max gap ÷ 60 s)",
        "tail_live": "tail apps: live quality data age (max gap ÷ 60 s)",
        "busy_breakdown": "busy apps: live breakdown data age (max gap ÷ 300 s)",
        "tail_breakdown": "tail apps: live breakdown interval (÷ 300 s)",
        "onset": "onset -> app value -> worst segment (÷ 60 s)",
        "429": "429 answers",
    }
    for key, cells in rows.items():
        print(f"| {names[key]} | " + " | ".join(cells) + " |")
    print(f"\n({time.monotonic() - began:.0f} s of real time)")


if __name__ == "__main__":
    main()
