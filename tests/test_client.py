"""The client over httpx.MockTransport: error mapping, retries, telemetry, request shape."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.client import VolcClient
from exporter.errors import (
    ApiAuthError,
    ApiClientError,
    ApiError,
    ApiNetworkError,
    ApiSchemaError,
    ApiServerError,
    ApiThrottledError,
    ApiTimeoutError,
)
from exporter.limiter import Limiters
from exporter.telemetry import Telemetry
from tests.conftest import AK, SK, envelope

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
T1 = T0 + dt.timedelta(minutes=5)


def make_client(
    handler: Callable[[httpx.Request], httpx.Response], retries: int = 0
) -> tuple[VolcClient, CollectorRegistry, list[float]]:
    registry = CollectorRegistry()
    sleeps: list[float] = []
    client = VolcClient(
        endpoint="https://rtc.volcengineapi.com",
        region="cn-north-1",
        access_key_id=AK,
        secret_access_key=SK,
        telemetry=Telemetry(registry),
        limiters=Limiters(1000.0, sleep=sleeps.append),
        max_retries=retries,
        backoff_seconds=1.0,
        transport=httpx.MockTransport(handler),
        sleep=sleeps.append,
        rng=random.Random(0),
    )
    return client, registry, sleeps


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    v = registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def respond(status: int, body: bytes) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, content=body)


def raise_(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


CASES: list[tuple[str, Callable[[httpx.Request], httpx.Response], type[ApiError]]] = [
    (
        "http429",
        respond(429, envelope(error={"Code": "FlowLimitExceeded", "Message": "x"})),
        ApiThrottledError,
    ),
    (
        "flowlimit400",
        respond(400, envelope(error={"Code": "FlowLimitExceeded.QPSOverLimit", "Message": "x"})),
        ApiThrottledError,
    ),
    (
        "badkey",
        respond(401, envelope(error={"Code": "InvalidAccessKey", "Message": "x"})),
        ApiAuthError,
    ),
    (
        "signature",
        respond(401, envelope(error={"Code": "SignatureDoesNotMatch", "Message": "x"})),
        ApiAuthError,
    ),
    (
        "skew",
        respond(400, envelope(error={"Code": "InvalidTimestamp", "Message": "x"})),
        ApiAuthError,
    ),
    ("policy", respond(403, envelope(error={"Code": "LackPolicy", "Message": "x"})), ApiAuthError),
    (
        "owner",
        respond(
            400, envelope(error={"Code": "InvalidParameter.AccountIdMismatch", "Message": "x"})
        ),
        ApiAuthError,
    ),
    (
        "http500",
        respond(500, envelope(error={"Code": "InternalError", "Message": "x"})),
        ApiServerError,
    ),
    ("http503-html", respond(503, b"<html>busy</html>"), ApiServerError),
    (
        "error-in-200",
        respond(200, envelope(result={}, error={"Code": "InternalError", "Message": "x"})),
        ApiServerError,
    ),
    (
        "param",
        respond(400, envelope(error={"Code": "InvalidParameter.OutofTimeRange", "Message": "x"})),
        ApiClientError,
    ),
    (
        "appid",
        respond(200, envelope(error={"Code": "InvalidParameter.NotExistAppId", "Message": "x"})),
        ApiClientError,
    ),
    ("notjson", respond(200, b'{"ResponseMetadata": {'), ApiSchemaError),
    ("noresult", respond(200, envelope()), ApiSchemaError),
    ("wrongshape", respond(200, envelope(result={"Indicators": [{"Unit": "%"}]})), ApiSchemaError),
    (
        "badtime",
        respond(
            200,
            envelope(
                result={
                    "Indicators": [{"Name": "a", "Data": [{"TimeStamp": "yesterday", "Value": 1}]}]
                }
            ),
        ),
        ApiSchemaError,
    ),
    ("status201", respond(201, envelope(result={})), ApiClientError),
    ("timeout", raise_(httpx.ReadTimeout("slow")), ApiTimeoutError),
    ("connect", raise_(httpx.ConnectError("refused")), ApiNetworkError),
]


@pytest.mark.parametrize(("case", "handler", "expected"), CASES, ids=[c[0] for c in CASES])
def test_error_mapping(
    case: str, handler: Callable[[httpx.Request], httpx.Response], expected: type[ApiError]
) -> None:
    client, registry, _ = make_client(handler)
    with pytest.raises(expected) as e:
        client.list_realtime_quality("app1", T0, T1, ["stall_rate"])
    reason = expected.reason
    assert e.value.reason == reason
    assert (
        value(registry, "volcengine_rtc_exporter_api_requests_total", action="ListRealTimeQuality")
        == 1
    )
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action="ListRealTimeQuality",
            reason=reason,
        )
        == 1
    )
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_duration_seconds_count",
            action="ListRealTimeQuality",
        )
        == 1
    )
    assert SK not in str(e.value)


def test_throttling_backs_off_with_jitter_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(
                429,
                content=envelope(error={"Code": "FlowLimitExceeded.QPSOverLimit", "Message": "x"}),
            )
        return httpx.Response(200, content=envelope(result={"Indicators": []}))

    client, registry, sleeps = make_client(handler, retries=2)
    client.list_realtime_operation_data("app1", T0, T1, ["online_user_count"])
    assert len(calls) == 3
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action="ListRealTimeOperationData",
            reason="throttled",
        )
        == 2
    )
    # the limiter held the action: two waits, growing, jittered (not immediate retries)
    waits = [s for s in sleeps if s > 0.1]
    assert len(waits) == 2
    assert 0.5 <= waits[0] <= 1.0 + 0.01
    assert 1.0 <= waits[1] <= 2.0 + 0.01


def test_client_errors_are_not_retried() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            400, content=envelope(error={"Code": "InvalidParameter", "Message": "x"})
        )

    client, _, _ = make_client(handler, retries=3)
    with pytest.raises(ApiClientError):
        client.list_apps()
    assert len(calls) == 1


def test_server_errors_retry_until_exhausted() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(502, content=b"bad gateway")

    client, registry, sleeps = make_client(handler, retries=2)
    with pytest.raises(ApiServerError):
        client.list_apps()
    assert len(calls) == 3 and len([s for s in sleeps if s > 0.1]) == 2
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action="ListApps",
            reason="server",
        )
        == 3
    )


def test_post_request_shape_and_signature_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=envelope(result={"Indicators": []}))

    client, _, _ = make_client(handler)
    client.list_quality("app1", T0, T1, ["stall_rate"], "5min")
    req = seen[0]
    assert req.method == "POST"
    assert req.url.params["Action"] == "ListQuality" and req.url.params["Version"] == "2023-11-01"
    body = json.loads(req.content)
    assert body == {
        "AppId": "app1",
        "StartTime": "2024-01-01T00:00:00+08:00",
        "EndTime": "2024-01-01T00:05:00+08:00",
        "Indicator": ["stall_rate"],
        "AggregateGranularity": "5min",
    }
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Authorization"].startswith(f"HMAC-SHA256 Credential={AK}/")
    assert "x-date" in req.headers and "x-content-sha256" in req.headers


def test_call_detail_is_get_with_encoded_query() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=envelope(result={"UserCallDetail": []}))

    client, _, _ = make_client(handler)
    client.list_call_detail("app1", T0, T1, "room 1", ["u1", "u2"])
    req = seen[0]
    assert req.method == "GET" and req.content == b""
    raw = req.url.query.decode()
    assert "StartTime=2024-01-01T00%3A00%3A00%2B08%3A00" in raw  # '+' must not become a space
    assert "UserId=u1%2Cu2" in raw and "RoomId=room%201" in raw
    with pytest.raises(ValueError):
        client.list_call_detail("app1", T0, T1, "r", [f"u{i}" for i in range(21)])


def test_apps_response_drops_app_keys() -> None:
    result = {
        "AppList": [
            {
                "AppId": "a",
                "AppName": "n",
                "AppKey": "SECRET-APPKEY",
                "SecondaryAppKey": "S2",
                "Status": 1,
            }
        ],
        "Total": 1,
    }
    client, _, _ = make_client(respond(200, envelope(result=result)))
    page = client.list_apps()
    assert page.app_list[0].app_id == "a"
    assert "SECRET-APPKEY" not in repr(page) and "S2" not in page.model_dump_json()
