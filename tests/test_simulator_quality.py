"""Quality values: ProductType, the distribution actions, segment-limited scenarios (across
distributions, rooms, online users and call detail) and partly filled buckets."""

from __future__ import annotations

from typing import Any

import pytest

from exporter.simulator.segments import segments, share
from tests.simapi import Api, make, stamp

ALL = [
    "join_room_success_rate",
    "stall_rate",
    "first_frame_send_success_rate",
    "first_frame_recv_success_rate",
    "network_trans_delay",
]


def newest(indicators: list[dict[str, Any]]) -> dict[str, float]:
    """Returned Name -> Value of its newest point."""
    return {i["Name"]: max(i["Data"], key=lambda p: p["TimeStamp"])["Value"] for i in indicators}


def live(api: Api, **kw: Any) -> dict[str, float]:
    return newest(
        api.ok("ListRealTimeQuality", api.window(-300, Indicator=ALL, **kw))["Indicators"]
    )


def report(api: Api, **kw: Any) -> dict[str, float]:
    body = api.window(-3 * 86400, Indicator=ALL, AggregateGranularity="1d", **kw)
    return newest(api.ok("ListQuality", body)["Indicators"])


def breakdown(api: Api, indicator: str, dim: str, action: str = "ListRealTimeQualityDistribution",
              **kw: Any) -> dict[str, dict[str, float]]:  # fmt: skip
    """Returned Name -> segment -> newest Value."""
    span = -300 if "RealTime" in action else -3 * 86400
    result = api.ok(action, api.window(span, Indicator=indicator, Dimension=dim, **kw))
    out: dict[str, dict[str, float]] = {}
    for ind in result["Indicators"]:
        assert set(ind) == {"Name", "Data"}  # no Unit, no overview in these two actions
        top = max(p["TimeStamp"] for p in ind["Data"])
        out[ind["Name"]] = {
            p["Dimension"]: p["Value"] for p in ind["Data"] if p["TimeStamp"] == top
        }
    return out


def test_product_type_native_is_the_default_and_web_is_worse() -> None:
    _, _, api = make()
    for fetch in (live, report):
        default, native, web = (
            fetch(api),
            fetch(api, ProductType="native"),
            fetch(api, ProductType="web"),
        )
        assert default == native and web != native
        assert web["500ms_video_stall_rate"] > native["500ms_video_stall_rate"]
        assert web["80ms_audio_stall_rate"] > native["80ms_audio_stall_rate"]
        assert web["5s_join_room_success_rate"] < native["5s_join_room_success_rate"]
        assert (
            web["video_first_frame_recv_success_rate"]
            < native["video_first_frame_recv_success_rate"]
        )
    for action in ("ListRealTimeQualityDistribution", "ListQualityDistribution"):
        nat = breakdown(api, "stall_rate", "OS", action)["500ms_video_stall_rate"]
        webd = breakdown(api, "stall_rate", "OS", action, ProductType="web")[
            "500ms_video_stall_rate"
        ]
        assert all(webd[s] > nat[s] for s in nat)


@pytest.mark.parametrize("action", ["ListRealTimeQuality", "ListQuality", "ListQualityDistribution",
                                    "ListRealTimeQualityDistribution"])  # fmt: skip
@pytest.mark.parametrize("value", ["Web", "desktop", "", 1])
def test_product_type_outside_native_and_web_is_refused(action: str, value: Any) -> None:
    _, _, api = make()
    distribution = "Distribution" in action
    body = api.window(
        -3600,
        Indicator="stall_rate" if distribution else ["stall_rate"],
        ProductType=value,
        **({"Dimension": "OS"} if distribution else {}),
        **({"AggregateGranularity": "1d"} if action == "ListQuality" else {}),
    )
    status, err = api.error(action, body)
    assert status == 400 and err["Code"] == "InvalidParameter"


def test_web_only_scenario_leaves_native_alone() -> None:
    sim, _, api = make()
    before = live(api)
    sim.activate("stall_spike", {"media": "video", "product_type": "web", "value": 40})
    assert live(api, ProductType="web")["500ms_video_stall_rate"] == 40.0
    assert live(api)["500ms_video_stall_rate"] == before["500ms_video_stall_rate"]


