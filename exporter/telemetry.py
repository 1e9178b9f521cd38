"""The exporter's own activity: API calls, failures, latency, dropped series, unknown units.

These are direct-instrumentation metrics (``Counter``/``Histogram``) in the exporter's private
registry; vendor data never goes through them. Every label value that can be known in advance is
created at start-up, so the families are present with 0 from the first scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from exporter.errors import REASONS

__all__ = ["ACTIONS", "SOURCES", "Telemetry"]

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


class Telemetry:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "volcengine_rtc_exporter_api_requests",
            "Vendor API requests sent, by action (every attempt, retries included).",
            ["action"],
            registry=registry,
        )
        self.failures = Counter(
            "volcengine_rtc_exporter_api_request_failures",
            "Vendor API requests that failed, by action and reason "
            "(throttled, auth, timeout, server, client, schema, network).",
            ["action", "reason"],
            registry=registry,
        )
        self.duration = Histogram(
            "volcengine_rtc_exporter_api_request_duration_seconds",
            "Vendor API request latency, by action.",
            ["action"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.unknown_unit = Counter(
            "volcengine_rtc_exporter_unknown_unit",
            "Indicator values skipped because the API returned a unit the exporter cannot "
            "convert to the metric's base unit.",
            ["action", "unit"],
            registry=registry,
        )
        self.series_dropped = Counter(
            "volcengine_rtc_exporter_series_dropped",
            "Series not exported because a source exceeded its series cap "
            "(sources.call_detail.max_client_series).",
            ["source"],
            registry=registry,
        )
        for action in ACTIONS:
            self.requests.labels(action)
            self.duration.labels(action)
            for reason in REASONS:
                self.failures.labels(action, reason)
        for source in SOURCES:
            self.series_dropped.labels(source)
