"""Structured logging: logfmt or JSON lines on stderr, secrets scrubbed, values escaped.

Every field is a real key: ``msg`` holds only the message, context goes in named fields from
one vocabulary (``source``, ``app_id``, ``action``, ``reason``, ``duration_seconds``, ``error``,
...). Levels are ``debug``, ``info``, ``warn``, ``error`` as in Prometheus' own logs.

    log = get_logger(__name__)
    log.warning("source down", source="realtime_quality", app_id="661e...", reason="auth")

    ts=2024-01-02T12:00:00.000Z level=warn logger=exporter.scheduler msg="source down"
    source=realtime_quality app_id=661e... reason=auth

Values are escaped (logfmt quoting of spaces, quotes, ``=`` and every control character, so a
vendor id with an ANSI escape or a CR cannot forge or colour a line); every line passes through
the scrubber, which replaces the current secrets (secret key, session token; a replaced one for a
minute more: ``set_secrets``) and any token whose SHA-256 is that of a known AppKey (the keys
themselves are never kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "GRACE_SECONDS",
    "Logger",
    "add_secret",
    "add_secret_hash",
    "get_logger",
    "scrub",
    "secrets_held",
    "set_secrets",
    "setup_logging",
]

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING}
_LEVEL_WORDS = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}
MAX_VALUE = 512  # characters of one field value in a log line


GRACE_SECONDS = 60.0  # a replaced secret is still redacted this long (answers in flight)


class _Scrubber:
    """Replaces the current secrets, and those replaced less than ``GRACE_SECONDS`` ago.

    Secrets come in named sets (``set_secrets("credentials", ...)``): a new set replaces the
    old one, whose secrets stay redacted for the grace window only, so a rotated STS token
    costs nothing after a minute (a long-running exporter rotating every 15 minutes keeps at
    most a handful). Literal ``str.replace`` per secret, no regex: nothing is compiled or cached
    per rotation."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._sets: dict[str, frozenset[str]] = {}
        self._retiring: list[tuple[float, frozenset[str]]] = []  # (expires at, secrets)
        self._literals: tuple[str, ...] = ()  # longest first: a secret inside another one
        self._expiry: float | None = None
        self._hashes: set[bytes] = set()

    def set_secrets(self, name: str, secrets: Iterable[str]) -> None:
        fresh = frozenset(s for s in secrets if len(s) >= 4)
        with self._lock:
            gone = self._sets.get(name, frozenset()) - fresh
            now = self._clock()
            if gone:
                self._retiring.append((now + GRACE_SECONDS, gone))
            self._sets[name] = fresh
            self._rebuild(now)

    def add(self, secret: str) -> None:
        """A secret redacted for the life of the process (not replaced by a rotation)."""
        with self._lock:
            self._sets["\0permanent"] = self._sets.get("\0permanent", frozenset()) | (
                {secret} if len(secret) >= 4 else set()
            )
            self._rebuild(self._clock())

    def _rebuild(self, now: float) -> None:
        self._retiring = [(t, s) for t, s in self._retiring if t > now]
        every = set().union(*self._sets.values(), *(s for _, s in self._retiring))
        self._literals = tuple(sorted(every, key=lambda s: (-len(s), s)))
        self._expiry = min((t for t, _ in self._retiring), default=None)

    def held(self) -> int:
        """How many secrets are redacted now (current and in their grace window)."""
        self._expire()
        return len(self._literals)

    def _expire(self) -> None:
        expiry = self._expiry
        if expiry is not None and self._clock() >= expiry:
            with self._lock:
                self._rebuild(self._clock())

    def add_hash(self, digest: bytes) -> None:
        with self._lock:
            self._hashes.add(digest)

    def __call__(self, text: str) -> str:
        self._expire()
        for secret in self._literals:
            if secret in text:
                text = text.replace(secret, "<redacted>")
        hashes = self._hashes
        if hashes:
            text = _TOKEN.sub(lambda m: _redact_known(m, hashes), text)
        return text


_TOKEN = re.compile(r"[A-Za-z0-9+/=_.-]{16,}")


def _redact_known(m: re.Match[str], hashes: set[bytes]) -> str:
    token = m.group(0)
    if hashlib.sha256(token.encode()).digest() in hashes:
        return "<redacted>"
    return token


_scrubber = _Scrubber()


def add_secret(secret: str) -> None:
    """Never log this string, for the life of the process."""
    _scrubber.add(secret)


def set_secrets(name: str, secrets: Iterable[str]) -> None:
    """The current secrets of ``name`` (``credentials``: secret key, session token); those of
    the previous call stay redacted for ``GRACE_SECONDS`` more, then are forgotten."""
    _scrubber.set_secrets(name, secrets)


def secrets_held() -> int:
    """How many secrets the scrubber redacts now (tests, benchmarks)."""
    return _scrubber.held()


def add_secret_hash(digest: bytes) -> None:
    """Never log a token whose SHA-256 is ``digest`` (AppKeys: only their hashes are kept)."""
    _scrubber.add_hash(digest)


def scrub(text: str) -> str:
    return _scrubber(text)


def _escape(v: str) -> str:
    out = []
    for c in v:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return "".join(out)


def _logfmt_value(v: str) -> str:
    escaped = _escape(v)
    if v == "" or escaped != v or any(c in v for c in ' ="'):
        return f'"{escaped}"'
    return v


def _text(v: object) -> str:
    s = v if isinstance(v, str) else format(v, ".6g") if isinstance(v, float) else str(v)
    s = scrub(s)
    return s if len(s) <= MAX_VALUE else s[:MAX_VALUE] + "…"


def _fields(record: logging.LogRecord) -> dict[str, str]:
    out = {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": _LEVEL_WORDS.get(record.levelno, "info"),
        "logger": record.name,
        "msg": _text(record.getMessage()),
    }
    for k, v in (getattr(record, "fields", None) or {}).items():
        out[str(k)] = _text(v)
    if record.exc_info and record.exc_info[1] is not None:
        exc = record.exc_info[1]
        out["error"] = _text(f"{type(exc).__name__}: {exc}")
    return out


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False)


class Logger:
    """A logger whose calls take the context as keyword fields."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def _emit(self, level: int, msg: str, exc: bool, fields: dict[str, Any]) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, msg, exc_info=exc, extra={"fields": fields}, stacklevel=3)

    def debug(self, msg: str, **fields: Any) -> None:
        self._emit(logging.DEBUG, msg, False, fields)

    def info(self, msg: str, **fields: Any) -> None:
        self._emit(logging.INFO, msg, False, fields)

    def warning(self, msg: str, **fields: Any) -> None:
        self._emit(logging.WARNING, msg, False, fields)

    def error(self, msg: str, **fields: Any) -> None:
        self._emit(logging.ERROR, msg, False, fields)

    def exception(self, msg: str, **fields: Any) -> None:
        """An error with the exception's type and message as ``error`` (no traceback lines)."""
        self._emit(logging.ERROR, msg, True, fields)

    def log(self, level: int, msg: str, **fields: Any) -> None:
        self._emit(level, msg, False, fields)


def get_logger(name: str) -> Logger:
    return Logger(name)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS.get(level, getattr(logging, level.upper(), logging.INFO)))
    # httpx logs every request URL at INFO; keep it at WARNING unless debugging
    logging.getLogger("httpx").setLevel(logging.DEBUG if level == "debug" else logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
