"""API scenarios: answers that replace the normal one (errors, broken bodies), transformations
of a normal result (hostile strings, broken points), and body delivery (huge, endless, slow).

Every function returns a value; none raises to steer the request.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from exporter.simulator.quirks import product_type_error, transform_quirks
from exporter.simulator.response import (
    ApiError,
    SimResponse,
    envelope,
    error_response,
    repeat_to_size,
)
from exporter.simulator.scenarios import ActiveScenario

__all__ = ["deliver", "replace", "transform"]

SURROGATE = "\ud800"  # json.dumps writes it as the escape \ud800: valid JSON, not valid UTF-16
HOSTILE = '\x1b[31m\r\nlevel=error msg="injected line"\x1b[0m'
HOSTILE_FIELDS = (
    "AppName RoomId UserId PeerId CallId DeviceType SdkVersion VisibleUserList InvisibleUserList"
).split()
VALUE_KINDS = ("nan", "inf", "-inf", "negative", "huge", "string", "bool", "null", "missing")
POINT_KINDS = ("missing", "null", "number", "no_offset", "extra")

Active = Mapping[str, ActiveScenario]


def _on(active: Active, name: str, action: str, app_id: str) -> ActiveScenario | None:
    s = active.get(name)
    return s if s is not None and s.applies(action, app_id) else None


def replace(
    active: Active,
    action: str,
    app_id: str,
    meta: dict[str, Any],
    *,
    rng: random.Random,
    sleep: Callable[[float], None],
    secrets: tuple[str, str],
    params: Mapping[str, Any] | None = None,
) -> SimResponse | None:
    """An answer that replaces the normal one, or None. ``secrets``: (SecretAccessKey, AppKey);
    ``params``: the request's parameters (``product_type_error`` reads ProductType)."""
    if _on(active, "expired_credentials", action, app_id):
        err = ApiError(401, "InvalidAccessKey", "The AccessKey is expired", 100009)
        return error_response(meta, err)
    s = _on(active, "throttle_storm", action, app_id)
    if s and rng.random() < float(s.params["probability"]):
        return error_response(
            meta, ApiError(429, "FlowLimitExceeded.QPSOverLimit", "QPS over limit (storm)")
        )
    s = _on(active, "server_errors", action, app_id)
    if s and rng.random() < float(s.params["probability"]):
        status = int(s.params["status"])
        code = "ServiceUnavailableTemp" if status == 503 else "InternalError"
        return error_response(meta, ApiError(status, code, "simulated server error", 100014))
    s = _on(active, "slow", action, app_id)
    if s:
        sleep(float(s.params["seconds"]))
    quirk = product_type_error(active, action, app_id, params or {}, meta)
    if quirk is not None:
        return quirk
    if _on(active, "malformed_json", action, app_id):
        return SimResponse(200, b'{"ResponseMetadata": {"RequestId": "x", "Action": ')
    s = _on(active, "error_200", action, app_id)
    if s:
        error = {"Code": s.params["code"], "Message": "simulated"}
        doc = {"ResponseMetadata": meta | {"Error": error}, "Result": {}}
        return SimResponse(200, json.dumps(doc).encode())
    s = _on(active, "echo_secret", action, app_id)
    if s:
        sk, app_key = secrets
        message = f"signature check failed with SecretAccessKey {sk} (AppKey {app_key})"
        return error_response(
            meta, ApiError(int(s.params["status"]), str(s.params["code"]), message)
        )
    return None


def _walk(obj: Any, fn: Callable[[dict[str, Any]], None]) -> None:
    """Call ``fn`` on every dict inside ``obj`` (it may change the dict in place)."""
    if isinstance(obj, dict):
        fn(obj)
        for v in list(obj.values()):
            _walk(v, fn)
    elif isinstance(obj, list):
        for v in obj:
            _walk(v, fn)


def _poison(value: Any, extra: str) -> Any:
    if isinstance(value, list):
        return [_poison(v, extra) for v in value]
    return f"{value}{extra}" if isinstance(value, str) else extra


def _kinds(chosen: str, every: tuple[str, ...]) -> Iterator[str]:
    i = 0
    while True:
        yield every[i % len(every)] if chosen == "mixed" else chosen
        i += 1


