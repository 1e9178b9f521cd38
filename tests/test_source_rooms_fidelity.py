"""rooms against the vendor's own models: ``ExcludeServerUser`` (ListUserInfo) and ``HasMore``
(ListRoomInfo), with the fake client and against the simulator."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from exporter.runtime import Runtime
from exporter.simulator import Simulator
from exporter.types import AppTarget, WatchRoom
from tests.conftest import AK, SK, FrozenClock, SimTransport, make_settings
from tests.fakes import T, find, make_source, ts
from tests.test_source_rooms import APP, INFO, world
from tests.vendor import vendor_result

# -- ExcludeServerUser -------------------------------------------------------------------------


def vendor_user_info(params: dict[str, Any]) -> dict[str, Any]:
    """The vendor-shaped answer (tests/fixtures/vendor/ListUserInfo.json: user1 on ios, the
    server-side relay-bot on linux) for the asked room and users, as the vendor documents it:
    Linux (server-side) users are left out unless ExcludeServerUser is false; not sending it
    means true."""
    exclude = params.get("ExcludeServerUser", True)
    example = vendor_result("ListUserInfo")["UserList"]
    asked = {"b1": example[0], "relay-bot": example[1]}  # b1 stands in for the example's user1
    entries = [asked[u] | {"RoomId": params["RoomId"], "UserId": u, "CreatedAt": ts(-600)}
               for u in params["UserId"]]  # fmt: skip
    kept = [e for e in entries if not (exclude and e["OS"] == "linux")]
    return {"Total": len(kept), "PageNum": 1, "PageSize": 100, "UserList": kept}


WATCHED = AppTarget("app1", (WatchRoom("big", ("relay-bot", "b1")),))


def info_of(snap: Any) -> dict[str, str]:
    return {dict(s.labels)["user_id"]: dict(s.labels)["os"] for s in find(snap, INFO)}


def test_server_side_users_are_described_by_default() -> None:
    src, client = make_source("rooms", world(ListUserInfo=vendor_user_info), top_rooms=1)
    snap = src.fetch(WATCHED, T)
    assert [p["ExcludeServerUser"] for p in client.params_of("ListUserInfo")] == [False]
    assert info_of(snap) == {"relay-bot": "linux", "b1": "ios"}


def test_exclude_server_users_is_sent_explicitly_when_configured() -> None:
    answers = world(ListUserInfo=vendor_user_info)
    src, client = make_source("rooms", answers, top_rooms=1, exclude_server_users=True)
    snap = src.fetch(WATCHED, T)
    assert [p["ExcludeServerUser"] for p in client.params_of("ListUserInfo")] == [True]
    assert info_of(snap) == {"b1": "ios"}


def test_the_simulators_relay_and_recorder_bots_get_client_info() -> None:
    clock = FrozenClock(T)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0)
    app = sim.apps[0].app_id
    watch = [{"room_id": "room-demo-1", "user_ids": ["relay-bot", "recorder-bot", "alice"]}]
    for exclude, expected in ((False, {"relay-bot", "recorder-bot", "alice"}), (True, {"alice"})):
        settings = make_settings(
            endpoint="http://sim.test",
            apps=[{"app_id": app, "call_detail": watch}],
            sources={"rooms": {"exclude_server_users": exclude}},
        )
        rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
        try:
            rt.refresher.refresh("rooms")
            infos = [s for m in rt.registry.collect() if m.name == INFO for s in m.samples]
        finally:
            rt.stop()
        assert {s.labels["user_id"] for s in infos} == expected
        oses = {s.labels["user_id"]: s.labels["os"] for s in infos}
        assert all(oses[u] == "linux" for u in expected - {"alice"})


# -- HasMore -----------------------------------------------------------------------------------


def capped_vendor(calls: int, cap: int, *, total: str = "matched", spread: float = 86000) -> Any:
    """A ListRoomInfo that lists at most ``cap`` of the calls a query matches (oldest first) and
    says HasMore when it left some out. ``calls`` small rooms are created over the ``spread``
    seconds before now; the busiest room, ``hot``, is the newest. ``total``: ``matched`` (Total
    counts every match), ``listed`` (Total counts only what it lists)."""
    created = [T - spread + (i + 1) * (spread - 10) / calls for i in range(calls)]

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        start, end = params["StartTime"].timestamp(), params["EndTime"].timestamp()
        matched = [i for i, c in enumerate(created) if start <= c <= end]
        kept = matched[:cap]
        size, num = params["PageSize"], params["PageNum"]
        page = kept[(num - 1) * size : num * size]
        entries = [
            {"CallId": f"c{i}", "RoomId": "hot" if i == calls - 1 else f"r{i}",
             "CreatedTime": ts(created[i] - T), "DestroyTime": "",
             "ActiveUserNum": 500 if i == calls - 1 else 1 + i % 5, "IsFinished": False}
            for i in page
        ]  # fmt: skip
        return {"Total": len(matched) if total == "matched" else len(kept), "PageNum": num,
                "PageSize": size, "HasMore": len(matched) > cap, "RoomList": entries}  # fmt: skip

    return payload


def rooms_with(payload: Any, **settings: Any) -> tuple[Any, Any]:
    answers = world(ListRoomInfo=payload, GetRoomOnlineUsers=online_all)
    src, client = make_source("rooms", answers, top_rooms=1, **settings)
    return src.fetch(APP, T), client


def online_all(params: dict[str, Any]) -> dict[str, Any]:
    return {"RoomExists": True, "TotalUser": 1, "VisibleUserList": ["u"], "InvisibleUserList": []}


@pytest.mark.parametrize("total", ["matched", "listed"])
def test_has_more_narrows_the_window_until_every_room_is_listed(total: str) -> None:
    snap, client = rooms_with(capped_vendor(700, 250, total=total), max_pages=40)
    assert [w.room_id for w, _ in snap.candidates] == ["hot"]  # the newest, busiest room
    assert "has_more" not in snap.skipped and "max_pages" not in snap.skipped
    spans = {(p["EndTime"] - p["StartTime"]).total_seconds() for p in
             client.params_of("ListRoomInfo")}  # fmt: skip
    assert max(spans) == 86400 and min(spans) < 86400 / 2  # narrowed


def test_has_more_as_a_next_page_flag_only_pages() -> None:
    def paged(params: dict[str, Any]) -> dict[str, Any]:
        result = capped_vendor(250, 10_000)(params)
        return result | {"HasMore": params["PageNum"] * params["PageSize"] < result["Total"]}

    snap, client = rooms_with(paged)
    assert [p["PageNum"] for p in client.params_of("ListRoomInfo")] == [1, 2, 3]
    assert [w.room_id for w, _ in snap.candidates] == ["hot"] and not snap.skipped


def test_rooms_that_stay_unlisted_are_counted_by_reason(caplog: pytest.LogCaptureFixture) -> None:
    # 700 calls created within half a minute: no window is narrow enough (has_more)
    snap, client = rooms_with(capped_vendor(700, 250, spread=30), max_pages=100)
    assert snap.skipped == {"has_more": 700 - 250}
    assert 10 < len(client.params_of("ListRoomInfo")) < 100
    assert min((p["EndTime"] - p["StartTime"]).total_seconds()
               for p in client.params_of("ListRoomInfo")) <= 60  # fmt: skip
    # the call budget runs out: what was not listed is counted as max_pages
    caplog.clear()
    with caplog.at_level(logging.INFO):
        src, client = make_source("rooms", world(ListRoomInfo=capped_vendor(700, 250),
                                  GetRoomOnlineUsers=online_all), top_rooms=1, max_pages=4)  # fmt: skip
        snap = src.fetch(APP, T)
        src.fetch(APP, T)
    assert len(client.params_of("ListRoomInfo")) == 8
    assert snap.skipped == {"max_pages": 700 - 250 - 100}  # three pages, one narrowed page
    lines = [r.getMessage() for r in caplog.records if "unlisted" in r.getMessage()]
    assert len(lines) == 1  # once per app while it lasts


def test_the_vendor_example_with_has_more_is_narrowed() -> None:
    example = vendor_result("ListRoomInfo")
    snap, client = rooms_with(lambda p: example, max_pages=3)
    assert len(client.params_of("ListRoomInfo")) == 3  # the whole day, then narrower windows
    assert snap.skipped == {"max_pages": 1}  # Total says nothing more: at least one room
    assert [w.room_id for w, _ in snap.candidates] == ["Room1"]


@pytest.mark.parametrize(("max_pages", "found"), [(10, True), (3, False)])
def test_the_exporter_finds_the_busiest_room_of_a_crowded_simulator(
    max_pages: int, found: bool
) -> None:
    clock = FrozenClock(T)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0)
    app = sim.apps[0].app_id
    sim.activate("crowded_rooms")
    settings = make_settings(
        endpoint="http://sim.test",
        apps=[{"app_id": app}],
        sources={"rooms": {"max_pages": max_pages, "client_info": False}},
    )
    rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
    try:
        rt.refresher.refresh("rooms")
        get = rt.registry.get_sample_value
        hot = get("volcengine_rtc_room_active_users", {"app_id": app, "room_id": "crowd-hot"})
        skipped = {
            reason: get(
                "volcengine_rtc_exporter_points_skipped_total",
                {"source": "rooms", "reason": reason},
            )
            for reason in ("has_more", "max_pages")
        }
    finally:
        rt.stop()
    calls = sim.stats_doc()["ListRoomInfo"]["200"]
    if found:  # narrowed: one query of the whole day, then three of eight hours
        assert hot == 60.0 and skipped == {"has_more": 0.0, "max_pages": 0.0}
        assert calls == 9
    else:  # the call budget ran out first: counted, never silent
        assert hot is None and skipped["max_pages"] and skipped["max_pages"] > 100
        assert calls == 3
