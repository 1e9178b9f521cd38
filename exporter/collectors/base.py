"""What every source has in common, and the one registry of sources.

A source is one vendor API area. ``fetch()`` runs on the refresh side (a worker thread, in either
refresh mode), calls the client and turns the answer into a ``Snapshot`` of samples in base
units. ``build()`` runs when the cache changes and is pure: snapshots in, metric families out.

Each source class declares, in one place, everything the rest of the exporter needs: its name
(the ``source`` label and the ``sources.<name>`` config key), title, API actions, settings model
and metric specs. ``@register`` adds it to the registry and refuses a duplicate or an incomplete
declaration; settings, telemetry, docs, the CLI summary, the planner and the landing page all
read ``registered()``.

Indicator-style sources describe their mapping with one table shape, ``IndicatorRow``, and share
one loop, ``indicator_samples()`` (in ``points.py``, with the rules for missing, incomplete,
future-dated, out-of-range and duplicate points): newest complete point, unit conversion from the
returned unit (seed unit as fallback), unknown units and unreadable points counted.
"""

from __future__ import annotations

import datetime as dt
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, Protocol, TypeVar

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, ConfigDict, Field, model_validator

from exporter.client import VolcClient
from exporter.collectors.points import (
    MAX_FUTURE_SKEW,
    Collected,
    IndicatorLike,
    indicator_samples,
    newest_complete,
    per_part,
)
from exporter.types import AppTarget, Labels, MetricSpec, Sample, Snapshot
from exporter.units import Kind, conversion_help

__all__ = [
    "HOUR",
    "DAY",
    "MAX_FUTURE_SKEW",
    "Collected",
    "IndicatorLike",
    "IndicatorRow",
    "RegistrationError",
    "Source",
    "SourceSettings",
    "TargetView",
    "WindowedSettings",
    "build_families",
    "family_specs",
    "interval_field",
    "settle_field",
    "window_field",
    "indicator_samples",
    "newest_complete",
    "per_part",
    "register",
    "registered",
]

HOUR = 3600.0
DAY = 86400.0
MIN_INTERVAL = 1.0
MAX_INTERVAL = 7 * DAY


# -- settings ---------------------------------------------------------------------------------


def interval_field(default: float) -> Any:
    """``interval_seconds``: how often the source refreshes (the planner may lengthen it)."""
    return Field(default=default, ge=MIN_INTERVAL, le=MAX_INTERVAL)


def window_field(default: float) -> Any:
    """``window_seconds``: the query window ending now."""
    return Field(default=default, ge=60, le=7 * DAY)


def settle_field(default: float) -> Any:
    """``settle_seconds``: a bucket counts as complete this long after it ends."""
    return Field(default=default, ge=0, le=DAY)


