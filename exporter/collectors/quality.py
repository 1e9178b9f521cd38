"""Quality: ``ListRealTimeQuality`` (live) and ``ListQuality`` (report), one table for both.

Returned indicator names carry threshold and media parts (``80ms_audio_stall_rate``); they are
parsed with the grammar in ``exporter.units.parse_indicator_name``. When a name has no threshold,
the seed's documented default for that indicator and medium is used. Both APIs take
``ProductType`` (``native``, the API's default, or ``web``): each product type configured is one
call per app, and every family carries the ``product_type`` label.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

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
    per_part,
    register,
    row_help,
    settle_field,
    window_field,
)
from exporter.models import Indicator
from exporter.types import AppTarget, Labels, Snapshot
from exporter.units import Kind, format_threshold, parse_indicator_name

__all__ = [
    "GRANULARITY_SECONDS",
    "ROWS",
    "product_types_field",
    "QualityReportSource",
    "RealtimeQualitySource",
    "quality_labels",
]

LIVE = "ListRealTimeQuality"
REPORT = "ListQuality"
LIVE_BUCKET_SECONDS = 30.0  # [inferred] realtime quality buckets
LIVE_DELAY_SECONDS = 60.0  # documented data delay
REPORT_DELAY_SECONDS = 8 * HOUR  # documented data delay
GRANULARITY_SECONDS = {"1d": DAY, "1h": HOUR, "5min": 300.0}
ProductType = Literal["native", "web"]

_MT = ("media", "threshold")
# the quality table: the same indicators feed live, report and breakdown families
ROWS: tuple[IndicatorRow, ...] = (
    IndicatorRow(
        "join_room_success_rate", "join_room_success_ratio", Kind.RATIO,
        "Share of room joins that succeeded within the threshold, 0..1", "%",
        label_names=("threshold",), thresholds=(("", "5"),),
    ),
    IndicatorRow(
        "stall_rate", "stall_ratio", Kind.RATIO,
        "Stall rate: share of call time stalled longer than the threshold, 0..1", "%",
        label_names=_MT, thresholds=(("audio", "0.08"), ("video", "0.5")),
    ),
    IndicatorRow(
        "first_frame_send_success_rate", "first_frame_send_success_ratio", Kind.RATIO,
        "First-frame send success rate, 0..1", "%", label_names=("media",),
    ),
    IndicatorRow(
        "first_frame_recv_success_rate", "first_frame_decode_success_ratio", Kind.RATIO,
        "First-frame receive/decode success rate, 0..1", "%", label_names=("media",),
    ),
    IndicatorRow(
        "network_trans_delay", "network_delay_within_threshold_ratio", Kind.RATIO,
        "Share of call time with network transport delay within the threshold, 0..1", "%",
        label_names=_MT, thresholds=(("audio", "0.4"), ("video", "0.4"), ("", "0.4")),
    ),
)  # fmt: skip
_BY_KEY = {row.key: row for row in ROWS}


def quality_labels(name: str) -> tuple[IndicatorRow, Labels] | None:
    """Row and (media, threshold) labels of a returned quality indicator name, or None."""
    parsed = parse_indicator_name(name)
    row = _BY_KEY.get(parsed.base) if parsed else None
    if parsed is None or row is None:
        return None
    labels: list[tuple[str, str]] = []
    if "media" in row.label_names:
        labels.append(("media", parsed.media))
    if "threshold" in row.label_names:
        threshold = parsed.threshold
        if threshold is None:
            default = dict(row.thresholds).get(parsed.media)
            threshold = Decimal(default) if default else None
        labels.append(("threshold", format_threshold(threshold) if threshold else ""))
    return row, tuple(labels)


def _all_product_types() -> list[ProductType]:
    return ["native", "web"]


def product_types_field() -> Any:
    """``product_types``: the ProductType values to query, one call each (default both)."""
    return Field(
        default_factory=_all_product_types,
        min_length=1,
        description="ProductType values to query (native, web): one call per app each",
    )


class _QualitySettings(WindowedSettings):
    product_types: list[ProductType] = product_types_field()

    @field_validator("product_types")
    @classmethod
    def _unique(cls, v: list[ProductType]) -> list[ProductType]:
        return list(dict.fromkeys(v))


class RealtimeQualitySettings(_QualitySettings):
    interval_seconds: float = interval_field(60.0)
    window_seconds: float = window_field(600.0)
    settle_seconds: float = settle_field(LIVE_DELAY_SECONDS)


class QualityReportSettings(_QualitySettings):
    interval_seconds: float = interval_field(HOUR)
    window_seconds: float = window_field(3 * DAY)
    settle_seconds: float = settle_field(REPORT_DELAY_SECONDS)
    granularity: Literal["1d", "5min"] = "1d"
    max_window = 7 * DAY


def _collect(
    source: Source[RealtimeQualitySettings] | Source[QualityReportSettings],
    app: AppTarget,
    now: float,
    *,
    action: str,
    prefix: str,
    extra: Labels,
    complete_after: float,
    align: float = 0.0,
    **params: str,
) -> Snapshot:
    start, end = source.window(now, source.settings.window_seconds, align=align)
    out = Collected()

    def one(product_type: str) -> None:
        result = source.client.query_indicators(
            action, app.app_id, start, end, list(_BY_KEY), ProductType=product_type, **params
        )
        out.skipped.update(result.skipped)
        base: Labels = (("app_id", app.app_id), ("product_type", product_type))

        def resolve(ind: Indicator) -> tuple[IndicatorRow, Labels] | None:
            found = quality_labels(ind.name)
            return (found[0], base + found[1] + extra) if found else None

        indicator_samples(
            out,
            result.indicators,
            resolve,
            prefix=prefix,
            complete_after=complete_after,
            now=now,
        )

    # each product type fails and recovers on its own (native keeps going while web fails)
    per_part(out, "product_type", source.settings.product_types, one)
    return out.snapshot()[0]


@register
class RealtimeQualitySource(Source[RealtimeQualitySettings]):
    """Live quality ratios, per product type.

    # TYPE volcengine_rtc_stall_ratio gauge
    volcengine_rtc_stall_ratio{app_id="661e...543cf",product_type="native",media="audio",
        threshold="0.08"} 0.0123
    """

    name = "realtime_quality"
    title = "Live quality"
    actions = (LIVE,)
    settings_model = RealtimeQualitySettings
    order = 20
    tiered = True
    judged = True
    specs = family_specs(
        ROWS,
        prefix="volcengine_rtc_",
        base_labels=("app_id", "product_type"),
        help_for=lambda row, _: row_help(
            row, LIVE, [f"indicator {row.key}"], "newest complete bucket", "realtime_quality"
        ),
    )

    def calls(self, app: AppTarget) -> dict[str, int]:
        return {LIVE: len(self.settings.product_types)}

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        return _collect(
            self,
            app,
            now,
            action=LIVE,
            prefix="volcengine_rtc_",
            extra=(),
            complete_after=LIVE_BUCKET_SECONDS + self.settings.settle_seconds,
        )


@register
class QualityReportSource(Source[QualityReportSettings]):
    """Report quality ratios (ListQuality), with a granularity label.

    # TYPE volcengine_rtc_report_stall_ratio gauge
    volcengine_rtc_report_stall_ratio{app_id="661e...543cf",product_type="web",media="video",
        threshold="0.5",granularity="1d"} 0.021
    """

    name = "quality_report"
    title = "Quality report"
    actions = (REPORT,)
    settings_model = QualityReportSettings
    order = 30
    specs = family_specs(
        ROWS,
        prefix="volcengine_rtc_report_",
        base_labels=("app_id", "product_type"),
        help_for=lambda row, _: row_help(
            row,
            REPORT,
            [f"indicator {row.key}"],
            "newest complete bucket of the configured granularity; a delayed report",
            "quality_report",
        ),
        extra_labels=("granularity",),
    )

    def calls(self, app: AppTarget) -> dict[str, int]:
        return {REPORT: len(self.settings.product_types)}

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        g = self.settings.granularity
        bucket = GRANULARITY_SECONDS[g]
        return _collect(
            self,
            app,
            now,
            action=REPORT,
            prefix="volcengine_rtc_report_",
            extra=(("granularity", g),),
            complete_after=bucket + self.settings.settle_seconds,
            align=bucket,
            AggregateGranularity=g,
        )
