"""Operations report: ``ListOperationData`` (daily or hourly) per app."""

from __future__ import annotations

from typing import Literal

from exporter.collectors.base import (
    DAY,
    HOUR,
    Collected,
    IndicatorRow,
    Source,
    WindowedSettings,
    family_specs,
    indicator_samples,
    interval_field,
    register,
    row_help,
    settle_field,
    window_field,
)
from exporter.collectors.quality import GRANULARITY_SECONDS
from exporter.models import Indicator
from exporter.types import AppTarget, Labels, Snapshot
from exporter.units import Kind

__all__ = ["ROWS", "OperationReportSettings", "OperationReportSource"]

ACTION = "ListOperationData"
P, S = Kind.PLAIN, Kind.SECONDS

# Durations have no unit in the seed table; the seed's worked examples are in minutes, so "min"
# is the fallback when the API sends no Unit.
ROWS: tuple[IndicatorRow, ...] = (
    IndicatorRow("user_count", "users", P, "Distinct users in calls"),
    IndicatorRow("session_count", "sessions", P, "Room joins (sessions)"),
    IndicatorRow(
        "peak_concurrent_user", "peak_concurrent_users", P, "Peak concurrent online users"
    ),
    IndicatorRow("room_count", "rooms", P, "Rooms created"),
    IndicatorRow(
        "high_concurrency_room", "high_concurrency_rooms", P,
        "Rooms whose peak concurrent users reached 100 or more",
    ),
    IndicatorRow("peak_concurrent_room", "peak_concurrent_rooms", P, "Peak concurrent rooms"),
    IndicatorRow("avg_call_count", "sessions_per_user", P, "Sessions per user (sessions / users)"),
    IndicatorRow(
        "per_call_time", "session_duration_average_seconds", S,
        "Average duration of one session, seconds", "min",
    ),
    IndicatorRow(
        "avg_call_time", "user_call_duration_average_seconds", S,
        "Average call time per user (overlapping rooms counted once), seconds", "min",
    ),
    IndicatorRow(
        "total_online_time", "room_online_duration_seconds", S,
        "Sum of all rooms' online time, seconds", "min",
    ),
    IndicatorRow(
        "avg_online_time", "room_online_duration_average_seconds", S,
        "Average room online time, seconds", "min",
    ),
    IndicatorRow("avg_user_count", "room_users_average", P, "Average users per room"),
)  # fmt: skip
_BY_KEY = {row.key: row for row in ROWS}
PREFIX = "volcengine_rtc_report_"


class OperationReportSettings(WindowedSettings):
    interval_seconds: float = interval_field(HOUR)
    window_seconds: float = window_field(3 * DAY)
    settle_seconds: float = settle_field(8 * HOUR)
    granularity: Literal["1d", "1h"] = "1d"
    max_window = 7 * DAY


@register
class OperationReportSource(Source[OperationReportSettings]):
    """Daily or hourly operations report.

    # TYPE volcengine_rtc_report_users gauge
    volcengine_rtc_report_users{app_id="661e...543cf",granularity="1d"} 52311.0
    """

    name = "operation_report"
    title = "Operations report"
    actions = (ACTION,)
    settings_model = OperationReportSettings
    order = 40
    specs = family_specs(
        ROWS,
        prefix=PREFIX,
        base_labels=("app_id",),
        help_for=lambda row, _: row_help(
            row,
            ACTION,
            [f"indicator {row.key}"],
            "newest complete bucket of the configured granularity, a delayed report",
            "operation_report",
        ),
        extra_labels=("granularity",),
    )

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        g = self.settings.granularity
        bucket = GRANULARITY_SECONDS[g]
        start, end = self.window(now, self.settings.window_seconds, align=bucket)
        result = self.client.query_indicators(
            ACTION, app.app_id, start, end, list(_BY_KEY), AggregateGranularity=g
        )
        out = Collected(skipped=result.skipped)
        labels: Labels = (("app_id", app.app_id), ("granularity", g))

        def resolve(ind: Indicator) -> tuple[IndicatorRow, Labels] | None:
            row = _BY_KEY.get(ind.name)
            return (row, labels) if row else None

        indicator_samples(
            out,
            result.indicators,
            resolve,
            prefix=PREFIX,
            complete_after=bucket + self.settings.settle_seconds,
            now=now,
        )
        return out.snapshot()[0]
