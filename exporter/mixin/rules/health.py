"""The exporter's own health: recording rules shared with the dashboards, and the alerts that
say the exporter cannot see (exporter down or gone, an app gone blind, the vendor API failing
for the whole account). The per-source alerts are in :mod:`exporter.mixin.rules.sources`."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig, seconds
from exporter.mixin.rules.common import (
    DATA_AGE,
    FAILURES,
    USERS,
    alert,
    by_source,
    health_url,
    users_peak,
)
from exporter.mixin.rules.sources import source_alerts
from exporter.mixin.templates import app_name, blind_cause, vendor_detail

__all__ = ["health_alerts", "health_recording"]

E = "volcengine_rtc_exporter_"


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
            f"{E}source_data_timestamp_seconds{cfg.sel()})",
        },
        {
            "record": FAILURES,
            "expr": by_source(
                cfg, f"{E}api_request_failures_total", "rate(%s[5m])", "action", "reason"
            ),
        },
    ]


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
                "dashboard_url": health_url(cfg),
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
                "dashboard_url": f"{cfg.grafana_url}/d/rtc-exporter-health/rtc-exporter-health",
            },
            health,
        ),
    ]


def _blind(cfg: MixinConfig) -> dict[str, Any]:
    t = cfg.thresholds
    had_traffic = f"{users_peak(cfg)} >= {cfg.min_online_users:g}"
    data_ts = f"{E}source_data_timestamp_seconds" + cfg.sel('source="realtime_quality"')
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
            "dashboard_url": health_url(cfg),
        },
        {"category": "health", "source": "realtime_quality"},
    )


def _vendor_failing(cfg: MixinConfig) -> dict[str, Any]:
    """No realtime_quality refresh has succeeded for any app for longer than the source's
    interval plus ``for.vendor_failing``, while its API calls fail: the vendor API is down for
    the whole account. One alert per exporter instead of one RtcQualityBlind per app (which it
    mutes); it fires while no call succeeds and, once firing, holds until no app is blind."""
    inst = cfg.by()
    rq, effective = 'source="realtime_quality"', 'kind="effective"'
    last_ok = (
        f"max by ({inst}) ({E}source_last_success_timestamp_seconds{cfg.sel(rq)})\n"
        f"  or max by ({inst}) (process_start_time_seconds{cfg.sel()} "
        f"and on ({inst}) {E}build_info{cfg.sel()})"
    )
    interval = f"max by ({inst}) ({E}source_interval_seconds{cfg.sel(rq, effective)})"
    silent = (
        f"(\n  time() - (\n  {last_ok}\n  )\n)\n> on ({inst}) "
        f"({interval} + {seconds(cfg.for_.vendor_failing):g})"
    )
    failing = f"sum by ({inst}) ({FAILURES}{{{rq}}}) > 0"
    blind = f'count by ({inst}) (ALERTS{{alertname="RtcQualityBlind", alertstate="firing"}})'
    firing = 'ALERTS{alertname="RtcVendorApiFailing", alertstate="firing"}'
    held = f"time() - (\n  {last_ok}\n)\nand on ({inst}) {firing}\nand on ({inst}) {blind}"
    return alert(
        cfg,
        "RtcVendorApiFailing",
        f"(\n{silent}\nand on ({inst}) {failing}\n)\nor on ({inst})\n(\n{held}\n)",
        "0s",
        cfg.severities.vendor_failing,
        {
            "summary": "Volcengine RTC API failing for every app of {{ $labels.instance }}",
            "description": "No realtime quality request of exporter {{ $labels.instance }} has "
            "succeeded for {{ $value | humanizeDuration }}" + vendor_detail(cfg, FAILURES) + ". "
            "Their quality alerts can neither fire nor resolve (open ones stay open); "
            "RtcQualityBlind is muted while this fires.",
            "dashboard_url": health_url(cfg),
        },
        {"category": "health", "source": "realtime_quality"},
    )


def health_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    # the blind alert comes before the vendor alert, which reads its ALERTS
    return _exporter_alerts(cfg) + source_alerts(cfg) + [_blind(cfg), _vendor_failing(cfg)]
