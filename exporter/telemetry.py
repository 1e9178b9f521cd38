"""The exporter's own activity: API calls, failures, latency, dropped series, unknown units.

These are direct-instrumentation metrics (``Counter``/``Histogram``) in the exporter's private
registry; vendor data never goes through them. Every label value that can be known in advance is
created at start-up, so the families are present with 0 from the first scrape.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.errors import REASONS

__all__ = ["ACTIONS", "SOURCES", "TELEMETRY", "Telemetry", "TelemetrySpec"]

ACTIONS = (
    "ListRealTimeOperationData",
    "ListRealTimeQuality",
    "ListQuality",
    "ListOperationData",
    "ListCallDetail",
    "ListApps",
)
SOURCES = (
    "realtime_operation",
    "realtime_quality",
    "quality_report",
    "operation_report",
    "call_detail",
    "apps",
)


@dataclass(frozen=True)
class TelemetrySpec:
    name: str  # as exposed (counters with _total)
    type: str
    help: str
    labels: tuple[str, ...]


TELEMETRY = {
    "requests": TelemetrySpec(
        "volcengine_rtc_exporter_api_requests_total",
        "counter",
        "Vendor API requests sent, by action (every attempt, retries included).",
        ("action",),
    ),
    "failures": TelemetrySpec(
        "volcengine_rtc_exporter_api_request_failures_total",
        "counter",
        "Vendor API requests that failed, by action and reason "
        "(throttled, auth, timeout, server, client, schema, network).",
        ("action", "reason"),
    ),
    "duration": TelemetrySpec(
        "volcengine_rtc_exporter_api_request_duration_seconds",
        "histogram",
        "Vendor API request latency, by action.",
        ("action",),
    ),
    "unknown_unit": TelemetrySpec(
        "volcengine_rtc_exporter_unknown_unit_total",
        "counter",
        "Indicator values skipped because the API returned a unit the exporter cannot "
        "convert to the metric's base unit.",
        ("action", "unit"),
    ),
    "series_dropped": TelemetrySpec(
        "volcengine_rtc_exporter_series_dropped_total",
        "counter",
        "Series not exported because a source exceeded its series cap "
        "(sources.call_detail.max_client_series).",
        ("source",),
    ),
}


def _counter(key: str, registry: CollectorRegistry) -> Counter:
    spec = TELEMETRY[key]
    return Counter(
        spec.name.removesuffix("_total"), spec.help, list(spec.labels), registry=registry
    )


class Telemetry:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = _counter("requests", registry)
        self.failures = _counter("failures", registry)
        self.unknown_unit = _counter("unknown_unit", registry)
        self.series_dropped = _counter("series_dropped", registry)
        spec = TELEMETRY["duration"]
        self.duration = Histogram(
            spec.name,
            spec.help,
            list(spec.labels),
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        for action in ACTIONS:
            self.requests.labels(action)
            self.duration.labels(action)
            for reason in REASONS:
                self.failures.labels(action, reason)
        for source in SOURCES:
            self.series_dropped.labels(source)
