"""RTC overview: where to look first (apps ranked by how far they are from their thresholds,
the worst app of each paging indicator), then live traffic and quality per app (by name), each
quality panel with its alert thresholds drawn and a link to the RTC diagnosis dashboard for the
app it shows."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.panels import (
    DashboardSpec,
    PanelSpec,
    Scope,
    custom_var,
    lines,
    units,
)
from exporter.mixin.dashboards.ranking import ranking_panels, ranking_table
from exporter.mixin.quality import QualityView, quality_views
from exporter.mixin.rules import USERS

__all__ = ["overview", "quality_panels"]

APP = 'app_id=~"$app_id"'
PT = 'product_type=~"$product_type"'
MEDIA = 'media=~"$media"'


def diagnose_link() -> tuple[str, str]:
    return (
        "Diagnose ${__field.labels.app_id}",
        "/d/rtc-diagnosis/rtc-diagnosis?var-app_id=${__field.labels.app_id}"
        "&var-product_type=${__field.labels.product_type}&${__url_time_range}",
    )


def quality_panels(cfg: MixinConfig, s: Scope, *, report: bool) -> tuple[PanelSpec, ...]:
    """One panel per quality family (stall: one per medium, each judged on its own threshold),
    live or report: the same table drives both dashboards."""
    extra = ('granularity=~"$granularity"',) if report else ()
    out = []
    for v in quality_views():
        for media in ("audio", "video") if v.metric == "stall_ratio" else ("",):
            out.append(_quality_panel(cfg, s, v, media, extra, report))
    return tuple(out)


def _quality_panel(
    cfg: MixinConfig, s: Scope, v: QualityView, media: str, extra: tuple[str, ...], report: bool
) -> PanelSpec:
    family = v.report if report else v.live
    matchers = [APP, PT, f'media="{media}"' if media else (MEDIA if v.media else ""), *extra]
    legend = "{{app_name}} {{product_type}}" + (" {{media}}" if v.media and not media else "")
    title = f"{media.capitalize()} {v.title.lower()}" if media else v.title
    limits = v.alert_lines(cfg, media)
    return PanelSpec(
        title + (" (report)" if report else ""),
        units.PercentUnit,
        ((s.named(s.q(family, *matchers)), legend + (" ≤{{threshold}}s" if v.threshold else "")),),
        f"{v.what} ({family}). Dashed lines: alert thresholds "
        "(orange sustained tier, red severe tier).",
        width=8,
        max=1 if v.worse == "lower" else None,
        steps=lines(v.worse, limits),
        links=() if report else (diagnose_link(),),
    )


def overview(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    first = (
        PanelSpec(
            "Online users (selected apps)",
            units.Short,
            ((s.q("volcengine_rtc_online_users", APP, agg="sum"), "users"),),
            "Sum of online users of the selected apps.",
            kind="stat",
            width=4,
            height=4,
        ),
        PanelSpec(
            "Apps monitored",
            units.Short,
            ((s.q("volcengine_rtc_app_info", APP, agg="count"), "apps"),),
            "Apps this exporter monitors (volcengine_rtc_app_info).",
            kind="stat",
            width=4,
            height=4,
        ),
        *ranking_panels(cfg, s),
        ranking_table(cfg, s),
    )
    day_ago = f"{USERS}{{{', '.join((*s.matchers, APP))}}} offset 1d"
    traffic = (
        PanelSpec(
            "Online users",
            units.Short,
            (
                (s.named(s.q("volcengine_rtc_online_users", APP)), "{{app_name}}"),
                (s.named(day_ago), "{{app_name}} a day ago"),
            ),
            "Online users per app, and the same time a day earlier (RtcOnlineUsersDropped).",
        ),
        PanelSpec(
            "Online rooms",
            units.Short,
            ((s.named(s.q("volcengine_rtc_online_rooms", APP)), "{{app_name}}"),),
            "Online rooms per app.",
        ),
    )
    return DashboardSpec(
        "rtc-overview",
        "RTC overview",
        "Live Volcengine RTC traffic and quality per app and client type (realtime APIs, "
        "30-60 s buckets, about 1-2 minutes behind real time). Start with the apps ranked by "
        "how far they are from their thresholds; click an app or a series to diagnose it.",
        (
            ("Where to look", first),
            ("Traffic", traffic),
            ("Quality (live)", quality_panels(cfg, s, report=False)),
        ),
        (
            s.app_var(multi=True),
            custom_var("product_type", "Clients", "native,web", multi=True),
            custom_var("media", "Media", "audio,video", multi=True),
        ),
    )
