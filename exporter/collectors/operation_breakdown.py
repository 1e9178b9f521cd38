"""Users by region: ``ListOperationDistribution`` (``user_count`` by Province or Country).

The answer has no time axis: one value per region over the queried window. The window is the
last complete day (in the API's time zone) at least the report delay old, so the value never
covers a day still being counted. ``Proportion`` is a percentage (÷ 100). Region names
(``DistributionName``) are exported as returned, trimmed, in the ``segment`` label, under the
``max_breakdown_series`` cap. The API takes no ``ProductType``: one call per dimension per app.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from exporter.collectors.base import (
    DAY,
    HOUR,
    Collected,
    Source,
    SourceSettings,
    interval_field,
    register,
    settle_field,
)
from exporter.collectors.breakdown import DIMENSIONS, SeriesBudget, complete_days, max_series_field
from exporter.types import AppTarget, Labels, MetricSpec, Snapshot
from exporter.units import Kind, OutOfRange, convert

__all__ = ["OperationBreakdownSettings", "OperationBreakdownSource"]

ACTION = "ListOperationDistribution"
DELAY_SECONDS = 8 * HOUR  # documented data delay
LABELS = ("app_id", "dimension", "segment")
_NOTE = (
    "From Volcengine RTC ListOperationDistribution indicator user_count by Dimension (segment: "
    "DistributionName as returned), over the last complete day; a delayed report"
)
USERS = MetricSpec(
    "volcengine_rtc_report_breakdown_users",
    f"Distinct users in calls, by region. {_NOTE} (Value; no conversion). Cached; refreshed "
    "every sources.operation_breakdown interval.",
    LABELS,
)
SHARE = MetricSpec(
    "volcengine_rtc_report_breakdown_users_share_ratio",
    f"Share of the app's users in the region, 0..1. {_NOTE} (Proportion; percent / 100). "
    "Cached; refreshed every sources.operation_breakdown interval.",
    LABELS,
)
Region = Literal["province", "country"]


def _regions() -> list[Region]:
    return ["province", "country"]


class OperationBreakdownSettings(SourceSettings):
    interval_seconds: float = interval_field(HOUR)
    settle_seconds: float = settle_field(DELAY_SECONDS)
    dimensions: list[Region] = Field(
        default_factory=_regions, min_length=1, description="province, country: one call each"
    )
    max_breakdown_series: int = max_series_field()

    @field_validator("dimensions")
    @classmethod
    def _unique(cls, v: list[Region]) -> list[Region]:
        return list(dict.fromkeys(v))


@register
class OperationBreakdownSource(Source[OperationBreakdownSettings]):
    """Users by province or country over the last complete day.

    # TYPE volcengine_rtc_report_breakdown_users gauge
    volcengine_rtc_report_breakdown_users{app_id="661e...543cf",dimension="province",
        segment="上海"} 666.0
    """

    name = "operation_breakdown"
    title = "Users by region"
    actions = (ACTION,)
    settings_model = OperationBreakdownSettings
    order = 45
    specs = (USERS, SHARE)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = SeriesBudget(self.settings.max_breakdown_series)

    def begin_cycle(self) -> None:
        self.budget.reset()

    def calls(self, app: AppTarget) -> dict[str, int]:
        return {ACTION: len(self.settings.dimensions)}

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = complete_days(self, now, self.settings.settle_seconds, DAY)
        day = start.timestamp()
        out = Collected()
        for dimension in self.settings.dimensions:
            result = self.client.operation_distribution(
                app.app_id, start, end, DIMENSIONS[dimension]
            )
            out.skipped.update(result.skipped)
            for segment, users, share in result.segments:
                labels = (("app_id", app.app_id), ("dimension", dimension), ("segment", segment))
                _put(out, USERS.name, labels, day, users, "", Kind.PLAIN)
                _put(out, SHARE.name, labels, day, share, "%", Kind.RATIO)
        return self.budget.take(out)


def _put(
    out: Collected,
    metric: str,
    labels: Labels,
    ts: float,
    value: float | None,
    unit: str,
    kind: Kind,
) -> None:
    if value is None:
        return  # missing data: no sample, never 0
    try:
        out.put(metric, labels, ts, convert(value, unit, unit, kind))
    except OutOfRange:
        out.skipped["out_of_range"] += 1
