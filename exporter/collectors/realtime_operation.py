"""Realtime operations: ``ListRealTimeOperationData`` -> online users and rooms per app."""

from __future__ import annotations

from exporter.collectors.base import (
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
from exporter.models import Indicator
from exporter.types import AppTarget, Labels, Snapshot
from exporter.units import Kind

__all__ = ["ROWS", "RealtimeOperationSettings", "RealtimeOperationSource"]

NAME = "realtime_operation"
ACTION = "ListRealTimeOperationData"
BUCKET_SECONDS = 30.0  # documented: TimeStamp is the start of a 30 s bucket
DELAY_SECONDS = 20.0  # documented data delay

ROWS = (
    IndicatorRow("online_user_count", "online_users", Kind.PLAIN, "Online users"),
    IndicatorRow("online_room_count", "online_rooms", Kind.PLAIN, "Online rooms"),
)
_BY_KEY = {row.key: row for row in ROWS}


class RealtimeOperationSettings(WindowedSettings):
    interval_seconds: float = interval_field(30.0)
    window_seconds: float = window_field(300.0)
    settle_seconds: float = settle_field(DELAY_SECONDS)


@register
class RealtimeOperationSource(Source[RealtimeOperationSettings]):
    """Online users and rooms.

    # HELP volcengine_rtc_online_users Online users. From Volcengine RTC ...
    # TYPE volcengine_rtc_online_users gauge
    volcengine_rtc_online_users{app_id="661e...543cf"} 1234.0
    """

    name = NAME
    title = "Realtime operations"
    actions = (ACTION,)
    settings_model = RealtimeOperationSettings
    order = 10
    feeds_traffic = True
    specs = family_specs(
        ROWS,
        prefix="volcengine_rtc_",
        base_labels=("app_id",),
        help_for=lambda row, _: row_help(
            row, ACTION, [f"indicator {row.key}"], "newest complete 30 s bucket", NAME
        ),
    )

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = self.window(now, self.settings.window_seconds)
        result = self.client.query_indicators(ACTION, app.app_id, start, end, list(_BY_KEY))
        out = Collected(skipped=result.skipped)
        base: Labels = (("app_id", app.app_id),)

        def resolve(ind: Indicator) -> tuple[IndicatorRow, Labels] | None:
            row = _BY_KEY.get(ind.name)
            return (row, base) if row else None

        indicator_samples(
            out,
            result.indicators,
            resolve,
            prefix="volcengine_rtc_",
            complete_after=BUCKET_SECONDS + self.settings.settle_seconds,
            now=now,
        )
        return out.snapshot()[0]
