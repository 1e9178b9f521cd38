"""RTC daily report: the delayed report families (ListOperationData, ListQuality)."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.overview import APP, quality_panels
from exporter.mixin.dashboards.panels import DashboardSpec, PanelSpec, Scope, custom_var, units

__all__ = ["report"]

GRAN = 'granularity=~"$granularity"'

# (title, unit, ((family, legend), ...), description)
USAGE: tuple[tuple[str, str, tuple[tuple[str, str], ...], str], ...] = (
    ("Users and sessions", units.Short,
     (("volcengine_rtc_report_users", "users"), ("volcengine_rtc_report_sessions", "sessions")),
     "Distinct users and room joins per report bucket."),
    ("Peak concurrency", units.Short,
     (("volcengine_rtc_report_peak_concurrent_users", "users"),
      ("volcengine_rtc_report_peak_concurrent_rooms", "rooms")),
     "Peak concurrent users and rooms."),
    ("Rooms", units.Short,
     (("volcengine_rtc_report_rooms", "rooms"),
      ("volcengine_rtc_report_high_concurrency_rooms", "≥100 users")),
     "Rooms created, and rooms that reached 100 concurrent users."),
    ("Per user and per room", units.Short,
     (("volcengine_rtc_report_sessions_per_user", "sessions/user"),
      ("volcengine_rtc_report_room_users_average", "users/room")),
     "Sessions per user and average users per room."),
    ("Call durations", units.Seconds,
     (("volcengine_rtc_report_session_duration_average_seconds", "per session"),
      ("volcengine_rtc_report_user_call_duration_average_seconds", "per user"),
      ("volcengine_rtc_report_room_online_duration_average_seconds", "per room")),
     "Average session, per-user call and room online durations."),
    ("Room online time, total", units.Seconds,
     (("volcengine_rtc_report_room_online_duration_seconds", "total"),),
     "Sum of all rooms' online time."),
)  # fmt: skip


def report(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    usage = tuple(
        PanelSpec(
            title,
            unit,
            tuple(
                (s.named(s.q(family, APP, GRAN)), "{{app_name}} " + legend)
                for family, legend in targets
            ),
            description,
        )
        for title, unit, targets, description in USAGE
    )
    return DashboardSpec(
        "rtc-daily-report",
        "RTC daily report",
        "Delayed reports (ListOperationData, ListQuality): each value is the newest complete "
        "day or hour, about 8 hours behind. Not for paging.",
        (
            ("Usage (delayed report)", usage),
            ("Quality (delayed report)", quality_panels(cfg, s, report=True)),
        ),
        (
            s.app_var(multi=True),
            custom_var("product_type", "Clients", "native,web", multi=True),
            custom_var("media", "Media", "audio,video", multi=True),
            custom_var("granularity", "Granularity", "1d,1h,5min", multi=False),
        ),
        note="**Delayed reports.** These panels show the vendor's daily/hourly reports, about "
        "8 hours behind: each value is the newest *complete* bucket. Use *RTC overview* for "
        "what is happening now, *RTC diagnosis* for where.",
        time_from="now-7d",
    )
