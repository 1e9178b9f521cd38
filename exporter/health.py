"""The exporter's own health metrics: one description each, used by HELP, docs and describe().

Families derived from the cache (source up, last success, data age, intervals, quota) are built
on every collect by ``exporter.metrics``; counters of the exporter's own activity are direct
instrumentation in ``exporter.telemetry``. Both read their name, type, HELP and labels here.
"""

from __future__ import annotations

from dataclasses import dataclass

from exporter.errors import REASONS

__all__ = ["HEALTH", "SKIP_REASONS", "SOURCE_SKIP_REASONS", "HealthSpec"]

# why a data point or indicator was skipped (points_skipped_total{reason})
SKIP_REASONS = ("timestamp", "value", "out_of_range", "malformed", "future", "duplicate")
# reasons only some sources have, shown (at 0) for those sources only
SOURCE_SKIP_REASONS: dict[str, tuple[str, ...]] = {
    "rooms": ("has_more", "max_pages"),
    "call_detail": ("unmatched",),
    "realtime_breakdown": ("dimension_refused",),
    "report_breakdown": ("dimension_refused",),
    "operation_breakdown": ("dimension_refused", "share_scale_unknown", "share_scale_mismatch"),
}


@dataclass(frozen=True)
class HealthSpec:
    name: str  # as exposed (counters with _total)
    type: str  # gauge, counter, histogram
    help: str
    labels: tuple[str, ...]


def _h(name: str, type_: str, help_: str, *labels: str) -> HealthSpec:
    return HealthSpec("volcengine_rtc_exporter_" + name, type_, help_, labels)


HEALTH: dict[str, HealthSpec] = {
    "build_info": _h(
        "build_info",
        "gauge",
        "Exporter build information (value 1): version, source revision and Python version.",
        "version", "revision", "python_version",
    ),
    "up": _h(
        "source_up",
        "gauge",
        "1 when the last refresh of this source for this app succeeded and its data is within "
        "the source's staleness limit (3 x its effective interval by default), else 0.",
        "source", "app_id",
    ),
    "last_success": _h(
        "source_last_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful refresh of this source for this app.",
        "source", "app_id",
    ),
    "data_ts": _h(
        "source_data_timestamp_seconds",
        "gauge",
        "Unix time of the start of the newest vendor data bucket exported for this source and "
        "app: how old the data itself is, vendor delays included.",
        "source", "app_id",
    ),
    "duration": _h(
        "source_refresh_duration_seconds",
        "gauge",
        "Duration of the last complete refresh cycle of this source over all its apps, seconds.",
        "source",
    ),
    "interval": _h(
        "source_interval_seconds",
        "gauge",
        "Refresh interval of a source: kind=configured as set, kind=effective as the quota "
        "planner allows it for the current app list (never shorter than configured).",
        "source", "kind",
    ),
    "tier_apps": _h(
        "source_tier_apps",
        "gauge",
        "Apps in each traffic tier of a tiered source: tier=busy (peak online users at least "
        "planning.traffic_floor), tier=tail (the rest).",
        "source", "tier",
    ),
    "tier_interval": _h(
        "source_tier_interval_seconds",
        "gauge",
        "The planned refresh interval of each traffic tier of a tiered source: how often each "
        "app of the tier is refreshed (source_interval_seconds{kind=\"effective\"} is the busy "
        "tier's).",
        "source", "tier",
    ),
    "quota_remaining": _h(
        "quota_remaining",
        "gauge",
        "Requests this instance may still send for an action in the trailing window (minute, "
        "day), counted on its own sends against its share of the account's quota.",
        "action", "window",
    ),
    "reload_ok": _h(
        "config_last_reload_successful",
        "gauge",
        "1 when the last configuration reload succeeded (or none was asked), else 0.",
    ),
    "reload_ts": _h(
        "config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time of the last successful configuration load (start or reload).",
    ),
    "requests": _h(
        "api_requests_total",
        "counter",
        "Vendor API requests sent, by action (every attempt, retries included).",
        "action",
    ),
    "failures": _h(
        "api_request_failures_total",
        "counter",
        "Vendor API requests that failed, by action and reason (" + ", ".join(REASONS) + ").",
        "action", "reason",
    ),
    "request_duration": _h(
        "api_request_duration_seconds",
        "histogram",
        "Vendor API request latency, by action.",
        "action",
    ),
    "unknown_unit": _h(
        "unknown_unit_total",
        "counter",
        "Indicator values skipped because the API returned a unit the exporter cannot convert to "
        "the metric's base unit; units beyond the first few per action are counted as "
        'unit="other".',
        "action", "unit",
    ),
    "series_dropped": _h(
        "series_dropped_total",
        "counter",
        "Series not exported because a source exceeded its series cap "
        "(sources.call_detail.max_client_series, sources.*_breakdown.max_breakdown_series).",
        "source",
    ),
    "triggers": _h(
        "breakdown_triggers_total",
        "counter",
        "Breakdowns fetched ahead of the cycle because an app's live quality crossed a "
        "threshold (planning.triggers), by source and indicator.",
        "source", "indicator",
    ),
    "runs_skipped": _h(
        "source_runs_skipped_total",
        "counter",
        "Scheduled refreshes of a source skipped because its previous refresh was still running.",
        "source",
    ),
    "points_skipped": _h(
        "points_skipped_total",
        "counter",
        "Data points or indicators skipped because they could not be used, by source and reason "
        "(" + ", ".join(SKIP_REASONS) + "; future: dated ahead of the exporter's clock by more "
        "than 2 minutes; duplicate: the same bucket listed with disagreeing values; rooms: "
        "has_more, max_pages: rooms the vendor could not list; call_detail: unmatched: a row no "
        "known indicator matches; breakdowns: dimension_refused: a dimension the vendor refused; "
        "operation_breakdown: share_scale_unknown, share_scale_mismatch: shares of no clear "
        "scale); the rest of the answer is used.",
        "source", "reason",
    ),
}  # fmt: skip
