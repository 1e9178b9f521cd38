"""Grafana dashboards built with grafana-foundation-sdk, one module per dashboard.

Every panel links to the metric reference; every dashboard shows firing ``Rtc*`` alerts as
annotations and has cluster (when configured), job and instance variables.
"""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.client_watch import client_watch
from exporter.mixin.dashboards.diagnosis import diagnosis
from exporter.mixin.dashboards.events import events
from exporter.mixin.dashboards.health import health
from exporter.mixin.dashboards.overview import overview
from exporter.mixin.dashboards.panels import DashboardSpec, Scope, build_dashboard
from exporter.mixin.dashboards.report import report

__all__ = ["DASHBOARDS", "build_dashboards", "dashboard_specs"]

DASHBOARDS = (
    "rtc-overview",
    "rtc-diagnosis",
    "rtc-daily-report",
    "rtc-client-watch",
    "rtc-exporter-health",
    "rtc-events",
)


def dashboard_specs(cfg: MixinConfig) -> list[DashboardSpec]:
    return [overview(cfg), diagnosis(cfg), report(cfg), client_watch(cfg), health(cfg), events(cfg)]


def build_dashboards(cfg: MixinConfig) -> dict[str, dict[str, Any]]:
    """uid -> dashboard JSON model."""
    return {s.uid: build_dashboard(cfg, s, Scope(cfg)) for s in dashboard_specs(cfg)}
