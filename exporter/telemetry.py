"""The exporter's own activity: API calls, failures, latency, skipped points, dropped series.

Direct-instrumentation metrics (``Counter``/``Histogram``) in the exporter's private registry;
vendor data never goes through them. Every label value that can be known in advance (actions
and sources from the source registry, reasons) is created at start-up, so the families are
present with 0 from the first scrape. Names and HELP come from ``exporter.health``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.errors import REASONS
from exporter.health import HEALTH, SKIP_REASONS, SOURCE_SKIP_REASONS
from exporter.log import get_logger

__all__ = ["MAX_UNITS_PER_ACTION", "Telemetry"]

log = get_logger(__name__)

MAX_UNITS_PER_ACTION = 8  # distinct unknown units with their own label, per action
_UNIT_LOG_SECONDS = 3600.0  # one log line per unknown unit per hour at most


def _counter(key: str, registry: CollectorRegistry) -> Counter:
    spec = HEALTH[key]
    return Counter(
        spec.name.removesuffix("_total"), spec.help, list(spec.labels), registry=registry
    )


class Telemetry:
    def __init__(
        self,
        registry: CollectorRegistry,
        actions: Iterable[str],
        sources: Iterable[str],
        clock: Callable[[], float],
    ) -> None:
        self.requests = _counter("requests", registry)
        self.failures = _counter("failures", registry)
        self.unknown_unit = _counter("unknown_unit", registry)
        self.series_dropped = _counter("series_dropped", registry)
        self.runs_skipped = _counter("runs_skipped", registry)
        self.triggers = _counter("triggers", registry)
        self.points_skipped = _counter("points_skipped", registry)
        spec = HEALTH["request_duration"]
        self.duration = Histogram(
            spec.name,
            spec.help,
            list(spec.labels),
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._units: dict[str, set[str]] = {}
        self._unit_logged: dict[tuple[str, str], float] = {}
        for action in actions:
            self.requests.labels(action)
            self.duration.labels(action)
            for reason in REASONS:
                self.failures.labels(action, reason)
        for source in sources:
            self.series_dropped.labels(source)
            self.runs_skipped.labels(source)
            for reason in (*SKIP_REASONS, *SOURCE_SKIP_REASONS.get(source, ())):
                self.points_skipped.labels(source, reason)

    def count_unknown_unit(self, action: str, unit: str, n: int = 1) -> None:
        """Count values with an unknown unit; bounded label values, rate-limited log lines."""
        now = self._clock()
        with self._lock:
            seen = self._units.setdefault(action, set())
            if unit not in seen and len(seen) < MAX_UNITS_PER_ACTION:
                seen.add(unit)
            label = unit if unit in seen else "other"
            last = self._unit_logged.get((action, label))
            should_log = last is None or now - last >= _UNIT_LOG_SECONDS
            if should_log:
                self._unit_logged[(action, label)] = now
        self.unknown_unit.labels(action, label).inc(n)
        if should_log:
            log.warning(
                "skipping values with an unknown unit", action=action, unit=unit, counted_as=label
            )