def test_distribution_shapes_segments_and_validation() -> None:
    _, _, api = make()
    assert set(breakdown(api, "stall_rate", "OS")) == {
        "80ms_audio_stall_rate",
        "500ms_video_stall_rate",
    }
    join = breakdown(api, "join_room_success_rate", "Province", "ListQualityDistribution")
    assert set(join) == {"5s_join_room_success_rate"}
    assert {"广东", "北京", "香港"} <= set(join["5s_join_room_success_rate"])
    assert set(breakdown(api, "stall_rate", "Access")["80ms_audio_stall_rate"]) == {
        "wifi",
        "4g",
        "5g",
        "3g",
        "2g",
    }
    assert "中国" in breakdown(api, "stall_rate", "Country")["80ms_audio_stall_rate"]
    os_ = breakdown(api, "stall_rate", "OS")["500ms_video_stall_rate"]
    assert set(os_) == {"android", "ios", "windows", "mac", "linux"}
    for bad in ({"Dimension": "os"}, {"Dimension": "Platform"}, {"Indicator": ["stall_rate"]},
                {"Indicator": "bogus"}, {"Dimension": None}):  # fmt: skip
        body = api.window(-300, Indicator="stall_rate", Dimension="OS") | bad
        body = {k: v for k, v in body.items() if v is not None}
        status, err = api.error("ListRealTimeQualityDistribution", body)
        assert status == 400 and err["Code"] in ("InvalidParameter", "MissingParameter")
    code, err = api.error(
        "ListRealTimeQualityDistribution", api.window(-7200, Indicator="stall_rate", Dimension="OS")
    )
    assert err["Code"] == "InvalidParameter.OutofTimeRange"


@pytest.mark.parametrize("dim", ["OS", "Access", "Country"])
def test_app_value_is_the_traffic_weighted_mean_of_the_segments(dim: str) -> None:
    _, _, api = make()
    app = live(api)
    for name, segs in breakdown(api, "stall_rate", dim).items():
        mean = sum(share(dim, {s}) * v for s, v in segs.items())
        assert mean == pytest.approx(app[name], abs=0.05)
        assert max(segs.values()) > 1.2 * min(segs.values())  # segments do differ


def test_operation_distribution() -> None:
    _, _, api = make()
    for dim in ("Province", "province", "COUNTRY"):
        result = api.ok(
            "ListOperationDistribution",
            api.window(-2 * 86400, Indicator="user_count", Dimension=dim),
        )
        assert result["Name"] == "user_num" and result["Dimension"] == dim
        names = [p["DistributionName"] for p in result["Data"]]
        assert ("广东" in names) if dim.lower() == "province" else ("中国" in names)
        assert sum(p["Proportion"] for p in result["Data"]) == pytest.approx(100, abs=0.1)
        assert all(p["Value"] > 0 for p in result["Data"])
    for bad in ("OS", "Access"):
        status, err = api.error(
            "ListOperationDistribution", api.window(-86400, Indicator="user_count", Dimension=bad)
        )
        assert status == 400
    status, err = api.error(
        "ListOperationDistribution", api.window(-86400, Indicator="stall_rate", Dimension="Country")
    )
    assert err["Code"] == "InvalidParameter"


def test_list_quality_os_and_access_filters() -> None:
    _, _, api = make()
    android, ios = report(api, OS=["android"]), report(api, OS=["iOS"])
    assert (
        android["500ms_video_stall_rate"]
        > report(api)["500ms_video_stall_rate"]
        > ios["500ms_video_stall_rate"]
    )
    assert (
        report(api, Access=["2g", "3g"])["5s_join_room_success_rate"]
        < report(api)["5s_join_room_success_rate"]
    )
    assert report(api, OS=["android"], ProductType="web") == report(
        api, ProductType="web"
    )  # ignored for web


def test_segment_limited_stall_spike_everywhere() -> None:
    """stall_spike:media=video,os=android,value=30 across every API the exporter reads."""
    sim, clock, api = make()
    normal = live(api)["500ms_video_stall_rate"]
    sim.activate("stall_spike", {"media": "video", "os": "android", "value": 30})
    clock.t += 600  # ten minutes into the problem
    # distributions: exactly that segment degraded, to the value given
    by_os = breakdown(api, "stall_rate", "OS")
    assert by_os["500ms_video_stall_rate"]["android"] == 30.0
    assert all(v < 8 for s, v in by_os["500ms_video_stall_rate"].items() if s != "android")
    assert max(by_os["80ms_audio_stall_rate"].values()) < 8  # audio untouched
    by_access = breakdown(api, "stall_rate", "Access")["500ms_video_stall_rate"]
    assert all(8 < v < 30 for v in by_access.values())  # every network carries android users
    # the app-level value moves by android's share of the traffic and crosses the 8 % line
    app = live(api)["500ms_video_stall_rate"]
    f = share("OS", {"android"})
    assert app == pytest.approx((1 - f) * normal + f * 30, abs=0.5) and app > 8
    # the busiest running room holds android users, and their call detail is clearly worse
    rooms = api.ok("ListRoomInfo", api.window(-86400, PageSize=100))["RoomList"]
    busiest = max((r for r in rooms if not r["IsFinished"]), key=lambda r: r["ActiveUserNum"])
    online = api.ok("GetRoomOnlineUsers", {"AppId": api.app, "RoomId": busiest["RoomId"]})
    info = api.ok("ListUserInfo", api.window(-3600, RoomId=busiest["RoomId"], PageSize=100))[
        "UserList"
    ]
    os_of = {u["UserId"]: u["OS"] for u in info}
    watched = online["VisibleUserList"][:20]
    android = [u for u in watched if os_of.get(u) == "android"]
    others = [u for u in watched if os_of.get(u) in ("ios", "windows", "mac")]
    assert android and others
    detail = api.ok(
        "ListCallDetail", api.window(-600, RoomId=busiest["RoomId"], UserId=",".join(watched))
    )

    def values(user: str, metric: str, direction: str) -> dict[str, float]:
        """Peer ("" for uplink) -> mean value of the user's series."""
        return {
            rec.get("PeerId", ""): sum(p["Value"] for p in m["Data"]) / len(m["Data"])
            for rec in detail["UserCallDetail"]
            if rec["UserId"] == user and rec["Direction"] == direction
            for m in rec["CallDetail"]
            if m["Name"] == metric
        }

    for metric, direction in (("video_stall_duration", "down"), ("video_down_loss", "down"),
                              ("video_up_loss", "up")):  # fmt: skip
        hit = [values(u, metric, direction) for u in android]
        spared = [values(u, metric, direction) for u in others]
        common = set(hit[0]) & set(spared[0])  # the same sender, received by both groups
        assert common
        for peer in common:
            assert min(h[peer] for h in hit if peer in h) > 4 * max(
                s[peer] for s in spared if peer in s
            )
    audio = [values(u, "audio_stall_duration", "down") for u in android + others]
    assert max(v for a in audio for v in a.values()) < 400  # audio untouched


