"""A thin adapter: the callback ASGI app on its own listener, on the exporter's web layer.

``serve(app, host, port, *, web_config, name, tls_only)`` binds ``host:port`` (``ListenError``
with a one-line reason when it cannot) and serves the app with ``exporter.web.serve`` (hypercorn
on a thread with its own event loop); ``Listener.address`` is the bound address,
``Listener.shutdown()`` stops it (open requests get a moment to finish). TLS comes from the web
config file's ``tls_server_config``.

The limits differ from ``/metrics``: the vendor sends each callback on a connection of its own,
and hypercorn keeps a connection's state until its keep-alive timer ends, so a short timer (1 s)
keeps memory flat; a sender that stalls mid-body is cut off after 10 s; the request head is
small (16 KiB); the body cap is the receiver's own (``callbacks.max_body_bytes``, counted).
"""

from __future__ import annotations

from typing import Any

from exporter.web.serve import Listener, ServerLimits
from exporter.web.serve import serve as web_serve
from exporter.web.source import WebConfigSource

__all__ = ["CALLBACK_LIMITS", "Listener", "serve"]

CALLBACK_LIMITS = ServerLimits(
    head_timeout=10.0,
    keep_alive=1.0,
    read_timeout=10.0,
    max_head_bytes=16 * 1024,
    max_body_bytes=1 << 30,  # the receiver answers 413 itself (and counts it)
    graceful=2.0,
)


def serve(
    app: Any,
    host: str,
    port: int,
    *,
    web_config: WebConfigSource | None,
    name: str,
    tls_only: bool = False,
) -> Listener:
    """Bind and serve ``app`` (ASGI 3); ``tls_only``: the web config may set TLS and nothing
    else (``ConfigError`` otherwise, from ``exporter.callbacks.service.load_web_config``)."""
    return web_serve(
        app,
        host,
        port,
        web_config=web_config,
        name=name,
        tls_only=tls_only,
        limits=CALLBACK_LIMITS,
    )
