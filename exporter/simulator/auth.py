"""Server-side check of V4 signatures, written from the vendor's algorithm description.

It rebuilds the canonical request from what the client says it signed (``SignedHeaders``) and
what actually arrived, independently of ``exporter.signing`` (which builds requests).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["AuthFailure", "verify"]

_AUTH = re.compile(
    r"^HMAC-SHA256 Credential=(?P<ak>[^/\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<sig>[0-9a-f]{64})$"
)
MAX_SKEW = dt.timedelta(minutes=15)


@dataclass
class AuthFailure(Exception):
    code: str
    status: int
    message: str


def _canonical_query(raw: str) -> str:
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        pairs.append((quote(unquote(k), safe="-_.~"), quote(unquote(v), safe="-_.~")))
    pairs.sort(key=lambda p: p[0])
    return "&".join(f"{k}={v}" for k, v in pairs)


def _key(secret: str, date: str, region: str, service: str) -> bytes:
    key = secret.encode()
    for part in (date, region, service, "request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def verify(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
    region: str,
    service: str,
    now: dt.datetime,
) -> str:
    """Return the access key id of a correctly signed request, or raise AuthFailure."""
    h = {k.lower(): v for k, v in headers.items()}
    auth = h.get("authorization", "")
    if not auth:
        raise AuthFailure("MissingAuthenticationToken", 401, "Authorization header is missing")
    m = _AUTH.match(auth.strip())
    if m is None:
        raise AuthFailure("MissingSignature", 401, "Authorization header is malformed")
    ak = m["ak"]
    if ak not in secrets:
        raise AuthFailure("InvalidAccessKey", 401, "The AccessKey is invalid or expired")
    x_date = h.get("x-date", "")
    try:
        signed_at = dt.datetime.strptime(x_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise AuthFailure("InvalidTimestamp", 400, "X-Date is missing or malformed") from None
    if abs(now - signed_at) > MAX_SKEW:
        raise AuthFailure("InvalidTimestamp", 400, "X-Date differs from server time by > 15 min")
    if m["date"] != x_date[:8] or m["region"] != region or m["service"] != service:
        raise AuthFailure("SignatureDoesNotMatch", 401, "credential scope does not match")
    signed = m["signed"].split(";")
    if "host" not in signed or "x-date" not in signed:
        raise AuthFailure("SignatureDoesNotMatch", 401, "host and x-date must be signed")
    body_hash = hashlib.sha256(body).hexdigest()
    if h.get("x-content-sha256", body_hash) != body_hash:
        raise AuthFailure("SignatureDoesNotMatch", 401, "X-Content-Sha256 does not match body")
    header_block = ""
    for name in signed:
        value = h.get(name)
        if value is None:
            raise AuthFailure("SignatureDoesNotMatch", 401, f"signed header {name} is missing")
        if name == "host":
            value = re.sub(r":(80|443)$", "", value)
        header_block += f"{name}:{value.strip()}\n"
    canonical = "\n".join(
        [method, path or "/", _canonical_query(raw_query), header_block, m["signed"], body_hash]
    )
    scope = f"{m['date']}/{region}/{service}/request"
    to_sign = f"HMAC-SHA256\n{x_date}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    expected = hmac.new(
        _key(secrets[ak], m["date"], region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, m["sig"]):
        raise AuthFailure("SignatureDoesNotMatch", 401, "The request signature does not match")
    return ak
