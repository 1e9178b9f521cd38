"""Prometheus recording and alerting rules, built from ``MixinConfig``.

Quality alerts are gated on real traffic (``min_online_users``) and carry
``category="quality"`` so Alertmanager can inhibit them while the exporter or their source is
down. Their ``for`` covers the documented data delay of the realtime APIs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.mixin.config import MixinConfig

__all__ = ["ALERTS", "AlertDoc", "RECORDING", "build_rules"]

# recording rule names shared by dashboards and alerts
USERS = "app_id:volcengine_rtc_online_users:max"
DATA_AGE = "source_app_id:volcengine_rtc_exporter_data_age_seconds:max"
FAILURE_RATE = "action_reason:volcengine_rtc_exporter_api_request_failures:rate5m"
RECORDING = (USERS, DATA_AGE, FAILURE_RATE)


@dataclass(frozen=True)
class AlertDoc:
    name: str
    dashboard: str  # uid of the dashboard to open
    meaning: str
    confirm: str
    first_checks: str


ALERTS: tuple[AlertDoc, ...] = (
    AlertDoc(
        "RtcJoinRoomSuccessLow",
        "rtc-overview",
        "Fewer users than the threshold join a room within 5 s, for an app with real traffic.",
        "RTC overview → *Join success (5 s)* for the app; compare with *Online users*.",
        "Token service and AppKey rotation (joins fail on bad tokens); a client release; the "
        "vendor status page; whether the drop is limited to one region or network type "
        "(vendor console distribution views).",
    ),
    AlertDoc(
        "RtcAudioStallHigh",
        "rtc-overview",
        "The share of call time with audio stalls longer than 80 ms is above the threshold.",
        "RTC overview → *Stall rate* (media=audio); RTC client watch for watched rooms.",
        "Packet loss and delay on *RTC client watch*; network delay share; a client release; "
        "vendor incidents.",
    ),
    AlertDoc(
        "RtcVideoStallHigh",
        "rtc-overview",
        "The share of call time with video stalls longer than 500 ms is above the threshold.",
        "RTC overview → *Stall rate* (media=video); client bitrate and frame rate on the watch.",
        "Uplink bitrate and loss of publishers (*RTC client watch*); CPU usage of clients; "
        "resolution changes; vendor incidents.",
    ),
    AlertDoc(
        "RtcFirstFrameFailuresHigh",
        "rtc-overview",
        "First audio/video frames fail to be sent or decoded for too many streams "
        "(label `stage`: send or decode).",
        "RTC overview → *First-frame send success* / *First-frame decode success*.",
        "Device permissions (camera/microphone) after an OS or app update; codec support on "
        "new devices; publish failures in client logs.",
    ),
    AlertDoc(
        "RtcNetworkDelayShareLow",
        "rtc-overview",
        "Too little call time has network transport delay within 400 ms.",
        "RTC overview → *Network delay within threshold*.",
        "Which regions or carriers (vendor console); cross-border traffic; client network "
        "delay on the watch list.",
    ),
    AlertDoc(
        "RtcOnlineUsersDropped",
        "rtc-overview",
        "Online users fell sharply against the same time a day earlier.",
        "RTC overview → *Online users* with a 1 d time shift.",
        "App store or release problems, login/token outages, a marketing event yesterday; "
        "is the exporter's data fresh (*Exporter health*)?",
    ),
    AlertDoc(
        "RtcExporterDown",
        "rtc-exporter-health",
        "Prometheus cannot scrape the exporter.",
        "Prometheus targets page; Exporter health dashboard goes blank.",
        "Pod/container status and logs; `/-/healthy`; network policy between Prometheus and "
        "the exporter.",
    ),
    AlertDoc(
        "RtcSourceDown",
        "rtc-exporter-health",
        "The exporter's refreshes of one API source for one app keep failing.",
        "Exporter health → *Sources up* and *API failures by reason*; the landing page `/`.",
        "The failure reason: auth (key, policy), throttled (quota), server (vendor), schema "
        "(API change), network (egress). The exporter log names the code and request id.",
    ),
    AlertDoc(
        "RtcDataStale",
        "rtc-exporter-health",
        "Realtime data exported for an app is older than the threshold although the source is up.",
        "Exporter health → *Data age*.",
        "Vendor data delay (the API returns no new buckets); the exporter's clock; "
        "`timezone` setting.",
    ),
    AlertDoc(
        "RtcApiThrottled",
        "rtc-exporter-health",
        "The vendor keeps throttling the exporter's API calls.",
        "Exporter health → *Throttled calls* and *API calls by action*.",
        "Other tools sharing the account's quota; `rate_limit` settings (BytePlus quotas are "
        "far lower); several exporters or shards configured for the same apps.",
    ),
    AlertDoc(
        "RtcApiAuthFailing",
        "rtc-exporter-health",
        "API calls fail authentication or authorisation: no vendor data is coming in.",
        "Exporter health → *API failures by reason* (reason=auth).",
        "Expired or rotated AccessKey, missing IAM policy for the RTC data APIs, clock skew "
        "over 15 minutes on the exporter host.",
    ),
)


def _alert(
    cfg: MixinConfig,
    name: str,
    expr: str,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    doc = next(a for a in ALERTS if a.name == name)
    anchor = name.lower()
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, **(labels or {})},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{cfg.docs_url}/runbooks.md#{anchor}",
            "dashboard_url": f"{cfg.grafana_url}/d/{doc.dashboard}",
        },
    }


def build_rules(cfg: MixinConfig) -> dict[str, Any]:
    t, f, s = cfg.thresholds, cfg.for_, cfg.severities
    gate = f"on (app_id) ({USERS} >= {cfg.min_online_users:g})"
    q = {"category": "quality"}
    pct = "{{ $value | humanizePercentage }}"
    join_sel = cfg.sel('threshold="5"')
    audio_sel = cfg.sel('media="audio"')
    video_sel = cfg.sel('media="video"')
    realtime_sel = cfg.sel('source=~"realtime_.*"')
    recording = [
        {"record": USERS, "expr": f"max by (app_id) (volcengine_rtc_online_users{cfg.sel()})"},
        {
            "record": DATA_AGE,
            "expr": "max by (source, app_id) (time() - "
            f"volcengine_rtc_exporter_source_data_timestamp_seconds{cfg.sel()})",
        },
        {
            "record": FAILURE_RATE,
            "expr": "sum by (action, reason) (rate("
            f"volcengine_rtc_exporter_api_request_failures_total{cfg.sel()}[5m]))",
        },
    ]
    first_frame = (
        "label_replace(min by (app_id, media) (volcengine_rtc_first_frame_send_success_ratio"
        f'{cfg.sel()}), "stage", "send", "", "") < {t.first_frame_success_min:g}\n'
        "or\n"
        "label_replace(min by (app_id, media) (volcengine_rtc_first_frame_decode_success_ratio"
        f'{cfg.sel()}), "stage", "decode", "", "") < {t.first_frame_success_min:g}'
    )
    alerts = [
        _alert(
            cfg,
            "RtcJoinRoomSuccessLow",
            f"(min by (app_id) (volcengine_rtc_join_room_success_ratio{join_sel}) "
            f"< {t.join_room_success_min:g})\nand {gate}",
            f.quality,
            s.join_room_success_low,
            "RTC join success low for app {{ $labels.app_id }}",
            f"Only {pct} of joins of app {{{{ $labels.app_id }}}} succeed within 5 s "
            f"(threshold {t.join_room_success_min:.0%}).",
            q,
        ),
        _alert(
            cfg,
            "RtcAudioStallHigh",
            f"(max by (app_id, media) (volcengine_rtc_stall_ratio{audio_sel}) "
            f"> {t.audio_stall_max:g})\nand {gate}",
            f.quality,
            s.audio_stall_high,
            "RTC audio stall high for app {{ $labels.app_id }}",
            f"Audio stalls over 80 ms during {pct} of call time of app "
            f"{{{{ $labels.app_id }}}} (threshold {t.audio_stall_max:.0%}).",
            q,
        ),
        _alert(
            cfg,
            "RtcVideoStallHigh",
            f"(max by (app_id, media) (volcengine_rtc_stall_ratio{video_sel}) "
            f"> {t.video_stall_max:g})\nand {gate}",
            f.quality,
            s.video_stall_high,
            "RTC video stall high for app {{ $labels.app_id }}",
            f"Video stalls over 500 ms during {pct} of call time of app "
            f"{{{{ $labels.app_id }}}} (threshold {t.video_stall_max:.0%}).",
            q,
        ),
        _alert(
            cfg,
            "RtcFirstFrameFailuresHigh",
            f"(\n{first_frame}\n)\nand {gate}",
            f.quality,
            s.first_frame_failures_high,
            "RTC first-frame {{ $labels.stage }} failures for app {{ $labels.app_id }}",
            f"First {{{{ $labels.media }}}} frame {{{{ $labels.stage }}}} success is {pct} "
            f"for app {{{{ $labels.app_id }}}} (threshold {t.first_frame_success_min:.0%}).",
            q,
        ),
        _alert(
            cfg,
            "RtcNetworkDelayShareLow",
            "(min by (app_id, media) (volcengine_rtc_network_delay_within_threshold_ratio"
            f"{cfg.sel()}) < {t.network_delay_within_threshold_min:g})\nand {gate}",
            f.quality,
            s.network_delay_share_low,
            "RTC network delay degraded for app {{ $labels.app_id }}",
            f"Only {pct} of {{{{ $labels.media }}}} call time of app {{{{ $labels.app_id }}}} "
            f"has network delay within 400 ms "
            f"(threshold {t.network_delay_within_threshold_min:.0%}).",
            q,
        ),
        _alert(
            cfg,
            "RtcOnlineUsersDropped",
            f"{USERS}\n< {t.online_users_drop_ratio:g} * ({USERS} offset 1d)\n"
            f"and ({USERS} offset 1d) >= {cfg.min_online_users:g}",
            f.online_users_drop,
            s.online_users_dropped,
            "RTC online users dropped for app {{ $labels.app_id }}",
            "App {{ $labels.app_id }} has {{ $value }} online users, under "
            f"{t.online_users_drop_ratio:.0%} of the same time yesterday.",
            q,
        ),
        _alert(
            cfg,
            "RtcExporterDown",
            f'up{{job="{cfg.exporter_job}"}} == 0',
            f.exporter_down,
            s.exporter_down,
            "volc-rtc-exporter {{ $labels.instance }} is down",
            "Prometheus cannot scrape {{ $labels.instance }}: no RTC data or alerts from it.",
        ),
        _alert(
            cfg,
            "RtcSourceDown",
            f"volcengine_rtc_exporter_source_up{cfg.sel()} == 0",
            f.source_down,
            s.source_down,
            "RTC source {{ $labels.source }} down for app {{ $labels.app_id }}",
            "Refreshing {{ $labels.source }} for app {{ $labels.app_id }} keeps failing; see "
            "volcengine_rtc_exporter_api_request_failures_total by reason.",
        ),
        _alert(
            cfg,
            "RtcDataStale",
            # from the raw series, not the recording rule: its value is the age now, not as of
            # the recording group's last evaluation
            "max by (source, app_id) (time() - "
            f"volcengine_rtc_exporter_source_data_timestamp_seconds{realtime_sel}) "
            f"> {t.data_age_max_seconds:g}",
            f.data_stale,
            s.data_stale,
            "RTC {{ $labels.source }} data stale for app {{ $labels.app_id }}",
            "The newest {{ $labels.source }} data of app {{ $labels.app_id }} is "
            "{{ $value | humanizeDuration }} old.",
        ),
        _alert(
            cfg,
            "RtcApiThrottled",
            f'sum by (action) ({FAILURE_RATE}{{reason="throttled"}}) > 0',
            f.throttled,
            s.throttled,
            "Volcengine RTC API throttling {{ $labels.action }}",
            "{{ $labels.action }} calls are throttled "
            '({{ printf "%.2f" $value }}/s): the account\'s quota is exhausted.',
        ),
        _alert(
            cfg,
            "RtcApiAuthFailing",
            f'sum by (action) ({FAILURE_RATE}{{reason="auth"}}) > 0',
            f.auth_failing,
            s.auth_failing,
            "Volcengine RTC API authentication failing for {{ $labels.action }}",
            "{{ $labels.action }} calls fail authentication: check the AccessKey, its policy "
            "and the host clock.",
        ),
    ]
    return {
        "groups": [
            {"name": "volc-rtc.recording", "interval": cfg.rule_interval, "rules": recording},
            {"name": "volc-rtc.alerts", "interval": cfg.rule_interval, "rules": alerts},
        ]
    }
