"""RTC diagnosis: for one app and client type, where quality is bad — each indicator by OS,
network and region (worst first, the whole app's value among them), users by region, and the
watched rooms with their users and client metrics. Quality alerts link here with the app
preselected."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.client_watch import WATCH, client_panels, watch_variables
from exporter.mixin.dashboards.panels import (
    DashboardSpec,
    PanelSpec,
    Scope,
    custom_var,
    lines,
    units,
)
from exporter.mixin.quality import QualityView, quality_views

__all__ = ["diagnosis"]

APP = 'app_id="$app_id"'
PT = 'product_type=~"$product_type"'
DIM = 'dimension=~"$dimension"'
GRAN = 'granularity=~"$granularity"'


def _by_segment(cfg: MixinConfig, s: Scope, v: QualityView, report: bool) -> PanelSpec:
    media = 'media="$media"' if v.media else ""
    seg_family = v.report_breakdown if report else v.breakdown
    app_family = v.report if report else v.live
    extra = (GRAN,) if report else ()
    segments = s.q(seg_family, APP, PT, media, DIM, *extra)
    whole = s.q(app_family, APP, PT, media, *extra)
    order = "sort_desc" if v.worse == "higher" else "sort"
    expr = f'{order}({segments} or label_replace({whole}, "segment", "(whole app)", "", ""))'
    legend = "{{segment}}" + (" {{granularity}}" if report else "")
    return PanelSpec(
        f"{v.title} by $dimension" + (" (report)" if report else ""),
        units.PercentUnit,
        ((expr, legend),),
        f"{v.what}, per segment of the dimension, worst first, with the whole app's value "
        f"for comparison ({seg_family}). Colours: alert thresholds.",
        kind="bargauge",
        width=24,  # Grafana splits the row among the repeats, up to 4 per row
        height=7,
        max=1,
        steps=lines(v.worse, v.alert_lines(cfg, "video" if v.metric == "stall_ratio" else "")),
        repeat="dimension",
    )


def _regions(s: Scope) -> tuple[PanelSpec, ...]:
    region = 'dimension=~"province|country"'
    users = s.q("volcengine_rtc_report_breakdown_users", APP, region)
    share = s.q("volcengine_rtc_report_breakdown_users_share_ratio", APP, region)
    return (
        PanelSpec("Users by region (last complete day)", units.Short,
                  ((f"sort_desc(topk(20, {users}))", "{{dimension}} {{segment}}"),),
                  "Distinct users per province / country (ListOperationDistribution).",
                  kind="bargauge", width=12, height=10),
        PanelSpec("Share of users by region", units.PercentUnit,
                  ((f"sort_desc(topk(20, {share}))", "{{dimension}} {{segment}}"),),
                  "Each region's share of the app's users.", kind="bargauge", width=12,
                  height=10, max=1),
    )  # fmt: skip


def _rooms(s: Scope) -> tuple[PanelSpec, ...]:
    room = 'room_id=~"$room_id"'
    return (
        PanelSpec("Watched rooms: online users", units.Short,
                  ((f"sort_desc({s.q('volcengine_rtc_room_online_users', APP, room)})",
                    "{{room_id}}"),),
                  "Users online now in each watched room (GetRoomOnlineUsers).",
                  kind="bargauge", width=6),
        PanelSpec("Watched rooms: active users", units.Short,
                  ((f"sort_desc({s.q('volcengine_rtc_room_active_users', APP, room)})",
                    "{{room_id}}"),),
                  "Active users of each watched room (ListRoomInfo).", kind="bargauge", width=6),
        PanelSpec("Watched users", units.Short,
                  ((s.q("volcengine_rtc_client_info", APP, WATCH), ""),),
                  "OS, network, SDK version and device of each watched user (ListUserInfo).",
                  kind="table", width=12),
    )  # fmt: skip


def diagnosis(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    views = quality_views()
    return DashboardSpec(
        "rtc-diagnosis",
        "RTC diagnosis",
        "Where an app's quality problem is: each indicator by OS, network and region (worst "
        "first), users by region, the watched rooms and their users.",
        (
            ("Live quality by segment", tuple(_by_segment(cfg, s, v, False) for v in views)),
            ("Delayed report by segment", tuple(_by_segment(cfg, s, v, True) for v in views)),
            ("Users by region", _regions(s)),
            ("Watched rooms and users", _rooms(s) + client_panels(s, "Network")),
        ),
        (
            s.app_var(multi=False),
            custom_var("product_type", "Clients", "native,web", multi=False, default="native"),
            custom_var("media", "Media", "audio,video", multi=False, default="video"),
            custom_var("dimension", "Split by", "os,network,province,country", multi=True),
            custom_var("granularity", "Report granularity", "1d,1h,5min", multi=False),
            *watch_variables(cfg, s),
        ),
        time_from="now-3h",
    )
