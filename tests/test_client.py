"""The client over httpx.MockTransport: error mapping, retries, limits, request shape."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable, Iterator

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
from exporter.limiter import Limiters, Quota
from exporter.telemetry import Telemetry
from tests.conftest import AK, SK, VirtualClock, VirtualWaiter, envelope

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2024, 1, 1, tzinfo=TZ)
T1 = T0 + dt.timedelta(minutes=5)
LIVE = "ListRealTimeQuality"


def make_client(
    handler: Callable[[httpx.Request], httpx.Response],
    retries: int = 0,
    *,
    timeout: float = 10.0,
    max_bytes: int = 1 << 20,
    clock: VirtualClock | None = None,
) -> tuple[VolcClient, CollectorRegistry, list[float]]:
    registry = CollectorRegistry()
    clock = clock or VirtualClock()
    waiter = VirtualWaiter(clock)
    client = VolcClient(
        endpoint="https://rtc.volcengineapi.com",
        region="cn-north-1",
        credentials=lambda: (AK, SK, None),
        telemetry=Telemetry(registry, [LIVE, "ListApps"], [], clock),
        limiters=Limiters({}, Quota(per_second=1000), clock=clock),
        waiter=waiter,
        tz=TZ,
        max_retries=retries,
        backoff_seconds=1.0,
        timeout=timeout,
        max_response_bytes=max_bytes,
        transport=httpx.MockTransport(handler),
        monotonic=clock,
        rng=random.Random(0),
    )
    return client, registry, waiter.waits


def live(client: VolcClient) -> object:
    return client.query_indicators(LIVE, "app1", T0, T1, ["stall_rate"])


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
    ("notalist", respond(200, envelope(result={"Indicators": {"Name": "a"}})), ApiSchemaError),
    ("notobject", respond(200, b"[1, 2]"), ApiSchemaError),
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
        live(client)
    reason = expected.reason
    assert e.value.reason == reason
    assert value(registry, "volcengine_rtc_exporter_api_requests_total", action=LIVE) == 1
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action=LIVE,
            reason=reason,
        )
        == 1
    )
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_duration_seconds_count",
            action=LIVE,
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
    live(client)
    assert len(calls) == 3
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action=LIVE,
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
    client.query_indicators(
        "ListQuality",
        "app1",
        T0,
        T1,
        ["stall_rate"],
        AggregateGranularity="5min",
        ProductType="web",
    )
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
        "ProductType": "web",
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
    assert page.apps[0].app_id == "a" and page.apps[0].status == "1"
    assert "SECRET-APPKEY" not in repr(page) and "S2" not in repr(page)


def test_response_over_the_size_cap_is_a_schema_failure_read_no_further() -> None:
    produced: list[int] = []

    def endless() -> Iterator[bytes]:
        while True:  # a chunked body that never ends
            produced.append(1)
            yield b"x" * 65536

    client, registry, _ = make_client(
        lambda r: httpx.Response(200, content=endless()), max_bytes=256 * 1024
    )
    with pytest.raises(ApiSchemaError) as e:
        live(client)
    assert "max_response_bytes" in str(e.value)
    assert len(produced) <= 6  # stopped right after the cap, memory stays flat
    declared = lambda r: httpx.Response(200, headers={"Content-Length": "99999999"}, content=b"{}")  # noqa: E731
    client, _, _ = make_client(declared, max_bytes=1024)
    with pytest.raises(ApiSchemaError):
        live(client)


def test_timeout_bounds_the_whole_request_even_when_the_body_trickles() -> None:
    clock = VirtualClock()

    def trickle() -> Iterator[bytes]:
        body = envelope(result={"Indicators": []})
        for byte in body:
            clock.advance(1.0)  # one byte per second
            yield bytes([byte])

    client, registry, _ = make_client(
        lambda r: httpx.Response(200, content=trickle()), timeout=3.0, clock=clock
    )
    started = clock.t
    with pytest.raises(ApiTimeoutError):
        live(client)
    assert clock.t - started <= 4.0  # the deadline, plus at most one read
    assert (
        value(
            registry,
            "volcengine_rtc_exporter_api_request_failures_total",
            action=LIVE,
            reason="timeout",
        )
        == 1
    )


def test_vendor_strings_become_valid_utf8_and_messages_are_cut() -> None:
    body = (
        b'{"ResponseMetadata": {"RequestId": "r"}, "Result": {"Indicators": [{"Name": '
        b'"80ms_audio_stall_rate", "Unit": "\\ud800%", "Data": []}]}}'
    )
    client, _, _ = make_client(respond(200, body))
    result = client.query_indicators(LIVE, "app1", T0, T1, ["stall_rate"])
    unit = result.indicators[0].unit
    unit.encode("utf-8")  # no lone surrogate left
    assert unit == "\ufffd%"
    long = envelope(error={"Code": "InternalError", "Message": "boom\r\n\x1b[31m" + "x" * 5000})
    client, _, _ = make_client(respond(500, long))
    with pytest.raises(ApiServerError) as e:
        live(client)
    assert (
        len(e.value.message) <= 201 and "\r" not in e.value.message and "\n" not in e.value.message
    )


def test_one_bad_point_costs_that_point_only() -> None:
    data = [
        {"TimeStamp": "2024-01-01T00:00:00+08:00", "Value": 1.5},
        {"TimeStamp": "yesterday", "Value": 2},
        {"TimeStamp": "2024-01-01T00:00:30+08:00", "Value": "12"},
        {"TimeStamp": "2024-01-01T00:01:00+08:00", "Value": True},
        {"TimeStamp": "2024-01-01T00:01:30", "Value": 3.0},  # no offset: the configured zone
        {"TimeStamp": "2024-01-01T00:02:00+08:00"},  # missing value: kept as missing data
        "garbage",
    ]
    result = {"Indicators": [{"Name": "a", "Unit": "%", "Data": data}, {"Unit": "%"}, 7]}
    client, _, _ = make_client(respond(200, envelope(result=result)))
    got = client.query_indicators(LIVE, "app1", T0, T1, ["stall_rate"])
    points = got.indicators[0].points
    assert [p.value for p in points] == [1.5, 3.0, None]
    assert points[1].ts == dt.datetime(2024, 1, 1, 0, 1, 30, tzinfo=TZ).timestamp()
    assert got.skipped == {"timestamp": 1, "value": 2, "malformed": 3}


def test_redirects_are_not_followed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://evil.example/"})

    client, _, _ = make_client(handler)
    with pytest.raises(ApiError):
        live(client)
    assert len(seen) == 1
