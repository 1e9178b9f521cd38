"""The simulator on its own: validation, limits, shapes, scenarios, admin endpoints."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from exporter.signing import VolcAuth
from exporter.simulator import Simulator
from exporter.simulator.scenarios import SCENARIOS, parse_spec
from tests.conftest import AK, SK, FrozenClock

T = 1704196800.0
CST = dt.timezone(dt.timedelta(hours=8))


def iso(offset: float) -> str:
    return dt.datetime.fromtimestamp(T + offset, CST).isoformat()


@pytest.fixture
def sim() -> Any:
    s = Simulator(apps=2, credentials={AK: SK}, clock=FrozenClock(T), qps=1000.0)
    s.start()
    yield s
    s.stop()


def call(
    sim: Simulator,
    action: str,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    *,
    secret: str = SK,
) -> tuple[int, dict[str, Any]]:
    auth = VolcAuth(
        lambda: (AK, secret, None),
        region="cn-north-1",
        clock=lambda: dt.datetime.fromtimestamp(T, dt.UTC),
    )
    with httpx.Client(base_url=sim.url, auth=auth) as c:
        params = {"Action": action, "Version": "2023-11-01", **(query or {})}
        if body is None:
            r = c.get("/", params=params)
        else:
            r = c.post(
                "/",
                params=params,
                content=json.dumps(body),
                headers={"Content-Type": "application/json"},
            )
    return r.status_code, r.json()


def window(app: str, start: float, end: float, **kw: Any) -> dict[str, Any]:
    return {"AppId": app, "StartTime": iso(start), "EndTime": iso(end), **kw}


def test_envelope_and_realtime_shape(sim: Simulator) -> None:
    status, doc = call(
        sim,
        "ListRealTimeOperationData",
        window(sim.apps[0].app_id, -300, 0, Indicator=["online_user_count"]),
    )
    assert status == 200
    meta = doc["ResponseMetadata"]
    assert (
        meta["Action"] == "ListRealTimeOperationData"
        and meta["Service"] == "rtc"
        and "Error" not in meta
    )
    data = doc["Result"]["Indicators"][0]["Data"]
    stamps = [dt.datetime.fromisoformat(p["TimeStamp"]).timestamp() for p in data]
    assert all(s % 30 == 0 for s in stamps)  # 30 s buckets
    assert max(stamps) <= T - 20  # documented 20 s delay
    assert all(p["TimeStamp"].endswith("+08:00") for p in data)


def test_quality_names_in_threshold_and_media_forms(sim: Simulator) -> None:
    ind = [
        "join_room_success_rate",
        "stall_rate",
        "first_frame_send_success_rate",
        "first_frame_recv_success_rate",
        "network_trans_delay",
    ]
    _, doc = call(sim, "ListRealTimeQuality", window(sim.apps[0].app_id, -600, 0, Indicator=ind))
    names = {i["Name"] for i in doc["Result"]["Indicators"]}
    assert {
        "5s_join_room_success_rate",
        "80ms_audio_stall_rate",
        "500ms_video_stall_rate",
        "audio_first_frame_recv_success_rate",
        "400ms_video_network_trans_delay",
    } <= names
    assert all(i["Unit"] == "%" for i in doc["Result"]["Indicators"])


@pytest.mark.parametrize(
    ("action", "body", "code"),
    [
        (
            "ListRealTimeQuality",
            {"StartTime": iso(-60), "EndTime": iso(0), "Indicator": ["stall_rate"]},
            "MissingParameter",
        ),
        (
            "ListRealTimeQuality",
            {
                "AppId": "nope",
                "StartTime": iso(-60),
                "EndTime": iso(0),
                "Indicator": ["stall_rate"],
            },
            "InvalidParameter.NotExistAppId",
        ),
        (
            "ListRealTimeQuality",
            {
                "AppId": "@0",
                "StartTime": "2024-01-02 20:00:00",
                "EndTime": iso(0),
                "Indicator": ["stall_rate"],
            },
            "InvalidParameter",
        ),
        (
            "ListRealTimeQuality",
            {"AppId": "@0", "StartTime": iso(0), "EndTime": iso(-60), "Indicator": ["stall_rate"]},
            "InvalidParameter.StartTimeAfterEndTime",
        ),
        (
            "ListRealTimeQuality",
            {
                "AppId": "@0",
                "StartTime": iso(-7200),
                "EndTime": iso(0),
                "Indicator": ["stall_rate"],
            },
            "InvalidParameter.OutofTimeRange",
        ),
        (
            "ListRealTimeQuality",
            {"AppId": "@0", "StartTime": iso(-60), "EndTime": iso(0), "Indicator": ["bogus"]},
            "InvalidParameter",
        ),
        (
            "ListQuality",
            {
                "AppId": "@0",
                "StartTime": iso(-86400 * 8),
                "EndTime": iso(0),
                "Indicator": ["stall_rate"],
                "AggregateGranularity": "1d",
            },
            "InvalidParameter.OutofTimeRange",
        ),
        (
            "ListQuality",
            {
                "AppId": "@0",
                "StartTime": iso(-86400),
                "EndTime": iso(0),
                "Indicator": ["stall_rate"],
                "AggregateGranularity": "1h",
            },
            "InvalidParameter",
        ),
        (
            "ListOperationData",
            {
                "AppId": "@0",
                "StartTime": iso(-86400 * 31),
                "EndTime": iso(-86400 * 30),
                "Indicator": ["user_count"],
                "AggregateGranularity": "1d",
            },
            "InvalidParameter.OutofTimeRange",
        ),
    ],
)
def test_parameter_validation(sim: Simulator, action: str, body: dict[str, Any], code: str) -> None:
    if body.get("AppId") == "@0":
        body["AppId"] = sim.apps[0].app_id
    status, doc = call(sim, action, body)
    assert status == 400
    assert doc["ResponseMetadata"]["Error"]["Code"] == code
    assert "Result" not in doc


def test_call_detail_limits_and_shape(sim: Simulator) -> None:
    app = sim.apps[0].app_id
    q = {
        "AppId": app,
        "StartTime": iso(-600),
        "EndTime": iso(0),
        "RoomId": "r",
        "UserId": ",".join(f"u{i}" for i in range(21)),
    }
    status, doc = call(sim, "ListCallDetail", query=q)
    assert status == 400 and doc["ResponseMetadata"]["Error"]["Code"] == "InvalidParameter"
    status, doc = call(sim, "ListCallDetail", query=q | {"StartTime": iso(-7200)})
    assert doc["ResponseMetadata"]["Error"]["Code"] == "InvalidParameter.OutofTimeRange"
    status, doc = call(sim, "ListCallDetail", query=q | {"UserId": "a,b"})
    assert status == 200
    users = doc["Result"]["UserCallDetail"]
    assert {(u["UserId"], u["Direction"], u.get("PeerId")) for u in users} == {
        ("a", "up", None),  # uplink records carry no PeerId
        ("a", "down", "b"),
        ("b", "up", None),
        ("b", "down", "a"),
    }
    times = [p["Time"] for m in users[0]["CallDetail"] for p in m["Data"]]
    assert max(times) <= (T - 100) * 1000  # documented 100 s delay, ms epoch
    descs = {m["Desc"] for u in users for m in u["CallDetail"]}
    assert len(descs) == 27
    # POST is the wrong method for ListCallDetail
    status, doc = call(sim, "ListCallDetail", {"AppId": app})
    assert status == 400


def test_list_apps_pages_and_carries_app_keys(sim: Simulator) -> None:
    _, doc = call(sim, "ListApps", {"Limit": "2", "Offset": "0"})
    page = doc["Result"]
    assert page["Total"] == 3 and len(page["AppList"]) == 2
    assert all(a["AppKey"] for a in page["AppList"])
    _, doc = call(sim, "ListApps", {"Limit": "2", "Offset": "2"})
    assert [a["Status"] for a in doc["Result"]["AppList"]] == [6]


def test_bad_credentials(sim: Simulator) -> None:
    status, doc = call(sim, "ListApps", {}, secret="wrong")
    assert status == 401 and doc["ResponseMetadata"]["Error"]["Code"] == "SignatureDoesNotMatch"
    r = httpx.post(sim.url + "/?Action=ListApps&Version=2023-11-01", content=b"{}")
    assert r.status_code == 401
    r = httpx.post(sim.url + "/?Action=ListNothing&Version=2023-11-01", content=b"{}")
    assert (
        r.status_code == 404
        and r.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidActionOrVersion"
    )


def test_qps_limit_per_action_is_account_wide() -> None:
    s = Simulator(apps=2, credentials={AK: SK}, clock=FrozenClock(T), qps=2.0)
    s.start()
    try:
        codes = [call(s, "ListApps", {})[0] for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        _, doc = call(s, "ListApps", {})
        assert doc["ResponseMetadata"]["Error"]["Code"] == "FlowLimitExceeded.QPSOverLimit"
        # another action has its own budget
        assert (
            call(
                s,
                "ListRealTimeOperationData",
                window(s.apps[0].app_id, -60, 0, Indicator=["online_user_count"]),
            )[0]
            == 200
        )
        assert s.stats["ListApps"]["429"] == 2
    finally:
        s.stop()


def test_data_is_deterministic_and_follows_the_daily_curve() -> None:
    a = Simulator(apps=1, credentials={AK: SK}).apps[0]
    b = Simulator(apps=1, credentials={AK: SK}).apps[0]
    assert a.app_id == b.app_id and a.online_users(T) == b.online_users(T)
    night = T - 16 * 3600  # 04:00 +08:00
    assert a.online_users(T) > 3 * a.online_users(night)
    assert a.quality("stall_rate", "video", T) > a.quality(
        "stall_rate", "video", night
    )  # worse with load
    day = T - 20 * 3600 - 86400  # a day bucket start
    assert (
        a.operation("peak_concurrent_user", day, 86400) >= a.online_users(day + 20.5 * 3600) * 0.9
    )


def test_admin_scenarios(sim: Simulator) -> None:
    r = httpx.get(sim.url + "/-/scenarios").json()
    assert set(r["available"]) == set(SCENARIOS)
    assert httpx.post(sim.url + "/-/scenarios", json={"name": "nope"}).status_code == 400
    assert (
        httpx.post(
            sim.url + "/-/scenarios", json={"name": "slow", "params": {"bogus": 1}}
        ).status_code
        == 400
    )
    assert (
        httpx.post(sim.url + "/-/scenarios", json={"name": "expired_credentials"}).status_code
        == 200
    )
    status, doc = call(sim, "ListApps", {})
    assert status == 401 and doc["ResponseMetadata"]["Error"]["Code"] == "InvalidAccessKey"
    httpx.delete(sim.url + "/-/scenarios/expired_credentials")
    assert call(sim, "ListApps", {})[0] == 200


def test_scenario_spec_parsing() -> None:
    assert parse_spec("stall_spike:media=audio,video,value=40,os=android") == (
        "stall_spike",
        {
            "app_id": "",
            "media": "audio,video",
            "value": 40.0,
            "product_type": "",
            "os": "android",
            "network": "",
            "province": "",
        },
    )
    name, params = parse_spec("hostile_ids:fields=RoomId,UserId,action=ListCallDetail")
    assert params["fields"] == "RoomId,UserId" and params["action"] == "ListCallDetail"
    for bad in (
        "stall_spike:value=high",
        "stall_spike:os=symbian",
        "stall_spike:network=6g",
        "stall_spike:product_type=desktop",
        "stall_spike:media=smell",
        "bad_values:kind=purple",
        "stall_spike:,video",
    ):
        with pytest.raises(ValueError):
            parse_spec(bad)
    with pytest.raises(ValueError):
        parse_spec("unknown")
