"""Quality: ``ListRealTimeQuality`` (live) and ``ListQuality`` (report), one table for both.

Returned indicator names carry threshold and media parts (``80ms_audio_stall_rate``); they are
parsed with the grammar in ``exporter.units.parse_indicator_name``. When a name has no threshold,
the seed's documented default for that indicator and medium is used.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from exporter.collectors.base import (
    AppTarget,
    MetricSpec,
    Sample,
    Snapshot,
    Source,
    newest_complete,
)
from exporter.models import IndicatorsResult
from exporter.settings import QualityReportSettings, RealtimeQualitySettings
from exporter.units import Kind, format_threshold, parse_indicator_name

__all__ = ["INDICATORS", "QualityReportSource", "RealtimeQualitySource"]

log = logging.getLogger(__name__)

LIVE_BUCKET_SECONDS = 30.0  # [inferred] realtime quality buckets
GRANULARITY_SECONDS = {"1d": 86400.0, "1h": 3600.0, "5min": 300.0}


@dataclass(frozen=True)
class QualityRow:
    metric: str  # without the volcengine_rtc_ / volcengine_rtc_report_ prefix
    what: str
    media: bool
    threshold: bool
    default_threshold: dict[str, Decimal]  # media ("" for none) -> seconds


INDICATORS: dict[str, QualityRow] = {
    "join_room_success_rate": QualityRow(
        "join_room_success_ratio",
        "Share of room joins that succeeded within the threshold",
        media=False,
        threshold=True,
        default_threshold={"": Decimal("5")},
    ),
    "stall_rate": QualityRow(
        "stall_ratio",
        "Stall rate: share of call time stalled longer than the threshold",
        media=True,
        threshold=True,
        default_threshold={"audio": Decimal("0.08"), "video": Decimal("0.5")},
    ),
    "first_frame_send_success_rate": QualityRow(
        "first_frame_send_success_ratio",
        "First-frame send success rate",
        media=True,
        threshold=False,
        default_threshold={},
    ),
    "first_frame_recv_success_rate": QualityRow(
        "first_frame_decode_success_ratio",
        "First-frame receive/decode success rate (indicator first_frame_recv_success_rate)",
        media=True,
        threshold=False,
        default_threshold={},
    ),
    "network_trans_delay": QualityRow(
        "network_delay_within_threshold_ratio",
        "Share of call time with network transport delay within the threshold",
        media=True,
        threshold=True,
        default_threshold={"audio": Decimal("0.4"), "video": Decimal("0.4"), "": Decimal("0.4")},
    ),
}
SEED_UNIT = "%"


def _labels(row: QualityRow, report: bool) -> tuple[str, ...]:
    labels = ["app_id"]
    if row.media:
        labels.append("media")
    if row.threshold:
        labels.append("threshold")
    if report:
        labels.append("granularity")
    return tuple(labels)


def _specs(report: bool) -> tuple[MetricSpec, ...]:
    action = "ListQuality" if report else "ListRealTimeQuality"
    source = "quality_report" if report else "realtime_quality"
    prefix = "volcengine_rtc_report_" if report else "volcengine_rtc_"
    when = (
        "newest complete bucket of the configured granularity; a delayed report"
        if report
        else "newest complete bucket"
    )
    return tuple(
        MetricSpec(
            prefix + row.metric,
            f"{row.what}, 0..1. From Volcengine RTC {action} indicator {ind} ({when}; "
            f"percent / 100). Cached; refreshed every sources.{source} interval.",
            _labels(row, report),
        )
        for ind, row in INDICATORS.items()
    )


def quality_samples(
    result: IndicatorsResult,
    *,
    app_id: str,
    prefix: str,
    extra: tuple[tuple[str, str], ...],
    complete_after: float,
    now: float,
    to_base: Callable[[float, str, str, Kind], float | None],
) -> Snapshot:
    snap = Snapshot()
    for ind in result.indicators:
        parsed = parse_indicator_name(ind.name)
        row = INDICATORS.get(parsed.base) if parsed else None
        if parsed is None or row is None:
            log.debug("ignoring indicator %r", ind.name)
            continue
        newest = newest_complete(
            ((p.timestamp.timestamp(), p.value) for p in ind.data), complete_after, now
        )
        if newest is None:
            continue
        value = to_base(newest[1], ind.unit, SEED_UNIT, Kind.RATIO)
        if value is None:
            continue
        labels: list[tuple[str, str]] = [("app_id", app_id)]
        if row.media:
            labels.append(("media", parsed.media))
        if row.threshold:
            threshold = parsed.threshold
            if threshold is None:
                threshold = row.default_threshold.get(parsed.media)
            labels.append(("threshold", format_threshold(threshold) if threshold else ""))
        labels.extend(extra)
        snap.samples.append(Sample(prefix + row.metric, tuple(labels), value))
        snap.data_timestamp = max(snap.data_timestamp or 0.0, newest[0])
    return snap


class RealtimeQualitySource(Source[RealtimeQualitySettings]):
    """Live quality ratios.

    # TYPE volcengine_rtc_stall_ratio gauge
    volcengine_rtc_stall_ratio{app_id="661e...543cf",media="audio",threshold="0.08"} 0.0123
    volcengine_rtc_join_room_success_ratio{app_id="661e...543cf",threshold="5"} 0.9931
    """

    name = "realtime_quality"
    action = "ListRealTimeQuality"
    specs = _specs(report=False)

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = self.window(now, self.settings.window_seconds)
        result = self.client.list_realtime_quality(app.app_id, start, end, list(INDICATORS))
        return quality_samples(
            result,
            app_id=app.app_id,
            prefix="volcengine_rtc_",
            extra=(),
            complete_after=LIVE_BUCKET_SECONDS + self.settings.settle_seconds,
            now=now,
            to_base=self.to_base,
        )


class QualityReportSource(Source[QualityReportSettings]):
    """Report quality ratios (ListQuality), with a granularity label.

    # TYPE volcengine_rtc_report_stall_ratio gauge
    volcengine_rtc_report_stall_ratio{app_id="661e...543cf",media="video",threshold="0.5",
        granularity="1d"} 0.021
    """

    name = "quality_report"
    action = "ListQuality"
    specs = _specs(report=True)

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        g = self.settings.granularity
        bucket = GRANULARITY_SECONDS[g]
        start, end = self.window(now, self.settings.window_seconds, align=bucket)
        result = self.client.list_quality(app.app_id, start, end, list(INDICATORS), g)
        return quality_samples(
            result,
            app_id=app.app_id,
            prefix="volcengine_rtc_report_",
            extra=(("granularity", g),),
            complete_after=bucket + self.settings.settle_seconds,
            now=now,
            to_base=self.to_base,
        )
