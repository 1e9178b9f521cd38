"""Realtime operations: ``ListRealTimeOperationData`` -> online users and rooms per app."""

from __future__ import annotations

from exporter.collectors.base import (
    AppTarget,
    MetricSpec,
    Sample,
    Snapshot,
    Source,
    newest_complete,
)
from exporter.settings import RealtimeOperationSettings
from exporter.units import Kind

__all__ = ["RealtimeOperationSource", "INDICATORS"]

BUCKET_SECONDS = 30.0  # documented: TimeStamp is the start of a 30 s bucket

_HELP = (
    "{what} from Volcengine RTC ListRealTimeOperationData indicator {ind} (newest complete 30 s "
    "bucket; count, no conversion). Cached; refreshed every sources.realtime_operation interval."
)

# indicator -> (metric, what, seed unit)
INDICATORS: dict[str, tuple[str, str, str]] = {
    "online_user_count": ("volcengine_rtc_online_users", "Online users", ""),
    "online_room_count": ("volcengine_rtc_online_rooms", "Online rooms", ""),
}


class RealtimeOperationSource(Source[RealtimeOperationSettings]):
    """Online users and rooms.

    # HELP volcengine_rtc_online_users Online users from ... ListRealTimeOperationData ...
    # TYPE volcengine_rtc_online_users gauge
    volcengine_rtc_online_users{app_id="661e...543cf"} 1234.0
    """

    name = "realtime_operation"
    action = "ListRealTimeOperationData"
    specs = tuple(
        MetricSpec(metric, _HELP.format(what=what, ind=ind), ("app_id",))
        for ind, (metric, what, _) in INDICATORS.items()
    )

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = self.window(now, self.settings.window_seconds)
        result = self.client.list_realtime_operation_data(app.app_id, start, end, list(INDICATORS))
        snap = Snapshot()
        for ind in result.indicators:
            row = INDICATORS.get(ind.name)
            if row is None:
                continue
            metric, _, seed_unit = row
            newest = newest_complete(
                ((p.timestamp.timestamp(), p.value) for p in ind.data),
                BUCKET_SECONDS + self.settings.settle_seconds,
                now,
            )
            if newest is None:
                continue
            value = self.to_base(newest[1], ind.unit, seed_unit, Kind.PLAIN)
            if value is None:
                continue
            snap.samples.append(Sample(metric, (("app_id", app.app_id),), value))
            snap.data_timestamp = max(snap.data_timestamp or 0.0, newest[0])
        return snap
