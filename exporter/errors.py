"""Exceptions raised by the exporter.

The tree::

    ExporterError
    ├── ConfigError                 bad configuration (exit status 2)
    ├── ListenError                 the HTTP server cannot listen (port in use, ...; exit 2)
    └── ApiError                    a vendor API call failed; ``reason`` is one of REASONS
        ├── ApiThrottledError       reason="throttled"  HTTP 429 / FlowLimitExceeded*
        ├── ApiAuthError            reason="auth"       bad key or signature, clock skew, no policy
        ├── ApiTimeoutError         reason="timeout"    no answer within the client timeout
        ├── ApiServerError          reason="server"     HTTP 5xx / InternalError
        ├── ApiClientError          reason="client"     other 4xx / InvalidParameter.*
        ├── ApiSchemaError          reason="schema"     not JSON, or not the documented shape
        └── ApiNetworkError         reason="network"    connection refused / reset / DNS

Every vendor error is translated into this tree in one place, ``exporter.client``.
Messages never contain credentials.
"""

from __future__ import annotations

REASONS = ("throttled", "auth", "timeout", "server", "client", "schema", "network")

__all__ = [
    "classify",
    "REASONS",
    "ApiAuthError",
    "ApiClientError",
    "ApiError",
    "ApiNetworkError",
    "ApiSchemaError",
    "ApiServerError",
    "ApiThrottledError",
    "ApiTimeoutError",
    "ConfigError",
    "ExporterError",
    "ListenError",
]


class ExporterError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(ExporterError):
    """The configuration is invalid; the message names the key and the problem."""


class ListenError(ExporterError):
    """The HTTP server cannot listen: port in use, no permission, host does not resolve."""


class ApiError(ExporterError):
    reason = "client"

    def __init__(
        self,
        message: str,
        *,
        action: str = "",
        status: int | None = None,
        code: str = "",
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.action = action
        self.status = status
        self.code = code
        self.request_id = request_id

    def __str__(self) -> str:
        parts = [f"{self.action or 'request'} failed ({self.reason})"]
        if self.status is not None:
            parts.append(f"http={self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        if self.request_id:
            parts.append(f"request_id={self.request_id}")
        return " ".join(parts) + f": {self.message}"


class ApiThrottledError(ApiError):
    reason = "throttled"


class ApiAuthError(ApiError):
    reason = "auth"


class ApiTimeoutError(ApiError):
    reason = "timeout"


class ApiServerError(ApiError):
    reason = "server"


class ApiClientError(ApiError):
    reason = "client"


class ApiSchemaError(ApiError):
    reason = "schema"


class ApiNetworkError(ApiError):
    reason = "network"


# vendor error codes (gateway and RTC) by the reason they mean
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
