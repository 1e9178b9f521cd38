"""One HTTP/1.1 exchange on a connection: TLS handshake, request parsing, the WSGI call.

Used by ``exporter.webserver``'s workers. Requests are read with a deadline (a slow client
cannot hold a worker longer than ``read_timeout``) and within size limits; the answer is
produced by the standard library's ``wsgiref`` handler. Request bodies are read whole (at most
``max_body_bytes``); chunked request bodies are refused (501): the exporter takes none.
"""

from __future__ import annotations

import http.client
import io
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from wsgiref.handlers import SimpleHandler
from wsgiref.headers import Headers

from exporter import __version__

if TYPE_CHECKING:
    from exporter.webconfig import WebConfig
    from exporter.webserver import ServerLimits

__all__ = ["Conn", "serve_one"]

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_PLAIN_ON_TLS = b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
_SEND_CHUNK = 64 * 1024


class Conn:
    """A client connection and the bytes read from it but not yet used."""

    __slots__ = ("addr", "buf", "sock", "tls_done")

    def __init__(self, sock: socket.socket, addr: Any) -> None:
        self.sock = sock
        self.addr = addr
        self.buf = bytearray()
        self.tls_done = False

    def has_buffered(self) -> bool:
        if self.buf:
            return True
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def recv(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        return self.sock.recv(_SEND_CHUNK)

    def abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class HttpError(Exception):
    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def keep_alive(self) -> bool:
        tokens = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        return self.version == "HTTP/1.1" and "close" not in tokens


def serve_one(
    conn: Conn, app: WSGIApp, web_config: WebConfig | None, limits: ServerLimits
) -> tuple[bool, bool]:
    """Serve one request on ``conn``: (a request was answered, the connection may be kept)."""
    deadline = time.monotonic() + limits.read_timeout
    tls = web_config is not None and web_config.tls_enabled
    if tls and not conn.tls_done and not _handshake(conn, web_config, deadline):
        return False, False
    try:
        req = read_request(conn, limits, deadline)
    except HttpError as exc:
        send_error(conn, exc.status, limits.write_timeout)
        return True, False
    except (TimeoutError, OSError):  # includes ssl.SSLError: the client is slow or gone
        return False, False
    if req is None:
        return False, False
    writer = _Writer(conn.sock, limits.write_timeout)
    handler = _Handler(io.BytesIO(req.body), writer, environ(conn, req, tls), req)
    handler.run(app)
    try:
        writer.flush()
    except OSError:
        return True, False
    return True, handler.completed and handler.keep_alive


def _handshake(conn: Conn, web_config: WebConfig | None, deadline: float) -> bool:
    server_tls = web_config.server_tls() if web_config is not None else None
    if server_tls is None:
        return False
    try:
        conn.sock.settimeout(max(0.001, deadline - time.monotonic()))
        first = conn.sock.recv(1, socket.MSG_PEEK)
        if first != b"\x16":  # not a TLS handshake record
            if first.isalpha():
                conn.sock.sendall(_PLAIN_ON_TLS)
                _linger(conn.sock)
            return False
        ssock = server_tls.context.wrap_socket(
            conn.sock, server_side=True, do_handshake_on_connect=False
        )
        conn.sock = ssock
        ssock.settimeout(max(0.001, deadline - time.monotonic()))
        ssock.do_handshake()
    except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
        log.debug("http: TLS handshake failed remote=%s error=%s", conn.addr, exc)
        return False
    if not server_tls.peer_allowed(ssock.getpeercert()):
        log.info("http: client certificate has no allowed SAN remote=%s", conn.addr[0])
        return False
    conn.tls_done = True
    return True


def _linger(sock: socket.socket) -> None:
    """Read what the client sent before closing, so that it gets our answer, not a reset."""
    deadline = time.monotonic() + 1.0
    try:
        sock.shutdown(socket.SHUT_WR)
        for _ in range(16):
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            if not sock.recv(_SEND_CHUNK):
                return
    except OSError:
        pass


def read_request(conn: Conn, limits: ServerLimits, deadline: float) -> Request | None:
    """Read one request; None if the client closed first; HttpError if it is malformed."""
    while True:
        while conn.buf[:2] == b"\r\n":  # stray line ends between requests are allowed
            del conn.buf[:2]
        end = conn.buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(conn.buf) > limits.max_head_bytes:
            raise HttpError("431 Request Header Fields Too Large")
        chunk = conn.recv(deadline)
        if not chunk:
            if conn.buf:
                raise HttpError("400 Bad Request")
            return None
        conn.buf += chunk
    if end > limits.max_head_bytes:
        raise HttpError("431 Request Header Fields Too Large")
    head = bytes(conn.buf[: end + 4])
    del conn.buf[: end + 4]
    line, _, rest = head.partition(b"\r\n")
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[0].isalpha() or not parts[0].isupper():
        raise HttpError("400 Bad Request")
    method, target, version = parts
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        known = version.startswith("HTTP/")
        raise HttpError("505 HTTP Version Not Supported" if known else "400 Bad Request")
    try:
        headers = http.client.parse_headers(io.BytesIO(rest))
    except http.client.HTTPException:
        raise HttpError("431 Request Header Fields Too Large") from None
    if headers.get("Transfer-Encoding"):
        raise HttpError("501 Not Implemented")
    return Request(method, target, version, headers, _read_body(conn, headers, limits, deadline))


def _read_body(
    conn: Conn, headers: http.client.HTTPMessage, limits: ServerLimits, deadline: float
) -> bytes:
    lengths = set(headers.get_all("Content-Length") or [])
    if not lengths:
        return b""
    if len(lengths) > 1 or not next(iter(lengths)).strip().isdigit():
        raise HttpError("400 Bad Request")
    need = int(next(iter(lengths)))
    if need > limits.max_body_bytes:
        raise HttpError("413 Content Too Large")
    while len(conn.buf) < need:
        chunk = conn.recv(deadline)
        if not chunk:
            raise HttpError("400 Bad Request")
        conn.buf += chunk
    body = bytes(conn.buf[:need])
    del conn.buf[:need]
    return body


def environ(conn: Conn, req: Request, tls: bool) -> dict[str, Any]:
    """The CGI part of a WSGI environ (wsgiref's handler adds the ``wsgi.*`` keys)."""
    target = req.target
    if target.startswith(("http://", "https://")):  # absolute form (proxies)
        parts = urlsplit(target)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, _, query = target.partition("?")
    local = conn.sock.getsockname()
    env: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote(path, "latin-1"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": req.version,
        "SERVER_NAME": str(local[0]),
        "SERVER_PORT": str(local[1]),
        "REMOTE_ADDR": str(conn.addr[0]) if conn.addr else "",
        "REMOTE_PORT": str(conn.addr[1]) if conn.addr else "",
        "CONTENT_TYPE": req.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(req.body)) if req.body else "",
    }
    if tls:
        env["HTTPS"] = "on"
    for name, value in req.headers.items():
        if "_" in name:  # as wsgiref: X_Forwarded would pass for X-Forwarded
            continue
        key = "HTTP_" + name.upper().replace("-", "_")
        if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
            continue
        env[key] = f"{env[key]},{value}" if key in env else value
    return env


