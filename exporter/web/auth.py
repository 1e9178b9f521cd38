"""The web config file's per-request rules as ASGI middleware, as the exporter-toolkit does.

Every path (``/metrics``, ``/``, ``/-/healthy``, ``/-/ready``) gets the same treatment, in this
order: the rate limiter (429), the configured ``http_server_config.headers``, then HTTP basic
auth when ``basic_auth_users`` is not empty (401 with ``WWW-Authenticate: Basic``). The file is
looked at again on every request (``WebConfigSource``: a broken file keeps the last good one).

bcrypt is slow on purpose, so:

* a verified (user, hash, password) is remembered (100 entries, a tenth evicted at random when
  full), keyed by a SHA-256 digest of the triple: plaintext passwords are neither kept nor
  compared, and a correct, cached credential never runs bcrypt, so it never waits behind
  failing checks. Only successes are remembered: wrong passwords cannot evict good entries.
* every other check runs bcrypt on a thread of its own (never on the event loop), one at a
  time (a semaphore): a flood of wrong passwords takes one core and no connection slot.
* an unknown user is checked against a dummy hash of a cost present in the file (one per
  user name, fixed), so its answer takes as long as a known user's: no user enumeration.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from exporter.web.asgi import ASGIApp, Message, Receive, Scope, Send, header, send_text
from exporter.web.config import RateLimitConfig
from exporter.web.source import WebConfigSource

__all__ = ["AuthMiddleware", "CredentialCache", "TokenBucket", "parse_basic_auth"]

CACHE_SIZE = 100


class CredentialCache:
    """Verified credentials, keyed by a digest of (user, hash, password)."""

    def __init__(self, size: int = CACHE_SIZE, rng: random.Random | None = None) -> None:
        self._size = size
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._data: set[bytes] = set()

    @staticmethod
    def key(user: bytes, hashed: bytes, password: bytes) -> bytes:
        h = hashlib.sha256()
        for part in (user, hashed, password):
            h.update(len(part).to_bytes(4, "big") + part)
        return h.digest()

    def __contains__(self, key: bytes) -> bool:
        with self._lock:
            return key in self._data

    def add(self, key: bytes) -> None:
        with self._lock:
            if len(self._data) >= self._size:
                # drop a tenth at random, as the toolkit does, not one entry per insert
                for k in self._rng.sample(sorted(self._data), max(len(self._data) // 10, 1)):
                    self._data.discard(k)
            self._data.add(key)

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


def parse_basic_auth(value: str | None) -> tuple[bytes, bytes] | None:
    """(user, password) from an ``Authorization: Basic`` header, or None (Go's BasicAuth)."""
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    return (user, password) if sep else None


def _cost(hashed: str) -> int:
    return int(hashed.split("$")[2])


class AuthMiddleware:
    """Wrap an ASGI app with the web config file's headers, rate limit and basic auth."""

    def __init__(
        self,
        app: ASGIApp,
        source: WebConfigSource,
        *,
        clock: Callable[[], float] = time.monotonic,
        checkpw: Callable[[bytes, bytes], bool] = bcrypt.checkpw,
        bcrypt_slots: int = 1,
    ) -> None:
        self._app = app
        self._source = source
        rl = source.initial.rate_limit  # as in the toolkit, read once at start
        self._limiter = TokenBucket(rl, clock) if rl.interval > 0 else None
        self.cache = CredentialCache()
        self._checkpw = checkpw
        self._slots = bcrypt_slots
        self._semaphore: asyncio.Semaphore | None = None  # made on the serving loop
        self._pool = ThreadPoolExecutor(bcrypt_slots, thread_name_prefix="bcrypt")
        self._dummies: dict[int, bytes] = {}
        self._dummy_lock = threading.Lock()
        self.checks = 0  # bcrypt checks run (tests, benchmarks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._app(scope, receive, send)
        cfg = self._source.current()
        if self._limiter is not None and not self._limiter.allow():
            return await send_text(send, 429, "Too Many Requests\n")
        configured = cfg.http_server_config.headers.items()
        extra = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in configured]
        users = cfg.users
        if users and not await self.authorized(header(scope, b"authorization"), users):
            challenge = [*cfg.http_server_config.headers.items(), ("WWW-Authenticate", "Basic")]
            return await send_text(send, 401, "Unauthorized\n", challenge)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra:
                have = {bytes(k).lower() for k, _ in message.get("headers", ())}
                message["headers"] = [
                    *message.get("headers", ()),
                    *((k, v) for k, v in extra if k not in have),
                ]
            await send(message)

        await self._app(scope, receive, with_headers)

    async def authorized(self, value: str | None, users: dict[str, str]) -> bool:
        creds = parse_basic_auth(value)
        if creds is None:
            return False
        user, password = creds
        name = user.decode("utf-8", "surrogateescape")
        known = name in users
        hashed = users[name].encode() if known else None
        if hashed is not None and CredentialCache.key(user, hashed, password) in self.cache:
            return True
        costs = sorted({_cost(h) for h in users.values()})
        cost = costs[hashlib.sha256(user).digest()[0] % len(costs)]
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._slots)
        async with self._semaphore:  # failing checks queue here, off the loop, one at a time
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(self._pool, self._check, password, hashed, cost)
        if ok and hashed is not None:
            self.cache.add(CredentialCache.key(user, hashed, password))
        return ok and known

    def _check(self, password: bytes, hashed: bytes | None, cost: int) -> bool:
        self.checks += 1
        try:
            return self._checkpw(password, hashed if hashed is not None else self._dummy(cost))
        except ValueError:  # a hash bcrypt cannot read: never a match
            return False

    def _dummy(self, cost: int) -> bytes:
        with self._dummy_lock:
            if cost not in self._dummies:
                self._dummies[cost] = bcrypt.hashpw(b"no such user", bcrypt.gensalt(cost))
            return self._dummies[cost]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
