"""The scrape side: the cache turned into metric families, and into exposition bytes.

* ``CacheCollector``: vendor data, each source's pure
  ``build()`` over its fresh snapshots, and the health families derived from the cache (up,
  last success, data timestamp per source and app; refresh duration and intervals per source).
  What it builds is reused until the cache, the app list or a freshness changes.
* ``LiveCollector``: what changes between refreshes (quota remaining, build and reload info).
* ``Exposition``: a scrape is a lookup plus a write. The rendered text (and OpenMetrics) of each
  source's families and of the health families is kept per cache change; only the small live
  part (self-metrics counters, process metrics, quota) is rendered per scrape, and concurrent
  scrapes share the cached bytes.
"""

from __future__ import annotations

import platform
import threading
import zlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from exporter import __version__, revision
from exporter.cache import Entry, SnapshotCache, SourceStatus
from exporter.collectors.base import Source, TargetView
from exporter.health import HEALTH, HealthSpec
from exporter.limiter import Limiters
from exporter.types import Clock, Snapshot


class RefreshView(Protocol):
    """What the scrape side reads of the refresher (the scheduler writes, never reads this)."""

    @property
    def cache(self) -> SnapshotCache: ...

    @property
    def targets(self) -> TargetView: ...

    @property
    def sources(self) -> dict[str, Source[Any]]: ...

    @property
    def clock(self) -> Clock: ...

    def staleness(self, name: str, app_id: str = "") -> float: ...


__all__ = [
    "CacheCollector",
    "Exposition",
    "LiveCollector",
    "ReloadStatus",
    "ServedCollector",
    "make_registries",
]

_EOF = b"# EOF\n"


@dataclass(frozen=True)
class Part:
    """One cached part of the exposition: a source's families (``("source", name)``) or the
    health families (``("health", "")``). Equal versions render to equal bytes."""

    key: tuple[str, str]
    version: Hashable
    families: list[Metric]


def _family(key: str) -> GaugeMetricFamily:
    spec: HealthSpec = HEALTH[key]
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


class _Families:
    """A registry stand-in for prometheus_client's encoders: yields fixed families."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def render(families: list[Metric], fmt: str) -> bytes:
    """Exposition bytes of ``families``: ``text`` (0.0.4) or ``openmetrics`` without ``# EOF``."""
    reg = cast(CollectorRegistry, _Families(families))
    if fmt == "openmetrics":
        return bytes(generate_openmetrics(reg)).removesuffix(_EOF)  # type: ignore[no-untyped-call]
    return generate_latest(reg)


