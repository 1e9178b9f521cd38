"""A thin adapter: the callback ASGI app on its own listener, served by hypercorn.

``serve(app, host, port, *, web_config, name, tls_only)`` binds ``host:port`` (``ListenError``
with a one-line reason when it cannot) and serves the app on a thread with its own event loop;
``Listener.address`` is the bound address, ``Listener.shutdown()`` stops it (open requests get
a moment to finish). TLS comes from the web config file's ``tls_server_config``, loaded at start.

The exporter's HTTP layer is moving to an embedded hypercorn server with this same ``serve``
signature; this module is the only one that touches hypercorn, so switching is one import.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import threading
from typing import Any

from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from exporter.errors import ListenError
from exporter.webconfig import WebConfig

__all__ = ["Listener", "serve"]

_WHY = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's",
}
logging.getLogger("hypercorn.error").setLevel(logging.WARNING)


class _Config(Config):
    """hypercorn's configuration with a TLS context of our own (the web config's)."""

    def __init__(self, context: ssl.SSLContext | None) -> None:
        super().__init__()
        self._context = context

    @property
    def ssl_enabled(self) -> bool:
        return self._context is not None

    def create_ssl_context(self) -> ssl.SSLContext | None:
        return self._context


def _bind(host: str, port: int) -> socket.socket:
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if host == "" and socket.has_dualstack_ipv6():
            return socket.create_server(("", port), family=socket.AF_INET6, dualstack_ipv6=True)
        if host == "":
            return socket.create_server(("", port))
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        infos.sort(key=lambda i: i[0] != socket.AF_INET)
        family, _, _, _, addr = infos[0]
        return socket.create_server(addr[:2], family=family, backlog=256)
    except socket.gaierror as exc:
        why = f"host does not resolve ({exc.strerror})"
        raise ListenError(f"cannot listen on {shown}: {why}") from None
    except OSError as exc:
        why = _WHY.get(exc.errno or 0, exc.strerror or str(exc))
        raise ListenError(f"cannot listen on {shown}: {why}") from None


class Listener:
    def __init__(self, app: Any, sock: socket.socket, context: ssl.SSLContext | None, name: str):
        self.address: tuple[str, int] = sock.getsockname()[:2]
        self.tls = context is not None
        config = _Config(context)
        config.accesslog = None
        config.errorlog = logging.getLogger("hypercorn.error")
        # the vendor sends each callback on a connection of its own, and hypercorn keeps a
        # closed connection's state until its idle timer ends: a short timer keeps memory flat
        config.keep_alive_timeout = 1.0
        config.read_timeout = 10  # a sender that stalls mid-request is cut off
        config.graceful_timeout = 2.0
        config.include_server_header = False
        config.h11_max_incomplete_size = 16 * 1024  # request line and headers
        sockets = Sockets([sock] if context else [], [] if context else [sock], [])
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        started = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            started.set()
            await worker_serve(
                wrap_app(app, config.wsgi_max_body_size, "asgi"),
                config,
                sockets=sockets,
                shutdown_trigger=self._stop.wait,
            )

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(main())
            finally:
                started.set()
                self._loop.close()

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()
        started.wait(5.0)

    def shutdown(self, timeout: float = 5.0) -> None:
        stop = self._stop
        if stop is not None and not self._loop.is_closed():
            try:
                self._loop.call_soon_threadsafe(stop.set)
            except RuntimeError:
                pass  # the loop has just closed
        self._thread.join(timeout)


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    web_config: WebConfig | None,
    name: str,
    tls_only: bool = False,
) -> Listener:
    """Bind and serve ``app`` (ASGI 3); ``tls_only``: the web config may set TLS and nothing
    else (``ConfigError`` otherwise, from ``exporter.callbacks.service.load_web_config``)."""
    context = None
    if web_config is not None and web_config.tls_enabled:
        tls = web_config.server_tls()
        context = tls.context if tls is not None else None
    sock = _bind(host, port)
    return Listener(app, sock, context, name)
