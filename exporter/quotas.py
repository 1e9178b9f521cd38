"""Providers: endpoint, signing region, and per action the documented quotas, API versions and
distribution dimensions.

Quotas: Volcengine documents 2 requests/s for the data APIs and 10/s for ListCallDetail,
ListRoomInfo and ListUserInfo (40/s for GetRoomOnlineUsers, 60/s for GetRecordTask). BytePlus
documents much lower limits for some actions, in requests per minute and per day; where its docs
give no figure, the Volcengine value is used (and may be wrong: override it in
``rate_limit.quotas``). Every value can be overridden.

Versions: every data action exists in 2020-12-01 and 2023-11-01 (GetRoomOnlineUsers in
2023-08-01 and 2023-11-01; volc-sdk-golang ``service/rtc``). Volcengine's pages document both and
call 2023-11-01 the latest; BytePlus's pages show 2020-12-01 for ListQuality,
ListQualityDistribution, ListRealTimeQualityDistribution, ListCallDetail and ListRoomInfo, and
2023-11-01 for ListUserInfo and ListOperationDistribution. ``Provider.version_order`` is what
``exporter.versions`` tries, in order.

Dimensions: BytePlus's ListQualityDistribution page lists Country, OS and Access only (no
Province); everything else documents all four.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, model_validator

from exporter.limiter import Quota

__all__ = ["DEFAULT_PER_SECOND", "DIMENSIONS", "EXISTS", "PROVIDERS", "Provider", "QuotaSettings"]

DEFAULT_PER_SECOND = 2.0  # the data APIs' documented quota on Volcengine
V2020, V2023, V0801 = "2020-12-01", "2023-11-01", "2023-08-01"
_DATA_ACTIONS = (
    "ListRealTimeOperationData", "ListRealTimeQuality", "ListQuality", "ListOperationData",
    "ListQualityDistribution", "ListRealTimeQualityDistribution", "ListOperationDistribution",
    "ListCallDetail", "ListRoomInfo", "ListUserInfo", "ListApps",
)  # fmt: skip
# the versions each action exists in, newest first (volc-sdk-golang service/rtc/v2020xxxx...)
EXISTS: dict[str, tuple[str, ...]] = {a: (V2023, V2020) for a in _DATA_ACTIONS}
EXISTS["GetRoomOnlineUsers"] = (V2023, V0801)
# the distribution actions' Dimension values (the vendor's spelling)
DIMENSIONS = ("OS", "Access", "Province", "Country")

_VOLCENGINE: dict[str, Quota] = {
    "ListRealTimeOperationData": Quota(per_second=2),
    "ListRealTimeQuality": Quota(per_second=2),
    "ListQuality": Quota(per_second=2),
    "ListOperationData": Quota(per_second=2),
    "ListQualityDistribution": Quota(per_second=2),
    "ListRealTimeQualityDistribution": Quota(per_second=2),
    "ListOperationDistribution": Quota(per_second=2),
    "ListCallDetail": Quota(per_second=10),
    "ListRoomInfo": Quota(per_second=10),
    "ListUserInfo": Quota(per_second=10),
    "GetRoomOnlineUsers": Quota(per_second=40),
    "ListApps": Quota(per_second=2),  # not documented; treated like the data APIs
    # event callbacks: overdue in-flight recording tasks (60/s per user, documented)
    "GetRecordTask": Quota(per_second=60),
}

_BYTEPLUS: dict[str, Quota] = {
    **_VOLCENGINE,  # no BytePlus figure for the others: the Volcengine value
    "ListQuality": Quota(per_second=2, per_minute=10, per_day=60),
    "ListQualityDistribution": Quota(per_second=2, per_minute=10, per_day=60),
    "ListRealTimeQualityDistribution": Quota(per_second=2, per_minute=10, per_day=1440),
    "ListCallDetail": Quota(per_second=10, per_minute=10, per_day=10_000),
    "ListRoomInfo": Quota(per_second=10),
    "ListUserInfo": Quota(per_second=10),
}


# the versions BytePlus's pages show (docs.byteplus.com byteplus-rtc docs-124667, 163728, 163729,
# 172151/1186717, 156026, 1186716, 163727); the other actions have no BytePlus page
_BYTEPLUS_VERSIONS: dict[str, tuple[str, ...]] = {
    "ListQuality": (V2020,),
    "ListQualityDistribution": (V2020,),
    "ListRealTimeQualityDistribution": (V2020,),
    "ListCallDetail": (V2020,),
    "ListRoomInfo": (V2020,),
    "ListUserInfo": (V2023, V2020),
    "ListOperationDistribution": (V2023,),
}
_BYTEPLUS_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "ListQualityDistribution": ("OS", "Access", "Country"),
}


@dataclass(frozen=True)
class Provider:
    endpoint: str
    region: str
    quotas: dict[str, Quota]
    versions: dict[str, tuple[str, ...]] = field(
        default_factory=dict
    )  # documented, preferred first
    dimensions: dict[str, tuple[str, ...]] = field(default_factory=dict)  # where not all four

    def version_order(self, action: str, configured: str | None = None) -> tuple[str, ...]:
        """Versions to try for ``action``: the configured one (if the action exists in it),
        those this provider documents, then the others the action exists in."""
        exists = EXISTS.get(action, (V2023, V2020))
        first = (configured,) if configured in exists else ()
        return tuple(dict.fromkeys((*first, *self.versions.get(action, ()), *exists)))

    def documents(self, action: str, dimension: str) -> bool:
        """Whether this provider's page for ``action`` lists ``dimension``."""
        return dimension in self.dimensions.get(action, DIMENSIONS)


PROVIDERS = {
    "volcengine": Provider("https://rtc.volcengineapi.com", "cn-north-1", _VOLCENGINE),
    "byteplus": Provider(
        "https://open.byteplusapi.com",
        "ap-singapore-1",
        _BYTEPLUS,
        _BYTEPLUS_VERSIONS,
        _BYTEPLUS_DIMENSIONS,
    ),
}


class QuotaSettings(BaseModel):
    """``rate_limit.quotas.<Action>``: the account's quota for one action."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    per_second: float | None = Field(default=None, ge=0.001, le=10_000)
    per_minute: float | None = Field(default=None, ge=0.01, le=600_000)
    per_day: float | None = Field(default=None, ge=1, le=100_000_000)

    @model_validator(mode="after")
    def _one(self) -> QuotaSettings:
        if self.per_second is None and self.per_minute is None and self.per_day is None:
            raise ValueError("set at least one of per_second, per_minute, per_day")
        return self

    def quota(self) -> Quota:
        return Quota(self.per_second, self.per_minute, self.per_day)
