"""call_detail: ListCallDetail -> per-user client metrics, one series per (user, peer)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from exporter.collectors.call_detail import ROWS, find_row
from exporter.types import AppTarget, WatchRoom
from tests.fakes import T, by_name, find, make_source
from tests.vendor import vendor_result

ROOM = "room-1"
USERS = ("alice", "bob", "carol")
RECEIVE_SIDE = {r.key for r in ROWS if r.per_peer}
DEVICE = {"App 的 CPU 使用率", "系统 CPU 使用率", "音频采集音量", "视频采集帧率"}


def world(params: dict[str, Any]) -> dict[str, Any]:
    """Every user sends (one uplink record) and receives from every other user (one downlink
    record per PeerId); each value depends on (user, peer, metric), so merging would show."""
    users = params["UserId"]
    records = []
    for ui, user in enumerate(users):
        for direction, peer in [("up", "")] + [("down", p) for p in users if p != user]:
            pi = users.index(peer) if peer else 9
            metrics = [
                {
                    "Name": row.alias or "placeholder",
                    "Desc": row.key,
                    "Unit": row.seed_unit,
                    "Data": [{"Time": int((T - 200) * 1000), "Value": 10 + ui * 3 + pi + k}],
                }
                for k, row in enumerate(ROWS)
                # downlink records carry the receive-side metrics (and, as the SDK allows, may
                # repeat device-level ones); uplink records the rest
                if (direction == "down") == row.per_peer
                or (direction == "down" and row.key in DEVICE)
            ]
            records.append(
                {
                    "RoomId": params["RoomId"],
                    "UserId": user,
                    "PeerId": peer,
                    "Direction": direction,
                    "CallDetail": metrics,
                }  # fmt: skip
            )
    return {"UserCallDetail": records}


def watched(*users: str) -> AppTarget:
    return AppTarget("app1", (WatchRoom(ROOM, users),))


def test_every_user_peer_pair_gets_its_own_series_for_every_receive_side_metric() -> None:
    src, _ = make_source("call_detail", {"ListCallDetail": world})
    snap = src.fetch(watched(*USERS), T)
    receive_rows = [r for r in ROWS if r.per_peer]
    assert len(receive_rows) == 12
    for row in receive_rows:
        family = "volcengine_rtc_client_" + row.metric
        for user in USERS:
            series = find(snap, family, user_id=user, **dict(row.labels))
            peers = {dict(s.labels)["peer_id"] for s in series}
            assert peers == set(USERS) - {user}, (row.key, user, peers)
            assert len({s.value for s in series}) == 2  # distinct values, none merged away


def test_uplink_and_device_level_metrics_have_no_peer() -> None:
    src, _ = make_source("call_detail", {"ListCallDetail": world})
    snap = src.fetch(watched(*USERS), T)
    for row in ROWS:
        if row.per_peer:
            continue
        series = find(
            snap, "volcengine_rtc_client_" + row.metric, user_id="alice", **dict(row.labels)
        )
        assert [dict(s.labels)["peer_id"] for s in series] == [""], row.key


def test_stall_duration_of_the_worse_peer_is_kept() -> None:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        def rec(peer: str, stall: float) -> dict[str, Any]:
            data = [{"Time": int((T - 200) * 1000), "Value": stall}]
            metric = {
                "Name": "video_stall_duration",
                "Desc": "视频卡顿时长",
                "Unit": "ms",
                "Data": data,
            }
            return {"RoomId": ROOM, "UserId": "carol", "PeerId": peer, "Direction": "down",
                    "CallDetail": [metric]}  # fmt: skip

        return {"UserCallDetail": [rec("alice", 120.0), rec("bob", 2400.0)]}

    src, _ = make_source("call_detail", {"ListCallDetail": answer})
    snap = src.fetch(watched("carol"), T)
    got = {dict(s.labels)["peer_id"]: s.value for s in snap.samples}
    assert got == {"alice": 0.12, "bob": 2.4}


def test_maps_by_desc_and_only_by_a_name_a_vendor_source_shows() -> None:
    send = next(r for r in ROWS if r.key == "音频发送码率")
    big = next(r for r in ROWS if r.key == "视频大流发送码率")
    assert find_row("音频 发送码率", "") is send  # spacing differences in Desc
    # the vendor's example: Name bandwidth is audio send bitrate, but only Desc decides
    assert find_row("", "bandwidth") is send
    assert find_row("视频大流发送码率", "bandwidth") is big
    # a Desc we do not know is an unknown metric, whatever its Name (no made-up aliases)
    assert find_row("音频发送码率（平均）", "bandwidth") is None
    assert find_row("unknown", "audio_send_bitrate") is None
    assert find_row("", "audio_send_bitrate") is None
    assert find_row("", "") is None
    assert [r.alias for r in ROWS if r.alias] == ["bandwidth"]
    assert len({(r.metric, r.labels) for r in ROWS}) == len(ROWS) == 27


def test_the_vendor_example_maps_to_the_audio_send_bitrate() -> None:
    src, _ = make_source(
        "call_detail", {"ListCallDetail": lambda p: vendor_result("ListCallDetail")}
    )
    snap = src.fetch(AppTarget("app1", (WatchRoom("Your_RoomId", ("Your_UserId",)),)), T)
    assert by_name(snap) == {
        (
            "volcengine_rtc_client_bitrate_bytes_per_second",
            frozenset({("app_id", "app1"), ("room_id", "Your_RoomId"), ("user_id", "Your_UserId"),
                       ("peer_id", ""), ("media", "audio"), ("direction", "up"), ("stream", "")}),
        ): 48.0 * 1000 / 8
    }  # fmt: skip
    assert not snap.skipped


def test_unmatched_rows_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        point = [{"Time": int((T - 200) * 1000), "Value": 5.0}]
        metrics = [
            {"Name": "bandwidth", "Desc": "视频编码码率", "Unit": "kbps", "Data": point},
            {"Name": "audio_send_bitrate", "Desc": "", "Unit": "kbps", "Data": point},
            {"Name": "bandwidth", "Desc": "音频发送码率", "Unit": "kbps", "Data": point},
        ]
        return {"UserCallDetail": [
            {"RoomId": ROOM, "UserId": u, "Direction": "up", "CallDetail": metrics}
            for u in params["UserId"]
        ]}  # fmt: skip

    src, _ = make_source("call_detail", {"ListCallDetail": answer})
    with caplog.at_level(logging.WARNING):
        snap = src.fetch(watched("alice", "bob"), T)
        src.fetch(watched("alice"), T)
    assert snap.skipped == {"unmatched": 4}  # two unknown rows for each of two users
    assert len(snap.samples) == 2  # the audio send bitrate of each
    lines = [r.getMessage() for r in caplog.records if "matches no row" in r.getMessage()]
    assert len(lines) == 2, lines  # one per distinct (Desc, Name), not per row or refresh


def test_windows_and_chunks_of_20() -> None:
    users = tuple(f"u{i}" for i in range(45))
    src, client = make_source("call_detail", {"ListCallDetail": lambda p: {"UserCallDetail": []}})
    src.fetch(watched(*users), T)
    assert [len(p["UserId"]) for _, p in client.calls] == [20, 20, 5]
    assert client.calls[0][1]["StartTime"].isoformat() == "2024-01-02T19:50:00+08:00"
    assert src.calls(watched(*users)) == {"ListCallDetail": 3}


def test_points_newer_than_the_100s_delay_are_not_used() -> None:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        data = [
            {"Time": int((T - 150) * 1000), "Value": 1.0},
            {"Time": int((T - 50) * 1000), "Value": 9.0},
        ]
        metric = {"Name": "", "Desc": "系统 CPU 使用率", "Unit": "%", "Data": data}
        return {
            "UserCallDetail": [
                {"RoomId": ROOM, "UserId": "alice", "Direction": "up", "CallDetail": [metric]}
            ]
        }

    src, _ = make_source("call_detail", {"ListCallDetail": answer})
    assert [s.value for s in src.fetch(watched("alice"), T).samples] == [0.01]


def test_series_cap_is_shared_by_every_app_of_a_cycle() -> None:
    src, _ = make_source("call_detail", {"ListCallDetail": world}, max_client_series=100)
    src.begin_cycle()
    first = src.fetch(watched(*USERS), T)
    second = src.fetch(AppTarget("app2", (WatchRoom(ROOM, USERS),)), T)
    full = len(
        make_source("call_detail", {"ListCallDetail": world})[0].fetch(watched(*USERS), T).samples
    )
    assert len(first.samples) == 100 and first.dropped == full - 100
    assert second.samples == [] and second.dropped == full
    src.begin_cycle()
    assert len(src.fetch(watched(*USERS), T).samples) == 100
