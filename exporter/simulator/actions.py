"""The action table: one frozen ``ActionSpec`` per simulated vendor action.

Methods, versions, spans, lookbacks, delays, granularities and per-provider quotas follow the
team's API notes (§2, §3, §4): Volcengine from its docs pages, BytePlus from its pages. Where a
BytePlus page was not found, the Volcengine value is used (marked "volc value").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from exporter.simulator import actions_data as d
from exporter.simulator import actions_rooms as r
from exporter.simulator import recordings as rec
from exporter.simulator.quotas import Quota
from exporter.simulator.validate import Ctx

__all__ = ["ACTIONS", "PROVIDERS", "ActionSpec", "quota_key"]

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
V2020, V2023, V0801 = "2020-12-01", "2023-11-01", "2023-08-01"
BOTH = (V2020, V2023)
# provider -> signing region
PROVIDERS = {"volcengine": "cn-north-1", "byteplus": "ap-singapore-1"}


def _q(volc: Quota, byteplus: Quota | None = None) -> dict[str, Quota]:
    return {"volcengine": volc, "byteplus": byteplus or volc}


_DATA = Quota(second=2)  # Volcengine: 2/s for every data API
_BP_REPORT = Quota(minute=10, day=60)


@dataclass(frozen=True)
class ActionSpec:
    name: str
    method: str
    versions: tuple[str, ...]
    handler: Callable[[Ctx], dict[str, Any]]
    quotas: Mapping[str, Quota]
    max_span: float = 0.0  # 0: the action has no time window
    max_lookback: float = 0.0
    delay: float = 0.0
    granularities: tuple[str, ...] = ()
    clamp_span: bool = False  # a longer span is silently cut to max_span
    needs_app: bool = True
    error_description: bool = False  # errors carry Description (ListRoomInfo, ListUserInfo)
    # a parameter that switches to a separate quota (GetRoomOnlineUsers Property=true)
    variant: Callable[[Mapping[str, Any]], bool] | None = None
    variant_quota: Quota | None = None
    # where a provider's pages show fewer: (provider, versions) and (provider, Dimension values)
    provider_versions: tuple[tuple[str, tuple[str, ...]], ...] = ()
    provider_dimensions: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def versions_for(self, provider: str) -> tuple[str, ...]:
        """The versions this provider serves (its pages' versions where it has a page)."""
        return dict(self.provider_versions).get(provider, self.versions)

    def dimensions_for(self, provider: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return dict(self.provider_dimensions).get(provider, default)


def _property(params: Mapping[str, Any]) -> bool:
    return str(params.get("Property", "")).lower() == "true"


def quota_key(spec: ActionSpec, params: Mapping[str, Any]) -> str:
    if spec.variant is not None and spec.variant(params):
        return f"{spec.name}(Property=true)"
    return spec.name


# BytePlus's pages show one version for these (docs-124667, 163728, 163729, 172151/1186717,
# 156026, 163727): the simulated BytePlus serves only that one
_BP2020 = (("byteplus", (V2020,)),)
_BP2023 = (("byteplus", (V2023,)),)

_SPECS = (
    ActionSpec("ListRealTimeOperationData", "POST", BOTH, d.list_realtime_operation_data,
               _q(_DATA),  # BytePlus page not found: volc value
               max_span=HOUR, max_lookback=HOUR, delay=20.0),
    ActionSpec("ListRealTimeQuality", "POST", BOTH, d.list_realtime_quality,
               _q(_DATA),  # BytePlus page not found: volc value
               max_span=HOUR, max_lookback=HOUR, delay=60.0),
    ActionSpec("ListQuality", "POST", BOTH, d.list_quality, _q(_DATA, _BP_REPORT),
               max_span=7 * DAY, max_lookback=30 * DAY, delay=8 * HOUR,
               granularities=("1d", "5min"), provider_versions=_BP2020),
    ActionSpec("ListOperationData", "POST", BOTH, d.list_operation_data,
               _q(_DATA),  # BytePlus page not found: volc value
               max_span=7 * DAY, max_lookback=30 * DAY, delay=8 * HOUR,
               granularities=("1d", "1h")),
    ActionSpec("ListRealTimeQualityDistribution", "POST", BOTH,
               d.list_realtime_quality_distribution, _q(_DATA, Quota(minute=10, day=1440)),
               max_span=HOUR, max_lookback=HOUR, delay=60.0, provider_versions=_BP2020),
    ActionSpec("ListQualityDistribution", "POST", BOTH, d.list_quality_distribution,
               _q(_DATA, _BP_REPORT), max_span=7 * DAY, max_lookback=30 * DAY, delay=8 * HOUR,
               provider_versions=_BP2020,
               # BytePlus's page lists Country, OS and Access only
               provider_dimensions=(("byteplus", ("OS", "Access", "Country")),)),
    ActionSpec("ListOperationDistribution", "POST", BOTH, d.list_operation_distribution,
               _q(_DATA),  # BytePlus page shows no limit: volc value
               max_span=7 * DAY, max_lookback=30 * DAY, delay=8 * HOUR,
               provider_versions=_BP2023),
    ActionSpec("ListCallDetail", "GET", BOTH, r.list_call_detail,
               _q(Quota(second=10), Quota(minute=10, day=10000)),
               max_span=HOUR, max_lookback=6 * DAY, delay=100.0, provider_versions=_BP2020),
    ActionSpec("ListRoomInfo", "GET", BOTH, r.list_room_info, _q(Quota(second=10)),
               max_span=DAY, max_lookback=14 * DAY, delay=20.0, clamp_span=True,
               error_description=True, provider_versions=_BP2020),
    ActionSpec("GetRoomOnlineUsers", "GET", (V0801, V2023), r.get_room_online_users,
               _q(Quota(second=40)),  # BytePlus page not found: volc value
               variant=_property, variant_quota=Quota(second=1)),
    ActionSpec("ListUserInfo", "GET", BOTH, r.list_user_info, _q(Quota(second=10)),
               max_span=6 * HOUR, max_lookback=14 * DAY, delay=100.0, clamp_span=True,
               error_description=True),
    ActionSpec("ListApps", "POST", BOTH, r.list_apps,
               _q(_DATA),  # undocumented in both: treated like the data APIs
               needs_app=False),
    ActionSpec("GetRecordTask", "GET", (V2020, "2022-06-01", "2023-06-01", V2023),
               rec.get_record_task, _q(Quota(second=60))),  # 60/s per user, both clouds
)  # fmt: skip

ACTIONS: dict[str, ActionSpec] = {s.name: s for s in _SPECS}
