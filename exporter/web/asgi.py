"""ASGI types and two helpers shared by the web layer's middleware and apps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Receive", "Scope", "Send", "header", "send_text"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of request header ``name`` (lower case), as latin-1 text."""
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_text(
    send: Send,
    status: int,
    body: str,
    headers: Iterable[tuple[str, str]] = (),
    *,
    close: bool = False,
) -> None:
    """A plain-text answer (``close``: the connection is closed after it)."""
    data = body.encode("utf-8")
    out = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    have = {k for k, _ in out}
    for k, v in (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
    ):
        if k not in have:
            out.append((k, v))
    out.append((b"content-length", str(len(data)).encode()))
    if close:
        out.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": data})
