"""Users by region: ``ListOperationDistribution`` (``user_count`` by Province or Country).

The answer has no time axis: one value per region over the queried window. The window is the
last complete day (in the API's time zone) at least the report delay old, so the value never
covers a day still being counted. Region names (``DistributionName``) are exported as returned,
trimmed, in the ``segment`` label, under the ``max_breakdown_series`` cap. The API takes no
``ProductType``: one call per dimension per app.

``Proportion`` (占比) has no documented scale: the docs' example (Value 666.00, Proportion 66.66)
reads as a percentage, but nothing says so. The scale is read from the answers of each refresh
(``ShareScale``): shares of one dimension add up to at most 100 (percent) or 1 (fraction), give
or take their two-decimal rounding. A sum above 1 proves percent; otherwise a sum of about 1
means fraction; otherwise the scale learned earlier is kept. With no evidence at all, or shares
summing above 100, the shares of that answer are not exported and are counted
(``points_skipped_total{reason="share_scale_unknown"|"share_scale_mismatch"}``): a share 100
times too small must never pass the 0..1 range check unnoticed. User counts are exported either
way.
"""

from __future__ import annotations

import threading
from collections import Counter
from functools import partial
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
from exporter.collectors.dimensions import DimensionPolicy, provider_of
from exporter.log import get_logger
from exporter.models import SegmentsResult
from exporter.types import AppTarget, Labels, MetricSpec, Snapshot
from exporter.units import Kind, OutOfRange, convert

__all__ = ["OperationBreakdownSettings", "OperationBreakdownSource"]

log = get_logger(__name__)

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
    f"Share of the app's users in the region, 0..1. {_NOTE} (Proportion; percent / 100, or "
    "as is when the answer's shares add up to 1). "
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
        s = self.settings
        self.dimensions = DimensionPolicy(
            self.name, ACTION, provider_of(self.client), s.dimensions,
            "dimensions" in s.model_fields_set,
        )  # fmt: skip
        self.scale = ShareScale()

    def begin_cycle(self) -> None:
        self.budget.reset()

    def calls(self, app: AppTarget) -> dict[str, int]:
        return {ACTION: len(self.dimensions.active())}

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = complete_days(self, now, self.settings.settle_seconds, DAY)
        day = start.timestamp()
        out = Collected()
        calls = self.dimensions.round()  # a refused dimension costs its call only
        answers: list[tuple[str, SegmentsResult]] = []
        for dimension in self.dimensions.active():
            result = calls.call(dimension, partial(
                self.client.operation_distribution, app.app_id, start, end, DIMENSIONS[dimension]
            ))  # fmt: skip
            if result is not None:
                out.skipped.update(result.skipped)
                answers.append((dimension, result))
        calls.finish(out.skipped)
        factors = self.scale.factors([r for _, r in answers], app.app_id, out.skipped)
        for (dimension, result), factor in zip(answers, factors, strict=True):
            for segment, users, share in result.segments:
                labels = (("app_id", app.app_id), ("dimension", dimension), ("segment", segment))
                _put(out, USERS.name, labels, day, users, None)
                if factor is not None:
                    _put(out, SHARE.name, labels, day, share, factor)
        return self.budget.take(out)


def _put(
    out: Collected,
    metric: str,
    labels: Labels,
    ts: float,
    value: float | None,
    factor: float | None,
) -> None:
    """A user count (``factor`` None: no conversion) or a share times ``factor`` (0.01 for a
    percentage, 1 for a fraction), range-checked."""
    if value is None:
        return  # missing data: no sample, never 0
    try:
        if factor is None:
            result = convert(value, "", "", Kind.PLAIN)
        else:
            result = float(f"{value * factor:.12g}")
            if not 0.0 <= result <= 1.0:  # NaN fails too
                raise OutOfRange(f"{result!r} is outside 0..1")
        out.put(metric, labels, ts, result)
    except OutOfRange:
        out.skipped["out_of_range"] += 1


class ShareScale:
    """The scale of ``Proportion``, read from the answers (see the module's docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._known: float | None = None  # 0.01 (percent) or 1.0 (fraction)

    def factors(
        self, answers: list[SegmentsResult], app_id: str, skipped: Counter[str]
    ) -> list[float | None]:
        """Per answer: the factor that turns its shares into ratios, or None (not exported)."""
        sums = [_sum(r) for r in answers]
        percent = any(total > 1 + tol for total, tol, _ in sums)
        fraction = not percent and any(abs(total - 1) <= tol for total, tol, n in sums if n)
        with self._lock:
            before = self._known
            found = 0.01 if percent else 1.0 if fraction else None
            self._known = found or before
            scale = self._known
        if found is not None and found != before:
            names = {None: "unknown", 0.01: "percent", 1.0: "fraction"}
            log.warning("ListOperationDistribution Proportion scale detected", app_id=app_id,
                        source="operation_breakdown", scale=names[found],
                        before=names[before])  # fmt: skip
        out: list[float | None] = []
        for total, tol, n in sums:
            if n and total > 100 + tol:
                skipped["share_scale_mismatch"] += n  # fits neither scale
                out.append(None)
            elif n and scale is None:
                skipped["share_scale_unknown"] += n
                out.append(None)
            else:
                out.append(scale)
        return out


def _sum(result: SegmentsResult) -> tuple[float, float, int]:
    """(sum of the shares, its rounding tolerance, how many shares); a share outside 0..100 is
    wrong in either scale and left out (it is counted as out_of_range on its own)."""
    shares = [p for _, _, p in result.segments if p is not None and 0 <= p <= 100]
    return sum(shares), 0.005 * len(shares) + 0.01, len(shares)
