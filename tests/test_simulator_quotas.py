"""Quota windows (per second, minute, day; per provider), their overrides and counters, all on a
virtual clock."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from exporter.simulator import Simulator, effective_limits
from exporter.simulator.quotas import parse_quota_override
from tests.simapi import Api, make

QUALITY = {"Indicator": ["join_room_success_rate"], "AggregateGranularity": "1d"}


def report(api: Api) -> dict[str, Any]:
    return api.window(-2 * 86400, **QUALITY)


def status(api: Api, action: str = "ListQuality") -> int:
    body = (
        report(api)
        if action == "ListQuality"
        else api.window(-120, Indicator="stall_rate", Dimension="OS")
    )
    return api.post(action, body)[0]


def test_volcengine_second_window_slides_on_the_virtual_clock() -> None:
    sim, clock, api = make(qps=None)
    assert sim.region == "cn-north-1"
    assert [status(api) for _ in range(3)] == [200, 200, 429]
    code, err = api.error("ListQuality", report(api))
    assert code == 429 and err["Code"] == "FlowLimitExceeded.QPSOverLimit"
    clock.t += 0.5
    assert status(api) == 429
    clock.t += 0.5  # the first two are now a second old
    assert [status(api) for _ in range(3)] == [200, 200, 429]
    # another action has its own budget; another app shares the account's
    assert api.post("ListOperationData", api.window(-2 * 86400, Indicator=["user_count"],
                    AggregateGranularity="1d"))[0] == 200  # fmt: skip
    other = report(api) | {"AppId": sim.apps[1].app_id}
    assert api.post("ListQuality", other)[0] == 429
    stats = sim.stats_doc()
    assert stats["ListQuality"] == {"200": 4, "429": 5}
    assert stats["quota_rejections"]["ListQuality"] == {"second": 5}


def test_byteplus_minute_and_day_windows() -> None:
    sim, clock, api = make(provider="byteplus", qps=None)
    assert sim.region == "ap-singapore-1"
    assert sim.limits["ListQuality"] == {"minute": 10, "day": 60}
    assert [status(api) for _ in range(11)] == [200] * 10 + [429]
    assert sim.quota.rejections["ListQuality"] == {"minute": 1}
    for _ in range(5):  # 50 more, 10 per minute
        clock.t += 60
        assert [status(api) for _ in range(10)] == [200] * 10
    clock.t += 60
    assert status(api) == 429  # 60 today: the day window is full although the minute is fresh
    assert sim.quota.rejections["ListQuality"] == {"minute": 1, "day": 1}
    assert sim.quota.remaining("ListQuality") == {"minute": 10, "day": 0}
    clock.t += 86400 - 6 * 60  # exactly a day after the first ten
    assert [status(api) for _ in range(11)] == [200] * 10 + [429]


def test_a_day_of_virtual_time_pacing_versus_greedy_clients() -> None:
    """BytePlus: ListQuality 10/min, 60/day; ListRealTimeQualityDistribution 10/min, 1440/day."""
    sim, clock, api = make(provider="byteplus", qps=None)
    start = clock.t
    codes: dict[str, list[int]] = {"paced": [], "greedy": [], "dist": []}
    # the paced client asks ListQuality every 24 min and the distribution every minute: its
    # budget exactly; the greedy client asks ListQuality every 30 s (second app, same account)
    while clock.t < start + 86400:
        offset = round(clock.t - start)
        if offset % 1440 == 0:
            codes["paced"].append(status(api))
        if offset % 60 == 0:
            codes["dist"].append(status(api, "ListRealTimeQualityDistribution"))
        greedy_body = report(api) | {"AppId": sim.apps[1].app_id}
        codes["greedy"].append(api.post("ListQuality", greedy_body)[0])
        clock.t += 30
    assert codes["dist"] == [200] * 1440
    greedy_ok = codes["greedy"].count(200)
    paced_ok = codes["paced"].count(200)
    assert len(codes["greedy"]) == 2880
    # the account's 60 ListQuality calls a day are shared: the greedy client used them up
    # within its first half hour, and the paced client is refused for the rest of the day
    assert greedy_ok + paced_ok == 60
    assert codes["greedy"][:30] == [200] * 30 and codes["greedy"][120:].count(200) == 0
    assert 0 < paced_ok < 60
    assert sim.stats["ListQuality"]["429"] == len(codes["greedy"]) + len(codes["paced"]) - 60
    assert set(sim.quota.rejections["ListQuality"]) == {"day"}
    # alone, the paced client never sees a 429
    sim2, clock2, api2 = make(provider="byteplus", qps=None)
    paced = []
    for _ in range(60):
        paced.append(status(api2))
        clock2.t += 1440
    assert paced == [200] * 60
    assert sim2.stats_doc()["quota_rejections"] == {}


def test_overrides_and_their_order() -> None:
    limits = effective_limits(
        "byteplus",
        qps=100,
        qps_per_action={"ListCallDetail": 7},
        quotas={"*": {"day": 5000}, "ListQuality": {"day": 0, "minute": 30}},
    )
    assert limits["ListQuality"] == {"minute": 30, "second": 100}  # day 0: removed
    assert limits["ListCallDetail"] == {"minute": 10, "day": 5000, "second": 7}
    assert limits["GetRoomOnlineUsers(Property=true)"] == {"second": 100, "day": 5000}
    with pytest.raises(ValueError, match="unknown action"):
        effective_limits("volcengine", quotas={"ListNothing": {"second": 1}})
    with pytest.raises(ValueError, match="provider"):
        Simulator(provider="aws")
    assert parse_quota_override("ListQuality:day=1000") == ("ListQuality", "day", 1000.0)
    assert parse_quota_override("*:second=0") == ("*", "second", 0.0)
    for bad in ("ListQuality", "ListQuality:week=1", "ListQuality:day=many", "X:day=-1"):
        with pytest.raises(ValueError):
            parse_quota_override(bad)


def test_qps_keeps_working_as_a_per_second_override() -> None:
    sim, _, api = make(qps=1, qps_per_action={"ListOperationData": 3})
    assert [status(api) for _ in range(2)] == [200, 429]
    body = api.window(-2 * 86400, Indicator=["user_count"], AggregateGranularity="1d")
    assert [api.post("ListOperationData", body)[0] for _ in range(4)] == [200] * 3 + [429]


def test_online_users_with_property_has_its_own_one_per_second_quota() -> None:
    sim, _, api = make(qps=None)
    q = {"AppId": api.app, "RoomId": "room-demo-1"}
    assert [api.get("GetRoomOnlineUsers", q | {"Property": "true"})[0] for _ in range(2)] == [
        200,
        429,
    ]
    assert [api.get("GetRoomOnlineUsers", q)[0] for _ in range(40)] == [200] * 40
    assert api.get("GetRoomOnlineUsers", q)[0] == 429
    rejected = sim.stats_doc()["quota_rejections"]
    assert rejected == {
        "GetRoomOnlineUsers(Property=true)": {"second": 1},
        "GetRoomOnlineUsers": {"second": 1},
    }


def test_cli_provider_and_quota_flags_in_the_first_line(tmp_path: Any) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator", "--port", "0", "--provider", "byteplus",
         "--quota", "ListQuality:day=1000", "--quota", "*:second=0",
         "--scenario", "stall_spike:media=video,os=android"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
    finally:
        proc.terminate()
        proc.wait(10)
    assert info["provider"] == "byteplus" and info["region"] == "ap-singapore-1"
    assert info["quotas"]["ListQuality"] == {"minute": 10, "day": 1000}
    assert info["quotas"]["ListRoomInfo"] == {}
    assert info["scenarios"] == ["stall_spike"] and "secret_access_key" in info
    bad = subprocess.run(
        [sys.executable, "-m", "exporter.simulator", "--quota", "ListQuality:year=1"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode == 2 and "quota override" in bad.stderr
