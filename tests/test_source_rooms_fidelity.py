"""rooms against the vendor's own models: ``ExcludeServerUser`` (ListUserInfo) and ``HasMore``
(ListRoomInfo), with the fake client and against the simulator."""

from __future__ import annotations

from typing import Any

from exporter.runtime import Runtime
from exporter.simulator import Simulator
from exporter.types import AppTarget, WatchRoom
from tests.conftest import AK, SK, FrozenClock, SimTransport, make_settings
from tests.fakes import T, find, make_source, ts
from tests.test_source_rooms import INFO, world

# -- ExcludeServerUser -------------------------------------------------------------------------


def vendor_user_info(params: dict[str, Any]) -> dict[str, Any]:
    """As the vendor documents it: Linux (server-side) users are left out unless
    ExcludeServerUser is false; not sending it means true."""
    exclude = params.get("ExcludeServerUser", True)
    entries = [
        {"RoomId": params["RoomId"], "UserId": u, "CreatedAt": ts(-600), "LeaveAt": "",
         "Finished": False, "Duration": 600, "OS": "linux" if u.endswith("-bot") else "ios",
         "Access": "wifi", "DeviceType": "Linux server" if u.endswith("-bot") else "iPhone15,2",
         "SdkVersion": "3.58.1", "Pub": u.endswith("-bot"), "Record": []}
        for u in params["UserId"]
    ]  # fmt: skip
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
