"""RTC exporter health: sources, data age, API calls and failures, quota planner, reloads."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.panels import DashboardSpec, PanelSpec, Scope, units
from exporter.mixin.rules import DATA_AGE, FAILURES

__all__ = ["health"]

E = "volcengine_rtc_exporter_"
RATE = "[$__rate_interval]"


def _stat(
    title: str, expr: str, legend: str, description: str, unit: str = units.Short
) -> PanelSpec:
    return PanelSpec(title, unit, ((expr, legend),), description, kind="stat", width=4, height=4)


def _sources(cfg: MixinConfig, s: Scope) -> tuple[PanelSpec, ...]:
    age = f"{DATA_AGE}{{{', '.join(s.matchers)}}}"
    return (
        _stat("Sources down", f"count({s.q(E + 'source_up')} == 0) or vector(0)", "down",
              "Source/app pairs whose last refresh failed or whose data is stale (RtcSourceDown)."),
        _stat("Exporter build", s.q(E + "build_info"), "{{version}} py{{python_version}}",
              "Exporter version and Python version."),
        _stat("Series dropped (1h)", f"sum(increase({s.q(E + 'series_dropped_total')}[1h]))",
              "dropped", "Series cut by max_client_series / max_breakdown_series."),
        _stat("Unknown units (1h)",
              f"sum(increase({s.q(E + 'unknown_unit_total')}[1h])) or vector(0)", "skipped",
              "Values skipped for a unit the exporter cannot convert."),
        _stat("Last reload", s.q(E + "config_last_reload_successful"), "ok",
              "1 when the last configuration reload succeeded."),
        _stat("Memory", s.q("process_resident_memory_bytes"), "{{instance}}",
              "Resident memory of the exporter process.", units.BytesIEC),
        PanelSpec("Sources up", units.Short,
                  ((s.named(s.q(E + "source_up")), "{{source}} {{app_name}}"),),
                  "1 when the last refresh succeeded and data is fresh.", max=1),
        PanelSpec("Data age", units.Seconds, ((s.named(age), "{{source}} {{app_name}}"),),
                  "Age of the newest vendor bucket exported (RtcDataStale, RtcQualityBlind); "
                  "reports are about a day old by design."),
        PanelSpec("Time since last success", units.Seconds,
                  ((s.named(f"time() - {s.q(E + 'source_last_success_timestamp_seconds')}"),
                    "{{source}} {{app_name}}"),),
                  "Seconds since each source last refreshed successfully."),
        PanelSpec("Refresh duration", units.Seconds,
                  ((s.q(E + "source_refresh_duration_seconds"), "{{source}}"),),
                  "Duration of the last refresh cycle over all apps."),
    )  # fmt: skip


def _api(cfg: MixinConfig, s: Scope) -> tuple[PanelSpec, ...]:
    failures = f"{FAILURES}{{{', '.join(s.matchers)}}}"
    throttled = FAILURES + "{" + ", ".join((*s.matchers, 'reason="throttled"')) + "}"
    hist = s.q(E + "api_request_duration_seconds_bucket")
    calls = f"sum by (action) (rate({s.q(E + 'api_requests_total')}{RATE}))"
    return (
        PanelSpec("API calls by action", units.RequestsPerSecond,
                  ((calls, "{{action}}"),),
                  "Requests sent per second (the account quota is per action)."),
        PanelSpec("API failures by source and reason", units.RequestsPerSecond,
                  ((f"sum by (source, reason) ({failures})", "{{source}} {{reason}}"),),
                  "Failed requests per second (RtcSourceDown reason, RtcApiAuthFailing)."),
        PanelSpec("Throttled calls", units.RequestsPerSecond,
                  ((f"sum by (source, action) ({throttled})",
                    "{{source}} {{action}}"),),
                  "Calls answered with throttling (RtcApiThrottled)."),
        PanelSpec("Request latency p50 / p99", units.Seconds,
                  tuple((f"histogram_quantile({q}, sum by (le, action) (rate({hist}{RATE})))",
                         f"p{int(q * 100)} {{{{action}}}}") for q in (0.5, 0.99)),
                  "Vendor API latency by action."),
    )  # fmt: skip


def _planner(cfg: MixinConfig, s: Scope) -> tuple[PanelSpec, ...]:
    return (
        PanelSpec("Quota remaining", units.Short,
                  ((s.q(E + "quota_remaining"), "{{action}} per {{window}}"),),
                  "Requests left in the account's per-minute and per-day quota, per action.",
                  width=8),
        PanelSpec("Refresh intervals", units.Seconds,
                  ((s.q(E + "source_interval_seconds"), "{{source}} {{kind}}"),),
                  "Configured and effective (planned against the quota) interval per source.",
                  width=8),
        PanelSpec("Skipped runs and points", units.Short,
                  ((f"sum by (source) (increase({s.q(E + 'source_runs_skipped_total')}[1h]))",
                    "{{source}} runs"),
                   (f"sum by (source, reason) (increase({s.q(E + 'points_skipped_total')}[1h]))",
                    "{{source}} points {{reason}}")),
                  "Refresh runs the planner skipped and data points skipped, per hour.", width=8),
        PanelSpec("Apps per traffic tier", units.Short,
                  ((s.q(E + "source_tier_apps"), "{{source}} {{tier}}"),),
                  "Apps the planner refreshes in the busy tier (traffic at or over the floor: "
                  "the configured interval as far as the quota allows) and in the tail tier "
                  "(the rest, sharing what is left).", width=8),
        PanelSpec("Refresh interval per tier", units.Seconds,
                  ((s.q(E + "source_tier_interval_seconds"), "{{source}} {{tier}}"),),
                  "Planned refresh interval of each traffic tier (RtcDataStale allows the "
                  "longest of them plus data_age_max_seconds).", width=8),
        PanelSpec("Breakdowns triggered", units.Short,
                  ((f"sum by (source, indicator) "
                    f"(increase({s.q(E + 'breakdown_triggers_total')}[1h]))",
                    "{{source}} {{indicator}}"),),
                  "Breakdowns fetched ahead of the cycle because an app crossed a quality "
                  "threshold, per hour.", width=8),
        PanelSpec("Exporter CPU", units.Short,
                  ((f"rate({s.q('process_cpu_seconds_total')}{RATE})", "{{instance}}"),),
                  "CPU seconds per second used by the exporter process.", width=12),
        PanelSpec("Last successful reload", units.Seconds,
                  ((f"time() - {s.q(E + 'config_last_reload_success_timestamp_seconds')}",
                    "{{instance}}"),),
                  "Seconds since the configuration was last loaded successfully.", width=12),
    )  # fmt: skip


def health(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    return DashboardSpec(
        "rtc-exporter-health",
        "RTC exporter health",
        "Health of volc-rtc-exporter: sources, data age, API calls, failures, throttling, "
        "latency, quota planner and configuration reloads.",
        (
            ("Sources", _sources(cfg, s)),
            ("Vendor API", _api(cfg, s)),
            ("Quota planner and process", _planner(cfg, s)),
        ),
        (),
    )
