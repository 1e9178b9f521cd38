"""The Volcengine RTC OpenAPI client: signing, pacing, retries, limits, error translation.

All HTTP goes through ``VolcClient``; sources never touch httpx. One typed method per action.
A call fails when the HTTP status is not 200 *or* ``ResponseMetadata.Error`` is present; every
failure is raised as one of ``exporter.errors``. At this boundary:

* the slot of the action's limiter is taken just before the request is written;
* ``timeout_seconds`` bounds the whole request (connect, send, headers and body);
* the body is read as a stream and abandoned past ``max_response_bytes``;
* every string of the answer is made valid UTF-8, vendor error messages are truncated;
* the answer is parsed per point (``exporter.models``): one bad point costs that point only;
* the ``Version`` per action is the provider's (``exporter.versions``): a refused version is
  followed at once by the next documented one, and the one that answers is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

from exporter import __version__
from exporter.errors import (
    ApiError,
    ApiNetworkError,
    ApiSchemaError,
    ApiServerError,
    ApiThrottledError,
    ApiTimeoutError,
    classify,
)
from exporter.limiter import Cancelled, Limiters, Waiter, backoff
from exporter.log import get_logger
from exporter.models import (
    AppsPage,
    CallDetailResult,
    IndicatorsResult,
    SegmentsResult,
    parse_apps,
    parse_call_detail,
    parse_indicators,
    parse_operation_distribution,
    sanitize,
)
from exporter.models_rooms import (
    OnlineUsers,
    RoomPage,
    UserInfoPage,
    parse_online_users,
    parse_room_info,
    parse_user_info,
)
from exporter.quotas import PROVIDERS
from exporter.recordtask import RecordTaskInfo, parse_record_task
from exporter.signing import VolcAuth, encode
from exporter.telemetry import Telemetry
from exporter.versions import Versions, refuses_version

__all__ = ["MAX_CALL_DETAIL_USERS", "MAX_USER_INFO_USERS", "VolcClient", "classify", "format_time"]

# re-exported: how vendor codes map to the error tree lives with the tree

log = get_logger(__name__)

MAX_CALL_DETAIL_USERS = 20
MAX_USER_INFO_USERS = 10
MAX_MESSAGE = 200  # characters of a vendor error message kept
T = TypeVar("T")

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_RETRYABLE = (ApiThrottledError, ApiServerError, ApiTimeoutError, ApiNetworkError)


def format_time(t: dt.datetime) -> str:
    """RFC 3339 with seconds precision and an explicit offset, as the API requires."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.replace(microsecond=0).isoformat()


def _message(v: object) -> str:
    text = v if isinstance(v, str) else ""
    text = " ".join(text.split())  # no CR/LF or control runs from the vendor
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE] + "…"


