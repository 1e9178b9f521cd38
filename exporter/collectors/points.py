"""Which vendor point becomes a sample: the rules every indicator-style source shares.

``indicator_samples()`` takes, per indicator, the newest *complete* bucket with a usable value:

* **Missing values** (``Value`` null or absent) are missing data: never 0, never counted.
* **Incomplete buckets** (bucket start + ``complete_after`` still ahead) are left for a later
  refresh, silently: that is the vendor's documented delay, not an error.
* **Future-dated points**: a point more than ``MAX_FUTURE_SKEW`` seconds ahead of our clock
  cannot be data yet (the vendor's clock runs ahead, or its answer is corrupt). It is skipped and
  counted as ``reason="future"``; the snapshot records how far ahead it was, so the refresher can
  log it and keep the source's data timestamp ageing (``RtcDataStale``). Up to the skew, a point
  is an ordinary one (two NTP-synchronised clocks never differ by that much).
* **Out-of-range values** (a ratio of 150 %, NaN, a negative count) are skipped and counted as
  ``reason="out_of_range"``; the bucket before is used, so a bad point costs that point only.
* **Duplicate timestamps**: when one series lists the same bucket more than once, the points
  whose values are valid decide. If they agree, that value is used. If they disagree, nobody can
  tell which statement is right (order in the list is no evidence: the API documents none), so
  the bucket is **not used**: its points are counted as ``reason="duplicate"`` and the newest
  earlier bucket that is unambiguous is exported instead (its older timestamp shows in
  ``source_data_timestamp_seconds``). An exporter that feeds alerts must not export a number the
  vendor contradicted in the same answer; one bucket older is honest, a coin toss is not. An
  out-of-range duplicate is simply invalid: it never hides the valid one.
* Across indicators (two records that map to the same series, e.g. the device-level metrics
  ListCallDetail may repeat in each downlink record) the newest timestamp wins and, at the same
  timestamp, the first record: that is the source's mapping, not a vendor contradiction.

``per_part()`` runs one part of a refresh (one ``ProductType``) at a time: an API error costs that
part only; the snapshot names the failed parts and the cache keeps serving their last good series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from exporter.errors import ApiError
from exporter.models import Point
from exporter.types import Labels, Sample, Snapshot
from exporter.units import Kind, OutOfRange, UnknownUnit, convert

__all__ = [
    "MAX_FUTURE_SKEW",
    "PART_REASONS",
    "Collected",
    "IndicatorLike",
    "RowLike",
    "indicator_samples",
    "newest_complete",
    "pick_point",
    "per_part",
]

MAX_FUTURE_SKEW = 120.0  # seconds a vendor timestamp may be ahead of our clock


class IndicatorLike(Protocol):
    @property
    def unit(self) -> str: ...

    @property
    def points(self) -> tuple[Point, ...]: ...


class RowLike(Protocol):
    @property
    def metric(self) -> str: ...

    @property
    def kind(self) -> Kind: ...

    @property
    def seed_unit(self) -> str: ...


def newest_complete(points: Iterable[Point], complete_after: float, now: float) -> Point | None:
    """The newest point with a value whose bucket is complete: ts + complete_after <= now."""
    best: Point | None = None
    for p in points:
        if p.value is None or p.ts + complete_after > now:
            continue
        if best is None or p.ts > best.ts:
            best = p
    return best


@dataclass
class Collected:
    """Values gathered for a snapshot: newest point per series, counts of what was skipped."""

    values: dict[tuple[str, Labels], tuple[float, float]] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    unknown_units: Counter[str] = field(default_factory=Counter)
    failed: dict[Labels, tuple[str, str]] = field(default_factory=dict)  # part -> reason, error
    ahead: float = 0.0  # seconds the furthest future-dated point was ahead

    def put(self, metric: str, labels: Labels, ts: float, value: float) -> None:
        key = (metric, labels)
        old = self.values.get(key)
        if old is None or old[0] < ts:
            self.values[key] = (ts, value)

    def _kept(self, labels: Labels) -> bool:
        return not any(set(part) <= set(labels) for part in self.failed)

    def snapshot(self, limit: int | None = None) -> tuple[Snapshot, int]:
        """The snapshot (at most ``limit`` series, in label order) and how many were cut."""
        items = sorted((k, v) for k, v in self.values.items() if self._kept(k[1]))
        dropped = 0
        if limit is not None and len(items) > limit:
            dropped = len(items) - limit
            items = items[:limit]
        snap = Snapshot(
            skipped=Counter(self.skipped),
            unknown_units=Counter(self.unknown_units),
            dropped=dropped,
            failed_parts=dict(self.failed),
            ahead_seconds=self.ahead,
        )
        for (metric, labels), (ts, value) in items:
            snap.add(Sample(metric, labels, value), ts)
        return snap, dropped


def pick_point(
    ind: IndicatorLike, row: RowLike, out: Collected, complete_after: float, now: float
) -> tuple[float, float] | None:
    """(bucket start, value in base units) of the newest complete, valid, unambiguous bucket of
    ``ind``; what is passed over on the way is counted in ``out`` (see the module docs)."""
    buckets: dict[float, list[float]] = {}
    for p in ind.points:
        if p.ts > now + MAX_FUTURE_SKEW:
            out.skipped["future"] += 1
            out.ahead = max(out.ahead, p.ts - now)
        elif p.value is not None and p.ts + complete_after <= now:
            buckets.setdefault(p.ts, []).append(p.value)
    for ts in sorted(buckets, reverse=True):
        values: set[float] = set()
        valid = 0
        for raw in buckets[ts]:
            try:
                values.add(convert(raw, ind.unit, row.seed_unit, row.kind))
                valid += 1
            except UnknownUnit as exc:  # the unit is the indicator's: no point of it is usable
                out.unknown_units[exc.unit] += 1
                return None
            except OutOfRange:
                out.skipped["out_of_range"] += 1
        if len(values) == 1:
            return ts, values.pop()
        if len(values) > 1:
            out.skipped["duplicate"] += valid
    return None


def indicator_samples(
    out: Collected,
    indicators: Iterable[IndicatorLike],
    resolve: Callable[[Any], tuple[Any, Labels] | None],
    *,
    prefix: str,
    complete_after: float,
    now: float,
) -> None:
    """The shared loop: resolve each indicator to a row and labels, take its newest complete
    usable point (``pick_point``), in base units, and put it into ``out``."""
    for ind in indicators:
        found = resolve(ind)
        if found is None:
            continue
        row, labels = found
        picked = pick_point(ind, row, out, complete_after, now)
        if picked is not None:
            out.put(prefix + row.metric, labels, *picked)


# errors the vendor gave about one request's content: another part may well answer. Throttling,
# timeouts, network and auth failures concern the action or the account: the refresh stops
# there (no quota spent on calls that would fail the same way).
PART_REASONS = frozenset({"server", "client", "schema"})


def per_part(
    out: Collected, label: str, values: Iterable[str], fetch: Callable[[str], None]
) -> None:
    """``fetch(value)`` for each value of a part label (``product_type``): an API error with a
    reason in ``PART_REASONS`` fails that part only (``out.failed``; its series, even those
    gathered before the error, are left out of the snapshot). Any other error, or every part
    failing, fails the refresh (the first error is raised)."""
    values = list(values)
    errors: list[ApiError] = []
    for value in values:
        try:
            fetch(value)
        except ApiError as exc:
            if exc.reason not in PART_REASONS:
                raise
            out.failed[((label, value),)] = (exc.reason, str(exc))
            errors.append(exc)
    if values and len(errors) == len(values):
        raise errors[0]