class SourceSettings(BaseModel):
    """Settings every source has: ``sources.<name>.*``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = True
    interval_seconds: float = interval_field(60.0)
    max_staleness_seconds: float | None = Field(
        default=None,
        ge=MIN_INTERVAL,
        le=30 * DAY,
        description="default: 3 x the effective interval (the planner may lengthen it)",
    )


class WindowedSettings(SourceSettings):
    """Sources that query a time window ending now."""

    window_seconds: float = window_field(600.0)
    settle_seconds: float = settle_field(0.0)

    max_window: ClassVar[float] = HOUR  # the API's maximum span

    @model_validator(mode="after")
    def _check_window(self) -> WindowedSettings:
        if self.window_seconds > self.max_window:
            raise ValueError(
                f"window_seconds {self.window_seconds:g} exceeds the API's maximum "
                f"of {self.max_window:g}s for this source"
            )
        return self


S = TypeVar("S", bound=SourceSettings)


class TargetView(Protocol):
    """What ``build()`` may read about the monitored apps (implemented by ``Targets``)."""

    @property
    def version(self) -> int:
        """Changes whenever ``current()`` may."""

    def current(self) -> list[AppTarget]: ...

    def app_names(self) -> dict[str, tuple[str, str]]:
        """app_id -> (name, status) for every monitored app."""


# -- sources ------------------------------------------------------------------------------------


class Source(ABC, Generic[S]):
    """One vendor API area. Subclasses declare the class variables below and ``fetch()``."""

    name: ClassVar[str]
    title: ClassVar[str]  # for docs and the landing page, e.g. "Live quality"
    actions: ClassVar[tuple[str, ...]]
    settings_model: ClassVar[type[SourceSettings]]
    specs: ClassVar[tuple[MetricSpec, ...]]
    order: ClassVar[int]  # position in docs and listings
    scope: ClassVar[Literal["app", "account"]] = "app"
    discovers_apps: ClassVar[bool] = False  # runs first while the app list is unknown
    feeds_watch_list: ClassVar[bool] = False  # contribute() picks users to watch automatically
    # planned in traffic tiers: busy apps at the configured interval, the tail in chunks
    tiered: ClassVar[bool] = False
    feeds_traffic: ClassVar[bool] = False  # its online users sort the apps into traffic tiers
    judged: ClassVar[bool] = False  # its values can trigger a diagnosis (exporter.triggers)
    diagnoses: ClassVar[bool] = False  # focus() fetches what a trigger asks for

    def __init__(self, client: VolcClient, settings: S, tz: dt.tzinfo) -> None:
        self.settings = settings
        self.client = client
        self.tz = tz

    def wants(self, app: AppTarget) -> bool:
        """Whether this source has anything to fetch for ``app``."""
        return True

    def calls(self, app: AppTarget) -> dict[str, int]:
        """Vendor calls one refresh of ``app`` needs, by action (for the quota planner)."""
        return {self.actions[0]: 1}

    def begin_cycle(self) -> None:
        """Called once before each refresh cycle over all apps."""

    def cycle_apps(
        self, apps: Sequence[AppTarget], monitored: frozenset[str], first: int
    ) -> frozenset[str]:
        """Called before ``begin_cycle`` with the cycle's apps, in order (the ``first`` of them
        in trouble or busy), and every app monitored (a tiered source's cycle refreshes only
        some of the tail apps). Returns apps whose series to drop at the end of the cycle."""
        return frozenset()

    def focus(
        self, app: AppTarget, now: float, indicator: str, product_type: str, old: Snapshot | None
    ) -> Snapshot:
        """A triggered fetch (``diagnoses`` sources): ``old`` with ``indicator``'s series of
        ``product_type`` replaced by a fresh answer."""
        raise NotImplementedError(f"source {self.name} does not fetch on demand")

    @abstractmethod
    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        """Call the API for one app (``app_id=""`` for account-scope sources)."""

    def contribute(self, snapshot: Snapshot, targets: Any) -> None:
        """After a successful fetch: feed discovery (apps, watched rooms) into ``targets``."""

    def build(self, fresh: list[Snapshot], view: TargetView) -> Iterable[Metric]:
        """Metric families from the fresh snapshots of every app. Pure."""
        return build_families(self.specs, (s for snap in fresh for s in snap.samples))

    # helpers ---------------------------------------------------------------------------------

    def window(
        self, now: float, seconds: float, align: float = 0.0
    ) -> tuple[dt.datetime, dt.datetime]:
        end = dt.datetime.fromtimestamp(int(now), self.tz)
        start = end - dt.timedelta(seconds=seconds)
        if align:
            # align the start to a bucket boundary in the API's time zone (never earlier than
            # the allowed span: move forward, not back)
            offset = start.utcoffset() or dt.timedelta(0)
            local = start.timestamp() + offset.total_seconds()
            aligned = -(-local // align) * align  # ceil
            start = dt.datetime.fromtimestamp(aligned - offset.total_seconds(), self.tz)
        return start, end


class RegistrationError(TypeError):
    """A source class is declared incompletely or registered twice."""


_REGISTRY: dict[str, type[Source[Any]]] = {}
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_ACTION = re.compile(r"^[A-Z][A-Za-z]+$")


def register(cls: type[Source[Any]]) -> type[Source[Any]]:
    """Class decorator: add a source to the registry, refusing duplicates and gaps."""
    missing = [
        attr
        for attr in ("name", "title", "actions", "settings_model", "specs", "order")
        if not hasattr(cls, attr)
    ]
    if missing:
        raise RegistrationError(f"source {cls.__name__} does not declare {', '.join(missing)}")
    if not _NAME.match(cls.name):
        raise RegistrationError(f"source name {cls.name!r} must be lower_snake_case")
    if cls.name in _REGISTRY:
        raise RegistrationError(f"source {cls.name!r} is registered twice")
    if not cls.actions or not all(_ACTION.match(a) for a in cls.actions):
        raise RegistrationError(f"source {cls.name!r}: actions must be API action names")
    if not issubclass(cls.settings_model, SourceSettings):
        raise RegistrationError(f"source {cls.name!r}: settings_model is not a SourceSettings")
    if not cls.specs:
        raise RegistrationError(f"source {cls.name!r} exports no metric family")
    taken = {spec.name: other.name for other in _REGISTRY.values() for spec in other.specs}
    for spec in cls.specs:
        if spec.name in taken:
            raise RegistrationError(f"family {spec.name} is already exported by {taken[spec.name]}")
    _REGISTRY[cls.name] = cls
    return cls


def registered() -> list[type[Source[Any]]]:
    """Every registered source, in documentation order."""
    return sorted(_REGISTRY.values(), key=lambda c: (c.order, c.name))


# -- one table shape, one loop ----------------------------------------------------------------


@dataclass(frozen=True)
class IndicatorRow:
    """One vendor indicator (or ListCallDetail metric) -> one exported family.

    ``key`` is the vendor's name (the base name of a quality indicator, or a ListCallDetail
    ``Desc``), ``alias`` a second key (a ListCallDetail ``Name``). ``metric`` is the family name
    without the source's prefix. ``labels`` are fixed labels of this row; ``label_names`` the
    labels the source fills in per value (e.g. ``media``, ``threshold``). ``thresholds`` gives
    the documented default threshold per medium when a returned name has none.
    """

    key: str
    metric: str
    kind: Kind
    what: str
    seed_unit: str = ""
    labels: Labels = ()
    label_names: tuple[str, ...] = ()
    alias: str = ""
    per_peer: bool = False  # receive-side client metric: one series per PeerId
    thresholds: Labels = ()


def family_specs(
    rows: Iterable[IndicatorRow],
    *,
    prefix: str,
    base_labels: tuple[str, ...],
    help_for: Callable[[IndicatorRow, list[IndicatorRow]], str],
    extra_labels: tuple[str, ...] = (),
) -> tuple[MetricSpec, ...]:
    """One spec per family of ``rows`` (several rows may share a family), in row order."""
    families: dict[str, list[IndicatorRow]] = {}
    for row in rows:
        families.setdefault(row.metric, []).append(row)
    specs = []
    for metric, group in families.items():
        names: list[str] = list(base_labels)
        for row in group:
            for name in (*row.label_names, *(k for k, _ in row.labels)):
                if name not in names:
                    names.append(name)
        names += [n for n in extra_labels if n not in names]
        specs.append(MetricSpec(prefix + metric, help_for(group[0], group), tuple(names)))
    return tuple(specs)


def row_help(row: IndicatorRow, action: str, keys: Sequence[str], note: str, source: str) -> str:
    """The HELP text of a family: what, action and indicator(s), conversion, caching."""
    return (
        f"{row.what}. From Volcengine RTC {action} {', '.join(keys)} ({note}; "
        f"{conversion_help(row.kind, row.seed_unit)}). Cached; refreshed every "
        f"sources.{source} interval."
    )


def build_families(specs: Sequence[MetricSpec], samples: Iterable[Sample]) -> list[Metric]:
    """Group samples into gauge families, one per spec, in spec order. Pure."""
    families = {
        spec.name: GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))
        for spec in specs
    }
    label_order = {spec.name: spec.labels for spec in specs}
    seen: set[tuple[str, Labels]] = set()
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
