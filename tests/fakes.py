"""A fake client for pure source tests: fetch -> samples with no HTTP, no runtime.

The fake answers each call from a payload function (the ``Result`` object the API would send)
and parses it with the real parsers, so a source test exercises the table, the shared loop and
the parsing, and records every call the source made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from exporter.client import MAX_CALL_DETAIL_USERS, MAX_USER_INFO_USERS
from exporter.collectors import source_class
from exporter.collectors.base import Source
from exporter.errors import ApiError
from exporter.models import (
    AppsPage,
    CallDetailResult,
    IndicatorsResult,
    SegmentsResult,
    parse_apps,
    parse_call_detail,
    parse_indicators,
    parse_operation_distribution,
    sanitize,
)
from exporter.models_rooms import (
    OnlineUsers,
    RoomPage,
    UserInfoPage,
    parse_online_users,
    parse_room_info,
    parse_user_info,
)
from exporter.quotas import PROVIDERS
from exporter.types import Sample, Snapshot

TZ = dt.timezone(dt.timedelta(hours=8))
T = 1704196800.0  # 2024-01-02T12:00:00Z = 20:00+08:00

Payload = Callable[[dict[str, Any]], dict[str, Any]]
# an answer: a payload function, or an ApiError the fake raises (a refused or failed call)
Answer = Payload | ApiError


def ts(offset: float) -> str:
    """RFC 3339 in +08:00, ``offset`` seconds from T."""
    return dt.datetime.fromtimestamp(T + offset, TZ).isoformat()


class FakeClient:
    def __init__(self, answers: dict[str, Answer], provider: str = "volcengine") -> None:
        self.provider = PROVIDERS[provider]
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _answer(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((action, params))
        answer = self.answers[action]
        if isinstance(answer, ApiError):
            raise answer
        return sanitize(answer(params))  # type: ignore[no-any-return]

    def actions(self) -> list[str]:
        return [a for a, _ in self.calls]

    def params_of(self, action: str) -> list[dict[str, Any]]:
        """The parameters of every call of ``action``, in order."""
        return [p for a, p in self.calls if a == action]

    def query_indicators(
        self, action: str, app_id: str, start: dt.datetime, end: dt.datetime,
        indicators: list[str], **extra: str,
    ) -> IndicatorsResult:  # fmt: skip
        params = {"AppId": app_id, "StartTime": start, "EndTime": end, "Indicator": indicators}
        return parse_indicators(self._answer(action, params | extra), action, TZ)

    def query_distribution(
        self, action: str, app_id: str, start: dt.datetime, end: dt.datetime,
        indicator: str, dimension: str, product_type: str,
    ) -> IndicatorsResult:  # fmt: skip
        params = {
            "AppId": app_id, "StartTime": start, "EndTime": end, "Indicator": indicator,
            "Dimension": dimension, "ProductType": product_type,
        }  # fmt: skip
        return parse_indicators(self._answer(action, params), action, TZ, segmented=True)

    def list_call_detail(
        self, app_id: str, start: dt.datetime, end: dt.datetime, room_id: str, user_ids: list[str]
    ) -> CallDetailResult:
        assert 1 <= len(user_ids) <= MAX_CALL_DETAIL_USERS
        params = {"AppId": app_id, "StartTime": start, "EndTime": end, "RoomId": room_id,
                  "UserId": list(user_ids)}  # fmt: skip
        return parse_call_detail(self._answer("ListCallDetail", params), "ListCallDetail")

    def operation_distribution(
        self, app_id: str, start: dt.datetime, end: dt.datetime, dimension: str
    ) -> SegmentsResult:
        params = {"AppId": app_id, "StartTime": start, "EndTime": end,
                  "Indicator": "user_count", "Dimension": dimension}  # fmt: skip
        action = "ListOperationDistribution"
        return parse_operation_distribution(self._answer(action, params), action)

    def list_room_info(
        self, app_id: str, start: dt.datetime, end: dt.datetime, *, page: int, page_size: int
    ) -> RoomPage:
        params = {"AppId": app_id, "StartTime": start, "EndTime": end, "PageNum": page,
                  "PageSize": page_size}  # fmt: skip
        return parse_room_info(self._answer("ListRoomInfo", params), "ListRoomInfo")

    def get_room_online_users(self, app_id: str, room_id: str) -> OnlineUsers:
        params = {"AppId": app_id, "RoomId": room_id}
        action = "GetRoomOnlineUsers"
        return parse_online_users(self._answer(action, params), action)

    def list_user_info(
        self, app_id: str, start: dt.datetime, end: dt.datetime, room_id: str,
        user_ids: tuple[str, ...], *, page: int = 1, page_size: int = 100,
        exclude_server_users: bool | None = None,
    ) -> UserInfoPage:  # fmt: skip
        assert 1 <= len(user_ids) <= MAX_USER_INFO_USERS
        params = {"AppId": app_id, "StartTime": start, "EndTime": end, "RoomId": room_id,
                  "UserId": list(user_ids), "PageNum": page, "PageSize": page_size}  # fmt: skip
        if exclude_server_users is not None:  # not sent: the vendor's default (true) applies
            params["ExcludeServerUser"] = exclude_server_users
        return parse_user_info(self._answer("ListUserInfo", params), "ListUserInfo", TZ)

    def list_apps(self, *, limit: int = 100, offset: int = 0) -> AppsPage:
        return parse_apps(self._answer("ListApps", {"Limit": limit, "Offset": offset}), "ListApps")


def make_source(
    name: str, answers: dict[str, Answer], *, provider: str = "volcengine", **settings: Any
) -> tuple[Source[Any], FakeClient]:
    cls = source_class(name)
    client = FakeClient(answers, provider)
    return cls(client, cls.settings_model.model_validate(settings), TZ), client  # type: ignore[arg-type]


def by_name(snap: Snapshot) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.metric, frozenset(s.labels)): s.value for s in snap.samples}


def find(snap: Snapshot, metric: str, **labels: str) -> list[Sample]:
    want = set(labels.items())
    return [s for s in snap.samples if s.metric == metric and want <= set(s.labels)]


def indicators(*items: tuple[str, str, list[tuple[float, Any]]]) -> Payload:
    """A payload of indicators: (name, unit, [(offset from T, value), ...])."""

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        return {
            "Indicators": [
                {"Name": n, "Unit": u, "Data": [{"TimeStamp": ts(o), "Value": v} for o, v in pts]}
                for n, u, pts in items
            ]
        }

    return payload
