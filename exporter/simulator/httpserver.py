"""The simulator on a loopback port (standard library ``ThreadingHTTPServer``: no dependency, and
loopback demo/test traffic is all it serves). Streams bodies: fixed length, chunked without end
(``endless_body``) or paced (``trickle``)."""

from __future__ import annotations

import logging
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from exporter.simulator.response import SimResponse

if TYPE_CHECKING:
    from exporter.simulator.server import Simulator

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    simulator: Simulator
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        resp = self.simulator.respond(self.command, self.path, headers, body)
        self.send_response(resp.status)
        for name, value in resp.headers.items():
            self.send_header(name, value)
        try:
            if resp.stream is not None and resp.length is None:
                self._chunked(resp)
            else:
                size = len(resp.body) if resp.stream is None else resp.length
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self._write(resp)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up: fine, that is the point

    def _write(self, resp: SimResponse) -> None:
        rate = resp.rate
        step = max(1, int(rate / 4)) if rate else 65536
        for chunk in resp.chunks(step):
            for i in range(0, len(chunk), step):
                if self.simulator.stopping.is_set():
                    self.close_connection = True
                    return
                part = chunk[i : i + step]
                self.wfile.write(part)
                if rate:
                    self.wfile.flush()
                    self.simulator.sleep(len(part) / rate)

    def _chunked(self, resp: SimResponse) -> None:
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in resp.chunks():
            if self.simulator.stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    do_GET = do_POST = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    """A client that hangs up mid-request (the exporter stopping, a test's abort) is normal
    here: no traceback on stderr, as the standard server prints; anything else is logged."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        log.warning("simulator request failed", exc_info=True)


def serve(sim: Simulator, host: str, port: int) -> ThreadingHTTPServer:
    """Start serving ``sim`` in a daemon thread; return the server (``shutdown()`` stops it)."""

    class Handler(_Handler):
        simulator = sim

    httpd = _Server((host, port), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.1,), name="simulator", daemon=True).start()
    return httpd
