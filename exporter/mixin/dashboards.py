"""Grafana dashboards built with grafana-foundation-sdk from panel tables.

Four dashboards: RTC overview, RTC daily report, RTC client watch, Exporter health. Every panel
links to the metric reference; every dashboard shows firing ``Rtc*`` alerts as annotations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, text, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    VariableOption,
    VariableRefresh,
    VariableSort,
)

from exporter.mixin.config import MixinConfig
from exporter.mixin.rules import DATA_AGE, FAILURE_RATE, USERS

__all__ = ["DASHBOARDS", "PanelSpec", "build_dashboards", "dashboard_specs"]

DS = DataSourceRef(type_val="prometheus", uid="${datasource}")


@dataclass(frozen=True)
class PanelSpec:
    title: str
    unit: str
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    description: str
    kind: str = "timeseries"  # or "stat"
    width: int = 12
    height: int = 8
    max: float | None = None


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]
    extra_variables: tuple[str, ...] = ()
    note: str = ""
    tags: tuple[str, ...] = field(default=("volc-rtc",))


def dashboard_specs(cfg: MixinConfig) -> list[DashboardSpec]:
    app = 'app_id=~"$app_id"'
    media = 'media=~"$media"'
    v = cfg.sel
    watch = f'{app}, room_id=~"$room_id", user_id=~"$user_id"'

    def q(metric: str, *matchers: str, agg: str = "") -> str:
        return f"{agg}({metric}{v(*matchers)})" if agg else f"{metric}{v(*matchers)}"

    overview = DashboardSpec(
        "rtc-overview",
        "RTC overview",
        "Live Volcengine RTC traffic and quality per app (realtime APIs, 30-60 s buckets, "
        "about 1-2 minutes behind real time).",
        (
            (
                "Traffic",
                (
                    PanelSpec(
                        "Online users (all selected apps)",
                        "short",
                        ((q("volcengine_rtc_online_users", app, agg="sum"), "users"),),
                        "Sum of online users of the selected apps.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Apps monitored",
                        "short",
                        ((f"count(volcengine_rtc_app_info{v(app)})", "apps"),),
                        "Apps this exporter monitors (volcengine_rtc_app_info).",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Worst join success (5 s)",
                        "percentunit",
                        ((q("volcengine_rtc_join_room_success_ratio", app, agg="min"), "min"),),
                        "Lowest join success among the selected apps.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Worst stall rate",
                        "percentunit",
                        ((q("volcengine_rtc_stall_ratio", app, media, agg="max"), "max"),),
                        "Highest stall rate among the selected apps and media.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Online users",
                        "short",
                        (
                            (q("volcengine_rtc_online_users", app), "{{app_id}}"),
                            (f"{USERS}{{{app}}} offset 1d", "{{app_id}} a day ago"),
                        ),
                        "Online users per app, and the same time a day earlier "
                        "(RtcOnlineUsersDropped).",
                    ),
                    PanelSpec(
                        "Online rooms",
                        "short",
                        ((q("volcengine_rtc_online_rooms", app), "{{app_id}}"),),
                        "Online rooms per app.",
                    ),
                ),
            ),
            (
                "Quality",
                (
                    PanelSpec(
                        "Join success (5 s)",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_join_room_success_ratio", app),
                                "{{app_id}} ≤{{threshold}}s",
                            ),
                        ),
                        "Share of joins that succeeded within the threshold "
                        "(RtcJoinRoomSuccessLow).",
                        max=1,
                    ),
                    PanelSpec(
                        "Stall rate",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_stall_ratio", app, media),
                                "{{app_id}} {{media}} >{{threshold}}s",
                            ),
                        ),
                        "Share of call time stalled longer than the threshold (audio 80 ms, "
                        "video 500 ms) (RtcAudioStallHigh, RtcVideoStallHigh).",
                    ),
                    PanelSpec(
                        "First-frame send success",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_first_frame_send_success_ratio", app, media),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "First-frame send success rate (RtcFirstFrameFailuresHigh).",
                        max=1,
                    ),
                    PanelSpec(
                        "First-frame decode success",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_first_frame_decode_success_ratio", app, media),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "First-frame receive/decode success rate (RtcFirstFrameFailuresHigh).",
                        max=1,
                    ),
                    PanelSpec(
                        "Network delay within threshold",
                        "percentunit",
                        (
                            (
                                q(
                                    "volcengine_rtc_network_delay_within_threshold_ratio",
                                    app,
                                    media,
                                ),
                                "{{app_id}} {{media}} ≤{{threshold}}s",
                            ),
                        ),
                        "Share of call time with transport delay within 400 ms "
                        "(RtcNetworkDelayShareLow).",
                        width=24,
                        max=1,
                    ),
                ),
            ),
        ),
    )

    rq = 'granularity=~"$granularity"'
    report = DashboardSpec(
        "rtc-daily-report",
        "RTC daily report",
        "Delayed reports (ListOperationData, ListQuality): each value is the newest complete "
        "day or hour, about 8 hours behind. Not for paging.",
        (
            (
                "Usage (delayed report)",
                (
                    PanelSpec(
                        "Users and sessions",
                        "short",
                        (
                            (q("volcengine_rtc_report_users", app, rq), "{{app_id}} users"),
                            (q("volcengine_rtc_report_sessions", app, rq), "{{app_id}} sessions"),
                        ),
                        "Distinct users and room joins per report bucket.",
                    ),
                    PanelSpec(
                        "Peak concurrency",
                        "short",
                        (
                            (
                                q("volcengine_rtc_report_peak_concurrent_users", app, rq),
                                "{{app_id}} users",
                            ),
                            (
                                q("volcengine_rtc_report_peak_concurrent_rooms", app, rq),
                                "{{app_id}} rooms",
                            ),
                        ),
                        "Peak concurrent users and rooms.",
                    ),
                    PanelSpec(
                        "Rooms",
                        "short",
                        (
                            (q("volcengine_rtc_report_rooms", app, rq), "{{app_id}} rooms"),
                            (
                                q("volcengine_rtc_report_high_concurrency_rooms", app, rq),
                                "{{app_id}} ≥100 users",
                            ),
                        ),
                        "Rooms created, and rooms that reached 100 concurrent users.",
                    ),
                    PanelSpec(
                        "Per user and per room",
                        "short",
                        (
                            (
                                q("volcengine_rtc_report_sessions_per_user", app, rq),
                                "{{app_id}} sessions/user",
                            ),
                            (
                                q("volcengine_rtc_report_room_users_average", app, rq),
                                "{{app_id}} users/room",
                            ),
                        ),
                        "Sessions per user and average users per room.",
                    ),
                    PanelSpec(
                        "Call durations",
                        "s",
                        (
                            (
                                q(
                                    "volcengine_rtc_report_session_duration_average_seconds",
                                    app,
                                    rq,
                                ),
                                "{{app_id}} per session",
                            ),
                            (
                                q(
                                    "volcengine_rtc_report_user_call_duration_average_seconds",
                                    app,
                                    rq,
                                ),
                                "{{app_id}} per user",
                            ),
                            (
                                q(
                                    "volcengine_rtc_report_room_online_duration_average_seconds",
                                    app,
                                    rq,
                                ),
                                "{{app_id}} per room",
                            ),
                        ),
                        "Average session, per-user call and room online durations.",
                    ),
                    PanelSpec(
                        "Room online time, total",
                        "s",
                        (
                            (
                                q("volcengine_rtc_report_room_online_duration_seconds", app, rq),
                                "{{app_id}}",
                            ),
                        ),
                        "Sum of all rooms' online time.",
                    ),
                ),
            ),
            (
                "Quality (delayed report)",
                (
                    PanelSpec(
                        "Join success (report)",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_report_join_room_success_ratio", app, rq),
                                "{{app_id}}",
                            ),
                        ),
                        "Report join success within 5 s.",
                        width=8,
                        max=1,
                    ),
                    PanelSpec(
                        "Stall rate (report)",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_report_stall_ratio", app, media, rq),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "Report stall rate.",
                        width=8,
                    ),
                    PanelSpec(
                        "Network delay within threshold (report)",
                        "percentunit",
                        (
                            (
                                q(
                                    "volcengine_rtc_report_network_delay_within_threshold_ratio",
                                    app,
                                    media,
                                    rq,
                                ),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "Report share of time within 400 ms.",
                        width=8,
                        max=1,
                    ),
                    PanelSpec(
                        "First-frame send success (report)",
                        "percentunit",
                        (
                            (
                                q(
                                    "volcengine_rtc_report_first_frame_send_success_ratio",
                                    app,
                                    media,
                                    rq,
                                ),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "Report first-frame send success.",
                        max=1,
                    ),
                    PanelSpec(
                        "First-frame decode success (report)",
                        "percentunit",
                        (
                            (
                                q(
                                    "volcengine_rtc_report_first_frame_decode_success_ratio",
                                    app,
                                    media,
                                    rq,
                                ),
                                "{{app_id}} {{media}}",
                            ),
                        ),
                        "Report first-frame decode success.",
                        max=1,
                    ),
                ),
            ),
        ),
        extra_variables=("granularity",),
        note="**Delayed reports.** These panels show the vendor's daily/hourly reports, about "
        "8 hours behind: each value is the newest *complete* bucket. Use *RTC overview* for "
        "what is happening now.",
    )

    who = "{{user_id}}"
    client = DashboardSpec(
        "rtc-client-watch",
        "RTC client watch",
        "Per-user client metrics (ListCallDetail) of the watched rooms and users configured in "
        "the exporter (apps[].call_detail).",
        (
            (
                "Devices",
                (
                    PanelSpec(
                        "App CPU usage",
                        "percentunit",
                        ((q("volcengine_rtc_client_app_cpu_usage_ratio", watch), who),),
                        "CPU used by the app.",
                        width=8,
                    ),
                    PanelSpec(
                        "System CPU usage",
                        "percentunit",
                        ((q("volcengine_rtc_client_system_cpu_usage_ratio", watch), who),),
                        "CPU used by the whole device.",
                        width=8,
                    ),
                    PanelSpec(
                        "Audio volume",
                        "short",
                        (
                            (
                                q("volcengine_rtc_client_audio_capture_volume", watch),
                                f"{who} capture",
                            ),
                            (
                                q("volcengine_rtc_client_audio_playback_volume", watch),
                                f"{who} playback",
                            ),
                        ),
                        "Audio capture and playback volume (unitless).",
                        width=8,
                    ),
                ),
            ),
            (
                "Network",
                (
                    PanelSpec(
                        "Bitrate",
                        "bps",
                        (
                            (
                                f"8 * {q('volcengine_rtc_client_bitrate_bytes_per_second', watch, media)}",
                                "{{user_id}} {{media}} {{direction}} {{stream}} {{peer_id}}",
                            ),
                        ),
                        "Send (up) and receive (down) bitrate, shown in bits per second.",
                    ),
                    PanelSpec(
                        "Network delay",
                        "s",
                        (
                            (
                                q("volcengine_rtc_client_network_delay_seconds", watch, media),
                                "{{user_id}} {{media}} {{direction}} {{peer_id}}",
                            ),
                        ),
                        "Uplink and downlink network delay.",
                    ),
                    PanelSpec(
                        "Packet loss",
                        "percentunit",
                        (
                            (
                                q("volcengine_rtc_client_packet_loss_ratio", watch, media),
                                "{{user_id}} {{media}} {{direction}} {{peer_id}}",
                            ),
                        ),
                        "Uplink and downlink packet loss.",
                    ),
                    PanelSpec(
                        "Stall duration",
                        "s",
                        (
                            (
                                q("volcengine_rtc_client_stall_duration_seconds", watch, media),
                                "{{user_id}} {{media}} {{peer_id}}",
                            ),
                        ),
                        "Audio and video stall duration.",
                    ),
                ),
            ),
            (
                "Video",
                (
                    PanelSpec(
                        "Resolution",
                        "short",
                        (
                            (
                                q("volcengine_rtc_client_video_width_pixels", watch),
                                f"{who} {{{{direction}}}} width",
                            ),
                            (
                                q("volcengine_rtc_client_video_height_pixels", watch),
                                f"{who} {{{{direction}}}} height",
                            ),
                        ),
                        "Sent (up) and received (down) video resolution in pixels.",
                    ),
                    PanelSpec(
                        "Frame rate",
                        "fps",
                        (
                            (
                                q("volcengine_rtc_client_video_capture_frames_per_second", watch),
                                f"{who} capture",
                            ),
                            (
                                q("volcengine_rtc_client_video_frames_per_second", watch),
                                "{{user_id}} {{direction}} {{stream}} {{peer_id}}",
                            ),
                        ),
                        "Capture, send (per stream) and receive frame rates.",
                    ),
                ),
            ),
        ),
        extra_variables=("room_id", "user_id"),
    )

    health = DashboardSpec(
        "rtc-exporter-health",
        "RTC exporter health",
        "Health of volc-rtc-exporter: sources, data age, API calls, failures, throttling, latency.",
        (
            (
                "Sources",
                (
                    PanelSpec(
                        "Sources down",
                        "short",
                        (
                            (
                                f"count(volcengine_rtc_exporter_source_up{v()} == 0) or vector(0)",
                                "down",
                            ),
                        ),
                        "Source/app pairs whose last refresh failed (RtcSourceDown).",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Exporter build",
                        "short",
                        (
                            (
                                f"volcengine_rtc_exporter_build_info{v()}",
                                "{{version}} py{{python_version}}",
                            ),
                        ),
                        "Exporter version and Python version.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Series dropped (1h)",
                        "short",
                        (
                            (
                                f"sum(increase(volcengine_rtc_exporter_series_dropped_total{v()}[1h]))",
                                "dropped",
                            ),
                        ),
                        "Client series cut by max_client_series.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Unknown units (1h)",
                        "short",
                        (
                            (
                                f"sum(increase(volcengine_rtc_exporter_unknown_unit_total{v()}[1h])) or vector(0)",
                                "skipped",
                            ),
                        ),
                        "Values skipped for a unit the exporter cannot convert.",
                        kind="stat",
                        width=6,
                        height=4,
                    ),
                    PanelSpec(
                        "Sources up",
                        "short",
                        ((f"volcengine_rtc_exporter_source_up{v()}", "{{source}} {{app_id}}"),),
                        "1 when the last refresh succeeded and data is fresh.",
                        max=1,
                    ),
                    PanelSpec(
                        "Data age",
                        "s",
                        ((f"{DATA_AGE}", "{{source}} {{app_id}}"),),
                        "Age of the newest vendor bucket exported (RtcDataStale); reports are "
                        "about a day old by design.",
                    ),
                    PanelSpec(
                        "Time since last success",
                        "s",
                        (
                            (
                                f"time() - volcengine_rtc_exporter_source_last_success_timestamp_seconds{v()}",
                                "{{source}} {{app_id}}",
                            ),
                        ),
                        "Seconds since each source last refreshed successfully.",
                    ),
                    PanelSpec(
                        "Refresh duration",
                        "s",
                        (
                            (
                                f"volcengine_rtc_exporter_source_refresh_duration_seconds{v()}",
                                "{{source}}",
                            ),
                        ),
                        "Duration of the last refresh cycle over all apps.",
                    ),
                ),
            ),
            (
                "Vendor API",
                (
                    PanelSpec(
                        "API calls by action",
                        "reqps",
                        (
                            (
                                f"sum by (action) (rate(volcengine_rtc_exporter_api_requests_total{v()}[$__rate_interval]))",
                                "{{action}}",
                            ),
                        ),
                        "Requests sent per second (the account quota is per action).",
                    ),
                    PanelSpec(
                        "API failures by reason",
                        "reqps",
                        ((f"sum by (reason) ({FAILURE_RATE})", "{{reason}}"),),
                        "Failed requests per second by reason (RtcApiAuthFailing).",
                    ),
                    PanelSpec(
                        "Throttled calls",
                        "reqps",
                        ((f'{FAILURE_RATE}{{reason="throttled"}}', "{{action}}"),),
                        "Calls answered with throttling (RtcApiThrottled).",
                    ),
                    PanelSpec(
                        "Request latency p50 / p99",
                        "s",
                        (
                            (
                                f"histogram_quantile(0.5, sum by (le, action) (rate("
                                f"volcengine_rtc_exporter_api_request_duration_seconds_bucket{v()}[$__rate_interval])))",
                                "p50 {{action}}",
                            ),
                            (
                                f"histogram_quantile(0.99, sum by (le, action) (rate("
                                f"volcengine_rtc_exporter_api_request_duration_seconds_bucket{v()}[$__rate_interval])))",
                                "p99 {{action}}",
                            ),
                        ),
                        "Vendor API latency by action.",
                    ),
                ),
            ),
        ),
    )
    return [overview, report, client, health]


def _query_var(name: str, label: str, query: str) -> db.QueryVariable:
    """A multi-select query variable with "All" meaning any value."""
    return (
        db.QueryVariable(name)
        .label(label)
        .datasource(DS)
        .query(query)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def _custom_var(name: str, label: str, values: str, *, multi: bool) -> db.CustomVariable:
    v = db.CustomVariable(name).label(label).values(values)
    if multi:
        v = v.multi(True)
    return (
        v.include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def _variables(
    cfg: MixinConfig, spec: DashboardSpec
) -> list[db.DatasourceVariable | db.QueryVariable | db.CustomVariable]:
    out: list[db.DatasourceVariable | db.QueryVariable | db.CustomVariable] = [
        db.DatasourceVariable("datasource").label("Data source").type("prometheus"),
        _query_var("app_id", "App", f"query_result(volcengine_rtc_app_info{cfg.sel()})").regex(
            '/app_id="(?<value>[^"]+)".*app_name="(?<text>[^"]*)"/'
        ),
        _custom_var("media", "Media", "audio,video", multi=True),
    ]
    app_filter = 'app_id=~"$app_id"'
    for name in spec.extra_variables:
        if name == "granularity":
            out.append(_custom_var("granularity", "Granularity", "1d,1h,5min", multi=False))
        else:  # watch-list variables, from the series that every watched user has
            series = "volcengine_rtc_client_app_cpu_usage_ratio" + cfg.sel(app_filter)
            out.append(_query_var(name, name.replace("_", " "), f"label_values({series}, {name})"))
    return out


def _panel(cfg: MixinConfig, p: PanelSpec) -> timeseries.Panel | stat.Panel:
    builder: timeseries.Panel | stat.Panel = (
        stat.Panel() if p.kind == "stat" else timeseries.Panel()
    )
    builder = (
        builder.title(p.title)
        .description(p.description)
        .datasource(DS)
        .unit(p.unit)
        .span(p.width)
        .height(p.height)
        .links(
            [
                db.DashboardLink("Metric reference")
                .url(f"{cfg.docs_url}/metrics.md")
                .target_blank(True)
            ]
        )
    )
    if p.max is not None:
        builder = builder.max(p.max)
    if p.unit in ("percentunit", "s", "bps", "fps", "reqps"):
        builder = builder.min(0)
    for i, (expr, legend) in enumerate(p.targets):
        builder = builder.with_target(
            prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
        )
    return builder


def _build(cfg: MixinConfig, spec: DashboardSpec) -> dict[str, Any]:
    b = (
        db.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .refresh(cfg.dashboard_refresh)
        .time("now-6h" if spec.uid != "rtc-daily-report" else "now-7d", "now")
        .timezone("browser")
        .editable()
        .link(
            db.DashboardLink("RTC dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["volc-rtc"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .annotation(
            db.AnnotationQuery()
            .name("RTC alerts")
            .datasource(DS)
            .expr('ALERTS{alertname=~"Rtc.*", alertstate="firing"}')
            .enable(True)
            .icon_color("red")
        )
    )
    for var in _variables(cfg, spec):
        b = b.with_variable(var)
    if spec.note:
        b = b.with_panel(
            text.Panel().title("About this dashboard").content(spec.note).span(24).height(3)
        )
    for row_title, panels in spec.rows:
        b = b.with_row(db.Row(row_title))
        for p in panels:
            b = b.with_panel(_panel(cfg, p))
    doc: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(b.build()))
    return doc


DASHBOARDS = ("rtc-overview", "rtc-daily-report", "rtc-client-watch", "rtc-exporter-health")


def build_dashboards(cfg: MixinConfig) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON model."""
    return {spec.uid: _build(cfg, spec) for spec in dashboard_specs(cfg)}
