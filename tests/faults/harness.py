"""Runtimes against the fault-injecting fake vendor, on virtual time (cycles run inline)."""

from __future__ import annotations

from typing import Any

from exporter.collectors import SOURCES
from exporter.runtime import Runtime
from tests.conftest import FrozenClock, VirtualClock, VirtualWaiter, make_settings
from tests.faults.vendor import FaultyVendor

T = 1704196800.0  # 2024-01-02T12:00:00Z


def only(*enabled: str, **extra: dict[str, Any]) -> dict[str, Any]:
    """``sources`` settings with just ``enabled`` on (plus per-source settings)."""
    return {cls.name: {"enabled": cls.name in enabled} | extra.get(cls.name, {}) for cls in SOURCES}


def build(
    vendor_apps: list[str], sources: dict[str, Any], *, virtual: bool = True, **settings: Any
) -> tuple[Runtime, FaultyVendor, Any]:
    """A runtime whose cycles run inline against a ``FaultyVendor``: on a ``VirtualClock``
    (nothing sleeps), or with ``virtual=False`` on a ``FrozenClock`` with real (tiny) waits."""
    clock: Any = VirtualClock(T) if virtual else FrozenClock(T)
    vendor = FaultyVendor(clock, vendor_apps)
    settings.setdefault("rate_limit", {"requests_per_second": 1000.0, "headroom": 1.0,
                                       "max_retries": 0})  # fmt: skip
    s = make_settings(sources=sources, **settings)
    # one waiter per engine: a reload cancels the old engine's
    waiters = (lambda: VirtualWaiter(clock)) if virtual else None
    rt = Runtime.build(s, transport=vendor, clock=clock, waiter=waiters, inline=True)
    return rt, vendor, clock


def series(rt: Runtime, name: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every sample of the family ``name`` now: labels -> value."""
    out = {}
    for fam in rt.registry.collect():
        for s in fam.samples:
            if s.name == name:
                out[frozenset(s.labels.items())] = s.value
    return out


def value(rt: Runtime, name: str, **labels: str) -> float | None:
    return rt.registry.get_sample_value(name, labels)
