"""Response models: only the fields the exporter uses (``extra="ignore"``).

``AppKey`` / ``SecondaryAppKey`` of ``ListApps`` are deliberately absent: they are token-signing
secrets and are dropped when the response is parsed, so they are never stored.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "App",
    "AppsResult",
    "CallDetailMetric",
    "CallDetailPoint",
    "CallDetailResult",
    "DataPoint",
    "Indicator",
    "IndicatorsResult",
    "UserCallDetail",
]


class _Resp(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)


class DataPoint(_Resp):
    timestamp: dt.datetime = Field(alias="TimeStamp")
    value: float | None = Field(default=None, alias="Value")

    @field_validator("timestamp")
    @classmethod
    def _aware(cls, v: dt.datetime) -> dt.datetime:
        if v.tzinfo is None:
            raise ValueError("TimeStamp has no UTC offset")
        return v


class Indicator(_Resp):
    name: str = Field(alias="Name")
    unit: str = Field(default="", alias="Unit")
    data: list[DataPoint] = Field(default_factory=list, alias="Data")

    @field_validator("unit", mode="before")
    @classmethod
    def _none_unit(cls, v: object) -> object:
        return "" if v is None else v

    @field_validator("data", mode="before")
    @classmethod
    def _none_data(cls, v: object) -> object:
        return [] if v is None else v


class IndicatorsResult(_Resp):
    indicators: list[Indicator] = Field(default_factory=list, alias="Indicators")

    @field_validator("indicators", mode="before")
    @classmethod
    def _none(cls, v: object) -> object:
        return [] if v is None else v


class CallDetailPoint(_Resp):
    time_ms: int = Field(alias="Time")
    value: float | None = Field(default=None, alias="Value")


class CallDetailMetric(_Resp):
    name: str = Field(default="", alias="Name")
    desc: str = Field(default="", alias="Desc")
    unit: str = Field(default="", alias="Unit")
    data: list[CallDetailPoint] = Field(default_factory=list, alias="Data")

    @field_validator("unit", "name", "desc", mode="before")
    @classmethod
    def _none_str(cls, v: object) -> object:
        return "" if v is None else v


class UserCallDetail(_Resp):
    room_id: str = Field(default="", alias="RoomId")
    user_id: str = Field(alias="UserId")
    peer_id: str = Field(default="", alias="PeerId")
    direction: str = Field(default="", alias="Direction")
    call_detail: list[CallDetailMetric] = Field(default_factory=list, alias="CallDetail")

    @field_validator("peer_id", "direction", "room_id", mode="before")
    @classmethod
    def _none_str(cls, v: object) -> object:
        return "" if v is None else v


class CallDetailResult(_Resp):
    user_call_detail: list[UserCallDetail] = Field(default_factory=list, alias="UserCallDetail")

    @field_validator("user_call_detail", mode="before")
    @classmethod
    def _none(cls, v: object) -> object:
        return [] if v is None else v


class App(_Resp):
    app_id: str = Field(alias="AppId")
    app_name: str = Field(default="", alias="AppName")
    status: int | str = Field(default="", alias="Status")


class AppsResult(_Resp):
    app_list: list[App] = Field(default_factory=list, alias="AppList")
    total: int | None = Field(default=None, alias="Total")

    @field_validator("total", mode="before")
    @classmethod
    def _int(cls, v: object) -> object:
        return int(v) if isinstance(v, str) and v.isdigit() else v
