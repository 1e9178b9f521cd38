"""The quota planner: how often each source can really refresh.

From the sources, the monitored apps (with their product types, watch-list chunks, ...) and the
per-action limiters (quota x headroom / shards, every window), it computes per source the vendor
calls one refresh cycle needs, by action, and the **effective interval**: the configured one, or
longer when the quota cannot deliver that many calls in time. Staleness and readiness follow the
effective interval, so a slow quota makes data older, never makes series vanish.

    calls per cycle = sum over apps of the source's calls(app), per action
    minimum period  = calls x spacing of the action's limiter x 1.05 (margin)
    effective       = max(configured, minimum period over the source's actions)
    staleness       = max(configured max_staleness, 2 x effective), default 3 x effective
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from exporter.collectors.base import Source
from exporter.limiter import Limiters
from exporter.types import AppTarget

__all__ = ["MARGIN", "Plan", "SourcePlan", "make_plan"]

MARGIN = 1.05  # cycles are planned 5 % longer than the quota's exact minimum


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

    @property
    def lengthened(self) -> bool:
        return self.effective > self.configured

    def arithmetic(self) -> str:
        if not self.limited_by:
            return "within quota"
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
        head = ("source", "apps", "calls/cycle", "configured", "effective", "staleness", "why")
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


def make_plan(
    sources: Mapping[str, Source[Any]],
    targets: list[AppTarget],
    limiters: Limiters,
) -> Plan:
    """The plan for the current app list. Pure apart from reading the limiters' spacing."""
    demand: dict[str, Counter[str]] = {}
    apps_of: dict[str, int] = {}
    for name, src in sources.items():
        apps = [AppTarget("")] if src.scope == "account" else [a for a in targets if src.wants(a)]
        apps_of[name] = len(apps)
        calls: Counter[str] = Counter()
        for app in apps:
            calls.update(src.calls(app))
        demand[name] = calls
    sharing = Counter(a for calls in demand.values() for a in calls if calls[a])
    out: dict[str, SourcePlan] = {}
    for name, src in sources.items():
        settings = src.settings
        configured = float(settings.interval_seconds)
        minimum, limited_by = 0.0, ""
        for action, n in demand[name].items():
            if n <= 0:
                continue
            period = n * limiters[action].spacing * sharing[action] * MARGIN
            if period > minimum:
                minimum, limited_by = period, f"{action} {_window_of(limiters, action)}"
        effective = max(configured, minimum)
        if minimum <= configured:
            limited_by = ""
        staleness = (
            max(float(settings.max_staleness_seconds), 2 * effective)
            if settings.max_staleness_seconds
            else 3 * effective
        )
        out[name] = SourcePlan(
            name,
            apps_of[name],
            dict(demand[name]),
            configured,
            minimum,
            effective,
            staleness,
            limited_by,
        )
    return Plan(out)
