"""The callback receiver as an ASGI 3 application: ``POST /callbacks`` and nothing else.

Any Content-Type is read as JSON (the vendor's headers are undocumented). The body is read up
to the cap: a declared ``Content-Length`` over it is answered 413 without reading, a body that
grows past it is answered 413 as soon as it does. The receiver's checks are cheap and run on
the event loop; the work behind an accepted event runs on the worker thread. Answers are short
plain text; nothing of the request is echoed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from exporter.callbacks.receiver import Receiver

__all__ = ["CallbackApp", "PATH"]

PATH = "/callbacks"
_GONE = b"\0gone"  # a marker object: compared by identity only
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _answer(send: Send, status: int, text: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = text.encode() + b"\n"
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class CallbackApp:
    """``receiver`` is read on every request (a reload may swap limits, never the object)."""

    def __init__(self, receiver: Callable[[], Receiver], max_body: Callable[[], int]) -> None:
        self._receiver = receiver
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        if scope.get("path") != PATH:
            await _answer(send, 404, "not found: the receiver serves POST /callbacks", [])
            return
        if scope.get("method") != "POST":
            await _answer(send, 405, "method not allowed", [(b"allow", b"POST")])
            return
        body = await self._body(scope, receive)
        if body is _GONE:
            return  # the sender hung up mid-body: nothing to answer, nothing counted
        outcome = self._receiver().handle(body)
        await _answer(send, outcome.status, outcome.outcome, [])

    async def _body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None past the cap (what is left is not read)."""
        cap = self._max_body()
        declared = _declared_length(scope)
        if declared is not None and declared > cap:
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
