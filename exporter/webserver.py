"""Interim: the standard library's threading WSGI server (replaced by the bounded server)."""

from __future__ import annotations

import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from exporter.log import get_logger

__all__ = ["serve"]

log = get_logger(__name__)


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http", line=format % args)


def serve(app: Any, host: str, port: int) -> WSGIServer:
    server_class = _Server6 if ":" in host else _Server
    httpd = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    threading.Thread(target=httpd.serve_forever, args=(0.1,), name="http", daemon=True).start()
    return httpd
