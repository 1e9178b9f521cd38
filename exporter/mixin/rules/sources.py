"""Alerts about one exporter source: a source failing for an app (and why), stale data,
throttling, failing authentication.

They fire while the problem lasts or not at all. A source's state changes only when the
exporter next refreshes it (a minute for realtime sources, much longer for breakdowns and
reports), so a plain ``for`` would fire minutes after the vendor recovered, at the first
evaluation past ``for`` before the next refresh. Instead each alert fires on *fresh evidence*:
the condition has held for its configured duration (measured on the data with
``<op>_over_time``) **and** the latest scrape shows the problem happening (a failed call of the
source at that scrape, a refresh that just returned old data). Once firing, it stays firing
while the condition holds, and keeps the labels it fired with.
"""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.rules.common import DATA_AGE, FAILURES, alert, by_source, health_url
from exporter.mixin.templates import app_name

__all__ = ["EVIDENCE_GATED", "source_alerts"]

E = "volcengine_rtc_exporter_"
FAILED = f"{E}api_request_failures_total"
# alerts gated on fresh evidence: the `for` they are configured with is in their expression
EVIDENCE_GATED = {
    "RtcSourceDown": "source_down",
    "RtcDataStale": "data_stale",
    "RtcApiThrottled": "throttled",
    "RtcApiAuthFailing": "auth_failing",
    "RtcVendorApiFailing": "vendor_failing",
}


def _firing(name: str) -> str:
    return f'ALERTS{{alertname="{name}", alertstate="firing"}}'


def _gated(on: str, held: str, fired: str) -> str:
    """``held`` (this alert, already firing) or, for other keys, ``fired`` (fresh evidence)."""
    return f"(\n{held}\n)\nor on ({on})\n(\n{fired}\n)"


def _fresh_failures(cfg: MixinConfig, reason: str = "") -> str:
    """Per source: calls of its actions failed (with ``reason``) at the latest scrape."""
    matchers = f'reason="{reason}"' if reason else ""
    return by_source(cfg, FAILED, "irate(%s[2m])", matchers=matchers) + " > 0"


def _source_down(cfg: MixinConfig) -> dict[str, Any]:
    k, src = cfg.by("source", "app_id"), cfg.by("source")
    up = f"{E}source_up{cfg.sel()}"
    down = f"max by ({k}) ({up} == 0)"
    # down at every scrape of the last `for`, and already known `for` ago
    long = (
        f"max by ({k}) (max_over_time({up}[{cfg.for_.source_down}])) == 0\n"
        f"  and on ({k}) max by ({k}) ({up} offset {cfg.for_.source_down})"
    )
    failing = f"sum by ({cfg.by('source', 'reason')}) ({FAILURES}) > 0"
    reason = f"topk by ({src}) (1, {failing})"
    labelled = (
        f"(\n  {long}\n)\n* on ({src}) group_left (reason) {reason}\n"
        f'or on ({k})\nlabel_replace({long}, "reason", "unknown", "", "")'
    )
    # evidence: a call of the source failed at the latest scrape; or, when none of its calls
    # failed lately (a failure inside the exporter), its refresh cycle just ended
    recent = by_source(cfg, FAILED, f"increase(%s[{cfg.for_.source_down}])") + " > 0"
    cycle = (
        f"max by ({src}) (idelta({E}source_refresh_duration_seconds{cfg.sel()}[2m]) != 0)\n"
        f"unless on ({src}) {recent}"
    )
    evidence = f"{_fresh_failures(cfg)}\nor on ({src})\n{cycle}"
    name = app_name(cfg)
    return alert(
        cfg,
        "RtcSourceDown",
        _gated(
            k,
            f"max without (alertstate) ({_firing('RtcSourceDown')})\nand on ({k}) {down}",
            f"(\n{labelled}\n)\nand on ({src}) (\n{evidence}\n)",
        ),
        "0s",
        cfg.severities.source_down,
        {
            "summary": "RTC source {{ $labels.source }} down for {{ $labels.app_id }} "
            "({{ $labels.reason }})",
            "description": "Refreshing {{ $labels.source }} for app " + name + " "
            "({{ $labels.app_id }}) has failed for over " + cfg.for_.source_down + " and still "
            "fails, mostly with reason {{ $labels.reason }} (auth, throttled, timeout, server, "
            "client, schema, network; unknown: no API failure counted).",
            "dashboard_url": health_url(cfg),
        },
        {"category": "health"},
    )