def send_error(conn: Conn, status: str, timeout: float) -> None:
    body = (status.partition(" ")[2] + "\n").encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    try:
        conn.sock.settimeout(timeout)
        conn.sock.sendall(head.encode("latin-1") + body)
    except OSError:
        return
    _linger(conn.sock)


class _Writer:
    """Coalesces the status line and headers with the body: one send for small answers."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self._sock = sock
        self._timeout = timeout
        self._pending: list[bytes] = []
        self._size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._size += len(data)
        if self._size >= _SEND_CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self._sock.settimeout(self._timeout)
        if self._size < _SEND_CHUNK or len(self._pending) == 1:
            self._sock.sendall(b"".join(self._pending))
        else:
            head, tail = self._pending[:-1], self._pending[-1]
            self._sock.sendall(b"".join(head))
            self._sock.sendall(tail)
        self._pending.clear()
        self._size = 0


class _Errors:
    def write(self, text: str) -> None:
        if text.strip():
            log.warning("wsgi: %s", text.rstrip())

    def flush(self) -> None:
        pass


class _Handler(SimpleHandler):
    os_environ: dict[str, str] = {}  # not the process environment: it may hold secrets
    http_version = "1.1"
    server_software = f"volc-rtc-exporter/{__version__}"

    def __init__(self, stdin: io.BytesIO, stdout: _Writer, env: dict[str, Any], req: Request):
        super().__init__(stdin, stdout, _Errors(), env, multithread=True, multiprocess=False)  # type: ignore[arg-type]
        self.keep_alive = req.keep_alive
        self.completed = False
        self._head = req.method == "HEAD"

    def cleanup_headers(self) -> None:
        super().cleanup_headers()
        headers: Headers = self.headers  # type: ignore[attr-defined]
        if "Content-Length" not in headers:
            self.keep_alive = False  # the end of the body is the end of the connection
        if not self.keep_alive:
            headers["Connection"] = "close"

    def write(self, data: bytes) -> None:
        if self._head:  # headers (with the length the body would have), no body
            if not self.headers_sent:  # type: ignore[attr-defined]
                self.bytes_sent = len(data)
                self.send_headers()
            return
        super().write(data)

    def finish_response(self) -> None:
        super().finish_response()
        self.completed = True

    def handle_error(self) -> None:
        self.keep_alive = False
        super().handle_error()

    def log_exception(self, exc_info: Any) -> None:
        log.error("wsgi: the application failed", exc_info=exc_info)