class CacheCollector(Collector):
    """Reads the current engine's refresher on every call (a reload swaps it)."""

    def __init__(self, refresher: Callable[[], RefreshView]) -> None:
        self._engine = refresher
        self._lock = threading.Lock()
        self._built: dict[str, tuple[Hashable, list[Metric]]] = {}
        self._bytes: dict[tuple[tuple[str, str], str], tuple[Hashable, bytes]] = {}

    def describe(self) -> Iterable[Metric]:
        # static: never runs collect() at registration (no auto_describe surprises)
        for src in self._engine().sources.values():
            for spec in src.specs:
                yield GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for key in ("up", "last_success", "data_ts", "duration", "interval", "tier_apps",
                    "tier_interval"):  # fmt: skip
            yield _family(key)

    def collect(self) -> Iterable[Metric]:
        for part in self.parts():
            yield from part.families

    def parts(self) -> list[Part]:
        """(version key, families) per source and for health; rebuilt only when stale."""
        refresher = self._engine()
        cache, view = refresher.cache, refresher.targets
        now = refresher.clock.monotonic()
        entries = cache.entries()
        targets = view.current()
        version = (id(refresher), view.version)
        out: list[Part] = []
        health_keys: list[tuple[str, str, Entry | None, bool]] = []
        for name, src in refresher.sources.items():
            keys = [(name, "")] if src.scope == "account" else [
                (name, a.app_id) for a in targets if src.wants(a)
            ]  # fmt: skip
            wanted = set(keys)  # once: this runs on every scrape
            keys += sorted(k for k in entries if k[0] == name and k not in wanted)
            fresh: list[Snapshot] = []
            fresh_keys = []
            for key in keys:
                entry = entries.get(key)
                max_age = refresher.staleness(name, key[1])  # a busy app's is shorter
                is_current = entry is not None and entry.current(now, max_age)
                health_keys.append((name, key[1], entry, is_current))
                # the last answer, and the last good series of parts that failed since
                served = entry.serving(now, max_age) if entry is not None else []
                if served:
                    fresh += served
                    fresh_keys.append((key[1], len(served)))
            vkey = (cache.source_generation(name), tuple(fresh_keys), version)
            out.append(Part(("source", name), vkey, self._build(src, vkey, fresh, view)))
        statuses = cache.statuses()
        hkey = (cache.generation, version, tuple((n, a, f) for n, a, _, f in health_keys))
        names = list(refresher.sources)
        out.append(Part(("health", ""), hkey, self._health(hkey, health_keys, statuses, names)))
        return out

    def _build(
        self, src: Source[Any], vkey: Hashable, fresh: list[Snapshot], view: TargetView
    ) -> list[Metric]:
        name = src.name
        with self._lock:
            cached = self._built.get(name)
            if cached is not None and cached[0] == vkey:
                return cached[1]
        families = list(src.build(fresh, view))
        with self._lock:
            self._built[name] = (vkey, families)
        return families

    def _health(
        self,
        hkey: Hashable,
        keys: list[tuple[str, str, Entry | None, bool]],
        statuses: dict[str, SourceStatus],
        names: list[str],
    ) -> list[Metric]:
        with self._lock:
            cached = self._built.get("\0health")
            if cached is not None and cached[0] == hkey:
                return cached[1]
        up, last, data_ts = _family("up"), _family("last_success"), _family("data_ts")
        duration, interval = _family("duration"), _family("interval")
        tier_apps, tier_interval = _family("tier_apps"), _family("tier_interval")
        for name, app_id, entry, is_fresh in keys:
            up.add_metric([name, app_id], 1.0 if entry and entry.up and is_fresh else 0.0)
            if entry is None or entry.success_wall is None:
                continue
            last.add_metric([name, app_id], entry.success_wall)
            if is_fresh and entry.data_timestamp is not None:
                data_ts.add_metric([name, app_id], entry.data_timestamp)
        for name in names:
            status = statuses.get(name)
            if status is None:
                continue
            if status.cycle_duration is not None:
                duration.add_metric([name], status.cycle_duration)
            interval.add_metric([name, "configured"], status.configured_interval)
            interval.add_metric([name, "effective"], status.effective_interval)
            for tier, apps, seconds in status.tiers:
                tier_apps.add_metric([name, tier], apps)
                tier_interval.add_metric([name, tier], seconds)
        families: list[Metric] = [up, last, data_ts, duration, interval, tier_apps, tier_interval]
        with self._lock:
            self._built["\0health"] = (hkey, families)
        return families

    def rendered(self, fmt: str) -> list[bytes]:
        """The exposition bytes of every part, re-rendered only for parts that changed."""
        out = []
        for part in self.parts():
            with self._lock:
                cached = self._bytes.get((part.key, fmt))
            if cached is not None and cached[0] == part.version:
                out.append(cached[1])
                continue
            data = render(part.families, fmt)
            with self._lock:
                self._bytes[(part.key, fmt)] = (part.version, data)
            out.append(data)
        return out


