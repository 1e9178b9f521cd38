"""Apps: ``ListApps`` -> ``volcengine_rtc_app_info`` and the discovered app list.

A spike (an answer adding more apps than ``spike_min_apps`` and than are monitored now) is held
back until a second answer confirms it (``Targets.set_discovered``); vanished apps go at once.

``AppKey``/``SecondaryAppKey`` are dropped by the parser and never stored; only their SHA-256
digests are handed to the log scrubber, so a vendor message echoing a key is redacted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.metrics_core import Metric
from pydantic import Field

from exporter.collectors.base import (
    Source,
    SourceSettings,
    TargetView,
    build_families,
    interval_field,
    register,
)
from exporter.types import AppTarget, MetricSpec, Sample, Snapshot

__all__ = ["AppsSettings", "AppsSnapshot", "AppsSource", "status_name"]

PAGE_SIZE = 100
MAX_PAGES = 100
_STATUS = {"0": "creating", "1": "running", "6": "suspended_arrears", "98": "disabled"}


def status_name(status: str) -> str:
    return _STATUS.get(status, status)


@dataclass
class AppsSnapshot(Snapshot):
    apps: dict[str, tuple[str, str]] = field(default_factory=dict)  # app_id -> (name, status)


INFO = MetricSpec(
    "volcengine_rtc_app_info",
    "Monitored RTC app (value 1) with its name and status (creating, running, "
    "suspended_arrears, disabled, or the number). From Volcengine RTC ListApps. Cached; "
    "refreshed every sources.apps interval.",
    ("app_id", "app_name", "status"),
)


class AppsSettings(SourceSettings):
    interval_seconds: float = interval_field(600.0)
    statuses: list[str] = Field(
        default_factory=lambda: ["running"],
        min_length=1,
        description="with discovery, monitor apps whose status is one of these",
    )
    spike_min_apps: int = Field(
        default=10,
        ge=0,
        le=1_000_000,
        description="a ListApps answer adding more apps than this and than are monitored now "
        "is a spike: the new apps are polled only once a second answer (within a minute) "
        "confirms them",
    )


@register
class AppsSource(Source[AppsSettings]):
    """The account's apps.

    # TYPE volcengine_rtc_app_info gauge
    volcengine_rtc_app_info{app_id="661e...543cf",app_name="live-demo",status="running"} 1.0
    """

    name = "apps"
    title = "Apps"
    actions = ("ListApps",)
    settings_model = AppsSettings
    specs = (INFO,)
    order = 90
    scope = "account"
    discovers_apps = True

    def calls(self, app: AppTarget) -> dict[str, int]:
        return {"ListApps": 1}  # one page per 100 apps; one is the common case

    def fetch(self, app: AppTarget, now: float) -> AppsSnapshot:
        found: dict[str, tuple[str, str]] = {}
        snap = AppsSnapshot()
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.client.list_apps(limit=PAGE_SIZE, offset=offset)
            snap.skipped.update(page.skipped)
            for a in page.apps:
                found[a.app_id] = (a.app_name, status_name(a.status))
            offset += len(page.apps)
            if not page.apps or (page.total is not None and offset >= page.total):
                break
        snap.apps = found
        return snap

    def contribute(self, snapshot: Snapshot, targets: Any) -> None:
        if isinstance(snapshot, AppsSnapshot):
            targets.set_discovered(snapshot.apps, spike_min=self.settings.spike_min_apps)

    def build(self, fresh: list[Snapshot], view: TargetView) -> Iterable[Metric]:
        """app_info for every monitored app (status "unknown" where ListApps has not told)."""
        known: dict[str, tuple[str, str]] = {}
        for snap in fresh:
            if isinstance(snap, AppsSnapshot):
                known.update(snap.apps)
        names = view.app_names()
        samples = []
        for target in view.current():
            name, status = known.get(target.app_id, (names.get(target.app_id, ("", ""))[0], ""))
            labels = (
                ("app_id", target.app_id),
                ("app_name", name),
                ("status", status or "unknown"),
            )
            samples.append(Sample(INFO.name, labels, 1.0))
        return build_families([INFO], samples)
