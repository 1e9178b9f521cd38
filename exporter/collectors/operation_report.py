"""Operations report: ``ListOperationData`` (daily or hourly) per app."""

from __future__ import annotations

from exporter.collectors.base import (
    AppTarget,
    MetricSpec,
    Sample,
    Snapshot,
    Source,
    newest_complete,
)
from exporter.collectors.quality import GRANULARITY_SECONDS
from exporter.settings import OperationReportSettings
from exporter.units import Kind

__all__ = ["INDICATORS", "OperationReportSource"]

# indicator -> (metric, what, kind, seed unit). Durations have no unit in the seed table; the
# seed's worked examples are in minutes, so "min" is the fallback when the API sends no Unit.
INDICATORS: dict[str, tuple[str, str, Kind, str]] = {
    "user_count": ("volcengine_rtc_report_users", "Distinct users in calls", Kind.PLAIN, ""),
    "session_count": ("volcengine_rtc_report_sessions", "Room joins (sessions)", Kind.PLAIN, ""),
    "peak_concurrent_user": (
        "volcengine_rtc_report_peak_concurrent_users",
        "Peak concurrent online users",
        Kind.PLAIN,
        "",
    ),
    "room_count": ("volcengine_rtc_report_rooms", "Rooms created", Kind.PLAIN, ""),
    "high_concurrency_room": (
        "volcengine_rtc_report_high_concurrency_rooms",
        "Rooms whose peak concurrent users reached 100 or more",
        Kind.PLAIN,
        "",
    ),
    "peak_concurrent_room": (
        "volcengine_rtc_report_peak_concurrent_rooms",
        "Peak concurrent rooms",
        Kind.PLAIN,
        "",
    ),
    "avg_call_count": (
        "volcengine_rtc_report_sessions_per_user",
        "Sessions per user (sessions / users)",
        Kind.PLAIN,
        "",
    ),
    "per_call_time": (
        "volcengine_rtc_report_session_duration_average_seconds",
        "Average duration of one session, seconds",
        Kind.SECONDS,
        "min",
    ),
    "avg_call_time": (
        "volcengine_rtc_report_user_call_duration_average_seconds",
        "Average call time per user (overlapping rooms counted once), seconds",
        Kind.SECONDS,
        "min",
    ),
    "total_online_time": (
        "volcengine_rtc_report_room_online_duration_seconds",
        "Sum of all rooms' online time, seconds",
        Kind.SECONDS,
        "min",
    ),
    "avg_online_time": (
        "volcengine_rtc_report_room_online_duration_average_seconds",
        "Average room online time, seconds",
        Kind.SECONDS,
        "min",
    ),
    "avg_user_count": (
        "volcengine_rtc_report_room_users_average",
        "Average users per room",
        Kind.PLAIN,
        "",
    ),
}


def _conversion(kind: Kind) -> str:
    return "converted from the API's Unit, minutes x 60" if kind is Kind.SECONDS else "count"


class OperationReportSource(Source[OperationReportSettings]):
    """Daily or hourly operations report.

    # TYPE volcengine_rtc_report_users gauge
    volcengine_rtc_report_users{app_id="661e...543cf",granularity="1d"} 52311.0
    """

    name = "operation_report"
    action = "ListOperationData"
    specs = tuple(
        MetricSpec(
            metric,
            f"{what}. From Volcengine RTC ListOperationData indicator {ind} (newest complete "
            f"bucket of the configured granularity, a delayed report; {_conversion(kind)}). "
            "Cached; refreshed every sources.operation_report interval.",
            ("app_id", "granularity"),
        )
        for ind, (metric, what, kind, _) in INDICATORS.items()
    )

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        g = self.settings.granularity
        bucket = GRANULARITY_SECONDS[g]
        start, end = self.window(now, self.settings.window_seconds, align=bucket)
        result = self.client.list_operation_data(app.app_id, start, end, list(INDICATORS), g)
        snap = Snapshot()
        for ind in result.indicators:
            row = INDICATORS.get(ind.name)
            if row is None:
                continue
            metric, _, kind, seed_unit = row
            newest = newest_complete(
                ((p.timestamp.timestamp(), p.value) for p in ind.data),
                bucket + self.settings.settle_seconds,
                now,
            )
            if newest is None:
                continue
            value = self.to_base(newest[1], ind.unit, seed_unit, kind)
            if value is None:
                continue
            labels = (("app_id", app.app_id), ("granularity", g))
            snap.samples.append(Sample(metric, labels, value))
            snap.data_timestamp = max(snap.data_timestamp or 0.0, newest[0])
        return snap