class ReloadStatus:
    """The last configuration reload (SIGHUP, /-/reload) and the web config file's."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.successful = True
        self.success_timestamp = clock()
        self.web_config_ok = True  # the web config file is in use as it is on disk

    def set_web_config(self, ok: bool) -> None:
        self.web_config_ok = ok


class LiveCollector(Collector):
    """Build info, reload status and quota remaining: cheap, read on every scrape."""

    def __init__(
        self, limiters: Callable[[], Limiters], actions: list[str], reload: ReloadStatus
    ) -> None:
        self._limiters = limiters
        self._actions = actions
        self._reload = reload

    def describe(self) -> Iterable[Metric]:
        for key in ("build_info", "quota_remaining", "reload_ok", "reload_ts"):
            yield _family(key)

    def collect(self) -> Iterable[Metric]:
        build = _family("build_info")
        build.add_metric([__version__, revision(), platform.python_version()], 1.0)
        quota = _family("quota_remaining")
        for action in self._actions:
            lim = self._limiters()[action]
            for window in ("minute", "day"):
                left = lim.remaining(window)
                if left is not None:
                    quota.add_metric([action, window], left)
        ok, ts = _family("reload_ok"), _family("reload_ts")
        ok.add_metric([], 1.0 if self._reload.successful and self._reload.web_config_ok else 0.0)
        ts.add_metric([], self._reload.success_timestamp)
        return [build, quota, ok, ts]


class Exposition:
    """``/metrics`` bodies: cached vendor and health parts plus the live part.

    The live part (self-metrics, process and Python metrics, quota) is rendered at most once
    per ``live_seconds`` and shared by the scrapes within that time: a burst of concurrent
    scrapes renders it once, and a counter is at most that much behind."""

    def __init__(
        self,
        cache_collector: CacheCollector,
        live: CollectorRegistry,
        clock: Callable[[], float],
        live_seconds: float = 0.5,
    ) -> None:
        self._cache = cache_collector
        self._live = live
        self._clock = clock
        self._live_seconds = live_seconds
        self._lock = threading.Lock()
        self._live_bytes: dict[str, tuple[float, bytes]] = {}
        self._gzip: dict[str, tuple[tuple[bytes, ...], list[bytes], zlib._Compress]] = {}

    def _live_part(self, fmt: str, fresh: bool = False) -> bytes:
        now = self._clock()
        with self._lock:
            cached = self._live_bytes.get(fmt)
            if not fresh and cached is not None and now - cached[0] < self._live_seconds:
                return cached[1]
            if fmt == "openmetrics":
                data = bytes(generate_openmetrics(self._live)).removesuffix(_EOF)  # type: ignore[no-untyped-call]
            else:
                data = generate_latest(self._live)
            self._live_bytes[fmt] = (now, data)
            return data

    def chunks(self, fmt: str, fresh: bool = False) -> list[bytes]:
        """The body as chunks: the cached parts (the same objects for every scrape, never
        copied) and the live part (``fresh``: rendered now, not shared)."""
        parts = self._cache.rendered(fmt)
        if fmt == "openmetrics":
            return [*parts, self._live_part(fmt, fresh), _EOF]
        return [*parts, self._live_part(fmt, fresh)]

    def gzip_chunks(self, fmt: str) -> list[bytes]:
        """The body gzip-compressed. The cached parts are compressed once per change: the
        compressor's state after them is kept and copied for each scrape, which then only
        compresses the live part (one gzip member, as any client expects)."""
        chunks = self.chunks(fmt)
        parts, tail = tuple(chunks[:-1]), chunks[-1]
        if fmt == "openmetrics":
            parts, tail = tuple(chunks[:-2]), chunks[-2] + chunks[-1]
        with self._lock:
            cached = self._gzip.get(fmt)
            if (
                cached is None
                or len(cached[0]) != len(parts)
                or any(a is not b for a, b in zip(cached[0], parts, strict=True))
            ):
                z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                prefix = [out for out in (z.compress(p) for p in parts) if out]
                cached = (parts, prefix, z)
                self._gzip[fmt] = cached
            _, prefix, state = cached
            z = state.copy()
        return [*prefix, z.compress(tail), z.flush()]

    def body(self, fmt: str, fresh: bool = False) -> bytes:
        return b"".join(self.chunks(fmt, fresh))


class ServedCollector(Collector):
    """The families of the ``/metrics`` body, parsed back from its bytes: the registry that
    tests query (``get_sample_value``) reads exactly what a scrape gets, not a second
    rendering of the collectors."""

    def __init__(self, body: Callable[[], bytes]) -> None:
        self._body = body

    def collect(self) -> Iterable[Metric]:
        from prometheus_client.parser import text_string_to_metric_families

        return text_string_to_metric_families(self._body().decode("utf-8"))


def make_registries() -> tuple[CollectorRegistry, CollectorRegistry]:
    """(registry, live): ``live`` holds what is rendered per scrape (self-metrics, process,
    Python); ``registry`` is empty, for a ``ServedCollector`` over the whole exposition."""
    from prometheus_client import disable_created_metrics

    # no *_created series: they double the self-metrics and carry no information here
    disable_created_metrics()  # type: ignore[no-untyped-call]
    live = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=live)
    PlatformCollector(registry=live)
    GCCollector(registry=live)
    return CollectorRegistry(auto_describe=False), live
