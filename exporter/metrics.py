"""The scrape side: ``CacheCollector`` turns the cache into metric families on every collect.

Vendor data: each source's pure ``build()`` over its fresh snapshots. Exporter health: build
info, per (source, app_id) up / last success / data timestamp, per-source refresh duration.
Self-metrics of API calls live in ``exporter.telemetry`` and share the same private registry.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter import __version__
from exporter.cache import SnapshotCache
from exporter.collectors.apps import INFO, info_samples
from exporter.collectors.base import Snapshot, Source, build_families
from exporter.scheduler import Refresher
from exporter.targets import Targets
from exporter.telemetry import Telemetry

__all__ = ["HEALTH_SPECS", "CacheCollector", "make_registry"]

HEALTH_SPECS = {
    "build_info": "volcengine_rtc_exporter_build_info",
    "up": "volcengine_rtc_exporter_source_up",
    "last_success": "volcengine_rtc_exporter_source_last_success_timestamp_seconds",
    "data_ts": "volcengine_rtc_exporter_source_data_timestamp_seconds",
    "duration": "volcengine_rtc_exporter_source_refresh_duration_seconds",
}


class CacheCollector(Collector):
    def __init__(
        self,
        refresher: Refresher,
        targets: Targets,
        staleness: dict[str, float],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._refresher = refresher
        self._cache: SnapshotCache = refresher.cache
        self._sources: dict[str, Source[Any]] = refresher.sources
        self._targets = targets
        self._staleness = staleness
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # static: never runs collect() at registration (no auto_describe surprises)
        for src in self._sources.values():
            for spec in src.specs:
                yield GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for name in HEALTH_SPECS.values():
            yield GaugeMetricFamily(name, name)

    def collect(self) -> Iterable[Metric]:
        now = self._clock()
        entries = self._cache.entries()
        targets = self._targets.current()
        monitored = [t.app_id for t in targets]

        up = GaugeMetricFamily(
            HEALTH_SPECS["up"],
            "1 when the last refresh of this source for this app succeeded and its data is "
            "within max_staleness, else 0.",
            labels=["source", "app_id"],
        )
        last_success = GaugeMetricFamily(
            HEALTH_SPECS["last_success"],
            "Unix time of the last successful refresh of this source for this app.",
            labels=["source", "app_id"],
        )
        data_ts = GaugeMetricFamily(
            HEALTH_SPECS["data_ts"],
            "Unix time of the start of the newest vendor data bucket exported for this source "
            "and app (how old the data itself is, API delays included).",
            labels=["source", "app_id"],
        )
        duration = GaugeMetricFamily(
            HEALTH_SPECS["duration"],
            "Duration of the last refresh cycle of this source over all its apps, seconds.",
            labels=["source"],
        )
        build = GaugeMetricFamily(
            HEALTH_SPECS["build_info"],
            "Exporter build information (value 1).",
            labels=["version", "python_version"],
        )
        build.add_metric([__version__, platform.python_version()], 1.0)

        for name, src in self._sources.items():
            max_age = self._staleness[name]
            if src.per_app:
                keys = [(name, a.app_id) for a in targets if src.wants(a)]
            else:
                keys = [(name, "")]
            keys += [k for k in entries if k[0] == name and k not in keys]
            fresh: list[Snapshot] = []
            for key in keys:
                entry = entries.get(key)
                is_fresh = entry is not None and entry.fresh(now, max_age)
                up.add_metric(list(key), 1.0 if entry and entry.up and is_fresh else 0.0)
                if entry is None or entry.last_success is None:
                    continue
                last_success.add_metric(list(key), entry.last_success)
                if is_fresh and entry.snapshot is not None:
                    fresh.append(entry.snapshot)
                    if entry.snapshot.data_timestamp is not None:
                        data_ts.add_metric(list(key), entry.snapshot.data_timestamp)
            if name in self._refresher.cycle_duration:
                duration.add_metric([name], self._refresher.cycle_duration[name])
            if name == "apps":
                continue  # app_info is built below for every monitored app
            yield from src.build(fresh)

        yield from build_families(
            [INFO], info_samples(monitored, self._fresh_known_apps(now), self._targets.names)
        )
        yield from (build, up, last_success, data_ts, duration)

    def _fresh_known_apps(self, now: float) -> dict[str, tuple[str, str]]:
        entry = self._cache.get("apps", "")
        if entry is None or not entry.fresh(now, self._staleness.get("apps", 0.0)):
            return {}
        return self._targets.known_apps()


def make_registry() -> tuple[CollectorRegistry, Telemetry]:
    # no *_created series: they double the self-metrics and carry no information here
    disable_created_metrics()  # type: ignore[no-untyped-call]
    registry = CollectorRegistry(auto_describe=False)
    return registry, Telemetry(registry)
