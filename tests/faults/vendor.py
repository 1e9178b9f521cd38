"""A fault-injecting fake of the vendor's data OpenAPI, independent of the project's simulator.

It answers every action the exporter calls with the documented envelope and the smallest
plausible ``Result`` (constant values, one bucket every 30 s of the window, or per day/hour for
reports), and misbehaves on demand:

* ``apps``: what ListApps lists (change it at any time: a spike, a glitch);
* ``fail[(action, product_type)]``: answer HTTP 200 with ``ResponseMetadata.Error`` (``code``);
* ``ahead``: seconds the vendor's clock runs ahead (every timestamp is shifted);
* ``duplicate``: each point is listed twice, the copy with this value (in the source unit);
* ``hook(action, params)``: called before each answer (block, raise httpx errors, reload ...).

Every call is recorded as (action, AppId, params).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

CST = dt.timezone(dt.timedelta(hours=8))
STEP = {"1d": 86400.0, "1h": 3600.0, "5min": 300.0}
QUALITY = {"ListRealTimeQuality", "ListQuality"}
DISTRIBUTION = {"ListRealTimeQualityDistribution", "ListQualityDistribution"}
# ListCallDetail metric descriptions (the vendor's Chinese wording) and units
CALL_METRICS = (
    ("音频卡顿时长", "audio_stall_duration", "ms"),
    ("App 的 CPU 使用率", "app_cpu", "%"),
)


def _params(request: httpx.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.url.params)
    if request.content:
        params |= json.loads(request.content)
    return params


def _stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


class FaultyVendor(httpx.BaseTransport):
    def __init__(self, clock: Any, apps: list[str], value: float = 5.0) -> None:
        self.clock = clock
        self.apps = list(apps)
        self.value = value
        self.fail: dict[tuple[str, str], str] = {}
        self.ahead = 0.0
        self.duplicate: float | None = None
        self.users = ("u1", "u2")
        self.hook: Callable[[str, dict[str, Any]], None] | None = None
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def count(self, action: str, apps: set[str] | None = None) -> int:
        return sum(1 for a, app, _ in self.calls if a == action and (apps is None or app in apps))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        params = _params(request)
        action = params["Action"]
        self.calls.append((action, str(params.get("AppId", "")), params))
        if self.hook is not None:
            self.hook(action, params)
        meta: dict[str, Any] = {"RequestId": f"r{len(self.calls)}", "Action": action}
        code = self.fail.get((action, str(params.get("ProductType", ""))))
        if code is not None:
            meta["Error"] = {"Code": code, "Message": "product type unavailable"}
            return httpx.Response(200, content=json.dumps({"ResponseMetadata": meta}).encode())
        result = self._result(action, params)
        doc = {"ResponseMetadata": meta, "Result": result}
        return httpx.Response(200, content=json.dumps(doc, ensure_ascii=False).encode())

    # -- answers ---------------------------------------------------------------------------------

    def _points(self, params: dict[str, Any], value: float, **extra: Any) -> list[dict[str, Any]]:
        start, end = _stamp(params["StartTime"]), _stamp(params["EndTime"])
        step = STEP.get(str(params.get("AggregateGranularity", "")), 30.0)
        t = start - start % step
        out = []
        while t <= end:
            stamp = dt.datetime.fromtimestamp(t + self.ahead, CST).isoformat()
            out.append({"TimeStamp": stamp, "Value": value, **extra})
            if self.duplicate is not None:
                out.append({"TimeStamp": stamp, "Value": self.duplicate, **extra})
            t += step
        return out

    def _result(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "ListApps":
            apps = [{"AppId": a, "AppName": a, "Status": 1} for a in self.apps]
            offset, limit = int(params.get("Offset", 0)), int(params.get("Limit", 100))
            return {"AppList": apps[offset : offset + limit], "Total": len(apps)}
        if action in DISTRIBUTION:
            data = self._points(params, self.value, Dimension="android")
            return {"Indicators": [{"Name": params["Indicator"], "Unit": "%", "Data": data}]}
        if action == "ListOperationDistribution":
            return {"Data": [{"DistributionName": "广东", "Value": 10, "Proportion": 50.0}]}
        if action == "ListRoomInfo":
            room = {"RoomId": "room-1", "ActiveUserNum": len(self.users), "IsFinished": False}
            return {"RoomList": [room], "Total": 1}
        if action == "GetRoomOnlineUsers":
            return {"RoomExists": True, "TotalUser": len(self.users),
                    "VisibleUserList": list(self.users), "InvisibleUserList": []}  # fmt: skip
        if action == "ListUserInfo":
            return {"UserList": [self._user(u) for u in str(params["UserId"]).split(",")],
                    "Total": len(str(params["UserId"]).split(","))}  # fmt: skip
        if action == "ListCallDetail":
            return {"UserCallDetail": [self._call(u) for u in str(params["UserId"]).split(",")]}
        unit = "%" if action in QUALITY else ""
        names = params.get("Indicator") or []
        return {
            "Indicators": [
                {"Name": n, "Unit": unit, "Data": self._points(params, self.value)} for n in names
            ]
        }

    def _user(self, user: str) -> dict[str, Any]:
        return {"UserId": user, "OS": "android", "Access": "wifi", "DeviceType": "Pixel",
                "SdkVersion": "3.58.1", "Finished": False,
                "CreatedAt": dt.datetime.fromtimestamp(self.clock.time() - 600, CST).isoformat()}  # fmt: skip

    def _call(self, user: str) -> dict[str, Any]:
        t = int((self.clock.time() - 300 + self.ahead) * 1000)
        metrics = [{"Name": name, "Desc": desc, "Unit": unit, "Data": [{"Time": t, "Value": 3.0}]}
                   for desc, name, unit in CALL_METRICS]  # fmt: skip
        return {"RoomId": "room-1", "UserId": user, "PeerId": "", "Direction": "up",
                "CallDetail": metrics}  # fmt: skip
