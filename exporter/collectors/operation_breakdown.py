"""Users by region: ``ListOperationDistribution`` (``user_count`` by Province or Country).

The answer has no time axis: one value per region over the queried window. The window is the
last complete day (in the API's time zone) at least the report delay old, so the value never
covers a day still being counted. Region names (``DistributionName``) are exported as returned,
trimmed, in the ``segment`` label, under the ``max_breakdown_series`` cap. The API takes no
``ProductType``: one call per dimension per app.

``Proportion`` (占比) has no documented scale: the docs' example (Value 666.00, Proportion 66.66)
reads as a percentage, but nothing says so. The scale is read from the answers of each refresh
(``ShareScale``): shares of one dimension add up to at most 100 (percent) or 1 (fraction), give
or take their two-decimal rounding. A sum above 1 proves percent; a country sum of about 1
proves fraction (countries cover every user); another dimension's sum of about 1 is taken as
fraction only while nothing is known; otherwise the scale learned earlier is kept. With no
evidence at all the shares are not exported (``share_scale_unknown``); shares summing above
100, a refresh proving both scales, and a refresh proving another scale than the one learned
(the first such refresh: which one was right is not known) are not exported either
(``share_scale_mismatch``), all counted in ``points_skipped_total`` and the change logged: a
share 100 times off must never pass the 0..1 range check unnoticed. User counts are exported
either way.
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
        factors = self.scale.factors(answers, app.app_id, out.skipped)
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
        self, answers: list[tuple[str, SegmentsResult]], app_id: str, skipped: Counter[str]
    ) -> list[float | None]:
        """Per (dimension, answer): the factor that turns its shares into ratios, or None (not
        exported)."""
        sums = [(dimension, *_sum(r)) for dimension, r in answers]
        percent = any(total > 1 + tol for _, total, tol, _ in sums)
        # only the country dimension covers every user: its shares add up to 1 in fraction
        # and to about 100 in percent, so a sum of 1 there proves fraction; elsewhere a sum
        # of 1 is a guess (1 % of the users in China look like fractions)
        ones = [dimension for dimension, total, tol, n in sums if n and abs(total - 1) <= tol]
        fraction = "country" in ones
        with self._lock:
            before = self._known
            found = 0.01 if percent else 1.0 if fraction or (ones and before is None) else None
            conflict = (percent and fraction) or None not in (found, before) and found != before
            if found is not None and not (percent and fraction):
                self._known = found
            scale = None if conflict else self._known
        names = {None: "unknown", 0.01: "percent", 1.0: "fraction"}
        if conflict:
            log.warning("ListOperationDistribution Proportion scale disagrees; shares skipped",
                        app_id=app_id, source="operation_breakdown", before=names[before],
                        now="both" if percent and fraction else names[found])  # fmt: skip
        elif found is not None and found != before:
            log.warning("ListOperationDistribution Proportion scale detected", app_id=app_id,
                        source="operation_breakdown", scale=names[found],
                        before=names[before])  # fmt: skip
        out: list[float | None] = []
        for _, total, tol, n in sums:
            if n and (total > 100 + tol or conflict):
                skipped["share_scale_mismatch"] += n  # fits neither scale, or disagrees
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
