"""Serve an ASGI app with hypercorn (h11 underneath) on a thread with its own event loop.

``serve(app, host, port, *, web_config=None, name="web", tls_only=False, limits=None)`` binds
``host:port`` (``ListenError`` with a one-line reason when it cannot) and returns a running
``Listener`` (``.address``, ``.url``, ``.shutdown()``). The app is wrapped in
``GuardMiddleware`` and, with a web config (unless ``tls_only``), in ``AuthMiddleware``.

hypercorn parses HTTP and runs the app; every connection is a coroutine, so idle, slow or
numerous clients cost a socket and a little memory, never a thread. On top of hypercorn's
connection handler, bounds hypercorn does not have:

* ``head_timeout``: a request head (or a new connection's first request) must arrive whole
  within it from its first byte (hypercorn only bounds each read); ``keep_alive``: how long a
  kept-alive connection may wait for its next request;
* ``write_timeout``: sending each part of an answer (a client that stops reading is dropped);
* ``max_connections``: past it the connection idle for longest is closed, else the new one;
* TLS from the web config: the certificate files are looked at again on every handshake (a
  rotated certificate is used at once), ``client_allowed_sans`` is checked after it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import socket
import ssl
import threading
from typing import Any, cast

from hypercorn.app_wrappers import ASGIWrapper
from hypercorn.config import Config

from exporter.errors import ListenError
from exporter.web.asgi import ASGIApp
from exporter.web.auth import AuthMiddleware
from exporter.web.connection import Connections, ServerLimits
from exporter.web.guard import GuardMiddleware
from exporter.web.source import WebConfigSource

__all__ = ["Listener", "ServerLimits", "serve"]

log = logging.getLogger(__name__)
logging.getLogger("hypercorn.error").setLevel(logging.WARNING)


_OS_ERRORS = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's",
    errno.EAFNOSUPPORT: "this machine has no such address family (IPv6?)",
}


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if host == "":
            # all addresses: IPv6 and IPv4 on one socket where the machine has IPv6
            if socket.has_dualstack_ipv6():
                try:
                    return socket.create_server(
                        ("", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
                    )
                except OSError as exc:
                    if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                        raise
            return socket.create_server(("", port), backlog=backlog)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        infos.sort(key=lambda i: i[0] != socket.AF_INET)  # Go listens on the IPv4 one first
        family, _, _, _, addr = infos[0]
        return socket.create_server(addr[:2], family=family, backlog=backlog)
    except socket.gaierror as exc:
        why = f"host does not resolve ({exc.strerror})"
        raise ListenError(f"cannot listen on {shown}: {why}") from None
    except OSError as exc:
        why = _OS_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
        raise ListenError(f"cannot listen on {shown}: {why}") from None


def _raise_fd_limit(want: int) -> int:
    """Raise the soft open-files limit towards ``want`` (as Go does at start); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else want


def _tls_context(source: WebConfigSource) -> ssl.SSLContext:
    """The listening context: each handshake switches to the web config's current one."""
    first = source.server_tls()
    assert first is not None
    base = first.context

    def switch(sslobj: ssl.SSLObject, _name: str | None, _ctx: ssl.SSLContext) -> None:
        current = source.server_tls()
        if current is not None and current.context is not sslobj.context:
            sslobj.context = current.context

    base.sni_callback = switch
    return base


def _config(limits: ServerLimits) -> Config:
    config = Config()
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.keep_alive_timeout = limits.keep_alive
    config.read_timeout = None  # the head is bounded as a whole by _Connection
    config.graceful_timeout = limits.graceful
    config.include_server_header = False
    config.h11_max_incomplete_size = limits.max_head_bytes
    return config


class Listener:
    """A running server: ``address``, ``url``, ``shutdown()``."""

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        source: WebConfigSource | None,
        name: str,
        limits: ServerLimits,
    ) -> None:
        bound = sock.getsockname()
        self.address: tuple[str, int] = (str(bound[0]), int(bound[1]))
        self.limits = limits
        self.tls = source is not None and source.tls_enabled
        context = _tls_context(source) if source is not None and self.tls else None
        fds = _raise_fd_limit(limits.max_connections + 256)
        max_conns = max(16, min(limits.max_connections, fds - 64))
        config = _config(limits)
        self._loop = asyncio.new_event_loop()
        self.connections = Connections(
            ASGIWrapper(cast(Any, app)), self._loop, config, limits, max_conns, source
        )
        self._stop: asyncio.Event | None = None
        started = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            server = await asyncio.start_server(
                self.connections.accept,
                sock=sock,
                backlog=limits.backlog,
                ssl=context,
                ssl_handshake_timeout=limits.head_timeout if context else None,
            )
            started.set()
            await self._stop.wait()
            server.close()
            await self.connections.close_all(limits.graceful)
            await server.wait_closed()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(main())
            finally:
                started.set()
                sock.close()
                self._loop.close()

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        started.wait(5.0)

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
            self.address[0], self.address[0]
        )
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.address[1]}"

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop accepting, let open requests finish (``limits.graceful``), close the rest."""
        stop = self._stop
        if stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop has just closed
        self._thread.join(timeout)


def serve(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    web_config: WebConfigSource | None = None,
    name: str = "web",
    tls_only: bool = False,
    limits: ServerLimits | None = None,
) -> Listener:
    """Bind ``host:port`` and serve ``app`` (ASGI 3) on a thread of its own.

    ``host`` "" listens on every address (IPv6 and IPv4 where possible). With ``web_config``
    TLS is served when the file has a ``tls_server_config``, and (unless ``tls_only``) the
    app is wrapped in its headers, rate limit and basic auth. Raises ``ListenError`` (port in
    use, no permission, unresolvable host) with a one-line message.
    """
    limits = limits or ServerLimits()
    if web_config is not None and not tls_only:
        app = AuthMiddleware(app, web_config)
    app = GuardMiddleware(app, limits.max_body_bytes, limits.max_head_bytes)
    sock = _listen(host, port, limits.backlog)
    return Listener(app, sock, web_config, name, limits)