def test_province_limited_join_drop() -> None:
    sim, _, api = make()
    normal = live(api)["5s_join_room_success_rate"]
    sim.activate("join_drop", {"province": "四川", "value": 50})
    by_province = breakdown(api, "join_room_success_rate", "Province")["5s_join_room_success_rate"]
    assert by_province["四川"] == 50.0 and all(
        v > 95 for s, v in by_province.items() if s != "四川"
    )
    by_country = breakdown(api, "join_room_success_rate", "Country")["5s_join_room_success_rate"]
    assert by_country["中国"] < 97 and by_country["新加坡"] > 98
    f = share("Province", {"四川"}) * share("Country", {"中国"})
    assert live(api)["5s_join_room_success_rate"] == pytest.approx(
        (1 - f) * normal + f * 50, abs=0.1
    )


def newest_point(api: Api, action: str, **kw: Any) -> dict[str, Any]:
    result = api.ok(action, api.window(-600, **kw))
    return max(result["Indicators"][0]["Data"], key=lambda p: p["TimeStamp"])  # type: ignore[no-any-return]


def test_partial_buckets_are_hidden_unless_the_scenario_shows_them() -> None:
    sim, clock, api = make()
    clock.t += 10  # 10 s into a 30 s bucket
    ops = {"Indicator": ["online_user_count"]}
    point = newest_point(api, "ListRealTimeOperationData", **ops)
    assert stamp(point["TimeStamp"]) <= clock.t - 20  # the documented delay
    complete_users = point["Value"]
    join = live(api)["5s_join_room_success_rate"]
    stall = live(api)["500ms_video_stall_rate"]
    sim.activate("partial_bucket", {})
    point = newest_point(api, "ListRealTimeOperationData", **ops)
    assert stamp(point["TimeStamp"]) > clock.t - 20  # inside the delay: still filling
    assert point["Value"] == pytest.approx(complete_users / 2, rel=0.1)
    result = api.ok("ListRealTimeQuality", api.window(-300, Indicator=ALL))
    stamps = [stamp(p["TimeStamp"]) for p in result["Indicators"][0]["Data"]]
    assert max(stamps) > clock.t - 60
    partial = newest(result["Indicators"])
    assert partial["5s_join_room_success_rate"] < join - 3
    assert partial["500ms_video_stall_rate"] > 2 * stall
    # the same for the report: today's buckets younger than 8 h appear
    body = api.window(-86400, Indicator=["user_count"], AggregateGranularity="1h")
    data = api.ok("ListOperationData", body)["Indicators"][0]["Data"]
    assert max(stamp(p["TimeStamp"]) for p in data) > clock.t - 8 * 3600
    sim.deactivate("partial_bucket")
    data = api.ok("ListOperationData", body)["Indicators"][0]["Data"]
    assert max(stamp(p["TimeStamp"]) for p in data) <= clock.t - 8 * 3600
    # another app is not affected
    sim.activate("partial_bucket", {"app_id": sim.apps[1].app_id})
    point = newest_point(api, "ListRealTimeOperationData", **ops)
    assert stamp(point["TimeStamp"]) <= clock.t - 20


def test_segments_table_is_consistent() -> None:
    for dim in ("OS", "Access", "Province", "Country"):
        assert share(dim, segments(dim)) == pytest.approx(1.0)
    assert share("OS", {"android"}) >= 0.4  # big enough for a segment spike to cross 8 %
