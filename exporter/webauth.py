"""The web config file's per-request rules as WSGI middleware, as the exporter-toolkit does.

Every path (``/metrics``, ``/``, ``/-/healthy``, ``/-/ready``) gets the same treatment, in this
order: the file is looked at again (a broken file answers 500 and logs the problem), the rate
limiter (429), the configured ``http_server_config.headers``, then HTTP basic auth when
``basic_auth_users`` is not empty (401 with ``WWW-Authenticate: Basic``).

bcrypt is slow on purpose, so, like the toolkit, a verified (user, hash, password) triple is
cached (100 entries, random eviction) and only one bcrypt check runs at a time. Passwords are
only ever compared by ``bcrypt.checkpw`` (constant time); the cache is keyed by a SHA-256 digest
of the triple, so plaintext passwords are neither kept nor compared. An unknown user is checked
against a fixed hash so that the answer takes as long as for a known one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import bcrypt

from exporter.errors import ConfigError
from exporter.webconfig import RateLimitConfig, WebConfig

__all__ = ["CredentialCache", "TokenBucket", "WebConfigMiddleware"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# bcrypt of "fakepassword", cost 10 (the toolkit's own): unknown users cost the same time
_FAKE_HASH = b"$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
CACHE_SIZE = 100


class CredentialCache:
    """Results of bcrypt checks keyed by a digest of (user, hash, password)."""

    def __init__(self, size: int = CACHE_SIZE, rng: random.Random | None = None) -> None:
        self._size = size
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._data: dict[bytes, bool] = {}

    @staticmethod
    def key(user: bytes, hashed: bytes, password: bytes) -> bytes:
        h = hashlib.sha256()
        for part in (user, hashed, password):
            h.update(len(part).to_bytes(4, "big") + part)
        return h.digest()

    def get(self, key: bytes) -> bool | None:
        with self._lock:
            return self._data.get(key)

    def set(self, key: bytes, ok: bool) -> None:
        with self._lock:
            if len(self._data) >= self._size:
                # drop a tenth at random, as the toolkit does, not one entry per insert
                for k in self._rng.sample(list(self._data), max(len(self._data) // 10, 1)):
                    del self._data[k]
            self._data[key] = ok

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class TokenBucket:
    """golang.org/x/time/rate semantics: one token per ``interval``, at most ``burst``."""

    def __init__(self, cfg: RateLimitConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = cfg.interval
        self._burst = float(cfg.burst)
        self._clock = clock
        self._tokens = self._burst
        self._last = clock()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._last)
            self._tokens = min(self._burst, self._tokens + elapsed / self._interval)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def parse_basic_auth(header: str | None) -> tuple[bytes, bytes] | None:
    """(user, password) from an ``Authorization: Basic`` header, or None (Go's BasicAuth)."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


class WebConfigMiddleware:
    """Wrap a WSGI app with the web config file's headers, rate limit and basic auth."""

    def __init__(
        self,
        app: WSGIApp,
        config: WebConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
    ) -> None:
        self._app = app
        self._config = config
        rl = config.initial.rate_limit  # as in the toolkit, read once at start
        self._limiter = TokenBucket(rl, clock) if rl.interval > 0 else None
        self._cache = CredentialCache()
        self._bcrypt_lock = threading.Lock()
        self._checkpw = checkpw
        self._last_error: str | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        try:
            cfg = self._config.current()
        except ConfigError as exc:
            if str(exc) != self._last_error:  # once per problem, not once per request
                self._last_error = str(exc)
                log.error("web config: cannot use the file, answering 500 error=%s", exc)
            return _plain(start_response, "500 Internal Server Error", [])
        self._last_error = None
        if self._limiter is not None and not self._limiter.allow():
            return _plain(start_response, "429 Too Many Requests", [])
        extra = list(cfg.http_server_config.headers.items())
        users = cfg.users
        if users and not self._authorized(environ.get("HTTP_AUTHORIZATION"), users):
            challenge = [*extra, ("WWW-Authenticate", "Basic")]
            return _plain(start_response, "401 Unauthorized", challenge)

        def with_headers(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            have = {k.lower() for k, _ in headers}
            return start_response(
                status, headers + [(k, v) for k, v in extra if k.lower() not in have], exc_info
            )

        return self._app(environ, with_headers)

    def _authorized(self, header: str | None, users: dict[str, str]) -> bool:
        creds = parse_basic_auth(header)
        if creds is None:
            return False
        user, password = creds
        name = user.decode("utf-8", "surrogateescape")
        known = name in users
        hashed = users[name].encode() if known else _FAKE_HASH
        key = CredentialCache.key(user, hashed, password)
        ok = self._cache.get(key)
        if ok is None:
            with self._bcrypt_lock:  # bcrypt is CPU-bound: one at a time, as the toolkit
                try:
                    ok = self._checkpw(password, hashed)
                except ValueError:  # a hash bcrypt cannot read: never a match
                    ok = False
            self._cache.set(key, ok)
        return ok and known


def _plain(
    start_response: StartResponse, status: str, headers: list[tuple[str, str]]
) -> list[bytes]:
    body = (status.partition(" ")[2] + "\n").encode()
    have = {k.lower() for k, _ in headers}
    defaults = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Length", str(len(body))),
    ]
    start_response(status, headers + [(k, v) for k, v in defaults if k.lower() not in have])
    return [body]