def _bad_value(point: dict[str, Any], kind: str) -> None:
    v = point.get("Value")
    number = float(v) if isinstance(v, int | float) else 1.0
    table: dict[str, Any] = {
        "nan": float("nan"),
        "inf": float("inf"),
        "-inf": float("-inf"),
        "negative": -abs(number) - 1.0,
        "huge": 1e308,
        "string": f"{number:g}",
        "bool": True,
        "null": None,
    }
    if kind == "missing":
        point.pop("Value", None)
    else:
        point["Value"] = table[kind]


def _bad_point(point: dict[str, Any], key: str, kind: str) -> None:
    v = point[key]
    if kind == "missing":
        del point[key]
    elif kind == "null":
        point[key] = None
    elif kind == "number":  # the wrong type: epoch number for TimeStamp, a string for Time
        point[key] = str(v) if key == "Time" else 1704196800
    elif kind == "no_offset":
        point[key] = (str(v)[:19]) if key == "TimeStamp" else "2024-01-02T20:00:00"
    else:
        point.update({"StreamId": "", "Extra": {"Note": "unknown"}, "Quality": "good"})


def transform(result: Any, active: Active, action: str, app_id: str, rng: random.Random) -> None:
    """Apply the result-changing scenarios to ``result`` in place."""
    transform_quirks(result, active, action, app_id)
    s = _on(active, "surrogates", action, app_id)
    if s:
        field = str(s.params["field"])

        def surrogate(d: dict[str, Any]) -> None:
            if field in d:
                d[field] = _poison(d[field], SURROGATE)

        _walk(result, surrogate)
    s = _on(active, "hostile_ids", action, app_id)
    if s:
        fields = [f for f in str(s.params["fields"]).split(",") if f] or HOSTILE_FIELDS

        def hostile(d: dict[str, Any]) -> None:
            for f in fields:
                if f in d:
                    d[f] = _poison(d[f], HOSTILE)

        _walk(result, hostile)
    if action == "ListOperationDistribution" and _on(active, "share_fraction", action, app_id):

        def fraction(d: dict[str, Any]) -> None:
            if isinstance(d.get("Proportion"), int | float):
                d["Proportion"] = round(d["Proportion"] / 100, 2)

        _walk(result, fraction)
    s = _on(active, "random_units", action, app_id)
    if s:

        def unit(d: dict[str, Any]) -> None:
            if "Unit" in d:
                d["Unit"] = f"u{rng.randrange(16**8):08x}"

        _walk(result, unit)
    s = _on(active, "bad_values", action, app_id)
    if s:
        kinds = _kinds(str(s.params["kind"]), VALUE_KINDS)
        _walk(result, lambda d: _bad_value(d, next(kinds)) if "Value" in d else None)
    s = _on(active, "bad_points", action, app_id)
    if s:
        pkinds = _kinds(str(s.params["kind"]), POINT_KINDS)

        def point(d: dict[str, Any]) -> None:
            for key in ("TimeStamp", "Time"):
                if key in d and "Value" in d:
                    _bad_point(d, key, next(pkinds))
                    return

        _walk(result, point)


def _split_on_list(meta: dict[str, Any], result: Any) -> tuple[bytes, bytes, bytes]:
    """(prefix, one list item, suffix) of the envelope around the result's first list."""
    key, items = next(
        ((k, v) for k, v in (result or {}).items() if isinstance(v, list) and v),
        ("Padding", ["x" * 1000]),
    )
    marker = f"@@{uuid.uuid4().hex}@@"
    text = envelope(meta, {**(result or {}), key: marker}).decode()
    prefix, suffix = text.split(json.dumps(marker))
    return (prefix + "[").encode(), json.dumps(items[0]).encode(), ("]" + suffix).encode()


def deliver(
    body: bytes, result: Any, meta: dict[str, Any], active: Active, action: str, app_id: str
) -> SimResponse:
    """The HTTP 200 answer carrying ``body``, as huge, endless or trickling as the scenarios say."""
    s = _on(active, "huge_body", action, app_id)
    if s:
        prefix, item, suffix = _split_on_list(meta, result)
        return repeat_to_size(prefix, item, suffix, int(float(s.params["megabytes"]) * 2**20))
    if _on(active, "endless_body", action, app_id):
        prefix, item, suffix = _split_on_list(meta, result)

        def endless() -> Iterator[bytes]:
            yield prefix + item
            block = b"," + b",".join([item] * max(1, 65536 // len(item)))
            while True:
                yield block

        return SimResponse(200, stream=endless())
    s = _on(active, "trickle", action, app_id)
    if s:
        return SimResponse(200, body, rate=float(s.params["bytes_per_second"]))
    return SimResponse(200, body)
