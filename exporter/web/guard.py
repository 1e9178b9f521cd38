"""What h11 leaves to the application, as one small ASGI middleware in front of every app.

h11 (under hypercorn) already refuses malformed request lines and headers (obs-fold, bare CR,
NUL, a header without a colon or with space before it, an invalid ``Content-Length``, an
unsupported ``Transfer-Encoding``, a missing ``Host`` in HTTP/1.1) with 400/501 and closes the
connection, answers ``Expect: 100-continue`` and bounds the request head (431). Left to us:

* a version other than HTTP/1.0 and 1.1 (h11 takes ``HTTP/2.0`` for 1.x): 505 and close;
* a request head over ``max_head_bytes`` that arrived in one piece (h11 bounds only a head
  still incomplete): 431 and close;
* two or more ``Host`` headers: 400 and close (RFC 9112 section 3.2);
* a request body over ``max_body_bytes``: 413 and close (by ``Content-Length`` before reading,
  or counted while a chunked body is read);
* ``HEAD``: the answer's headers (``Content-Length`` included) without its body.

Methods are the app's business: it answers 405 with ``Allow`` per path.
"""

from __future__ import annotations

from exporter.web.asgi import ASGIApp, Message, Receive, Scope, Send, send_text

__all__ = ["GuardMiddleware"]


class GuardMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int = 1024 * 1024, max_head_bytes: int = 64 * 1024
    ) -> None:
        self._app = app
        self._max_body = max_body_bytes
        self._max_head = max_head_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self._app(scope, receive, send)
        hosts, length = 0, 0
        size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        for key, value in scope.get("headers", ()):
            size += len(key) + len(value) + 4
            name = bytes(key).lower()
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                length = int(value)  # h11 has checked it is one decimal number
        if scope.get("http_version") not in ("1.0", "1.1"):
            return await send_text(send, 505, "HTTP Version Not Supported\n", close=True)
        if size > self._max_head:
            return await send_text(send, 431, "Request Header Fields Too Large\n", close=True)
        if hosts > 1:
            why = "Bad Request: more than one Host header\n"
            return await send_text(send, 400, why, close=True)
        if length > self._max_body:
            return await send_text(send, 413, "Content Too Large\n", close=True)
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._max_body:
                return {"type": "http.disconnect"}
            return message

        if scope.get("method") == "HEAD":

            async def head_send(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            return await self._app(scope, bounded, head_send)
        await self._app(scope, bounded, send)
