"""The room actions (ListRoomInfo, GetRoomOnlineUsers, ListUserInfo) and per-peer ListCallDetail,
against the docs' parameters, limits and shapes."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.simulator.demo import DEMO_ROOM, DEMO_USERS
from tests.simapi import Api, iso, make, stamp

HOUR = 3600


def rooms(api: Api, start: float, end: float = 0.0, **kw: Any) -> dict[str, Any]:
    return api.ok("ListRoomInfo", api.window(start, end, PageSize=100, **kw))  # type: ignore[no-any-return]


def test_room_info_shape_and_selection_by_creation_time() -> None:
    _, clock, api = make()
    result = rooms(api, -24 * HOUR)
    assert set(result) == {"Total", "PageNum", "PageSize", "HasMore", "RoomList"}
    listed = result["RoomList"]
    assert result["Total"] == len(listed) and result["HasMore"] is False
    for r in listed:
        assert set(r) == {
            "CallId",
            "RoomId",
            "CreatedTime",
            "DestroyTime",
            "ActiveUserNum",
            "IsFinished",
        }
        assert r["CreatedTime"].endswith("+08:00")
        assert (r["DestroyTime"] == "") == (not r["IsFinished"])
    ids = [r["RoomId"] for r in listed]
    assert DEMO_ROOM in ids and "room-long" not in ids  # created 30 h ago: outside a 24 h window
    reuse = [r for r in listed if r["RoomId"] == "room-reuse"]
    assert sorted(r["IsFinished"] for r in reuse) == [False, True]  # one RoomId, two calls
    assert len({r["CallId"] for r in reuse}) == 2
    assert all(r["ActiveUserNum"] == 0 for r in reuse if r["IsFinished"])
    running = [r for r in listed if not r["IsFinished"]]
    assert max(running, key=lambda r: r["ActiveUserNum"])["RoomId"] == DEMO_ROOM
    older = rooms(api, -48 * HOUR, -24 * HOUR)["RoomList"]
    long_room = next(r for r in older if r["RoomId"] == "room-long")
    assert not long_room["IsFinished"] and long_room["ActiveUserNum"] > 0
    assert stamp(long_room["CreatedTime"]) < clock.t - 24 * HOUR


def test_room_info_limits_clamp_delay_and_pages() -> None:
    _, clock, api = make()
    # a 48 h span is no error: the end silently moves to start + 24 h
    clamped = rooms(api, -48 * HOUR)["RoomList"]
    assert {r["RoomId"] for r in clamped} == {
        r["RoomId"] for r in rooms(api, -48 * HOUR, -24 * HOUR)["RoomList"]
    }
    status, err = api.error("ListRoomInfo", api.window(-15 * 24 * HOUR, -14 * 24 * HOUR))
    assert status == 400 and err["Code"] == "InvalidParameter.OutofTimeRange"
    assert err["Description"]  # this action's errors carry a Description
    # room-late is created ten minutes after the start and listed 20 s later
    late = lambda: [r for r in rooms(api, -HOUR, HOUR)["RoomList"] if r["RoomId"] == "room-late"]  # noqa: E731
    assert late() == []
    clock.t += 600 + 10
    assert late() == []
    clock.t += 15
    assert late() and late()[0]["IsFinished"] is False
    # pages: default 20, at most 100 (more is treated as 100), bad values refused
    page = api.ok("ListRoomInfo", api.window(-24 * HOUR, PageSize=2, PageNum=2))
    assert page["PageNum"] == 2 and page["PageSize"] == 2 and len(page["RoomList"]) == 2
    # HasMore means rooms were left unlisted (too many match), not "another page exists"
    assert page["HasMore"] is False and page["Total"] > 4
    assert api.ok("ListRoomInfo", api.window(-HOUR, PageSize=500))["PageSize"] == 100
    assert api.ok("ListRoomInfo", api.window(-HOUR))["PageSize"] == 20
    for bad in ({"PageSize": 0}, {"PageNum": "x"}, {"PageNum": -1}):
        assert api.error("ListRoomInfo", api.window(-HOUR, **bad))[0] == 400
    only = api.ok("ListRoomInfo", api.window(-24 * HOUR, RoomId="room-reuse"))
    assert {r["RoomId"] for r in only["RoomList"]} == {"room-reuse"} and only["Total"] == 2
    assert api.post("ListRoomInfo", api.window(-HOUR))[0] == 400  # GET only


def test_online_users_both_versions() -> None:
    _, _, api = make()
    q = {"AppId": api.app, "RoomId": DEMO_ROOM}
    for version in ("2023-08-01", "2023-11-01"):
        r = api.ok("GetRoomOnlineUsers", q, version)
        assert set(r) == {
            "RoomExists",
            "TotalUser",
            "TotalInvisibleUser",
            "VisibleUserList",
            "InvisibleUserList",
        }
        assert r["RoomExists"] is True
        assert r["TotalUser"] == len(r["VisibleUserList"]) + len(r["InvisibleUserList"])
        assert r["TotalInvisibleUser"] == len(r["InvisibleUserList"]) > 0
        assert set(DEMO_USERS) <= set(r["VisibleUserList"]) and "dave" not in r["VisibleUserList"]
    assert (
        api.get("GetRoomOnlineUsers", q, "2020-12-01")[1]["ResponseMetadata"]["Error"]["Code"]
        == "InvalidActionOrVersion"
    )
    for room in ("no-such-room", "class-1"):  # unknown, and finished
        assert api.ok("GetRoomOnlineUsers", q | {"RoomId": room}) == {"RoomExists": False}
    visible = api.ok("GetRoomOnlineUsers", q | {"Property": "true", "RoleType": 1})
    assert visible["InvisibleUserList"] == [] and visible["VisibleUserList"]
    invisible = api.ok("GetRoomOnlineUsers", q | {"Property": "true", "RoleType": 2})
    assert invisible["VisibleUserList"] == [] and invisible["InvisibleUserList"]
    for bad in (
        {"RoleType": 1},
        {"Property": "yes"},
        {"Property": "true", "RoleType": 3},
        {"RoomId": ""},
    ):
        status, err = api.error("GetRoomOnlineUsers", q | bad)
        assert status == 400, bad


def test_user_info() -> None:
    _, clock, api = make()
    body = api.window(-HOUR, RoomId=DEMO_ROOM, PageSize=100)
    result = api.ok("ListUserInfo", body)
    assert set(result) == {"Total", "PageNum", "PageSize", "UserList"}
    users = {u["UserId"]: u for u in result["UserList"]}
    assert result["Total"] == len(users)
    # Linux server users: ExcludeServerUser defaults to true
    assert "recorder-bot" not in users and "relay-bot" not in users
    alice = users["alice"]
    assert set(alice) == {"CallId", "RoomId", "UserId", "CreatedAt", "LeaveAt", "Finished", "Duration",
                          "OS", "Access", "DeviceType", "SdkVersion", "Pub", "Record"}  # fmt: skip
    assert alice["OS"] == "android" and alice["Access"] == "wifi" and alice["Pub"] is True
    assert alice["Finished"] is False and alice["LeaveAt"] == "" and alice["Duration"] == 2 * HOUR
    dave = users["dave"]  # left 30 min before the start, still inside the window
    assert dave["Finished"] is True and stamp(dave["LeaveAt"]) == clock.t - 30 * 60
    erin = users["erin"]  # a browser user who left and came back
    assert erin["OS"] == "web" and [r["Type"] for r in erin["Record"]] == [
        "joinroom",
        "leaveroom",
        "joinroom",
    ]
    assert erin["Duration"] == 30 * 60 + 40 * 60
    assert {u["OS"] for u in users.values()} >= {"android", "ios", "windows", "mac", "web"}
    assert {u["Access"] for u in users.values()} == {"wifi", "4g", "5g", "3g", "2g"}
    assert all(u["SdkVersion"] and u["DeviceType"] for u in users.values())
    with_server = api.ok("ListUserInfo", body | {"ExcludeServerUser": "false"})
    servers = {u["UserId"]: u["OS"] for u in with_server["UserList"] if u["OS"] == "linux"}
    assert {"recorder-bot", "relay-bot"} <= set(servers) and not set(servers) & set(users)
    assert api.ok("ListUserInfo", body | {"ExcludeServerUser": "true"}) == result
    few = api.ok("ListUserInfo", body | {"UserId": "alice,bob,nobody"})
    assert sorted(u["UserId"] for u in few["UserList"]) == ["alice", "bob"]  # invalid ids dropped
    # a user who left before the window is not listed; the span is clamped to 6 h
    assert "dave" not in {
        u["UserId"]
        for u in api.ok("ListUserInfo", api.window(-10 * 60, RoomId=DEMO_ROOM, PageSize=100))[
            "UserList"
        ]
    }
    assert (
        api.ok("ListUserInfo", api.window(-12 * HOUR, RoomId=DEMO_ROOM))["Total"] == 0
    )  # 12..6 h ago
    reuse = api.ok("ListUserInfo", api.window(-6 * HOUR, RoomId="room-reuse", PageSize=100))[
        "UserList"
    ]
    assert len({u["CallId"] for u in reuse}) == 2
    for bad in (
        {"UserId": ",".join(f"u{i}" for i in range(11))},
        {"RoomId": ""},
        {"ExcludeServerUser": "maybe"},
    ):
        status, err = api.error("ListUserInfo", body | bad)
        assert status == 400 and "Description" in err


def detail(api: Api, room: str, users: list[str], **kw: Any) -> list[dict[str, Any]]:
    q = api.window(-600, RoomId=room, UserId=",".join(users), **kw)
    return api.ok("ListCallDetail", q)["UserCallDetail"]  # type: ignore[no-any-return]


def mean(record: dict[str, Any], metric: str) -> float:
    points = next(m for m in record["CallDetail"] if m["Name"] == metric)["Data"]
    return sum(p["Value"] for p in points) / len(points)


def test_call_detail_one_downlink_record_per_peer() -> None:
    _, clock, api = make()
    records = detail(api, DEMO_ROOM, DEMO_USERS)
    alice = [r for r in records if r["UserId"] == "alice"]
    up = [r for r in alice if r["Direction"] == "up"]
    down = {r["PeerId"]: r for r in alice if r["Direction"] == "down"}
    assert len(up) == 1 and "PeerId" not in up[0]
    assert set(down) == {"bob", "carol"}  # alice receives from two peers
    # bob sends badly: what alice receives from him is clearly worse than from carol
    assert mean(down["bob"], "video_stall_duration") > 4 * mean(
        down["carol"], "video_stall_duration"
    )
    assert mean(down["bob"], "audio_down_loss") > 2 * mean(down["carol"], "audio_down_loss")
    assert {m["Name"] for m in up[0]["CallDetail"]} >= {"app_cpu_usage", "video_big_send_bitrate"}
    assert {m["Unit"] for r in records for m in r["CallDetail"]} == {"%", "", "kbps", "ms", "fps"}
    times = [p["Time"] for m in up[0]["CallDetail"] for p in m["Data"]]
    assert all(isinstance(t, int) for t in times) and max(times) <= (clock.t - 100) * 1000
    # Direction: 1 uplink only, 2 downlink only
    assert {r["Direction"] for r in detail(api, DEMO_ROOM, ["alice"], Direction=1)} == {"up"}
    assert {r["Direction"] for r in detail(api, DEMO_ROOM, ["alice"], Direction=2)} == {"down"}
    assert (
        api.error(
            "ListCallDetail", api.window(-600, RoomId=DEMO_ROOM, UserId="alice", Direction=3)
        )[0]
        == 400
    )
    # someone not in the room has no records; in a room the world does not know, the requested
    # users receive from each other
    assert detail(api, DEMO_ROOM, ["stranger"]) == []
    pairs = {(r["UserId"], r.get("PeerId")) for r in detail(api, "room-1", ["a", "b", "c"])}
    assert ("a", "b") in pairs and ("a", "c") in pairs and ("a", None) in pairs


def test_call_detail_is_deterministic_and_limited() -> None:
    sim, clock, api = make()
    first = detail(api, DEMO_ROOM, ["alice"])
    assert detail(make()[2], DEMO_ROOM, ["alice"]) == first
    q = api.window(-600, RoomId="r", UserId=",".join(f"u{i}" for i in range(21)))
    assert api.error("ListCallDetail", q)[1]["Code"] == "InvalidParameter"
    assert (
        api.error("ListCallDetail", q | {"UserId": "a", "StartTime": iso(clock.t - 2 * HOUR)})[1][
            "Code"
        ]
        == "InvalidParameter.OutofTimeRange"
    )
    assert api.error("ListCallDetail", q | {"UserId": ""})[1]["Code"] == "MissingParameter"


@pytest.mark.parametrize("app_index", [0, 1])
def test_every_app_has_the_demo_room(app_index: int) -> None:
    sim, _, api = make(apps=2)
    q = {"AppId": sim.apps[app_index].app_id, "RoomId": DEMO_ROOM}
    assert set(DEMO_USERS) <= set(api.ok("GetRoomOnlineUsers", q)["VisibleUserList"])


def test_crowded_rooms_cap_each_query_and_say_has_more() -> None:
    sim, clock, api = make()
    app = sim.apps[0].app_id
    sim.activate("crowded_rooms", {"rooms": 400, "cap": 250, "users": 60})
    whole = [rooms(api, -24 * HOUR, PageNum=n) for n in (1, 2, 3, 4)]
    assert all(p["HasMore"] is True and p["Total"] > 400 for p in whole)
    listed = [r for p in whole for r in p["RoomList"]]
    assert len(listed) == 250 and len(whole[2]["RoomList"]) == 50 and whole[3]["RoomList"] == []
    assert "crowd-hot" not in {r["RoomId"] for r in listed}  # oldest first: the newest is cut
    recent = rooms(api, -2 * HOUR)  # a narrower window lists everything it matches
    assert recent["HasMore"] is False and len(recent["RoomList"]) == recent["Total"]
    hot = next(r for r in recent["RoomList"] if r["RoomId"] == "crowd-hot")
    assert hot["ActiveUserNum"] == 60 and not hot["IsFinished"]
    users = api.ok("GetRoomOnlineUsers", {"AppId": app, "RoomId": "crowd-hot"})
    assert users["TotalUser"] == 60
    other = api.ok(
        "ListRoomInfo", api.window(-24 * HOUR, PageSize=100) | {"AppId": sim.apps[1].app_id}
    )
    assert other["HasMore"] is False  # only the scenario's app is crowded
    sim.deactivate("crowded_rooms")
    assert rooms(api, -24 * HOUR)["HasMore"] is False
    with pytest.raises(ValueError, match="cap must be"):
        sim.activate("crowded_rooms", {"cap": 0})
