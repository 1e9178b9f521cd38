"""The exporter's own health: recording rules shared with the dashboards, and the alerts that
say the exporter cannot see (exporter down or gone, a source failing and why, stale data, an app
gone blind, throttling, authentication)."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.rules.common import (
    DATA_AGE,
    FAILURES,
    SOURCE_ACTIONS,
    USERS,
    alert,
    users_peak,
)
from exporter.mixin.templates import app_name, blind_cause

__all__ = ["health_alerts", "health_recording"]

HEALTH = "rtc-exporter-health"


def _failures_by_source(cfg: MixinConfig) -> str:
    """Failure rate per source, action and reason: the counter is per action, so each action's
    rate gets the ``source`` label of the exporter source that calls it."""
    parts = []
    for source, actions in SOURCE_ACTIONS.items():
        action = f'action="{actions[0]}"' if len(actions) == 1 else f'action=~"{"|".join(actions)}"'
        series = f"volcengine_rtc_exporter_api_request_failures_total{cfg.sel(action)}"
        parts.append(f'label_replace(rate({series}[5m]), "source", "{source}", "", "")')
    return f"sum by ({cfg.by('source', 'action', 'reason')}) (\n  " + "\n  or ".join(parts) + "\n)"


def health_recording(cfg: MixinConfig) -> list[dict[str, Any]]:
    users = f"volcengine_rtc_online_users{cfg.sel()}"
    return [
        {"record": USERS, "expr": f"max by ({cfg.by('app_id')}) ({users})"},
        {
            "record": users_peak(cfg),
            "expr": f"max by ({cfg.by('app_id')}) (max_over_time({users}[{cfg.gate_window}]))",
        },
        {
            "record": DATA_AGE,
            "expr": f"max by ({cfg.by('source', 'app_id')}) (time() - "
            f"volcengine_rtc_exporter_source_data_timestamp_seconds{cfg.sel()})",
        },
        {"record": FAILURES, "expr": _failures_by_source(cfg)},
    ]


def _health_url(cfg: MixinConfig) -> str:
    return (
        f"{cfg.grafana_url}/d/{HEALTH}/{HEALTH}?var-job={{{{ $labels.job }}}}"
        "&var-instance={{ $labels.instance }}"
    )


def _exporter_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    f, s = cfg.for_, cfg.severities
    job = f'job="{cfg.exporter_job}"'
    health = {"category": "health"}
    return [
        alert(
            cfg,
            "RtcExporterDown",
            f"up{{{job}}} == 0",
            f.exporter_down,
            s.exporter_down,
            {
                "summary": "volc-rtc-exporter {{ $labels.instance }} is down",
                "description": "Prometheus cannot scrape {{ $labels.instance }} (job "
                "{{ $labels.job }}): no RTC data from it; open quality alerts stay open "
                "(held) and RtcQualityBlind names the apps it no longer sees.",
                "dashboard_url": _health_url(cfg),
            },
            health,
        ),
        alert(
            cfg,
            "RtcExporterAbsent",
            f"absent(up{{{job}}})",
            f.exporter_absent,
            s.exporter_absent,
            {
                "summary": f"No volc-rtc-exporter target in job {cfg.exporter_job}",
                "description": f'Prometheus has no scrape target with job="{cfg.exporter_job}": '
                "the exporter (or its ServiceMonitor / scrape config) is gone, so every RTC "
                "alert is silent.",
                "dashboard_url": f"{cfg.grafana_url}/d/{HEALTH}/{HEALTH}",
            },
            health,
        ),
    ]


def _source_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    f, s, t = cfg.for_, cfg.severities, cfg.thresholds
    down = (
        f"max by ({cfg.by('source', 'app_id')}) (volcengine_rtc_exporter_source_up{cfg.sel()} == 0)"
    )
    failing = f"sum by ({cfg.by('source', 'reason')}) ({FAILURES}) > 0"
    reason = f"topk by ({cfg.by('source')}) (1, {failing})"
    name = app_name(cfg)
    health = {"category": "health"}
    return [
        alert(
            cfg,
            "RtcSourceDown",
            f"{down}\n* on ({cfg.by('source')}) group_left (reason) {reason}\n"
            f"or on ({cfg.by('source', 'app_id')})\n"
            f'label_replace({down}, "reason", "unknown", "", "")',
            f.source_down,
            s.source_down,
            {
                "summary": "RTC source {{ $labels.source }} down for {{ $labels.app_id }} "
                "({{ $labels.reason }})",
                "description": "Refreshing {{ $labels.source }} for app " + name + " "
                "({{ $labels.app_id }}) keeps failing, mostly with reason "
                "{{ $labels.reason }} (auth, throttled, timeout, server, client, schema, "
                "network; unknown: no API failure counted).",
                "dashboard_url": _health_url(cfg),
            },
            health,
        ),
        alert(
            cfg,
            "RtcDataStale",
            # the raw series: its value is the age now, not at the recording group's last run
            f"max by ({cfg.by('source', 'app_id')}) (time() - "
            "volcengine_rtc_exporter_source_data_timestamp_seconds"
            + cfg.sel('source=~"realtime_.*"')
            + f") > {t.data_age_max_seconds:g}",
            f.data_stale,
            s.data_stale,
            {
                "summary": "RTC {{ $labels.source }} data stale for {{ $labels.app_id }}",
                "description": "The newest {{ $labels.source }} data of app " + name + " "
                "({{ $labels.app_id }}) is {{ $value | humanizeDuration }} old.",
                "dashboard_url": _health_url(cfg),
            },
            health,
        ),
        _blind(cfg),
        *(_api_alert(cfg, reason) for reason in ("throttled", "auth")),
    ]


def _blind(cfg: MixinConfig) -> dict[str, Any]:
    t = cfg.thresholds
    had_traffic = f"{users_peak(cfg)} >= {cfg.min_online_users:g}"
    data_ts = "volcengine_rtc_exporter_source_data_timestamp_seconds" + cfg.sel(
        'source="realtime_quality"'
    )
    fresh = (
        f"time() - max by ({cfg.by('app_id')}) (max_over_time({data_ts}[{cfg.gate_window}]))"
        f" <= {t.blind_after_seconds:g}"
    )
    name = app_name(cfg)
    return alert(
        cfg,
        "RtcQualityBlind",
        f"{had_traffic}\nunless on ({cfg.by('app_id')})\n{fresh}",
        cfg.for_.blind,
        cfg.severities.quality_blind,
        {
            "summary": f"RTC quality of {name} unknown for over "
            f"{t.blind_after_seconds / 60:g} minutes",
            "description": f"No fresh realtime quality data for app {name} "
            "({{ $labels.app_id }}) although it had {{ $value }} users at peak in the last "
            f"{cfg.gate_window}: its quality alerts can neither fire nor resolve. Cause: "
            f"{blind_cause(cfg, FAILURES)}.",
            "app_name": name,
            "dashboard_url": _health_url(cfg),
        },
        {"category": "health", "source": "realtime_quality"},
    )


def _api_alert(cfg: MixinConfig, reason: str) -> dict[str, Any]:
    throttled = reason == "throttled"
    what = (
        "calls are throttled: the account's quota is exhausted"
        if throttled
        else "calls fail authentication: check the AccessKey, its policy and the host clock"
    )
    return alert(
        cfg,
        "RtcApiThrottled" if throttled else "RtcApiAuthFailing",
        f'sum by ({cfg.by("source")}) ({FAILURES}{{reason="{reason}"}}) > 0',
        cfg.for_.throttled if throttled else cfg.for_.auth_failing,
        cfg.severities.throttled if throttled else cfg.severities.auth_failing,
        {
            "summary": f"Volcengine RTC API {'throttling' if throttled else 'auth failing'} "
            "for source {{ $labels.source }}",
            "description": f"{{{{ $labels.source }}}} {what} "
            '({{ printf "%.2f" $value }} failed calls/s).',
            "dashboard_url": _health_url(cfg),
        },
        {"category": "health", "reason": reason},
    )


def health_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    return _exporter_alerts(cfg) + _source_alerts(cfg)
