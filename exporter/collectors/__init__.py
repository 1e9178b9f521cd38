"""The sources, one per vendor API area, keyed by name (the ``source`` label)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exporter.client import VolcClient
from exporter.collectors.apps import AppsSource
from exporter.collectors.base import AppTarget, MetricSpec, Sample, Snapshot, Source
from exporter.collectors.call_detail import CallDetailSource
from exporter.collectors.operation_report import OperationReportSource
from exporter.collectors.quality import QualityReportSource, RealtimeQualitySource
from exporter.collectors.realtime_operation import RealtimeOperationSource
from exporter.settings import Settings
from exporter.telemetry import Telemetry

__all__ = [
    "SOURCE_CLASSES",
    "AppTarget",
    "MetricSpec",
    "Sample",
    "Snapshot",
    "Source",
    "all_specs",
    "make_sources",
]

SOURCE_CLASSES: tuple[type[Source[Any]], ...] = (
    RealtimeOperationSource,
    RealtimeQualitySource,
    QualityReportSource,
    OperationReportSource,
    CallDetailSource,
    AppsSource,
)


def all_specs() -> list[tuple[str, MetricSpec]]:
    """(source name, spec) for every vendor family, in documentation order."""
    return [(cls.name, spec) for cls in SOURCE_CLASSES for spec in cls.specs]


def make_sources(
    settings: Settings, client: VolcClient, telemetry: Telemetry
) -> dict[str, Source[Any]]:
    """Instantiate the enabled sources with their settings."""
    tz = dt.timezone(dt.timedelta(seconds=settings.utc_offset_seconds))
    out: dict[str, Source[Any]] = {}
    for cls in SOURCE_CLASSES:
        src_settings = getattr(settings.sources, cls.name)
        if src_settings.enabled:
            out[cls.name] = cls(client, telemetry, tz, src_settings)
    return out
