"""What every source has in common.

A source is one vendor API area. ``fetch()`` runs on the refresh side (scheduler thread or a
scrape in scrape mode), calls the client and turns the answer into a ``Snapshot`` of samples in
base units. ``build()`` runs on every scrape and is pure: snapshots in, metric families out.
"""

from __future__ import annotations

import datetime as dt
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Generic, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from exporter.client import VolcClient
from exporter.telemetry import Telemetry
from exporter.units import Kind, UnknownUnit, convert

__all__ = [
    "AppTarget",
    "MetricSpec",
    "Sample",
    "Snapshot",
    "Source",
    "build_families",
    "newest_complete",
]

log = logging.getLogger(__name__)

S = TypeVar("S")


@dataclass(frozen=True)
class MetricSpec:
    """One exported family: name, HELP and label names (in exposition order)."""

    name: str
    help: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Sample:
    metric: str
    labels: tuple[tuple[str, str], ...]
    value: float


@dataclass
class Snapshot:
    samples: list[Sample] = field(default_factory=list)
    data_timestamp: float | None = None  # start of the newest vendor bucket used


@dataclass(frozen=True)
class AppTarget:
    app_id: str
    call_detail: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (room_id, user_ids)


def newest_complete(
    points: Iterable[tuple[float, float | None]], complete_after: float, now: float
) -> tuple[float, float] | None:
    """The newest (timestamp, value) whose bucket is complete: ts + complete_after <= now.

    Points without a value are missing data, never zero.
    """
    best: tuple[float, float] | None = None
    for ts, value in points:
        if value is None or ts + complete_after > now:
            continue
        if best is None or ts > best[0]:
            best = (ts, value)
    return best


class Source(ABC, Generic[S]):
    """One vendor API area. Subclasses declare ``name``, ``action`` and ``specs``."""

    name: ClassVar[str]
    action: ClassVar[str]
    specs: ClassVar[tuple[MetricSpec, ...]]
    per_app: ClassVar[bool] = True

    def __init__(
        self, client: VolcClient, telemetry: Telemetry, tz: dt.timezone, settings: S
    ) -> None:
        self.settings = settings
        self.client = client
        self.telemetry = telemetry
        self.tz = tz
        self._warned_units: set[tuple[str, str]] = set()

    def begin_cycle(self) -> None:
        """Called once before each refresh cycle over all apps."""

    def wants(self, app: AppTarget) -> bool:
        return True

    @abstractmethod
    def fetch(self, app: AppTarget, now: float) -> Snapshot: ...

    def build(self, snapshots: Iterable[Snapshot]) -> Iterable[Metric]:
        return build_families(self.specs, (s for snap in snapshots for s in snap.samples))

    # helpers ---------------------------------------------------------------------------------

    def window(
        self, now: float, seconds: float, align: float = 0.0
    ) -> tuple[dt.datetime, dt.datetime]:
        end = dt.datetime.fromtimestamp(int(now), self.tz)
        start = end - dt.timedelta(seconds=seconds)
        if align:
            # align the start to a bucket boundary in the API's time zone (never earlier than
            # the allowed span: move forward, not back)
            offset = self.tz.utcoffset(None).total_seconds()
            local = start.timestamp() + offset
            aligned = -(-local // align) * align  # ceil
            start = dt.datetime.fromtimestamp(aligned - offset, self.tz)
        return start, end

    def to_base(self, value: float, api_unit: str, seed_unit: str, kind: Kind) -> float | None:
        try:
            return convert(value, api_unit, seed_unit, kind)
        except UnknownUnit as exc:
            self.telemetry.unknown_unit.labels(self.action, exc.unit).inc()
            key = (self.action, exc.unit)
            if key not in self._warned_units:
                self._warned_units.add(key)
                log.warning(
                    "skipping values with an unknown unit action=%s unit=%r expected=%s",
                    self.action,
                    exc.unit,
                    kind.value,
                )
            return None


def build_families(specs: Sequence[MetricSpec], samples: Iterable[Sample]) -> list[Metric]:
    """Group samples into gauge families, one per spec, in spec order. Pure."""
    families = {
        spec.name: GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for spec in specs
    }
    label_order = {spec.name: spec.labels for spec in specs}
    seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for sample in samples:
        fam = families.get(sample.metric)
        if fam is None:
            continue
        key = (sample.metric, sample.labels)
        if key in seen:
            continue
        seen.add(key)
        values = dict(sample.labels)
        fam.add_metric([values.get(n, "") for n in label_order[sample.metric]], sample.value)
    return list(families.values())
