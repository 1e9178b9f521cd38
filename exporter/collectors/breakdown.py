"""Quality breakdowns: ``ListRealTimeQualityDistribution`` (live) and ``ListQualityDistribution``
(report), the quality indicators split by one dimension per call.

Both APIs take one ``Indicator``, one ``Dimension`` and one ``ProductType`` per call, so a refresh
of one app costs indicators x dimensions x product types calls (5 x 2 x 2 = 20 at the live
defaults). Each point carries its group in ``Dimension`` (the segment: ``android``, ``wifi``, a
province ...): it is exported as returned, trimmed, never rewritten, in the ``segment`` label, and
the newest complete point is taken per segment. The answers carry no ``Unit``: values are
percentages (the quality table's seed unit). The families reuse the quality table (``ROWS`` and
``quality_labels()`` of ``exporter.collectors.quality``) with ``breakdown_`` / ``report_breakdown_``
after the namespace. Every source here caps its series per refresh cycle over all apps
(``max_breakdown_series``); what is cut is counted in ``series_dropped_total``.

The report window: the bucket length of ``ListQualityDistribution`` is not documented (per day,
or one aggregate over the window). The window therefore ends at the last day boundary (in the
API's time zone) that is at least the report delay old, and spans ``window_seconds`` back from
there: whatever the bucket length, every value used is complete.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar, Literal, get_args

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
from exporter.collectors.budget import SeriesBudget
from exporter.collectors.dimensions import API_DIMENSION, DimensionPolicy, provider_of

# the same buckets and delays as the live and report quality APIs
from exporter.collectors.quality import (
    LIVE_BUCKET_SECONDS,
    LIVE_DELAY_SECONDS,
    REPORT_DELAY_SECONDS,
    ROWS,
    ProductType,
    product_types_field,
    quality_labels,
)
from exporter.models import Indicator, Point
from exporter.types import AppTarget, Labels, Snapshot

__all__ = [
    "DIMENSIONS",
    "BreakdownSettings",
    "ReportBreakdownSettings",
    "ReportBreakdownSource",
    "RealtimeBreakdownSource",
    "SeriesBudget",
    "complete_days",
    "max_series_field",
    "segments",
]

LIVE = "ListRealTimeQualityDistribution"
REPORT = "ListQualityDistribution"
DIMENSIONS = API_DIMENSION  # the ``dimension`` label -> the API's Dimension value
Dimension = Literal["os", "network", "province", "country"]
IndicatorName = Literal[
    "join_room_success_rate",
    "stall_rate",
    "first_frame_send_success_rate",
    "first_frame_recv_success_rate",
    "network_trans_delay",
]
EXTRA = ("dimension", "segment")


def _dimensions(*names: Dimension) -> Callable[[], list[Dimension]]:
    return lambda: list(names)


def _all_indicators() -> list[IndicatorName]:
    return list(get_args(IndicatorName))


def max_series_field() -> Any:
    return Field(
        default=5000,
        ge=0,
        le=1_000_000,
        description="series cap of this source per refresh cycle over all apps",
    )


class BreakdownSettings(WindowedSettings):
    """``sources.realtime_breakdown``; the report settings below change only the defaults."""

    interval_seconds: float = interval_field(300.0)
    window_seconds: float = window_field(600.0)
    settle_seconds: float = settle_field(LIVE_DELAY_SECONDS)
    dimensions: list[Dimension] = Field(
        default_factory=_dimensions("os", "network"),
        min_length=1,
        description="os, network, province, country: one call per indicator and product type each",
    )
    indicators: list[IndicatorName] = Field(
        default_factory=_all_indicators,
        min_length=1,
        description="quality indicators to split (default: all five)",
    )
    product_types: list[ProductType] = product_types_field()
    max_breakdown_series: int = max_series_field()

    @field_validator("dimensions", "indicators", "product_types")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        return list(dict.fromkeys(v))

    def calls_per_app(self) -> int:
        return len(self.indicators) * len(self.dimensions) * len(self.product_types)


class ReportBreakdownSettings(BreakdownSettings):
    interval_seconds: float = interval_field(HOUR)
    window_seconds: float = window_field(DAY)
    settle_seconds: float = settle_field(REPORT_DELAY_SECONDS)
    dimensions: list[Dimension] = Field(
        default_factory=_dimensions("os", "network", "province"),
        min_length=1,
        description="os, network, province, country: one call per indicator and product type each",
    )
    max_window: ClassVar[float] = 7 * DAY


def complete_days(
    source: Source[Any], now: float, settle: float, span: float
) -> tuple[dt.datetime, dt.datetime]:
    """A window of ``span`` seconds ending at the newest day boundary (in the API's time zone)
    that is at least ``settle`` seconds old: complete report data only."""
    local = dt.datetime.fromtimestamp(int(now - settle), source.tz)
    end = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return end - dt.timedelta(seconds=span), end


@dataclass(frozen=True)
class _Segment:
    """The points of one indicator for one segment (an ``IndicatorLike``)."""

    name: str
    unit: str
    points: tuple[Point, ...]
    segment: str


def segments(indicators: list[Indicator]) -> list[_Segment]:
    """Split each indicator's points by their segment, in order of appearance."""
    out = []
    for ind in indicators:
        groups: dict[str, list[Point]] = defaultdict(list)
        for p in ind.points:
            groups[p.segment].append(p)
        out += [_Segment(ind.name, ind.unit, tuple(pts), seg) for seg, pts in groups.items()]
    return out


def _help(action: str, source: str, note: str) -> Any:
    def help_for(row: IndicatorRow, _: list[IndicatorRow]) -> str:
        keys = [f"indicator {row.key} by Dimension (segment as returned)"]
        return row_help(row, action, keys, note, source)

    return help_for


class _QualityBreakdown(Source[BreakdownSettings]):
    action: ClassVar[str]
    prefix: ClassVar[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = SeriesBudget(self.settings.max_breakdown_series)
        s = self.settings
        explicit = "dimensions" in s.model_fields_set
        self.dimensions = DimensionPolicy(
            self.name, self.action, provider_of(self.client), s.dimensions, explicit
        )

    def cycle_apps(
        self, apps: Sequence[AppTarget], monitored: frozenset[str], first: int
    ) -> frozenset[str]:
        return self.budget.plan([a.app_id for a in apps], monitored, first)

    def begin_cycle(self) -> None:
        self.budget.reset()

    def calls(self, app: AppTarget) -> dict[str, int]:
        s = self.settings
        per_type = len(s.indicators) * len(self.dimensions.active())
        return {self.action: per_type * len(s.product_types)}

    @abstractmethod
    def query_window(self, now: float) -> tuple[tuple[dt.datetime, dt.datetime], float, float]:
        """(start, end), and (complete_after, as of) for ``newest_complete``."""

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        (start, end), complete_after, as_of = self.query_window(now)
        out = Collected()
        s = self.settings

        def one(product_type: str) -> None:  # a product type fails on its own (per_part)
            # a refused dimension costs its calls only; a round per product type, so that a
            # product type the vendor refuses as a whole is not mistaken for refused dimensions
            calls = self.dimensions.round()
            for indicator in s.indicators:
                for dimension in self.dimensions.active():
                    result = calls.call(dimension, partial(
                        self.client.query_distribution, self.action, app.app_id, start, end,
                        indicator, DIMENSIONS[dimension], product_type,
                    ))  # fmt: skip
                    if result is None:
                        continue
                    out.skipped.update(result.skipped)
                    base: Labels = (("app_id", app.app_id), ("product_type", product_type))
                    self._collect(out, result.indicators, base, dimension, complete_after, as_of)
            calls.finish(out.skipped)

        per_part(out, "product_type", s.product_types, one)
        return self.budget.take(out, app.app_id)

    def _round(
        self, app: AppTarget, now: float, out: Collected, indicator: str, product_type: str
    ) -> None:
        """Every active dimension of one indicator and product type (one DimensionRound)."""
        (start, end), complete_after, as_of = self.query_window(now)
        calls = self.dimensions.round()
        for dimension in self.dimensions.active():
            result = calls.call(dimension, partial(
                self.client.query_distribution, self.action, app.app_id, start, end,
                indicator, DIMENSIONS[dimension], product_type,
            ))  # fmt: skip
            if result is None:
                continue
            out.skipped.update(result.skipped)
            base: Labels = (("app_id", app.app_id), ("product_type", product_type))
            self._collect(out, result.indicators, base, dimension, complete_after, as_of)
        calls.finish(out.skipped)

    def focus(
        self, app: AppTarget, now: float, indicator: str, product_type: str, old: Snapshot | None
    ) -> Snapshot:
        out = Collected()
        self._round(app, now, out, indicator, product_type)
        fresh, _ = out.snapshot()  # a triggered answer is never cut by the series cap
        families = {self.prefix + row.metric for row in ROWS if row.key == indicator}
        part = ("product_type", product_type)
        kept = [
            s
            for s in (old.samples if old is not None else [])
            if s.metric not in families or part not in s.labels
        ]
        merged = Snapshot(
            samples=kept + fresh.samples,
            data_timestamp=max(
                (t for t in (fresh.data_timestamp, old and old.data_timestamp) if t), default=None
            ),
            skipped=fresh.skipped,
            unknown_units=fresh.unknown_units,
            failed_parts=dict(old.failed_parts) if old is not None else {},
        )
        self.budget.hold(app.app_id, len(merged.samples))
        return merged

    def _collect(
        self,
        out: Collected,
        indicators: list[Indicator],
        base: Labels,
        dimension: str,
        complete_after: float,
        as_of: float,
    ) -> None:
        def resolve(seg: _Segment) -> tuple[IndicatorRow, Labels] | None:
            found = quality_labels(seg.name)
            if found is None:
                return None
            extra = (("dimension", dimension), ("segment", seg.segment))
            return found[0], base + found[1] + extra

        indicator_samples(
            out,
            segments(indicators),
            resolve,
            prefix=self.prefix,
            complete_after=complete_after,
            now=as_of,
        )


@register
class RealtimeBreakdownSource(_QualityBreakdown):
    """Live quality ratios split by OS, network, province or country.

    # TYPE volcengine_rtc_breakdown_stall_ratio gauge
    volcengine_rtc_breakdown_stall_ratio{app_id="661e...543cf",product_type="native",
        media="video",threshold="0.5",dimension="network",segment="4g"} 0.031
    """

    name = "realtime_breakdown"
    title = "Live quality breakdown"
    actions = (LIVE,)
    action = LIVE
    prefix = "volcengine_rtc_breakdown_"
    settings_model = BreakdownSettings
    order = 25
    tiered = True
    diagnoses = True
    specs = family_specs(
        ROWS,
        prefix=prefix,
        base_labels=("app_id", "product_type"),
        help_for=_help(LIVE, "realtime_breakdown", "newest complete bucket per segment"),
        extra_labels=EXTRA,
    )

    def query_window(self, now: float) -> tuple[tuple[dt.datetime, dt.datetime], float, float]:
        s = self.settings
        return self.window(now, s.window_seconds), LIVE_BUCKET_SECONDS + s.settle_seconds, now


@register
class ReportBreakdownSource(_QualityBreakdown):
    """Report quality ratios split by OS, network, province or country (complete days only).

    # TYPE volcengine_rtc_report_breakdown_join_room_success_ratio gauge
    volcengine_rtc_report_breakdown_join_room_success_ratio{app_id="661e...543cf",
        product_type="native",threshold="5",dimension="province",segment="广东"} 0.9934
    """

    name = "report_breakdown"
    title = "Quality report breakdown"
    actions = (REPORT,)
    action = REPORT
    prefix = "volcengine_rtc_report_breakdown_"
    settings_model = ReportBreakdownSettings
    order = 35
    specs = family_specs(
        ROWS,
        prefix=prefix,
        base_labels=("app_id", "product_type"),
        help_for=_help(
            REPORT,
            "report_breakdown",
            "newest point per segment of the window ending at the last complete day; "
            "a delayed report",
        ),
        extra_labels=EXTRA,
    )

    def query_window(self, now: float) -> tuple[tuple[dt.datetime, dt.datetime], float, float]:
        s = self.settings
        start, end = complete_days(self, now, s.settle_seconds, s.window_seconds)
        # every point of the window is complete; one starting at its end is not in it
        return (start, end), 1.0, end.timestamp()
