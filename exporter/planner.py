"""The quota planner: how often each source can really refresh.

From the sources, the monitored apps (with their product types, watch-list chunks, ...) and the
per-action limiters (quota x headroom / shards, every window), it computes per source the vendor
calls one refresh cycle needs, by action, and the **effective interval**: the configured one, or
longer when the quota cannot deliver that many calls in time. Staleness and readiness follow the
effective interval, so a slow quota makes data older, never makes series vanish.

    calls per cycle = sum over apps of the source's calls(app), per action
    minimum period  = calls x spacing of the action's limiter x 1.05 (margin)
    effective       = max(configured, minimum period over the source's actions)
    staleness       = max(configured max_staleness, 2 x slowest tier), default 3 x slowest tier

Tiered sources (live quality and its breakdown, ``Source.tiered``) are planned in two traffic
tiers (``exporter.traffic``): every cycle refreshes all **busy** apps and a chunk of the **tail**
apps, so the busy apps get the configured interval as far as the quota allows and the tail apps
share the rest, never less than ``planning.tail_min_share`` of the quota::

    cost(app)   = calls(app) x spacing x 1.05      (seconds of the action's quota)
    busy        = sum of cost over the busy apps
    effective   = max(configured, busy / (1 - tail_min_share), busy + one tail app's cost)
    tail chunk  = (effective - busy) / cost of a tail app, at least 1
    tail        = ceil(tail apps / tail chunk) x effective

``effective`` (``source_interval_seconds{kind="effective"}``) is the busy tier's interval;
``source_tier_interval_seconds{tier="tail"}`` is how often each tail app is refreshed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from exporter.collectors.base import Source
from exporter.limiter import Limiters
from exporter.types import AppTarget

__all__ = ["MARGIN", "Plan", "SourcePlan", "TierPlan", "make_plan"]

MARGIN = 1.05  # cycles are planned 5 % longer than the quota's exact minimum


@dataclass(frozen=True)
class TierPlan:
    apps: int
    interval: float  # how often each app of the tier is refreshed


@dataclass(frozen=True)
class SourcePlan:
    source: str
    apps: int
    calls: dict[str, int]  # action -> calls per cycle
    configured: float
    minimum: float  # the quota's minimum period for one cycle
    effective: float
    staleness: float
    limited_by: str  # "" or "<action> <window>" that sets the minimum
    tiers: dict[str, TierPlan] = field(default_factory=dict)  # "busy", "tail" (tiered sources)
    tail_per_cycle: int | None = None  # tail apps per cycle (None: every app, every cycle)
    busy_calls: int = 0  # the busy tier's calls per cycle
    busy_staleness: float = 0.0  # the busy apps' staleness (``staleness``: the tail's)

    @property
    def lengthened(self) -> bool:
        return self.effective > self.configured

    def tier_summary(self) -> str:
        """``busy 20 @ 60s, tail 480 @ 960s (31 per cycle)``, or "" for an untiered source."""
        if not self.tiers:
            return ""
        b, t = self.tiers["busy"], self.tiers["tail"]
        chunk = f" ({self.tail_per_cycle} per cycle)" if t.apps else ""
        return f"busy {b.apps} @ {b.interval:.0f}s, tail {t.apps} @ {t.interval:.0f}s{chunk}"

    def arithmetic(self) -> str:
        if not self.limited_by:
            return "within quota"
        if self.tiers.get("tail", TierPlan(0, 0)).apps:
            action, window = self.limited_by.split()
            return (
                f"{self.busy_calls} busy-tier {action} calls per cycle need {self.minimum:.0f}s "
                f"({window} quota), the tail keeping its share"
            )
        action, window = self.limited_by.split()
        n = self.calls.get(action, 0)
        return (
            f"{n} {action} calls per cycle at {self.minimum / (n * MARGIN):.3g}s each "
            f"({window} quota) = {self.minimum:.0f}s"
        )


@dataclass(frozen=True)
class Plan:
    sources: dict[str, SourcePlan]

    def table(self) -> str:
        head = ("source", "apps", "calls/cycle", "configured", "effective", "staleness", "why",
                "tiers")  # fmt: skip
        rows = [head]
        for p in self.sources.values():
            calls = ", ".join(f"{a}={n}" for a, n in p.calls.items()) or "-"
            rows.append(
                (
                    p.source,
                    str(p.apps),
                    calls,
                    f"{p.configured:g}s",
                    f"{p.effective:.0f}s",
                    f"{p.staleness:.0f}s",
                    p.arithmetic(),
                    p.tier_summary(),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )


def _window_of(limiters: Limiters, action: str) -> str:
    lim = limiters[action]
    quota = lim.quota.windows()
    tight = max(quota, key=lambda w: {"second": 1, "minute": 60, "day": 86400}[w] / quota[w])
    return tight


def _stale(configured: float | None, interval: float) -> float:
    """Staleness: the configured one, never under 2 intervals; 3 intervals by default."""
    return max(float(configured), 2 * interval) if configured else 3 * interval


@dataclass(frozen=True)
class _Tiered:
    calls: Counter[str]
    minimum: float
    effective: float
    tiers: dict[str, TierPlan]
    tail_per_cycle: int | None
    busy_calls: int


def _tiers(
    src: Source[Any],
    apps: list[AppTarget],
    busy: frozenset[str] | None,
    seconds: Mapping[str, float],
    share: float,
) -> _Tiered:
    """A tiered source's cycle: every busy app and a chunk of the tail (see the module docs).
    ``seconds``: the quota's seconds per call, by action."""
    configured = float(src.settings.interval_seconds)

    def cost(app: AppTarget) -> float:
        return max((n * seconds[a] for a, n in src.calls(app).items() if n > 0), default=0.0)

    hot = [a for a in apps if busy is None or a.app_id in busy]
    tail = [a for a in apps if busy is not None and a.app_id not in busy]
    calls: Counter[str] = Counter()
    for app in hot:
        calls.update(src.calls(app))
    busy_calls = sum(calls.values())
    need = sum(cost(a) for a in hot)
    if not tail:
        effective = max(configured, need)
        tiers = {"busy": TierPlan(len(hot), effective), "tail": TierPlan(0, effective)}
        return _Tiered(calls, need, effective, tiers, None, busy_calls)
    widest = max(tail, key=cost)
    one = cost(widest)
    minimum = max(need / (1 - share), need + one)
    effective = max(configured, minimum)
    chunk = len(tail) if one <= 0 else min(len(tail), max(1, int((effective - need) // one)))
    for _ in range(chunk):
        calls.update(src.calls(widest))
    tail_interval = math.ceil(len(tail) / chunk) * effective
    tiers = {"busy": TierPlan(len(hot), effective), "tail": TierPlan(len(tail), tail_interval)}
    return _Tiered(calls, minimum, effective, tiers, chunk, busy_calls)


def make_plan(
    sources: Mapping[str, Source[Any]],
    targets: list[AppTarget],
    limiters: Limiters,
    busy: frozenset[str] | None = None,
    tail_min_share: float = 0.2,
) -> Plan:
    """The plan for the current app list and busy apps (None: every app is busy). Pure apart
    from reading the limiters' spacing."""
    demand: dict[str, Counter[str]] = {}
    wanted: dict[str, list[AppTarget]] = {}
    for name, src in sources.items():
        apps = [AppTarget("")] if src.scope == "account" else [a for a in targets if src.wants(a)]
        wanted[name] = apps
        calls: Counter[str] = Counter()
        for app in apps:
            calls.update(src.calls(app))
        demand[name] = calls
    sharing = Counter(a for calls in demand.values() for a in calls if calls[a])
    seconds = {a: limiters[a].spacing * n * MARGIN for a, n in sharing.items()}
    out: dict[str, SourcePlan] = {}
    for name, src in sources.items():
        settings = src.settings
        configured = float(settings.interval_seconds)
        minimum, limited_by = 0.0, ""
        for action, n in demand[name].items():
            if n > 0 and n * seconds[action] > minimum:
                minimum, limited_by = (
                    n * seconds[action],
                    f"{action} {_window_of(limiters, action)}",
                )
        effective = max(configured, minimum)
        extra: dict[str, Any] = {}
        if src.tiered and src.scope == "app":
            t = _tiers(src, wanted[name], busy, seconds, tail_min_share)
            demand[name], minimum, effective = t.calls, t.minimum, t.effective
            extra = {"tiers": t.tiers, "tail_per_cycle": t.tail_per_cycle,
                     "busy_calls": t.busy_calls}  # fmt: skip
        if minimum <= configured:
            limited_by = ""

        slowest = max([effective, *(t.interval for t in extra.get("tiers", {}).values())])
        staleness = _stale(settings.max_staleness_seconds, slowest)
        extra["busy_staleness"] = _stale(settings.max_staleness_seconds, effective)
        out[name] = SourcePlan(
            name,
            len(wanted[name]),
            dict(demand[name]),
            configured,
            minimum,
            effective,
            staleness,
            limited_by,
            **extra,
        )
    return Plan(out)
