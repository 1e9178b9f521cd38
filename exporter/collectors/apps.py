"""Apps: ``ListApps`` -> ``volcengine_rtc_app_info`` and the discovered app list.

``AppKey``/``SecondaryAppKey`` are dropped by the response model and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from exporter.collectors.base import AppTarget, MetricSpec, Sample, Snapshot, Source
from exporter.models import App
from exporter.settings import AppsSettings

__all__ = ["AppsSnapshot", "AppsSource", "status_name"]

PAGE_SIZE = 100
MAX_PAGES = 100
_STATUS = {0: "creating", 1: "running", 6: "suspended_arrears", 98: "disabled"}


def status_name(status: int | str) -> str:
    if isinstance(status, str):
        if status.isdigit():
            status = int(status)
        else:
            return status
    return _STATUS.get(status, str(status))


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


class AppsSource(Source[AppsSettings]):
    """The account's apps.

    # TYPE volcengine_rtc_app_info gauge
    volcengine_rtc_app_info{app_id="661e...543cf",app_name="live-demo",status="running"} 1.0
    """

    name = "apps"
    action = "ListApps"
    specs = (INFO,)
    per_app = False

    def fetch(self, app: AppTarget, now: float) -> AppsSnapshot:
        found: dict[str, App] = {}
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.client.list_apps(limit=PAGE_SIZE, offset=offset)
            for a in page.app_list:
                found[a.app_id] = a
            offset += len(page.app_list)
            if not page.app_list or (page.total is not None and offset >= page.total):
                break
        snap = AppsSnapshot()
        snap.apps = {a.app_id: (a.app_name, status_name(a.status)) for a in found.values()}
        return snap


def info_samples(
    monitored: list[str], known: dict[str, tuple[str, str]], names: dict[str, str]
) -> list[Sample]:
    """app_info for every monitored app (status "unknown" where ListApps has not told)."""
    out = []
    for app_id in monitored:
        name, status = known.get(app_id, (names.get(app_id, ""), "unknown"))
        labels = (("app_id", app_id), ("app_name", name), ("status", status))
        out.append(Sample(INFO.name, labels, 1.0))
    return out
