"""The Volcengine RTC OpenAPI client: signing, pacing, retries, error translation, telemetry.

All HTTP goes through ``VolcClient``; collectors never touch httpx. One typed method per action.
A call fails when the HTTP status is not 200 *or* ``ResponseMetadata.Error`` is present; every
failure is raised as one of ``exporter.errors``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from exporter import __version__
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
from exporter.limiter import Limiters, backoff
from exporter.models import AppsResult, CallDetailResult, IndicatorsResult
from exporter.signing import VolcAuth, encode
from exporter.telemetry import Telemetry

__all__ = ["MAX_CALL_DETAIL_USERS", "VolcClient", "classify", "format_time"]

log = logging.getLogger(__name__)

MAX_CALL_DETAIL_USERS = 20
M = TypeVar("M", bound=BaseModel)

_AUTH_CODES = {
    "InvalidAccessKey",
    "SignatureDoesNotMatch",
    "InvalidTimestamp",
    "MissingAuthenticationToken",
    "MissingSignature",
    "MissingRequestInfo",
    "AccessDenied",
    "LackPolicy",
    "InvalidCredential",
    "InvalidParameter.AccountIdMismatch",
}
_SERVER_CODES = {"InternalError", "InternalServiceTimeout", "ServiceUnavailableTemp"}


def classify(status: int, code: str) -> type[ApiError]:
    """Pick the error class for a failed response (HTTP status and vendor error code)."""
    if status == 429 or code.startswith("FlowLimitExceeded"):
        return ApiThrottledError
    if code in _AUTH_CODES or code.startswith("AccessDenied") or status in (401, 403):
        return ApiAuthError
    if code in _SERVER_CODES or status >= 500:
        return ApiServerError
    return ApiClientError


def format_time(t: dt.datetime) -> str:
    """RFC 3339 with seconds precision and an explicit offset, as the API requires."""
    if t.tzinfo is None:
        raise ValueError("naive datetime")
    return t.replace(microsecond=0).isoformat()


class VolcClient:
    def __init__(
        self,
        *,
        endpoint: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        telemetry: Telemetry,
        limiters: Limiters,
        version: str = "2023-11-01",
        service: str = "rtc",
        timeout: float = 10.0,
        max_retries: int = 2,
        backoff_seconds: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._version = version
        self._telemetry = telemetry
        self._limiters = limiters
        self._max_retries = max_retries
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._http = httpx.Client(
            base_url=endpoint,
            timeout=timeout,
            auth=VolcAuth(
                access_key_id, secret_access_key, region=region, service=service, clock=clock
            ),
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

    def list_realtime_operation_data(
        self, app_id: str, start: dt.datetime, end: dt.datetime, indicators: Sequence[str]
    ) -> IndicatorsResult:
        body = _window(app_id, start, end) | {"Indicator": list(indicators)}
        return self._call("ListRealTimeOperationData", IndicatorsResult, body=body)

    def list_realtime_quality(
        self, app_id: str, start: dt.datetime, end: dt.datetime, indicators: Sequence[str]
    ) -> IndicatorsResult:
        body = _window(app_id, start, end) | {"Indicator": list(indicators)}
        return self._call("ListRealTimeQuality", IndicatorsResult, body=body)

    def list_quality(
        self,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        indicators: Sequence[str],
        granularity: str,
    ) -> IndicatorsResult:
        body = _window(app_id, start, end) | {
            "Indicator": list(indicators),
            "AggregateGranularity": granularity,
        }
        return self._call("ListQuality", IndicatorsResult, body=body)

    def list_operation_data(
        self,
        app_id: str,
        start: dt.datetime,
        end: dt.datetime,
        indicators: Sequence[str],
        granularity: str,
    ) -> IndicatorsResult:
        body = _window(app_id, start, end) | {
            "Indicator": list(indicators),
            "AggregateGranularity": granularity,
        }
        return self._call("ListOperationData", IndicatorsResult, body=body)

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
        return self._call("ListCallDetail", CallDetailResult, query=query)

    def list_apps(self, *, limit: int = 100, offset: int = 0) -> AppsResult:
        body = {"Limit": str(limit), "Offset": str(offset)}
        return self._call("ListApps", AppsResult, body=body)

    # -- plumbing ------------------------------------------------------------------------------

    def _call(
        self,
        action: str,
        model: type[M],
        *,
        body: dict[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> M:
        limiter = self._limiters[action]
        attempt = 0
        while True:
            limiter.acquire()
            self._telemetry.requests.labels(action).inc()
            try:
                result = self._send(action, body=body, query=query)
                try:
                    return model.model_validate(result)
                except ValidationError as exc:
                    first = exc.errors(include_input=False, include_url=False)[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise ApiSchemaError(
                        f"Result does not match the documented shape at {where}: {first['msg']}",
                        action=action,
                        status=200,
                    ) from None
            except ApiError as exc:
                self._telemetry.failures.labels(action, exc.reason).inc()
                retryable = isinstance(
                    exc, ApiThrottledError | ApiServerError | ApiTimeoutError | ApiNetworkError
                )
                if not retryable or attempt >= self._max_retries:
                    raise
                wait = backoff(attempt, self._backoff, 30.0, self._rng)
                log.debug("retrying %s after %s in %.2fs", action, exc.reason, wait)
                if isinstance(exc, ApiThrottledError):
                    limiter.penalise(wait)  # hold every caller of this action, not only this one
                else:
                    self._sleep(wait)
                attempt += 1

    def _send(
        self,
        action: str,
        *,
        body: dict[str, Any] | None,
        query: list[tuple[str, str]] | None,
    ) -> Any:
        params = [("Action", action), ("Version", self._version), *(query or [])]
        url = "/?" + "&".join(f"{encode(k)}={encode(v)}" for k, v in params)
        started = time.perf_counter()
        try:
            if body is not None:
                content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
                resp = self._http.post(
                    url, content=content, headers={"Content-Type": "application/json"}
                )
            else:
                resp = self._http.get(url)
        except httpx.TimeoutException as exc:
            raise ApiTimeoutError(f"no answer: {type(exc).__name__}", action=action) from exc
        except httpx.TransportError as exc:
            raise ApiNetworkError(f"{type(exc).__name__}: {exc}", action=action) from exc
        finally:
            self._telemetry.duration.labels(action).observe(time.perf_counter() - started)

        try:
            data = resp.json()
        except (ValueError, UnicodeDecodeError):
            if resp.status_code != 200:
                cls = classify(resp.status_code, "")
                raise cls(
                    f"HTTP {resp.status_code} with a body that is not JSON",
                    action=action,
                    status=resp.status_code,
                ) from None
            raise ApiSchemaError(
                "HTTP 200 with a body that is not JSON", action=action, status=200
            ) from None
        if not isinstance(data, dict):
            raise ApiSchemaError("response is not a JSON object", action=action, status=200)
        meta = data.get("ResponseMetadata")
        meta = meta if isinstance(meta, dict) else {}
        error = meta.get("Error")
        request_id = str(meta.get("RequestId") or "")
        if resp.status_code != 200 or error:
            err = error if isinstance(error, dict) else {}
            code = str(err.get("Code") or "")
            message = str(err.get("Message") or f"HTTP {resp.status_code}")
            cls = classify(resp.status_code, code)
            raise cls(
                message, action=action, status=resp.status_code, code=code, request_id=request_id
            )
        result = data.get("Result")
        if not isinstance(result, dict):
            raise ApiSchemaError(
                "response has no Result object", action=action, status=200, request_id=request_id
            )
        return result


def _window(app_id: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    return {"AppId": app_id, "StartTime": format_time(start), "EndTime": format_time(end)}