def _data_stale(cfg: MixinConfig) -> dict[str, Any]:
    """Realtime data older than the threshold plus the source's planned interval (the longest
    of its traffic tiers): a refresh succeeds, yet the vendor returns no newer data."""
    k, src = cfg.by("source", "app_id"), cfg.by("source")
    rt = 'source=~"realtime_.*"'
    effective = 'kind="effective"'
    planned = (
        f"max by ({src}) (\n  {E}source_interval_seconds{cfg.sel(rt, effective)}\n"
        f"  or {E}source_tier_interval_seconds{cfg.sel(rt)}\n)"
    )
    limit = f"group_left () ({planned} + {cfg.thresholds.data_age_max_seconds:g})"
    age = f"max by ({k}) (time() - {E}source_data_timestamp_seconds{cfg.sel(rt)})"
    stale = f"{age}\n> on ({src}) {limit}"
    long = f"min_over_time({DATA_AGE}{{{rt}}}[{cfg.for_.data_stale}])\n> on ({src}) {limit}"
    refreshed = (
        f"max by ({k}) (idelta({E}source_last_success_timestamp_seconds{cfg.sel(rt)}[2m])) > 0"
    )
    name = app_name(cfg)
    return alert(
        cfg,
        "RtcDataStale",
        _gated(
            k,
            f"{stale}\nand on ({k}) {_firing('RtcDataStale')}",
            f"{stale}\nand on ({k}) (\n{long}\n)\nand on ({k}) {refreshed}",
        ),
        "0s",
        cfg.severities.data_stale,
        {
            "summary": "RTC {{ $labels.source }} data stale for {{ $labels.app_id }}",
            "description": "The newest {{ $labels.source }} data of app " + name + " "
            "({{ $labels.app_id }}) is {{ $value | humanizeDuration }} old although the "
            "exporter refreshes it: the vendor returns no newer data.",
            "dashboard_url": health_url(cfg),
        },
        {"category": "health"},
    )


def _api_alert(cfg: MixinConfig, reason: str) -> dict[str, Any]:
    throttled = reason == "throttled"
    name = "RtcApiThrottled" if throttled else "RtcApiAuthFailing"
    for_ = cfg.for_.throttled if throttled else cfg.for_.auth_failing
    what = (
        "calls are throttled: the account's quota is exhausted"
        if throttled
        else "calls fail authentication: check the AccessKey, its policy and the host clock"
    )
    src = cfg.by("source")
    rate = f'sum by ({src}) ({FAILURES}{{reason="{reason}"}})'
    now = f"{rate} > 0"
    series = f'{FAILURES}{{reason="{reason}"}}'
    long = f"max by ({src}) (min_over_time({series}[{for_}]) > 0 and {series} offset {for_} > 0)"
    fired = f"{now}\nand on ({src}) {long}\nand on ({src}) (\n{_fresh_failures(cfg, reason)}\n)"
    # once firing, it also holds while the RtcSourceDown alerts it mutes still fire (a slow
    # source stays down until its next refresh): muting ends only after they have resolved
    explained = (
        f'count by ({src}) (ALERTS{{alertname="RtcSourceDown", alertstate="firing", '
        f'reason="{reason}"}})'
    )
    held = f"{rate}\nand on ({src}) {_firing(name)}\nand on ({src}) ({now} or {explained})"
    return alert(
        cfg,
        name,
        _gated(src, held, fired),
        "0s",
        cfg.severities.throttled if throttled else cfg.severities.auth_failing,
        {
            "summary": f"Volcengine RTC API {'throttling' if throttled else 'auth failing'} "
            "for source {{ $labels.source }}",
            "description": f"{{{{ $labels.source }}}} {what} "
            '({{ printf "%.2f" $value }} failed calls/s).',
            "dashboard_url": health_url(cfg),
        },
        {"category": "health", "reason": reason},
    )


def source_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    return [
        _source_down(cfg),
        _data_stale(cfg),
        *(_api_alert(cfg, reason) for reason in ("throttled", "auth")),
    ]
