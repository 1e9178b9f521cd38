"""Volcengine OpenAPI V4 request signing (HMAC-SHA256), standard library only.

The algorithm (vendor docs, and the vendor SDKs' ``SignerV4``):

1. ``X-Content-Sha256`` = hex SHA-256 of the body; ``X-Date`` = UTC ``YYYYMMDDTHHMMSSZ``.
2. Canonical query: keys and values percent-encoded with the RFC 3986 unreserved set
   (``A-Za-z0-9-_.~``), sorted by key, joined with ``&``.
3. Signed headers: ``content-type`` (when present), ``host``, and every ``x-*`` header we set,
   lower-cased and sorted.
4. Canonical request, string to sign and the key chain date -> region -> service -> "request".

``sign()`` is a pure function (the clock is a parameter); ``VolcAuth`` applies it to httpx requests.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Generator, Iterable
from urllib.parse import parse_qsl, quote

import httpx

__all__ = [
    "ALGORITHM",
    "VolcAuth",
    "canonical_query",
    "encode",
    "format_x_date",
    "sign",
    "signing_key",
]

ALGORITHM = "HMAC-SHA256"
_UNRESERVED = "-_.~"


def encode(value: str) -> str:
    """Percent-encode with the RFC 3986 unreserved set (space -> %20, + -> %2B)."""
    return quote(value, safe=_UNRESERVED)


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    items = [(encode(k), encode(v)) for k, v in pairs]
    items.sort(key=lambda kv: kv[0])  # stable: repeated keys keep request order
    return "&".join(f"{k}={v}" for k, v in items)


def format_x_date(now: dt.datetime) -> str:
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    k_date = _hmac(secret_key.encode("utf-8"), date)
    k_region = _hmac(k_date, region)
    k_service = _hmac(k_region, service)
    return _hmac(k_service, "request")


def _normalise_host(host: str) -> str:
    for default_port in (":80", ":443"):
        if host.endswith(default_port):
            return host[: -len(default_port)]
    return host


def sign(
    *,
    method: str,
    host: str,
    path: str,
    query: Iterable[tuple[str, str]],
    body: bytes,
    access_key_id: str,
    secret_access_key: str,
    region: str,
    service: str,
    now: dt.datetime,
    content_type: str | None = None,
    session_token: str | None = None,
) -> dict[str, str]:
    """Return the headers to add to a request: X-Date, X-Content-Sha256, Authorization (...)."""
    x_date = format_x_date(now)
    date = x_date[:8]
    body_hash = hashlib.sha256(body).hexdigest()
    headers: dict[str, str] = {"host": _normalise_host(host), "x-date": x_date}
    headers["x-content-sha256"] = body_hash
    if content_type:
        headers["content-type"] = content_type
    if session_token:
        headers["x-security-token"] = session_token
    names = sorted(headers)
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in names)
    signed_headers = ";".join(names)
    canonical_request = "\n".join(
        [
            method.upper(),
            path or "/",
            canonical_query(query),
            canonical_headers,
            signed_headers,
            body_hash,
        ]
    )
    scope = f"{date}/{region}/{service}/request"
    string_to_sign = "\n".join(
        [ALGORITHM, x_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()]
    )
    signature = hmac.new(
        signing_key(secret_access_key, date, region, service),
        string_to_sign.encode("utf-8"),
        hashlib.sha256,
    ).hexdigest()
    out = {
        "X-Date": x_date,
        "X-Content-Sha256": body_hash,
        "Authorization": (
            f"{ALGORITHM} Credential={access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        ),
    }
    if session_token:
        out["X-Security-Token"] = session_token
    return out


class VolcAuth(httpx.Auth):
    """httpx authentication flow that signs every request with ``sign()``.

    ``credentials`` is a callable returning ``(access_key_id, secret_access_key,
    session_token)``; it is called for every request, so a reload that rotates the keys (or an
    STS session token) takes effect on the next call without rebuilding the client. A session
    token is sent as ``X-Security-Token`` and signed.
    """

    requires_request_body = True

    def __init__(
        self,
        credentials: Callable[[], tuple[str, str, str | None]],
        *,
        region: str,
        service: str = "rtc",
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self._credentials = credentials
        self._region = region
        self._service = service
        self._clock = clock or _utcnow

    def __repr__(self) -> str:  # never show the secret
        return f"VolcAuth(region={self._region!r}, service={self._service!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        access_key_id, secret_access_key, session_token = self._credentials()
        query = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        headers = sign(
            method=request.method,
            host=request.headers.get("host", request.url.netloc.decode("ascii")),
            path=request.url.path,
            query=query,
            body=request.content,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            region=self._region,
            service=self._service,
            now=self._clock(),
            content_type=request.headers.get("content-type"),
            session_token=session_token,
        )
        request.headers.update(headers)
        yield request


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
