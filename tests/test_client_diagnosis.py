"""The client's diagnosis actions over httpx.MockTransport: method, version, parameters, shapes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.client import VolcClient
from exporter.errors import ApiAuthError, ApiSchemaError
from exporter.limiter import Limiters, Quota
from exporter.telemetry import Telemetry
from tests.conftest import AK, SK, VirtualClock, VirtualWaiter, envelope
from tests.test_client import T0, T1, TZ, make_client


class Recorder:
    """Answers every request with ``result`` and keeps what was sent."""

    def __init__(self, result: dict[str, Any]) -> None:
        self.result = result
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, content=envelope(self.result))

    def query(self, i: int = -1) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(str(self.requests[i].url)).query))


def client_for(result: dict[str, Any], version: str = "2023-11-01") -> tuple[VolcClient, Recorder]:
    rec = Recorder(result)
    clock = VirtualClock()
    client = VolcClient(
        endpoint="https://rtc.volcengineapi.com",
        region="cn-north-1",
        credentials=lambda: (AK, SK, None),
        telemetry=Telemetry(CollectorRegistry(), [], [], clock),
        limiters=Limiters({}, Quota(per_second=1000), clock=clock),
        waiter=VirtualWaiter(clock),
        tz=TZ,
        version=version,
        max_retries=0,
        transport=httpx.MockTransport(rec),
        monotonic=clock,
    )
    return client, rec


def test_quality_distribution_is_a_post_with_one_indicator_dimension_and_product_type() -> None:
    result = {"Indicators": [{"Name": "5s_join_room_success_rate", "Data": [
        {"Dimension": " windows ", "TimeStamp": "2024-01-01T00:00:00+08:00", "Value": 99.06}]}]}  # fmt: skip
    client, rec = client_for(result)
    got = client.query_distribution(
        "ListQualityDistribution", "app1", T0, T1, "join_room_success_rate", "OS", "web"
    )
    request = rec.requests[0]
    assert request.method == "POST"
    assert json.loads(request.content) == {
        "AppId": "app1", "StartTime": "2024-01-01T00:00:00+08:00",
        "EndTime": "2024-01-01T00:05:00+08:00", "Indicator": "join_room_success_rate",
        "Dimension": "OS", "ProductType": "web",
    }  # fmt: skip
    [ind] = got.indicators
    assert ind.unit == "" and [(p.segment, p.value) for p in ind.points] == [("windows", 99.06)]


def test_operation_distribution_sends_user_count_and_parses_the_documented_example() -> None:
    result = {"Name": "user_num", "Dimension": "province",
              "Data": [{"DistributionName": "上海", "Value": 666.00, "Proportion": 66.66}]}  # fmt: skip
    client, rec = client_for(result)
    got = client.operation_distribution("app1", T0, T1, "Province")
    request = rec.requests[0]
    assert request.method == "POST" and rec.query()["Action"] == "ListOperationDistribution"
    body = json.loads(request.content)
    assert body["Indicator"] == "user_count" and body["Dimension"] == "Province"
    assert got.segments == [("上海", 666.0, 66.66)]


def test_room_info_is_a_get_with_paging_in_the_query() -> None:
    result = {"Total": 2, "PageNum": 1, "PageSize": 100, "HasMore": False, "RoomList": [
        {"CallId": "c1", "RoomId": "Room1", "CreatedTime": "2024-01-01T00:00:00+08:00",
         "DestroyTime": "", "ActiveUserNum": 5, "IsFinished": False},
        {"CallId": "c0", "RoomId": "Room1", "CreatedTime": "2023-12-31T23:00:00+08:00",
         "DestroyTime": "2023-12-31T23:30:00+08:00", "ActiveUserNum": 0, "IsFinished": None},
    ]}  # fmt: skip
    client, rec = client_for(result)
    got = client.list_room_info("app1", T0, T1, page=2, page_size=100)
    assert rec.requests[0].method == "GET" and rec.requests[0].content == b""
    q = rec.query()
    assert {k: q[k] for k in ("Action", "Version", "AppId", "PageNum", "PageSize")} == {
        "Action": "ListRoomInfo", "Version": "2023-11-01", "AppId": "app1",
        "PageNum": "2", "PageSize": "100",
    }  # fmt: skip
    assert q["StartTime"] == "2024-01-01T00:00:00+08:00"
    assert "%2B08%3A00" in str(rec.requests[0].url)  # "+" is sent encoded, never as a space
    assert got.total == 2
    assert [(r.room_id, r.active_users, r.finished) for r in got.rooms] == [
        ("Room1", 5, False), ("Room1", 0, True),  # IsFinished null: DestroyTime decides
    ]  # fmt: skip


@pytest.mark.parametrize("configured", ["2020-12-01", "2023-11-01"])
def test_online_users_go_with_a_version_that_has_the_action(configured: str) -> None:
    result = {"RoomExists": True, "TotalUser": 3, "TotalInvisibleUser": 1,
              "VisibleUserList": ["alice", " bob ", "alice", ""], "InvisibleUserList": ["rec"]}  # fmt: skip
    client, rec = client_for(result, version=configured)
    got = client.get_room_online_users("app1", "Room1")
    q = rec.query()
    assert rec.requests[0].method == "GET"
    assert (q["Action"], q["Version"], q["RoomId"]) == ("GetRoomOnlineUsers", "2023-11-01", "Room1")
    assert "StartTime" not in q  # live state: no window
    assert got.exists and got.total == 3
    assert got.visible == ("alice", "bob") and got.invisible == ("rec",)
    # other actions keep the configured version
    client.list_room_info("app1", T0, T1, page=1, page_size=100)
    assert rec.query()["Version"] == configured


def test_a_room_that_does_not_exist_has_no_users() -> None:
    client, _ = client_for({"RoomExists": False})
    got = client.get_room_online_users("app1", "gone")
    assert not got.exists and got.visible == () and got.total is None


def test_user_info_is_a_get_for_at_most_ten_users() -> None:
    result = {"Total": 1, "UserList": [
        {"CallId": "c1", "RoomId": "Room1", "UserId": "alice", "CreatedAt": "2024-01-01T00:01:00+08:00",
         "LeaveAt": "", "Finished": False, "Duration": 60, "OS": "ios", "Access": "wifi",
         "DeviceType": " iPhone15,2 ", "SdkVersion": "3.58.1", "Pub": True, "Record": []},
    ]}  # fmt: skip
    client, rec = client_for(result)
    got = client.list_user_info("app1", T0, T1, "Room1", ["alice", "bob"], page=1, page_size=100)
    q = rec.query()
    assert rec.requests[0].method == "GET"
    assert (q["Action"], q["RoomId"], q["UserId"], q["PageNum"]) == (
        "ListUserInfo", "Room1", "alice,bob", "1",
    )  # fmt: skip
    assert q["ExcludeServerUser"] == "false"  # sent explicitly: the vendor's default is true
    client.list_user_info("app1", T0, T1, "Room1", ["bot"], exclude_server_users=True)
    assert rec.query()["ExcludeServerUser"] == "true"
    [user] = got.users
    assert (user.user_id, user.os, user.access, user.device_type, user.sdk_version) == (
        "alice", "ios", "wifi", "iPhone15,2", "3.58.1",
    )  # fmt: skip
    assert not user.finished and user.created_at == T0.timestamp() + 60
    with pytest.raises(ValueError):
        client.list_user_info("app1", T0, T1, "Room1", [f"u{i}" for i in range(11)])


def test_refusals_and_wrong_shapes_are_typed_errors() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        error = {"Code": "AccessDenied", "Message": "no policy for ListUserInfo"}
        return httpx.Response(403, content=envelope(error=error))

    client, _, _ = make_client(refused)
    with pytest.raises(ApiAuthError):
        client.list_user_info("app1", T0, T1, "Room1", ["alice"])
    client, _ = client_for({"RoomList": {"Room1": {}}})
    with pytest.raises(ApiSchemaError):
        client.list_room_info("app1", T0, T1, page=1, page_size=100)
    client, _ = client_for({"VisibleUserList": "alice"})
    with pytest.raises(ApiSchemaError):
        client.get_room_online_users("app1", "Room1")
