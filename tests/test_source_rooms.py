"""rooms: ListRoomInfo -> busiest rooms, GetRoomOnlineUsers -> watch list, ListUserInfo -> info."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from exporter.collectors.call_detail import ROWS as CLIENT_ROWS
from exporter.collectors.rooms import RoomsSnapshot, select_watch, series_per_user
from exporter.errors import ApiAuthError, ApiClientError, ApiSchemaError, ApiServerError
from exporter.runtime import Runtime
from exporter.targets import Targets
from exporter.types import AppTarget, WatchRoom
from tests.conftest import (
    GOLDEN_APP,
    GOLDEN_TIME,
    FrozenClock,
    envelope,
    fixture_result,
    fixture_transport,
    golden_settings,
    make_settings,
)
from tests.fakes import TZ, T, by_name, find, make_source, ts

APP = AppTarget("app1")
ACTIVE = "volcengine_rtc_room_active_users"
ONLINE = "volcengine_rtc_room_online_users"
INFO = "volcengine_rtc_client_info"


def room(room_id: str, active: Any, finished: Any = False, destroy: str = "") -> dict[str, Any]:
    return {"CallId": f"call-{room_id}-{active}", "RoomId": room_id, "CreatedTime": ts(-3600),
            "DestroyTime": destroy, "ActiveUserNum": active, "IsFinished": finished}  # fmt: skip


def rooms_of(*entries: dict[str, Any], total: int | None = None) -> Any:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        return {"Total": len(entries) if total is None else total, "PageNum": 1,
                "PageSize": 100, "HasMore": False, "RoomList": list(entries)}  # fmt: skip

    return payload


def online(users: dict[str, list[str]], invisible: dict[str, list[str]] | None = None) -> Any:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        room_id = params["RoomId"]
        if room_id not in users:
            return {"RoomExists": False}
        hidden = (invisible or {}).get(room_id, [])
        return {"RoomExists": True, "TotalUser": len(users[room_id]) + len(hidden),
                "TotalInvisibleUser": len(hidden), "VisibleUserList": users[room_id],
                "InvisibleUserList": hidden}  # fmt: skip

    return payload


def user_info(params: dict[str, Any]) -> dict[str, Any]:
    """Each asked user: an older finished call on android/4g and the current one on ios/wifi."""
    entries = []
    for u in params["UserId"]:
        entries.append({"RoomId": params["RoomId"], "UserId": u, "CreatedAt": ts(-7200),
                        "LeaveAt": ts(-7000), "Finished": True, "OS": "android", "Access": "4g",
                        "DeviceType": "Pixel 8", "SdkVersion": "3.50.0"})  # fmt: skip
        entries.append({"RoomId": params["RoomId"], "UserId": u, "CreatedAt": ts(-600),
                        "LeaveAt": "", "Finished": False, "OS": "ios", "Access": " wifi ",
                        "DeviceType": "iPhone15,2", "SdkVersion": "3.58.1"})  # fmt: skip
    return {"Total": len(entries), "UserList": entries}


BUSY = rooms_of(room("small", 2), room("big", 9), room("mid", 5), room("idle", 0))
PEOPLE = {"small": ["s1", "s2"], "big": [f"b{i}" for i in range(9)], "mid": ["m1", "m2", "m3"],
          "idle": []}  # fmt: skip


def world(**overrides: Any) -> dict[str, Any]:
    return {"ListRoomInfo": BUSY, "GetRoomOnlineUsers": online(PEOPLE),
            "ListUserInfo": user_info} | overrides  # fmt: skip


def test_the_busiest_unfinished_rooms_are_watched_and_exported() -> None:
    src, client = make_source("rooms", world())
    snap = src.fetch(APP, T)
    assert [p["RoomId"] for a, p in client.calls if a == "GetRoomOnlineUsers"] == [
        "big",
        "mid",
        "small",
    ]
    assert by_name(snap) == {
        (ACTIVE, frozenset({("app_id", "app1"), ("room_id", r)})): float(n)
        for r, n in (("big", 9), ("mid", 5), ("small", 2))
    } | {
        (ONLINE, frozenset({("app_id", "app1"), ("room_id", r)})): float(len(PEOPLE[r]))
        for r in ("big", "mid", "small")
    }  # fmt: skip
    assert [(w.room_id, w.user_ids, n) for w, n in snap.candidates] == [
        ("big", tuple(PEOPLE["big"]), 9), ("mid", ("m1", "m2", "m3"), 3), ("small", ("s1", "s2"), 2),
    ]  # fmt: skip
    assert snap.data_timestamp == T


def test_room_list_window_reaches_back_24h_and_ids_repeat_once_per_call() -> None:
    entries = rooms_of(
        room("r1", 4, finished=True, destroy=ts(-60)),  # an earlier call of r1, finished
        room("r1", 3),  # the running call of r1
        room("r2", 50, finished=True),  # finished: never watched, whatever its count
        room("r3", 7, finished=None, destroy=ts(-10)),  # IsFinished null, destroyed: finished
        room("r4", None),  # count not reported: ranked last, no active sample
        {"RoomId": "", "ActiveUserNum": 99},  # unreadable entry
    )
    src, client = make_source("rooms", world(ListRoomInfo=entries, GetRoomOnlineUsers=online(
        {"r1": ["a"], "r4": ["b"]})), top_rooms=5)  # fmt: skip
    snap = src.fetch(APP, T)
    [(action, params)] = client.calls[:1]
    assert action == "ListRoomInfo" and params["PageNum"] == 1 and params["PageSize"] == 100
    assert params["EndTime"].timestamp() == T
    assert (params["EndTime"] - params["StartTime"]).total_seconds() == 86400
    assert [w.room_id for w, _ in snap.candidates] == ["r1", "r4"]
    assert {dict(s.labels)["room_id"]: s.value for s in find(snap, ACTIVE)} == {"r1": 3.0}
    assert snap.skipped == {"malformed": 1}


def test_pages_until_the_total_is_seen_and_looks_back_in_24h_windows() -> None:
    def pages(params: dict[str, Any]) -> dict[str, Any]:
        day = int((T - params["EndTime"].timestamp()) // 86400)
        if day == 0:  # today: 230 rooms over three pages
            n = {1: 100, 2: 100, 3: 30}[params["PageNum"]]
            first = (params["PageNum"] - 1) * 100
            return {
                "Total": 230,
                "RoomList": [room(f"t{first + i}", (first + i) % 97) for i in range(n)],
            }
        return {"Total": 1, "RoomList": [room("old-meeting", 120)]}  # two days ago, still running

    src, client = make_source("rooms", world(ListRoomInfo=pages, GetRoomOnlineUsers=online({})),
                              lookback_seconds=2.5 * 86400)  # fmt: skip
    snap = src.fetch(APP, T)
    listed = [(p["EndTime"], p["PageNum"]) for a, p in client.calls if a == "ListRoomInfo"]
    end = dt.datetime.fromtimestamp(T, TZ)
    day = dt.timedelta(days=1)
    assert listed == [(end, 1), (end, 2), (end, 3), (end - day, 1), (end - 2 * day, 1)]
    last = [p for a, p in client.calls if a == "ListRoomInfo"][-1]
    assert (last["EndTime"] - last["StartTime"]).total_seconds() == 0.5 * 86400
    assert src.calls(APP)["ListRoomInfo"] == 3
    # the long meeting found two days back ranks first, then 96, 96, 95 ... of today
    asked = [p["RoomId"] for a, p in client.calls if a == "GetRoomOnlineUsers"]
    assert asked == ["old-meeting", "t193", "t96"]
    assert snap.candidates == ()  # none of them exists any more


def test_a_full_page_with_unreadable_entries_is_still_full() -> None:
    def pages(params: dict[str, Any]) -> dict[str, Any]:
        if params["PageNum"] == 1:
            return {"Total": 101, "RoomList": [room(f"r{i}", i) for i in range(99)] + [None]}
        return {"Total": 101, "RoomList": [room("last", 500)]}

    src, client = make_source("rooms", world(ListRoomInfo=pages, GetRoomOnlineUsers=online({})))
    snap = src.fetch(APP, T)
    assert [p["PageNum"] for p in client.params_of("ListRoomInfo")] == [1, 2]
    assert client.params_of("GetRoomOnlineUsers")[0]["RoomId"] == "last"
    assert snap.skipped == {"malformed": 1}


def test_max_pages_bounds_the_calls() -> None:
    full = lambda p: {
        "Total": 10_000,
        "RoomList": [room(f"x{p['PageNum']}-{i}", i) for i in range(100)],
    }
    src, client = make_source("rooms", world(ListRoomInfo=full), max_pages=2)
    src.fetch(APP, T)
    assert [p["PageNum"] for a, p in client.calls if a == "ListRoomInfo"] == [1, 2]


def test_invisible_users_are_watched_only_when_configured() -> None:
    answers = world(GetRoomOnlineUsers=online(PEOPLE, {"big": ["recorder"]}))
    src, _ = make_source("rooms", answers, top_rooms=1)
    snap = src.fetch(APP, T)
    assert snap.candidates[0][0].user_ids == tuple(PEOPLE["big"])
    assert find(snap, ONLINE)[0].value == 10.0  # TotalUser counts invisible users too
    src, _ = make_source("rooms", answers, top_rooms=1, include_invisible=True)
    assert src.fetch(APP, T).candidates[0][0].user_ids == (*PEOPLE["big"], "recorder")


def test_room_that_ended_meanwhile_is_left_out() -> None:
    src, _ = make_source("rooms", world(GetRoomOnlineUsers=online({"mid": ["m1"]})))
    snap = src.fetch(APP, T)
    assert {dict(s.labels)["room_id"] for s in snap.samples} == {"mid"}
    assert [w.room_id for w, _ in snap.candidates] == ["mid"]


def test_client_info_for_the_watched_users_current_call_first() -> None:
    watched = AppTarget("app1", (WatchRoom("big", tuple(f"b{i}" for i in range(12))),
                                 WatchRoom("conf", ("carol",))))  # fmt: skip
    src, client = make_source("rooms", world(), top_rooms=1)
    snap = src.fetch(watched, T)
    asked = [(p["RoomId"], len(p["UserId"])) for a, p in client.calls if a == "ListUserInfo"]
    assert asked == [("big", 10), ("big", 2), ("conf", 1)]
    assert src.calls(watched) == {"ListRoomInfo": 1, "GetRoomOnlineUsers": 1, "ListUserInfo": 3}
    window = [p for a, p in client.calls if a == "ListUserInfo"][0]
    assert (window["EndTime"] - window["StartTime"]).total_seconds() == 6 * 3600
    [carol] = find(snap, INFO, user_id="carol")
    assert dict(carol.labels) == {"app_id": "app1", "room_id": "conf", "user_id": "carol",
                                  "os": "ios", "network": "wifi", "sdk_version": "3.58.1",
                                  "device_type": "iPhone15,2"}  # fmt: skip
    assert carol.value == 1.0 and len(find(snap, INFO)) == 13


def test_client_info_takes_the_newest_call_when_none_is_running_and_ignores_others() -> None:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        def call(user: str, created: Any, os_: str) -> dict[str, Any]:
            return {"UserId": user, "CreatedAt": created, "Finished": True, "OS": os_,
                    "Access": "5g", "DeviceType": "", "SdkVersion": None}  # fmt: skip

        return {"Total": 4, "UserList": [call("dave", ts(-9000), "windows"), call("dave", ts(-5000), "mac"),
                                         call("dave", "garbled", "linux"), call("eve", ts(-100), "ios")]}  # fmt: skip

    src, client = make_source("rooms", world(ListUserInfo=answer), client_info=True)
    snap = src.fetch(AppTarget("app1", (WatchRoom("conf", ("dave",)),)), T)
    [dave] = find(snap, INFO)
    assert dict(dave.labels)["os"] == "mac" and dict(dave.labels)["sdk_version"] == ""
    src, client = make_source("rooms", world(), client_info=False)
    src.fetch(AppTarget("app1", (WatchRoom("conf", ("dave",)),)), T)
    assert "ListUserInfo" not in client.actions()
    assert src.calls(AppTarget("app1", (WatchRoom("conf", ("dave",)),)))["ListUserInfo"] == 0


# -- degraded operation ------------------------------------------------------------------------


def test_user_info_refused_for_one_room_still_describes_the_others() -> None:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        if params["RoomId"] == "weird":
            raise ApiClientError("IllegalRoomID", action="ListUserInfo")
        return user_info(params)

    watched = AppTarget("app1", (WatchRoom("weird", tuple(f"w{i}" for i in range(15))),
                                 WatchRoom("conf", ("carol",))))  # fmt: skip
    src, client = make_source("rooms", world(ListUserInfo=answer))
    snap = src.fetch(watched, T)
    assert [p["RoomId"] for p in client.params_of("ListUserInfo")] == ["weird", "conf"]
    assert [dict(s.labels)["user_id"] for s in find(snap, INFO)] == ["carol"]


@pytest.mark.parametrize("error", [ApiAuthError, ApiClientError, ApiSchemaError])
def test_refused_user_info_costs_only_client_info(error: type[Exception]) -> None:
    src, _ = make_source("rooms", world(ListUserInfo=error("refused", action="ListUserInfo")))
    snap = src.fetch(AppTarget("app1", (WatchRoom("big", ("b1",)),)), T)
    assert find(snap, INFO) == []
    assert len(find(snap, ACTIVE)) == 3 and len(find(snap, ONLINE)) == 3
    assert len(snap.candidates) == 3


def test_refused_online_users_keep_the_room_counts_and_watch_nobody() -> None:
    src, _ = make_source("rooms", world(GetRoomOnlineUsers=ApiAuthError("no", action="x")))
    snap = src.fetch(APP, T)
    assert len(find(snap, ACTIVE)) == 3 and find(snap, ONLINE) == [] and snap.candidates == ()


@pytest.mark.parametrize("action", ["ListRoomInfo", "GetRoomOnlineUsers", "ListUserInfo"])
def test_a_temporary_failure_fails_the_refresh_so_the_last_good_state_stays(action: str) -> None:
    src, _ = make_source("rooms", world(**{action: ApiServerError("busy", action=action)}))
    with pytest.raises(ApiServerError):
        src.fetch(AppTarget("app1", (WatchRoom("big", ("b1",)),)), T)


def test_refused_room_list_fails_the_refresh() -> None:
    src, client = make_source(
        "rooms", world(ListRoomInfo=ApiAuthError("no", action="ListRoomInfo"))
    )
    with pytest.raises(ApiAuthError):
        src.fetch(APP, T)
    assert client.actions() == ["ListRoomInfo"]


# -- the watch list ----------------------------------------------------------------------------


def test_series_estimate_follows_the_client_metric_table() -> None:
    uplink = sum(1 for r in CLIENT_ROWS if not r.per_peer)
    downlink = sum(1 for r in CLIENT_ROWS if r.per_peer)
    assert (uplink, downlink) == (15, 12)
    assert series_per_user(1) == 15 and series_per_user(4) == 15 + 3 * 12
    assert series_per_user(0) == 15


def test_selection_fills_the_budget_busiest_room_first_skipping_configured_users() -> None:
    big = (WatchRoom("big", ("a", "b", "c", "d")), 4)  # 51 series per user
    small = (WatchRoom("small", ("x", "y")), 2)  # 27 series per user
    assert select_watch((big, small), 10_000) == (big[0], small[0])
    assert select_watch((big, small), 51 * 2 + 27) == (
        WatchRoom("big", ("a", "b")),
        WatchRoom("small", ("x",)),
    )
    assert select_watch((big, small), 50) == (WatchRoom("small", ("x",)),)
    assert select_watch((big, small), 0) == ()
    configured = (WatchRoom("big", ("a",)),)
    assert select_watch((big,), 51 * 2, configured) == (WatchRoom("big", ("b", "c")),)
    odd = (WatchRoom("r", ("bad,id", "ok")), 2)
    assert select_watch((odd,), 1000) == (WatchRoom("r", ("ok",)),)


def targets(*apps: dict[str, Any], max_client_series: int = 2000, enabled: bool = True) -> Targets:
    sources = {"call_detail": {"max_client_series": max_client_series, "enabled": enabled}}
    return Targets(make_settings(apps=list(apps), sources=sources))


def test_contribute_feeds_targets_within_the_cap_and_configured_users_stay() -> None:
    conf = {"app_id": "app1", "call_detail": [{"room_id": "big", "user_ids": ["b0"]},
                                              {"room_id": "vip", "user_ids": ["v1", "v2"]}]}  # fmt: skip
    tg = targets(conf, {"app_id": "app2"}, max_client_series=2000)
    src, _ = make_source("rooms", world())
    snap = src.fetch(AppTarget("app1"), T)
    src.contribute(snap, tg)
    # configured: b0 (15) + v1, v2 (2 x 27) = 69; (2000 - 69) // 2 apps = 965 for app1's auto list
    # big: 9 users x 111 series -> b1..b8 (888; b0 is configured), then mid: 39 each -> 1 (927)
    # small: 27 each -> 1 (954)
    [app1, app2] = tg.current()
    assert app1.watch == (
        WatchRoom("big", tuple(f"b{i}" for i in range(9))),
        WatchRoom("vip", ("v1", "v2")),
        WatchRoom("mid", ("m1",)),
        WatchRoom("small", ("s1",)),
    )
    assert app2.watch == ()
    version = tg.version
    src.contribute(snap, tg)
    assert tg.version == version  # the same list again: no replanning


def test_no_auto_watch_when_call_detail_is_disabled() -> None:
    tg = targets({"app_id": "app1"}, enabled=False)
    src, _ = make_source("rooms", world())
    src.contribute(src.fetch(AppTarget("app1"), T), tg)
    assert tg.current()[0].watch == ()


def test_call_detail_then_watches_the_auto_list() -> None:
    tg = targets({"app_id": "app1"}, max_client_series=200)
    rooms, _ = make_source("rooms", world())
    rooms.contribute(rooms.fetch(AppTarget("app1"), T), tg)
    [app] = tg.current()
    # 200 // 111 = 1 user of big; 89 left: 2 of mid (39 each); 11 left: none of small
    assert app.watch == (WatchRoom("big", ("b0",)), WatchRoom("mid", ("m1", "m2")))
    detail, client = make_source(
        "call_detail", {"ListCallDetail": lambda p: {"UserCallDetail": []}}
    )
    assert detail.wants(app) and detail.calls(app) == {"ListCallDetail": 2}
    detail.fetch(app, T)
    assert [(p["RoomId"], p["UserId"]) for _, p in client.calls] == [
        ("big", ["b0"]),
        ("mid", ["m1", "m2"]),
    ]


def test_snapshot_type_and_families() -> None:
    src, _ = make_source("rooms", world())
    assert isinstance(src.fetch(APP, T), RoomsSnapshot)
    assert [s.name for s in src.specs] == [ACTIVE, ONLINE, INFO]
    assert src.specs[2].labels == ("app_id", "room_id", "user_id", "os", "network",
                                   "sdk_version", "device_type")  # fmt: skip


# -- in the running exporter -------------------------------------------------------------------


def test_in_the_exporter_a_refused_user_info_costs_client_info_only() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        error = {
            "Code": "AccessDenied",
            "Message": "User is not authorized to perform ListUserInfo",
        }
        return httpx.Response(403, content=envelope(error=error))

    rooms = fixture_result("ListRoomInfo")["RoomList"]
    busiest = max((r for r in rooms if not r["IsFinished"]), key=lambda r: r["ActiveUserNum"])
    online = fixture_result("GetRoomOnlineUsers", f"RoomId={busiest['RoomId']}")
    transport, calls = fixture_transport({"ListUserInfo": refused})
    rt = Runtime.build(golden_settings(), transport=transport, clock=FrozenClock(GOLDEN_TIME))
    try:
        assert rt.refresher.plan.sources["call_detail"].calls == {"ListCallDetail": 1}
        for name in ("rooms", "call_detail"):
            rt.refresher.refresh(name)
        get = rt.registry.get_sample_value
        up = {"app_id": GOLDEN_APP}
        assert get("volcengine_rtc_exporter_source_up", up | {"source": "rooms"}) == 1.0
        assert get("volcengine_rtc_exporter_source_up", up | {"source": "call_detail"}) == 1.0
        failures = {"action": "ListUserInfo", "reason": "auth"}
        assert get("volcengine_rtc_exporter_api_request_failures_total", failures) == 1.0
        room = {"room_id": busiest["RoomId"]}
        assert get(ACTIVE, up | room) == busiest["ActiveUserNum"]
        assert not [s for m in rt.registry.collect() if m.name == INFO for s in m.samples]
        # the configured room stays; the busiest room's visible users joined the watch
        [target] = rt.targets.current()
        watched = {w.room_id: w.user_ids for w in target.watch}
        assert watched["room-1"] == ("alice", "bob")
        auto = watched[busiest["RoomId"]]
        assert auto and set(auto) <= set(online["VisibleUserList"])
        assert not set(auto) & set(online["InvisibleUserList"])
        assert rt.refresher.plan.sources["call_detail"].calls == {"ListCallDetail": 2}
        assert calls.count("ListCallDetail") == 2
    finally:
        rt.stop()
