"""The simulator's HTTP server (standard library ``ThreadingHTTPServer``: no dependency, and
loopback demo/test traffic is all it serves).

Routes: ``/?Action=...&Version=...`` (signed vendor API), and unsigned admin endpoints
``GET/POST/DELETE /-/scenarios[/<name>]``, ``GET /-/stats``, ``GET /-/healthy``.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import random
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from exporter.simulator.auth import AuthFailure, verify
from exporter.simulator.data import CST, SimApp, make_apps
from exporter.simulator.scenarios import SCENARIOS, ActiveScenario, coerce, parse_spec

__all__ = ["ApiFailure", "Simulator"]

VERSIONS = {"2020-12-01", "2023-11-01"}
TZ = dt.timezone(dt.timedelta(seconds=CST))
MIN, HOUR, DAY = 60.0, 3600.0, 86400.0

QUALITY_NAMES = {
    # indicator -> [(returned name, media)]
    "join_room_success_rate": [("5s_join_room_success_rate", "")],
    "stall_rate": [("80ms_audio_stall_rate", "audio"), ("500ms_video_stall_rate", "video")],
    "first_frame_send_success_rate": [
        ("audio_first_frame_send_success_rate", "audio"),
        ("video_first_frame_send_success_rate", "video"),
    ],
    "first_frame_recv_success_rate": [
        ("audio_first_frame_recv_success_rate", "audio"),
        ("video_first_frame_recv_success_rate", "video"),
    ],
    "network_trans_delay": [
        ("400ms_audio_network_trans_delay", "audio"),
        ("400ms_video_network_trans_delay", "video"),
    ],
}
SCENARIO_OF = {
    "stall_rate": "stall_spike",
    "join_room_success_rate": "join_drop",
    "first_frame_send_success_rate": "first_frame_failure",
    "first_frame_recv_success_rate": "first_frame_failure",
    "network_trans_delay": "network_delay",
}
OPERATION = (
    "user_count session_count peak_concurrent_user room_count high_concurrency_room "
    "peak_concurrent_room avg_call_count per_call_time avg_call_time total_online_time "
    "avg_online_time avg_user_count"
).split()
OPERATION_UNITS = {
    "per_call_time": "min",
    "avg_call_time": "min",
    "total_online_time": "分钟",
    "avg_online_time": "分钟",
}
REALTIME_OPERATION = ("online_user_count", "online_room_count")

# action -> (method, max span, max lookback, data delay, granularities)
ACTIONS: dict[str, tuple[str, float, float, float, tuple[str, ...]]] = {
    "ListRealTimeOperationData": ("POST", HOUR, HOUR, 20.0, ()),
    "ListRealTimeQuality": ("POST", HOUR, HOUR, 60.0, ()),
    "ListQuality": ("POST", 7 * DAY, 30 * DAY, 8 * HOUR, ("1d", "5min")),
    "ListOperationData": ("POST", 7 * DAY, 30 * DAY, 8 * HOUR, ("1d", "1h")),
    "ListCallDetail": ("GET", HOUR, 6 * DAY, 100.0, ()),
    "ListApps": ("POST", 0.0, 0.0, 0.0, ()),
}
GRANULARITY = {"1d": DAY, "1h": HOUR, "5min": 5 * MIN}
DEFAULT_QPS = {"ListCallDetail": 10.0}

# (Desc, Name, Unit, direction) of ListCallDetail metrics; "up" entries for the user itself,
# "down" entries once per peer
CALL_DETAIL = (
    ("App 的 CPU 使用率", "app_cpu_usage", "%", "up"),
    ("系统 CPU 使用率", "system_cpu_usage", "%", "up"),
    ("音频采集音量", "audio_capture_volume", "", "up"),
    ("音频发送码率", "audio_send_bitrate", "kbps", "up"),
    ("音频上行网络延时", "audio_up_delay", "ms", "up"),
    ("音频上行丢包率", "audio_up_loss", "%", "up"),
    ("视频发送分辨率的宽", "video_send_width", "", "up"),
    ("视频发送分辨率的高", "video_send_height", "", "up"),
    ("视频采集帧率", "video_capture_fps", "fps", "up"),
    ("视频大流发送帧率", "video_big_send_fps", "fps", "up"),
    ("视频小流发送帧率", "video_small_send_fps", "fps", "up"),
    ("视频大流发送码率", "video_big_send_bitrate", "kbps", "up"),
    ("视频小流发送码率", "video_small_send_bitrate", "kbps", "up"),
    ("视频上行网络延时", "video_up_delay", "ms", "up"),
    ("视频上行丢包率", "video_up_loss", "%", "up"),
    ("音频播放音量", "audio_playback_volume", "", "down"),
    ("音频接收码率", "audio_recv_bitrate", "kbps", "down"),
    ("音频下行网络延时", "audio_down_delay", "ms", "down"),
    ("音频下行丢包率", "audio_down_loss", "%", "down"),
    ("音频卡顿时长", "audio_stall_duration", "ms", "down"),
    ("视频接收分辨率的宽", "video_recv_width", "", "down"),
    ("视频接收分辨率的高", "video_recv_height", "", "down"),
    ("视频接收帧率", "video_recv_fps", "fps", "down"),
    ("视频接收码率", "video_recv_bitrate", "kbps", "down"),
    ("视频下行网络延时", "video_down_delay", "ms", "down"),
    ("视频下行丢包率", "video_down_loss", "%", "down"),
    ("视频卡顿时长", "video_stall_duration", "ms", "down"),
)

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")


class ApiFailure(Exception):
    def __init__(self, status: int, code: str, message: str, code_n: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.code_n = status, code, message, code_n


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, TZ).isoformat()


class Simulator:
    """The vendor API on a loopback port. ``start()`` returns the base URL."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        apps: int = 3,
        seed: int = 1,
        credentials: dict[str, str] | None = None,
        region: str = "cn-north-1",
        qps: float = 2.0,
        qps_per_action: dict[str, float] | None = None,
        clock: Callable[[], float] = time.time,
        scenarios: list[str] | None = None,
    ) -> None:
        self.apps: list[SimApp] = make_apps(apps, seed)
        self.by_id = {a.app_id: a for a in self.apps}
        self.credentials = credentials or {
            "AKLTsim" + secrets.token_hex(8): secrets.token_urlsafe(24)
        }
        self.region = region
        self.qps = qps
        self.qps_per_action = {**DEFAULT_QPS, **(qps_per_action or {})}
        self.clock = clock
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._recent: dict[str, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.active: dict[str, ActiveScenario] = {}
        self.stats: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self._rng = random.Random(seed)
        self._httpd: ThreadingHTTPServer | None = None
        for spec in scenarios or []:
            name, params = parse_spec(spec)
            self.activate(name, params)

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        return f"http://{self._host}:{self._httpd.server_port}"

    @property
    def port(self) -> int:
        assert self._httpd is not None, "not started"
        return int(self._httpd.server_port)

    def start(self) -> str:
        sim = self

        class Handler(_Handler):
            simulator = sim

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, args=(0.1,), name="simulator", daemon=True
        ).start()
        return self.url

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def running_apps(self) -> list[SimApp]:
        return [a for a in self.apps if a.status == 1]

    # -- scenarios ---------------------------------------------------------------------------

    def activate(self, name: str, params: dict[str, Any] | None = None) -> ActiveScenario:
        values = coerce(name, params or {})
        if SCENARIOS[name].kind == "data" and not values.get("app_id"):
            values["app_id"] = self.apps[0].app_id
        # data scenarios cover the last two minutes too, so the newest complete bucket shows them
        scenario = ActiveScenario(name, values, self.clock() - 120.0)
        with self._lock:
            self.active[name] = scenario
        return scenario

    def deactivate(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self.active.clear()
            else:
                self.active.pop(name, None)

    def _api_scenario(self, name: str, action: str, app_id: str) -> ActiveScenario | None:
        with self._lock:
            s = self.active.get(name)
        return s if s is not None and s.applies(action, app_id) else None

    # -- request handling (transport independent) -------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        action = query.get("Action", "")
        version = query.get("Version", "")
        request_id = uuid.uuid4().hex
        meta: dict[str, Any] = {
            "RequestId": request_id,
            "Action": action,
            "Version": version,
            "Service": "rtc",
            "Region": self.region,
        }
        app_id = ""
        try:
            if action not in ACTIONS or version not in VERSIONS:
                raise ApiFailure(404, "InvalidActionOrVersion", "unknown Action or Version", 100008)
            try:
                verify(
                    method=method,
                    path=parts.path or "/",
                    raw_query=parts.query,
                    headers=headers,
                    body=body,
                    secrets=self.credentials,
                    region=self.region,
                    service="rtc",
                    now=dt.datetime.fromtimestamp(self.clock(), dt.UTC),
                )
            except AuthFailure as exc:
                raise ApiFailure(exc.status, exc.code, exc.message) from None
            params = self._params(action, method, query, body)
            app_id = str(params.get("AppId", ""))
            self._throttle(action)
            self._misbehave(action, app_id)
            result = self._dispatch(action, params)
        except ApiFailure as exc:
            self.stats[action or "?"][str(exc.status)] += 1
            err: dict[str, Any] = {"Code": exc.code, "Message": exc.message}
            if exc.code_n is not None:
                err["CodeN"] = exc.code_n
            return exc.status, json.dumps({"ResponseMetadata": meta | {"Error": err}}).encode()
        except _Raw as raw:
            self.stats[action]["200"] += 1
            return 200, raw.body
        self.stats[action]["200"] += 1
        return 200, json.dumps({"ResponseMetadata": meta, "Result": result}).encode()

    def _params(
        self, action: str, method: str, query: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        want = ACTIONS[action][0]
        if method != want:
            raise ApiFailure(400, "InvalidParameter.Method", f"{action} must be called with {want}")
        if want == "GET":
            return dict(query)
        if not body:
            if action == "ListApps":
                return {}
            raise ApiFailure(400, "InvalidParameter.BodyIsEmpty", "request body is empty")
        try:
            params = json.loads(body)
        except ValueError:
            raise ApiFailure(400, "InvalidParameter.Unmarshal", "body is not JSON") from None
        if not isinstance(params, dict):
            raise ApiFailure(400, "InvalidParameter.Unmarshal", "body is not a JSON object")
        return params

    def _throttle(self, action: str) -> None:
        limit = self.qps_per_action.get(action, self.qps)
        now = time.monotonic()
        with self._lock:
            window = self._recent[action]
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= limit:
                raise ApiFailure(429, "FlowLimitExceeded.QPSOverLimit", "QPS over limit")
            window.append(now)

    def _misbehave(self, action: str, app_id: str) -> None:
        if self._api_scenario("expired_credentials", action, app_id):
            raise ApiFailure(401, "InvalidAccessKey", "The AccessKey is expired", 100009)
        s = self._api_scenario("throttle_storm", action, app_id)
        if s and self._rng.random() < float(s.params["probability"]):
            raise ApiFailure(429, "FlowLimitExceeded.QPSOverLimit", "QPS over limit (storm)")
        s = self._api_scenario("server_errors", action, app_id)
        if s and self._rng.random() < float(s.params["probability"]):
            status = int(s.params["status"])
            code = "ServiceUnavailableTemp" if status == 503 else "InternalError"
            raise ApiFailure(status, code, "simulated server error", 100014)
        s = self._api_scenario("slow", action, app_id)
        if s:
            time.sleep(float(s.params["seconds"]))
        if self._api_scenario("malformed_json", action, app_id):
            raise _Raw(b'{"ResponseMetadata": {"RequestId": "x", "Action": ')
        s = self._api_scenario("error_200", action, app_id)
        if s:
            raise _Raw(
                json.dumps(
                    {
                        "ResponseMetadata": {
                            "RequestId": uuid.uuid4().hex,
                            "Action": action,
                            "Error": {"Code": s.params["code"], "Message": "simulated"},
                        },
                        "Result": {},
                    }
                ).encode()
            )

    # -- validation helpers -------------------------------------------------------------------

    def _app(self, params: dict[str, Any]) -> SimApp:
        app_id = params.get("AppId")
        if not app_id:
            raise ApiFailure(400, "MissingParameter", "AppId is required", 100002)
        app = self.by_id.get(str(app_id))
        if app is None:
            raise ApiFailure(400, "InvalidParameter.NotExistAppId", "AppId does not exist")
        return app

    def _window(self, action: str, params: dict[str, Any]) -> tuple[float, float]:
        times = []
        for key in ("StartTime", "EndTime"):
            raw = params.get(key)
            if not raw:
                raise ApiFailure(400, "MissingParameter", f"{key} is required", 100002)
            if not isinstance(raw, str) or not _RFC3339.match(raw):
                raise ApiFailure(400, "InvalidParameter", f"{key} must be RFC3339: {raw!r}")
            times.append(dt.datetime.fromisoformat(raw).timestamp())
        start, end = times
        if start >= end:
            raise ApiFailure(
                400, "InvalidParameter.StartTimeAfterEndTime", "StartTime must be before EndTime"
            )
        _, span, lookback, _, _ = ACTIONS[action]
        now = self.clock()
        if end - start > span:
            raise ApiFailure(400, "InvalidParameter.OutofTimeRange", f"span over {span:g}s")
        if start < now - lookback - 60:
            raise ApiFailure(400, "InvalidParameter.OutofTimeRange", f"lookback over {lookback:g}s")
        return start, end

    def _indicators(self, params: dict[str, Any], allowed: Any) -> list[str]:
        ind = params.get("Indicator")
        if not isinstance(ind, list) or not ind:
            raise ApiFailure(400, "MissingParameter", "Indicator is required", 100002)
        for i in ind:
            if i not in allowed:
                raise ApiFailure(400, "InvalidParameter", f"unknown Indicator {i!r}")
        return [str(i) for i in ind]

    def _granularity(self, action: str, params: dict[str, Any]) -> str:
        g = params.get("AggregateGranularity")
        if g not in ACTIONS[action][4]:
            raise ApiFailure(
                400, "InvalidParameter", f"AggregateGranularity must be one of {ACTIONS[action][4]}"
            )
        return str(g)

    # -- actions ------------------------------------------------------------------------------

    def _dispatch(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        if action == "ListApps":
            return self._list_apps(params)
        app = self._app(params)
        start, end = self._window(action, params)
        if action == "ListRealTimeOperationData":
            return self._realtime_operation(app, start, end, params)
        if action == "ListRealTimeQuality":
            return self._realtime_quality(app, start, end, params)
        if action == "ListQuality":
            return self._quality_report(app, start, end, params)
        if action == "ListOperationData":
            return self._operation_report(app, start, end, params)
        return self._call_detail(app, start, end, params)

    def _buckets(self, start: float, end: float, length: float, delay: float) -> list[float]:
        """Bucket starts in [start, end) whose data has arrived (start <= now - delay)."""
        now = self.clock()
        first = ((start + CST) // length) * length - CST
        out = []
        b = first
        while b < end and b <= now - delay:
            if b + length > start:
                out.append(b)
            b += length
        return out

    def _realtime_operation(
        self, app: SimApp, start: float, end: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        inds = self._indicators(params, REALTIME_OPERATION)
        buckets = self._buckets(start, end, 30.0, ACTIONS["ListRealTimeOperationData"][3])
        out = []
        for ind in inds:
            fn = app.online_users if ind == "online_user_count" else app.online_rooms
            data = [{"TimeStamp": _ts(b), "Value": fn(b)} for b in buckets]
            out.append({"Name": ind, "Unit": "", "Data": data})
        return {"Indicators": out}

    def _quality_value(self, app: SimApp, ind: str, media: str, t: float, v: float) -> float:
        with self._lock:
            s = self.active.get(SCENARIO_OF[ind])
        if s is None or s.params.get("app_id") != app.app_id or t < s.since:
            return v
        if ind != "join_room_success_rate" and media not in s.media():
            return v
        return round(float(s.params["value"]), 2)

    def _realtime_quality(
        self, app: SimApp, start: float, end: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        inds = self._indicators(params, QUALITY_NAMES)
        buckets = self._buckets(start, end, 30.0, ACTIONS["ListRealTimeQuality"][3])
        out = []
        for ind in inds:
            for name, media in QUALITY_NAMES[ind]:
                data = [
                    {
                        "TimeStamp": _ts(b),
                        "Value": self._quality_value(
                            app, ind, media, b, app.quality(ind, media, b)
                        ),
                    }
                    for b in buckets
                ]
                out.append({"Name": name, "Unit": "%", "Data": data})
        return {"RoomId": "", "UserId": [], "Indicators": out}

    def _quality_report(
        self, app: SimApp, start: float, end: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        inds = self._indicators(params, QUALITY_NAMES)
        g = self._granularity("ListQuality", params)
        length = GRANULARITY[g]
        buckets = self._buckets(start, end, length, ACTIONS["ListQuality"][3])
        out = []
        for ind in inds:
            for name, media in QUALITY_NAMES[ind]:
                data = []
                for b in buckets:
                    v = app.quality_report(ind, media, b, length)
                    data.append(
                        {"TimeStamp": _ts(b), "Value": self._quality_value(app, ind, media, b, v)}
                    )
                out.append({"Name": name, "Unit": "%", "Data": data})
        return {"AggregateGranularity": g, "Indicators": out}

    def _operation_report(
        self, app: SimApp, start: float, end: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        inds = self._indicators(params, OPERATION)
        g = self._granularity("ListOperationData", params)
        length = GRANULARITY[g]
        buckets = self._buckets(start, end, length, ACTIONS["ListOperationData"][3])
        out = []
        for ind in inds:
            data = [{"TimeStamp": _ts(b), "Value": app.operation(ind, b, length)} for b in buckets]
            out.append({"Name": ind, "Unit": OPERATION_UNITS.get(ind, ""), "Data": data})
        return {"AggregateGranularity": g, "Indicators": out}

    def _call_detail(
        self, app: SimApp, start: float, end: float, params: dict[str, Any]
    ) -> dict[str, Any]:
        room = params.get("RoomId")
        if not room:
            raise ApiFailure(400, "MissingParameter", "RoomId is required", 100002)
        users = [u for u in str(params.get("UserId", "")).split(",") if u]
        if not users:
            raise ApiFailure(400, "MissingParameter", "UserId is required", 100002)
        if len(users) > 20:
            raise ApiFailure(400, "InvalidParameter", "at most 20 UserId")
        now = self.clock()
        first = -(-start // 10) * 10
        times = [t for t in _frange(first, end, 10.0) if t <= now - ACTIONS["ListCallDetail"][3]]
        details = []
        for user in users:
            entries = [("up", "", [m for m in CALL_DETAIL if m[3] == "up"])]
            entries += [
                ("down", p, [m for m in CALL_DETAIL if m[3] == "down"]) for p in users if p != user
            ]
            for direction, peer, metrics in entries:
                details.append(
                    {
                        "RoomId": room,
                        "UserId": user,
                        "PeerId": peer,
                        "Direction": direction,
                        "CallDetail": [
                            {
                                "Name": name,
                                "Desc": desc,
                                "Unit": unit,
                                "Data": [
                                    {
                                        "Time": int(t * 1000),
                                        "Value": app.client_metric(name, user, peer, t),
                                    }
                                    for t in times
                                ],
                            }
                            for desc, name, unit, _ in metrics
                        ],
                    }
                )
        return {"UserCallDetail": details}

    def _list_apps(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            limit = int(params.get("Limit", 50))
            offset = int(params.get("Offset", 0))
        except (TypeError, ValueError):
            raise ApiFailure(400, "InvalidParameter", "Limit and Offset are numbers") from None
        if not 1 <= limit <= 100 or offset < 0:
            raise ApiFailure(400, "InvalidParameter", "Limit must be 1..100, Offset >= 0")
        page = self.apps[offset : offset + limit]
        return {
            "AppList": [
                {
                    "AppId": a.app_id,
                    "AppName": a.name,
                    "AppKey": a.app_key,
                    "SecondaryAppKey": a.secondary_app_key,
                    "CreateAt": "2024-01-01T00:00:00+08:00",
                    "Status": a.status,
                }
                for a in page
            ],
            "Limit": str(limit),
            "Offset": str(offset),
            "Total": len(self.apps),
        }

    # -- admin ---------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if path == "/-/healthy":
            return 200, b'{"status":"ok"}'
        if path == "/-/stats" and method == "GET":
            return 200, json.dumps({a: dict(c) for a, c in self.stats.items()}).encode()
        if path == "/-/scenarios" and method == "GET":
            doc = {
                "active": {
                    n: {"params": s.params, "since": s.since} for n, s in self.active.items()
                },
                "available": {
                    n: {
                        "kind": s.kind,
                        "summary": s.summary,
                        "expect": s.expect,
                        "params": s.defaults,
                    }
                    for n, s in SCENARIOS.items()
                },
            }
            return 200, json.dumps(doc, ensure_ascii=False).encode()
        if path == "/-/scenarios" and method == "POST":
            try:
                req = json.loads(body or b"{}")
                s = self.activate(str(req.get("name", "")), dict(req.get("params") or {}))
            except (ValueError, AttributeError, TypeError) as exc:
                return 400, json.dumps({"error": str(exc)}).encode()
            return 200, json.dumps({"name": s.name, "params": s.params}).encode()
        if path.startswith("/-/scenarios") and method == "DELETE":
            name = path.removeprefix("/-/scenarios").strip("/") or None
            self.deactivate(name)
            return 200, b'{"status":"ok"}'
        return 404, b'{"error":"not found"}'


class _Raw(Exception):
    def __init__(self, body: bytes) -> None:
        self.body = body


def _frange(start: float, end: float, step: float) -> list[float]:
    out = []
    t = start
    while t < end:
        out.append(t)
        t += step
    return out


class _Handler(BaseHTTPRequestHandler):
    simulator: Simulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/-/"):
            status, payload = self.simulator.admin(self.command, self.path, body)
        else:
            headers = {k: v for k, v in self.headers.items()}
            status, payload = self.simulator.handle(self.command, self.path, headers, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve
