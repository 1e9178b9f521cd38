"""HTTP server: ``/metrics``, ``/`` landing page, ``/-/healthy``, ``/-/ready``.

A small WSGI dispatcher around prometheus-client's ``make_wsgi_app`` (which handles content
negotiation, OpenMetrics and gzip), served by the standard library's threading WSGI server.
"""

from __future__ import annotations

import html
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

from exporter import __version__
from exporter.scheduler import Refresher, TimerScheduler

__all__ = ["ExporterApp", "serve"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


class ExporterApp:
    def __init__(
        self,
        registry: CollectorRegistry,
        refresher: Refresher,
        *,
        telemetry_path: str,
        mode: str,
        scrape_timeout: float,
        scheduler: TimerScheduler | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._metrics = make_wsgi_app(registry)
        self._refresher = refresher
        self._path = telemetry_path
        self._mode = mode
        self._scrape_timeout = scrape_timeout
        self._scheduler = scheduler
        self._clock = clock

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == self._path:
            if self._mode == "scrape":
                self._refresher.refresh_due(self._timeout(environ))
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/-/healthy":
            return _text(start_response, "200 OK", "Healthy.\n")
        if path == "/-/ready":
            if self._refresher.ready():
                return _text(start_response, "200 OK", "Ready.\n")
            return _text(start_response, "503 Service Unavailable", "Not ready: first refresh.\n")
        if path == "/":
            body = self._landing().encode("utf-8")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        return _text(start_response, "404 Not Found", "Not found.\n")

    def _timeout(self, environ: Environ) -> float:
        header = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
        try:
            budget = float(header) if header else self._scrape_timeout
        except ValueError:
            budget = self._scrape_timeout
        # leave time to render and send the answer
        return max(0.1, min(budget, self._scrape_timeout) - 0.5)

    def _landing(self) -> str:
        now = self._clock()
        rows = []
        for (source, app_id), e in sorted(self._refresher.cache.entries().items()):
            age = f"{now - e.last_success:.0f}s ago" if e.last_success else "never"
            nxt = ""
            if self._scheduler is not None:
                t = self._scheduler.next_run(source)
                nxt = f"in {max(0.0, t - now):.0f}s" if t else ""
            else:
                started = self._refresher.cycle_started.get(source)
                interval = self._refresher.intervals.get(source, 0.0)
                nxt = (
                    f"next scrape after {max(0.0, started + interval - now):.0f}s"
                    if started
                    else ""
                )
            rows.append(
                "<tr>"
                + "".join(
                    f"<td>{html.escape(str(c))}</td>"
                    for c in (
                        source,
                        app_id or "-",
                        "up" if e.up else "DOWN",
                        age,
                        e.last_error or "-",
                        nxt,
                    )
                )
                + "</tr>"
            )
        table = "\n".join(rows) or "<tr><td colspan=6>no refresh has finished yet</td></tr>"
        return f"""<!doctype html>
<html><head><title>Volcengine RTC exporter</title></head>
<body>
<h1>Volcengine RTC exporter</h1>
<p>Version {html.escape(__version__)}, refresh mode <b>{html.escape(self._mode)}</b>.
<a href="{html.escape(self._path)}">Metrics</a> · <a href="/-/healthy">healthy</a> ·
<a href="/-/ready">ready</a></p>
<table border=1 cellpadding=4>
<tr><th>source</th><th>app_id</th><th>state</th><th>last success</th>
<th>last error</th><th>next refresh</th></tr>
{table}
</table>
</body></html>
"""


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode("utf-8")]


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("http %s", format % args)


def serve(app: ExporterApp, host: str, port: int) -> tuple[WSGIServer, threading.Thread]:
    """Bind and serve in a daemon thread; returns the server (``.server_port``) and thread."""
    server_class = _Server6 if ":" in host else _Server
    httpd = make_server(host, port, app, server_class, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.1,), name="http", daemon=True)
    thread.start()
    return httpd, thread
