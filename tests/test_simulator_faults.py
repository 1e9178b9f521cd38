"""API fault scenarios, in process (virtual time) and over real loopback HTTP (endless and
trickling bodies)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exporter.simulator import Simulator
from tests.conftest import SK
from tests.simapi import Api, make

RTQ = {"Indicator": ["stall_rate", "join_room_success_rate"]}


def raw(api: Api, action: str = "ListRealTimeQuality", **body: Any) -> httpx.Response:
    return api.client.post(
        "/",
        params={"Action": action, "Version": "2023-11-01"},
        content=json.dumps(api.window(-300, **(body or RTQ))),
    )


def points(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for ind in doc["Result"]["Indicators"] for p in ind["Data"]]


def test_surrogates_in_the_chosen_field() -> None:
    sim, _, api = make()
    sim.activate("surrogates", {})
    r = raw(api)
    assert r.status_code == 200 and b'"%\\ud800"' in r.content
    assert all(i["Unit"] == "%\ud800" for i in r.json()["Result"]["Indicators"])
    sim.activate("surrogates", {"field": "AppName", "action": "ListApps"})
    apps = api.ok("ListApps", {})["AppList"]
    assert all(a["AppName"].endswith("\ud800") for a in apps)
    assert raw(api).json()["Result"]["Indicators"][0]["Unit"] == "%"  # narrowed to ListApps
    sim.activate("surrogates", {"field": "Status"})  # a number becomes a bad string
    assert {a["Status"] for a in api.ok("ListApps", {})["AppList"]} == {"\ud800"}
    sim.activate("surrogates", {"field": "VisibleUserList"})
    online = api.ok("GetRoomOnlineUsers", {"AppId": api.app, "RoomId": "room-demo-1"})
    assert all(u.endswith("\ud800") for u in online["VisibleUserList"])


def test_huge_body_is_valid_looking_and_streamed() -> None:
    sim, _, api = make()
    normal = raw(api).json()
    sim.activate("huge_body", {"megabytes": 2, "action": "ListRealTimeQuality"})
    with api.client.stream(
        "POST", "/", params={"Action": "ListRealTimeQuality", "Version": "2023-11-01"},
        content=json.dumps(api.window(-300, **RTQ)),
    ) as r:  # fmt: skip
        assert r.status_code == 200
        size = int(r.headers["Content-Length"])
        body = r.read()
    assert len(body) == size and abs(size - 2 * 2**20) < 2**14
    doc = json.loads(body)
    assert doc["ResponseMetadata"]["Action"] == "ListRealTimeQuality"
    assert doc["Result"]["Indicators"][0] == normal["Result"]["Indicators"][0]
    assert len(doc["Result"]["Indicators"]) > 100


def test_endless_body_in_process_never_ends() -> None:
    sim, _, api = make()
    sim.activate("endless_body", {})
    with api.client.stream(
        "POST", "/", params={"Action": "ListRealTimeQuality", "Version": "2023-11-01"},
        content=json.dumps(api.window(-300, **RTQ)),
    ) as r:  # fmt: skip
        assert "Content-Length" not in r.headers
        got = 0
        for chunk in r.iter_raw():
            got += len(chunk)
            if got > 8 * 2**20:
                break
    assert got > 8 * 2**20
    status, body = sim.handle("POST", "/?Action=ListApps&Version=2023-11-01", {}, b"{}")
    assert status == 401  # unsigned: faults come after authentication


def test_trickle_in_process_sleeps_on_the_virtual_clock() -> None:
    sim, clock, api = make()
    size = len(raw(api).content)
    sim.activate("trickle", {"bytes_per_second": 100})
    before = clock.slept
    r = raw(api)
    assert r.status_code == 200 and r.json()["Result"]["Indicators"]
    assert clock.slept - before == pytest.approx(len(r.content) / 100)
    assert abs(len(r.content) - size) < 50  # the normal body, only slower


@pytest.mark.parametrize("kind", ["mixed", "string", "null", "missing", "nan"])
def test_bad_values(kind: str) -> None:
    sim, _, api = make()
    sim.activate("bad_values", {"kind": kind})
    pts = points(raw(api).json())
    assert len(pts) > 20
    if kind == "mixed":
        seen = set()
        for p in pts:
            v = p.get("Value", "missing")
            if v == "missing":
                seen.add("missing")
            elif v is None:
                seen.add("null")
            elif isinstance(v, bool):
                seen.add("bool")
            elif isinstance(v, str):
                seen.add("string")
            elif math.isnan(v):
                seen.add("nan")
            elif math.isinf(v):
                seen.add("inf" if v > 0 else "-inf")
            elif v == 1e308:
                seen.add("huge")
            elif v < 0:
                seen.add("negative")
        assert seen == {
            "nan",
            "inf",
            "-inf",
            "negative",
            "huge",
            "string",
            "bool",
            "null",
            "missing",
        }
    elif kind == "string":
        assert all(isinstance(p["Value"], str) and float(p["Value"]) >= 0 for p in pts)
    elif kind == "null":
        assert all(p["Value"] is None for p in pts)
    elif kind == "missing":
        assert all("Value" not in p for p in pts)
    else:
        assert b"NaN" in raw(api).content  # the bare token a sloppy server sends
        assert all(math.isnan(p["Value"]) for p in pts)


def test_bad_points() -> None:
    sim, _, api = make()
    sim.activate("bad_points", {})
    pts = points(raw(api).json())
    stamps = [p.get("TimeStamp", "<missing>") for p in pts]
    assert "<missing>" in stamps and None in stamps
    assert any(isinstance(s, int) for s in stamps)
    assert any(isinstance(s, str) and len(s) == 19 for s in stamps)  # no UTC offset
    assert any("Extra" in p and p["TimeStamp"].endswith("+08:00") for p in pts)
    sim.activate("bad_points", {"kind": "number", "action": "ListCallDetail"})
    q = api.window(-600, RoomId="room-demo-1", UserId="alice")
    detail = api.ok("ListCallDetail", q)["UserCallDetail"]
    assert all(
        isinstance(p["Time"], str) for r in detail for m in r["CallDetail"] for p in m["Data"]
    )


def test_random_units_change_every_answer() -> None:
    sim, _, api = make()
    sim.activate("random_units", {})
    first = {i["Unit"] for i in raw(api).json()["Result"]["Indicators"]}
    second = {i["Unit"] for i in raw(api).json()["Result"]["Indicators"]}
    assert first.isdisjoint(second) and not first & {"%", "", "ms", "kbps", "fps"}


def test_hostile_ids() -> None:
    sim, _, api = make()
    sim.activate("hostile_ids", {})
    detail = api.ok("ListCallDetail", api.window(-600, RoomId="room-demo-1", UserId="alice"))
    for rec in detail["UserCallDetail"]:
        assert "\x1b[" in rec["UserId"] and "\r\n" in rec["RoomId"]
        assert "PeerId" not in rec or "\r\n" in rec["PeerId"]
    apps = api.ok("ListApps", {})["AppList"]
    assert all("\x1b[31m" in a["AppName"] for a in apps)
    assert all("\x1b" not in a["AppId"] for a in apps)  # not in the default fields
    sim.activate("hostile_ids", {"fields": "AppId"})
    assert all("\r\n" in a["AppId"] for a in api.ok("ListApps", {})["AppList"])


def test_echo_secret_puts_both_secrets_in_the_message() -> None:
    sim, _, api = make()
    sim.activate("echo_secret", {"action": "ListRealTimeQuality"})
    r = raw(api)
    err = r.json()["ResponseMetadata"]["Error"]
    assert r.status_code == 400 and err["Code"] == "InvalidParameter"
    assert SK in err["Message"] and sim.apps[0].app_key in err["Message"]
    assert api.ok("ListApps", {})["AppList"]  # other actions answer normally


def test_slow_uses_the_injected_sleep_and_the_old_faults_still_work() -> None:
    sim, clock, api = make()
    start = clock.t
    sim.activate("slow", {"seconds": 30, "action": "ListRealTimeQuality"})
    assert raw(api).status_code == 200 and clock.t == start + 30
    sim.deactivate("slow")
    expected = [
        ("throttle_storm", {}, 429, "FlowLimitExceeded.QPSOverLimit"),
        ("server_errors", {"status": 503}, 503, "ServiceUnavailableTemp"),
        ("expired_credentials", {}, 401, "InvalidAccessKey"),
        ("error_200", {"code": "InternalError"}, 200, "InternalError"),
    ]
    for name, params, status, code in expected:
        sim.activate(name, params | {"app_id": api.app})
        r = raw(api)
        assert r.status_code == status and r.json()["ResponseMetadata"]["Error"]["Code"] == code
        other = raw(api, AppId=sim.apps[1].app_id, **RTQ)
        assert other.status_code == 200 and "Error" not in other.json()["ResponseMetadata"]
        sim.deactivate(name)
    sim.activate("malformed_json", {})
    with pytest.raises(ValueError):
        raw(api).json()


# -- over real loopback HTTP ------------------------------------------------------------------


@pytest.fixture
def served() -> Iterator[tuple[Simulator, Api]]:
    sim, clock, api = make()
    sim.sleep = time.sleep  # real pacing over the socket
    sim.start()
    api.client = httpx.Client(base_url=sim.url, auth=api.client.auth, timeout=10)
    yield sim, api
    sim.stop()


def test_endless_body_over_http(served: tuple[Simulator, Api]) -> None:
    sim, api = served
    sim.activate("endless_body", {"action": "ListRealTimeQuality"})
    with api.client.stream(
        "POST", "/", params={"Action": "ListRealTimeQuality", "Version": "2023-11-01"},
        content=json.dumps(api.window(-300, **RTQ)),
    ) as r:  # fmt: skip
        assert r.headers["Transfer-Encoding"] == "chunked"
        got = 0
        for chunk in r.iter_raw():
            got += len(chunk)
            if got > 4 * 2**20:
                break
    assert got > 4 * 2**20
    # the client hung up; the server keeps answering
    assert api.ok("ListApps", {})["AppList"]
    assert sim.stats["ListRealTimeQuality"]["200"] == 1


def test_trickle_over_http(served: tuple[Simulator, Api]) -> None:
    sim, api = served
    sim.activate("trickle", {"bytes_per_second": 4000, "action": "ListRealTimeQuality"})
    params = {"Action": "ListRealTimeQuality", "Version": "2023-11-01"}
    body = json.dumps(api.window(-300, **RTQ))
    with api.client.stream("POST", "/", params=params, content=body) as r:
        chunks = [c for c in r.iter_raw()]
    assert len(chunks) >= 2  # delivered in paced pieces
    assert json.loads(b"".join(chunks))["Result"]["Indicators"]
    sim.activate("trickle", {"bytes_per_second": 8, "action": "ListRealTimeQuality"})
    with pytest.raises(httpx.ReadTimeout):
        api.client.post("/", params=params, content=body, timeout=httpx.Timeout(5, read=0.05))


def test_stop_ends_an_endless_stream(served: tuple[Simulator, Api]) -> None:
    sim, api = served
    sim.activate("endless_body", {})
    got = 0
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        with api.client.stream(
            "POST", "/", params={"Action": "ListRealTimeQuality", "Version": "2023-11-01"},
            content=json.dumps(api.window(-300, **RTQ)),
        ) as r:  # fmt: skip
            for chunk in r.iter_raw():
                got += len(chunk)
                if got > 2**20 and not sim.stopping.is_set():
                    sim.stop()  # the writer notices and closes the connection mid-body
                assert got < 256 * 2**20
    assert sim.stopping.is_set()