class VolcClient:
    def __init__(
        self,
        *,
        endpoint: str,
        region: str,
        credentials: Callable[[], tuple[str, str, str | None]],
        telemetry: Telemetry,
        limiters: Limiters,
        waiter: Waiter,
        tz: dt.tzinfo,
        version: str | None = None,
        provider: str = "volcengine",
        service: str = "rtc",
        timeout: float = 10.0,
        max_response_bytes: int = 16 << 20,
        max_retries: int = 2,
        backoff_seconds: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        wall: Callable[[], float] | None = None,
    ) -> None:
        self.provider = PROVIDERS[provider]
        self.versions = Versions(self.provider, version)
        self._telemetry = telemetry
        self._limiters = limiters
        self._waiter = waiter
        self._tz = tz
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        clock = (lambda: dt.datetime.fromtimestamp(wall(), dt.UTC)) if wall else None
        self._http = httpx.Client(
            base_url=endpoint,
            timeout=timeout,
            auth=VolcAuth(credentials, region=region, service=service, clock=clock),
            transport=transport,
            headers={
                "User-Agent": f"volc-rtc-exporter/{__version__}",
                "Accept": "application/json",
            },
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    # -- actions -------------------------------------------------------------------------------

    def query_indicators(
        self,
        action: str,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        indicators: Sequence[str],
        **extra: str,
    ) -> IndicatorsResult:
        """The indicator-style actions: ListRealTimeOperationData, ListRealTimeQuality,
        ListQuality, ListOperationData (``extra``: AggregateGranularity, ProductType)."""
        body = _window(app_id, start, end) | {"Indicator": list(indicators)} | extra
        return self._call(action, lambda r: parse_indicators(r, action, self._tz), body=body)

    def query_distribution(
        self,
        action: str,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        indicator: str,
        dimension: str,
        product_type: str,
    ) -> IndicatorsResult:
        """ListRealTimeQualityDistribution / ListQualityDistribution: one indicator, one
        dimension, one product type per call; points carry their segment."""
        body = _window(app_id, start, end) | {
            "Indicator": indicator,
            "Dimension": dimension,
            "ProductType": product_type,
        }
        return self._call(
            action, lambda r: parse_indicators(r, action, self._tz, segmented=True), body=body
        )

    def list_call_detail(
        self,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        room_id: str,
        user_ids: Sequence[str],
    ) -> CallDetailResult:
        if not 1 <= len(user_ids) <= MAX_CALL_DETAIL_USERS:
            raise ValueError(f"ListCallDetail takes 1..{MAX_CALL_DETAIL_USERS} user ids")
        query = [(k, str(v)) for k, v in _window(app_id, start, end).items()]
        query += [("RoomId", room_id), ("UserId", ",".join(user_ids))]
        action = "ListCallDetail"
        return self._call(action, lambda r: parse_call_detail(r, action), query=query)

    def operation_distribution(
        self, app_id: str, start: dt.datetime, end: dt.datetime, dimension: str
    ) -> SegmentsResult:
        """ListOperationDistribution: users (``user_count``) by Province or Country."""
        action = "ListOperationDistribution"
        body = _window(app_id, start, end) | {"Indicator": "user_count", "Dimension": dimension}
        return self._call(action, lambda r: parse_operation_distribution(r, action), body=body)

    def list_room_info(
        self, app_id: str, start: dt.datetime, end: dt.datetime, *, page: int, page_size: int
    ) -> RoomPage:
        """ListRoomInfo: one page of the rooms (calls) created in the window."""
        query = _query(app_id, start, end) + [("PageNum", str(page)), ("PageSize", str(page_size))]
        action = "ListRoomInfo"
        return self._call(action, lambda r: parse_room_info(r, action), query=query)

    def get_room_online_users(self, app_id: str, room_id: str) -> OnlineUsers:
        """GetRoomOnlineUsers: who is in the room now (user ids only)."""
        action = "GetRoomOnlineUsers"
        query = [("AppId", app_id), ("RoomId", room_id)]
        return self._call(action, lambda r: parse_online_users(r, action), query=query)

    def list_user_info(
        self,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        room_id: str,
        user_ids: Sequence[str],
        *,
        page: int = 1,
        page_size: int = 100,
        exclude_server_users: bool = False,
    ) -> UserInfoPage:
        """ListUserInfo: device details of at most 10 users of one room. ``ExcludeServerUser``
        is always sent (the vendor's default, true, leaves out Linux server-side users)."""
        if not 1 <= len(user_ids) <= MAX_USER_INFO_USERS:
            raise ValueError(f"ListUserInfo takes 1..{MAX_USER_INFO_USERS} user ids")
        query = _query(app_id, start, end) + [("RoomId", room_id), ("UserId", ",".join(user_ids))]
        query += [("PageNum", str(page)), ("PageSize", str(page_size))]
        query += [("ExcludeServerUser", "true" if exclude_server_users else "false")]
        action = "ListUserInfo"
        return self._call(action, lambda r: parse_user_info(r, action, self._tz), query=query)

    def get_record_task(self, app_id: str, room_id: str, task_id: str) -> RecordTaskInfo:
        """GetRecordTask: the state of one cloud recording task (started within 72 h)."""
        action = "GetRecordTask"
        query = [("AppId", app_id), ("RoomId", room_id), ("TaskId", task_id)]
        return self._call(action, lambda r: parse_record_task(r, action), query=query)

    def list_apps(self, *, limit: int = 100, offset: int = 0) -> AppsPage:
        body = {"Limit": str(limit), "Offset": str(offset)}
        return self._call("ListApps", lambda r: parse_apps(r, "ListApps"), body=body)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        action: str,
        parse: Callable[[dict[str, Any]], T],
        *,
        body: dict[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> T:
        limiter = self._limiters[action]
        attempt = 0
        versions = self.versions.order(action)
        while True:
            try:
                with limiter.slot(self._waiter) as slot:
                    self._telemetry.requests.labels(action).inc()
                    result = self._send(action, versions[0], body, query, slot.trace)
                self.versions.answered(action, versions[0])
                return parse(result)
            except ApiError as exc:
                if self._waiter.cancelled:  # aborted by a reload or shutdown: not the vendor's
                    raise Cancelled(f"{action} aborted") from None
                self._telemetry.failures.labels(action, exc.reason).inc()
                if refuses_version(exc) and exc.action == action:
                    following = versions[1] if len(versions) > 1 else None
                    self.versions.refused(action, versions[0], exc, following)
                    if following is not None:
                        versions = versions[1:]
                        continue  # the same request in the next version, at once
                if not isinstance(exc, _RETRYABLE) or attempt >= self._max_retries:
                    raise
                wait = backoff(attempt, self._backoff, 30.0, self._rng)
                log.debug("retrying", action=action, reason=exc.reason, wait_seconds=wait)
                if isinstance(exc, ApiThrottledError):
                    limiter.penalise(wait)  # hold every caller of this action, not only this one
                elif not self._waiter.wait(wait):
                    raise
                attempt += 1

    def _send(
        self,
        action: str,
        version: str,
        body: dict[str, Any] | None,
        query: list[tuple[str, str]] | None,
        trace: Callable[[str, object], None],
    ) -> dict[str, Any]:
        params = [("Action", action), ("Version", version), *(query or [])]
        url = "/?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in params)
        started = self._monotonic()
        deadline = started + self._timeout
        extensions = {"trace": trace}
        try:
            if body is not None:
                content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
                request = self._http.build_request(
                    "POST",
                    url,
                    content=content,
                    headers={"Content-Type": "application/json"},
                    extensions=extensions,
                )
            else:
                request = self._http.build_request("GET", url, extensions=extensions)
            status, raw = self._read(request, deadline, action)
        except httpx.TimeoutException as exc:
            raise ApiTimeoutError(f"no answer: {type(exc).__name__}", action=action) from None
        except httpx.TransportError as exc:
            raise ApiNetworkError(type(exc).__name__, action=action) from None
        finally:
            self._telemetry.duration.labels(action).observe(self._monotonic() - started)
        return self._decode(action, status, raw)

    def _read(self, request: httpx.Request, deadline: float, action: str) -> tuple[int, bytes]:
        """Send and read the body as a stream, within the deadline and the size cap."""
        response = self._http.send(request, stream=True)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self._max_bytes:
                raise self._too_large(action, response.status_code)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    raise self._too_large(action, response.status_code)
                chunks.append(chunk)
                if self._monotonic() > deadline:
                    raise ApiTimeoutError(
                        f"answer not complete within {self._timeout:g}s", action=action
                    )
            if self._monotonic() > deadline:
                raise ApiTimeoutError(f"no answer within {self._timeout:g}s", action=action)
            return response.status_code, b"".join(chunks)
        finally:
            response.close()

    def _too_large(self, action: str, status: int) -> ApiSchemaError:
        return ApiSchemaError(
            f"response larger than max_response_bytes ({self._max_bytes} bytes)",
            action=action,
            status=status,
        )

    def _decode(self, action: str, status: int, raw: bytes) -> dict[str, Any]:
        text = raw.decode("utf-8", "replace")  # invalid UTF-8 sequences become U+FFFD
        try:
            data = json.loads(text)
            if _SURROGATE_ESCAPE.search(text):
                data = sanitize(data)  # lone surrogates come only from \uD8xx escapes
        except (ValueError, RecursionError):
            if status != 200:
                cls = classify(status, "")
                raise cls(
                    f"HTTP {status} with a body that is not JSON", action=action, status=status
                ) from None
            raise ApiSchemaError(
                "HTTP 200 with a body that is not JSON", action=action, status=200
            ) from None
        if not isinstance(data, dict):
            raise ApiSchemaError("response is not a JSON object", action=action, status=status)
        meta = data.get("ResponseMetadata")
        meta = meta if isinstance(meta, dict) else {}
        error = meta.get("Error")
        request_id = _message(meta.get("RequestId"))[:64]
        if status != 200 or error:
            err = error if isinstance(error, dict) else {}
            code = _message(err.get("Code"))[:64]
            message = _message(err.get("Message")) or f"HTTP {status}"
            cls = classify(status, code)
            raise cls(message, action=action, status=status, code=code, request_id=request_id)
        result = data.get("Result")
        if not isinstance(result, dict):
            raise ApiSchemaError(
                "response has no Result object", action=action, status=200, request_id=request_id
            )
        return result


def _window(app_id: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"AppId": app_id, "StartTime": format_time(start), "EndTime": format_time(end)}


def _query(app_id: str, start: dt.datetime, end: dt.datetime) -> list[tuple[str, str]]:
    return [(k, str(v)) for k, v in _window(app_id, start, end).items()]
