"""Providers and their documented per-action quotas.

Volcengine documents 2 requests/s for the data APIs and 10/s for ListCallDetail, ListRoomInfo
and ListUserInfo (40/s for GetRoomOnlineUsers, 60/s for GetRecordTask). BytePlus documents much
lower limits for some actions, in requests per minute and per day; where its docs give no figure,
the Volcengine value is used (and may be wrong: override it in ``rate_limit.quotas``). Every
value can be overridden.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, model_validator

from exporter.limiter import Quota

__all__ = ["DEFAULT_PER_SECOND", "PROVIDERS", "Provider", "QuotaSettings"]

DEFAULT_PER_SECOND = 2.0  # the data APIs' documented quota on Volcengine

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


@dataclass(frozen=True)
class Provider:
    endpoint: str
    region: str
    quotas: dict[str, Quota]


PROVIDERS = {
    "volcengine": Provider("https://rtc.volcengineapi.com", "cn-north-1", _VOLCENGINE),
    "byteplus": Provider("https://open.byteplusapi.com", "ap-singapore-1", _BYTEPLUS),
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
