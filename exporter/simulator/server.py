"""The simulator: state, request handling (transport independent), and its lifecycle.

``respond()`` turns one request into a ``SimResponse``; the loopback HTTP server
(:mod:`httpserver`) and the in-process httpx transport (:mod:`transport`) both call it.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
import random
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

from exporter.simulator import faults
from exporter.simulator.actions import ACTIONS, PROVIDERS, ActionSpec, quota_key
from exporter.simulator.admin import admin
from exporter.simulator.auth import AuthFailure, verify
from exporter.simulator.data import SimApp, make_apps
from exporter.simulator.model import Model
from exporter.simulator.quotas import QuotaBook
from exporter.simulator.recordings import RecordingBook
from exporter.simulator.response import ApiError, SimResponse, envelope, error_response
from exporter.simulator.scenarios import SCENARIOS, ActiveScenario, coerce, parse_spec
from exporter.simulator.validate import Ctx, parse_window, require_app
from exporter.simulator.world import RoomCall, build_crowd, build_world

__all__ = ["Simulator", "effective_limits"]


def effective_limits(
    provider: str,
    qps: float | None = None,
    qps_per_action: Mapping[str, float] | None = None,
    quotas: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, dict[str, float]]:
    """Quota key -> window -> limit: the provider's table, then the overrides in this order:
    ``qps`` (per second, every action), ``quotas["*"]``, ``qps_per_action``, ``quotas[action]``.
    A limit of 0 removes that window."""
    if provider not in PROVIDERS:
        raise ValueError(f"provider must be one of {', '.join(PROVIDERS)}")
    out: dict[str, dict[str, float]] = {}
    for spec in ACTIONS.values():
        out[spec.name] = spec.quotas[provider].limits()
        if spec.variant_quota is not None:
            out[quota_key(spec, {"Property": "true"})] = spec.variant_quota.limits()
    overrides = dict(quotas or {})
    unknown = set(overrides) - set(out) - {"*"} | set(qps_per_action or {}) - set(out)
    if unknown:
        raise ValueError(f"quota override for unknown action(s): {', '.join(sorted(unknown))}")
    for key, limits in out.items():
        if qps is not None:
            limits["second"] = qps
        limits.update(overrides.get("*", {}))
        if qps_per_action and key in qps_per_action:
            limits["second"] = qps_per_action[key]
        limits.update(overrides.get(key, {}))
        out[key] = {w: v for w, v in limits.items() if v > 0}
    return out


class Simulator:
    """The vendor API, in process (``respond``, ``transport()``) or on a loopback port
    (``start()`` returns the base URL)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        apps: int = 3,
        seed: int = 1,
        credentials: dict[str, str] | None = None,
        provider: str = "volcengine",
        region: str | None = None,
        qps: float | None = None,
        qps_per_action: dict[str, float] | None = None,
        quotas: Mapping[str, Mapping[str, float]] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        scenarios: list[str] | None = None,
        peaks: Sequence[int] = (),
    ) -> None:
        self.apps: list[SimApp] = make_apps(apps, seed, peaks)
        self.by_id = {a.app_id: a for a in self.apps}
        self.seed = seed
        self.credentials = credentials or {
            "AKLTsim" + secrets.token_hex(8): secrets.token_urlsafe(24)
        }
        self.provider = provider
        self.limits = effective_limits(provider, qps, qps_per_action, quotas)
        self.region = region or PROVIDERS[provider]
        self.clock, self.sleep = clock, sleep
        self.quota = QuotaBook(self.limits, clock)
        # the world of rooms is laid out around this instant (the minute the simulator started)
        self.epoch = math.floor(clock() / 60) * 60
        self._worlds: dict[str, list[RoomCall]] = {}
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self.active: dict[str, ActiveScenario] = {}
        self.stats: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self._rng = random.Random(seed)
        self.stopping = threading.Event()
        self._httpd: Any = None
        self.recordings = RecordingBook()  # GetRecordTask answers what the event feed sent
        self.feed: Any = None  # the event callback feed (exporter.simulator.callback_feed)
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
        from exporter.simulator.httpserver import serve

        self.stopping.clear()
        self._httpd = serve(self, self._host, self._port)
        return self.url

    def stop(self) -> None:
        self.stopping.set()
        if self.feed is not None:
            self.feed.stop()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def transport(self) -> httpx.BaseTransport:
        """An httpx transport that routes requests straight into this simulator (no socket)."""
        from exporter.simulator.transport import SimulatorTransport

        return SimulatorTransport(self)

    @property
    def running_apps(self) -> list[SimApp]:
        return [a for a in self.apps if a.status == 1]

    def rooms(self, app: SimApp) -> list[RoomCall]:
        """Every call of ``app`` by creation time (with ``crowded_rooms``: and the crowd)."""
        with self._lock:
            if app.app_id not in self._worlds:
                self._worlds[app.app_id] = build_world(self.seed, app.index, self.epoch)
            world = self._worlds[app.app_id]
            crowd = self.active.get("crowded_rooms")
            if crowd is None or crowd.params["app_id"] != app.app_id:
                return world
            key = f"{app.app_id}|{crowd.params['rooms']}|{crowd.params['users']}"
            if key not in self._worlds:
                extra = build_crowd(
                    self.seed, app.index, self.epoch, crowd.params["rooms"], crowd.params["users"]
                )
                self._worlds[key] = sorted(world + extra, key=lambda r: r.created)
            return self._worlds[key]

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

    # -- requests ----------------------------------------------------------------------------

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        """``respond()`` as (status, body bytes); a streamed body is read (an endless one is cut
        at 64 MiB, a trickle is not paced)."""
        resp = self.respond(method, target, headers, body)
        return resp.status, resp.read()

    def respond(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> SimResponse:
        parts = urlsplit(target)
        if parts.path.startswith("/-/"):
            return admin(self, method, parts.path, body)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        action, version = query.get("Action", ""), query.get("Version", "")
        meta: dict[str, Any] = {
            "RequestId": uuid.uuid4().hex,
            "Action": action,
            "Version": version,
            "Service": "rtc",
            "Region": self.region,
        }
        resp = self._api(method, parts.path or "/", parts.query, headers, body, meta)
        with self._lock:
            self.stats[action or "?"][str(resp.status)] += 1
        return resp

    def _api(
        self,
        method: str,
        path: str,
        raw_query: str,
        headers: Mapping[str, str],
        body: bytes,
        meta: dict[str, Any],
    ) -> SimResponse:
        action, version = meta["Action"], meta["Version"]
        spec = ACTIONS.get(action)
        if spec is None or version not in spec.versions_for(self.provider):
            err = ApiError(404, "InvalidActionOrVersion", "unknown Action or Version", 100008)
            return error_response(meta, err)
        try:
            ak = verify(
                method=method,
                path=path,
                raw_query=raw_query,
                headers=headers,
                body=body,
                secrets=self.credentials,
                region=self.region,
                service="rtc",
                now=dt.datetime.fromtimestamp(self.clock(), dt.UTC),
            )
        except AuthFailure as exc:
            return error_response(meta, ApiError(exc.status, exc.code, exc.message))
        try:
            params = _params(spec, method, dict(parse_qsl(raw_query, keep_blank_values=True)), body)
        except ApiError as err:
            return error_response(meta, err, description=spec.error_description)
        full = self.quota.admit(quota_key(spec, params))
        if full is not None:
            msg = f"{action}: the per-{full} quota is used up"
            return error_response(meta, ApiError(429, "FlowLimitExceeded.QPSOverLimit", msg))
        return self._answer(spec, version, params, meta, ak)

    def _answer(
        self, spec: ActionSpec, version: str, params: dict[str, Any], meta: dict[str, Any], ak: str
    ) -> SimResponse:
        with self._lock:
            active = dict(self.active)
        app_id = str(params.get("AppId", ""))
        app = self.by_id.get(app_id) or self.apps[0]
        replaced = faults.replace(
            active, spec.name, app_id, meta, rng=self._rng, sleep=self.sleep,
            secrets=(self.credentials[ak], app.app_key), params=params,
        )  # fmt: skip
        if replaced is not None:
            return replaced
        ctx = Ctx(spec, version, params, self.clock(), Model(active), None, self.apps,
                  self.rooms, self.seed, provider=self.provider,
                  recordings=self.recordings)  # fmt: skip
        try:
            if spec.needs_app:
                ctx.app_or_none = require_app(params, self.by_id)
            if spec.max_span:
                ctx.start, ctx.end = parse_window(ctx)
            result = spec.handler(ctx)
        except ApiError as err:
            return error_response(meta, err, description=spec.error_description)
        faults.transform(result, active, spec.name, app_id, self._rng)
        return faults.deliver(envelope(meta, result), result, meta, active, spec.name, app_id)

    # -- introspection -----------------------------------------------------------------------

    def stats_doc(self) -> dict[str, Any]:
        """Answers per action and HTTP status, plus quota refusals per key and window."""
        with self._lock:
            doc: dict[str, Any] = {a: dict(c) for a, c in self.stats.items()}
        doc["quota_rejections"] = {k: dict(c) for k, c in self.quota.rejections.items()}
        return doc

    def quota_doc(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "limits": self.limits,
            "remaining": {k: self.quota.remaining(k) for k in self.limits},
        }


def _params(spec: ActionSpec, method: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
    if method != spec.method:
        raise ApiError(
            400, "InvalidParameter.Method", f"{spec.name} must be called with {spec.method}"
        )
    if spec.method == "GET":
        return query
    if not body:
        if not spec.needs_app:
            return {}
        raise ApiError(400, "InvalidParameter.BodyIsEmpty", "request body is empty")
    try:
        params = json.loads(body)
    except ValueError:
        raise ApiError(400, "InvalidParameter.Unmarshal", "body is not JSON") from None
    if not isinstance(params, dict):
        raise ApiError(400, "InvalidParameter.Unmarshal", "body is not a JSON object")
    return params
