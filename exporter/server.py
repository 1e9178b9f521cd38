"""The HTTP application: ``/metrics``, ``/`` landing page, ``/-/healthy``, ``/-/ready``,
``/-/reload``. A WSGI app; ``exporter.webserver`` serves it (worker pool, TLS, basic auth).

``/metrics`` negotiates the text and OpenMetrics formats and gzip like prometheus_client's own
handler, but serves bytes the exporter keeps per cache change (``exporter.metrics.Exposition``):
a scrape is a lookup plus a write. In scrape mode it first refreshes the sources that are due,
waiting at most the scrape timeout minus a margin.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client.exposition import choose_encoder

from exporter import __version__, revision
from exporter.log import get_logger
from exporter.metrics import Exposition
from exporter.plan_page import plan_section

if TYPE_CHECKING:
    from exporter.runtime import Runtime

__all__ = ["ExporterApp", "scrape_budget"]

log = get_logger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]


def scrape_budget(header: str | None, configured: float) -> float:
    """How long a scrape may wait for refreshes: the scrape timeout (Prometheus' header, capped
    by the configured one) minus a margin for rendering and sending the answer."""
    try:
        budget = float(header) if header else configured
    except ValueError:
        budget = configured
    if not budget > 0:  # also NaN
        budget = configured
    budget = min(budget, configured)
    return max(0.05, budget - max(0.5, 0.1 * budget))


class ExporterApp:
    def __init__(self, runtime: Runtime, exposition: Exposition) -> None:
        self._runtime = runtime
        self._exposition = exposition
        self.reloader: Callable[[], str | None] | None = None  # set by the CLI: error or None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        settings = self._runtime.settings
        if path == settings.web.telemetry_path:
            return self._metrics(environ, start_response)
        if path == "/-/healthy":
            return _text(start_response, "200 OK", "Healthy.\n")
        if path == "/-/ready":
            if self._runtime.refresher.ready():
                return _text(start_response, "200 OK", "Ready.\n")
            return _text(start_response, "503 Service Unavailable", "Not ready: first refresh.\n")
        if path == "/-/reload":
            return self._reload(method, start_response)
        if path == "/":
            body = self._landing().encode("utf-8")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [body]
        return _text(start_response, "404 Not Found", "Not found.\n")

    def _metrics(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        settings = self._runtime.settings
        if settings.refresh.mode == "scrape":
            header = environ.get("HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS")
            budget = scrape_budget(header, settings.refresh.scrape_timeout_seconds)
            self._runtime.refresher.refresh_due(budget)
        _, content_type = choose_encoder(environ.get("HTTP_ACCEPT", ""))
        fmt = "openmetrics" if content_type.startswith("application/openmetrics") else "text"
        headers = [("Content-Type", content_type)]
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            chunks = self._exposition.gzip_chunks(fmt)  # the cached parts compressed once
            headers.append(("Content-Encoding", "gzip"))
        else:
            chunks = self._exposition.chunks(fmt)
        headers.append(("Content-Length", str(sum(len(c) for c in chunks))))
        start_response("200 OK", headers)
        return chunks

    def _reload(self, method: str, start_response: StartResponse) -> Iterable[bytes]:
        if not self._runtime.settings.web.enable_lifecycle or self.reloader is None:
            return _text(start_response, "403 Forbidden", "Lifecycle API is not enabled.\n")
        if method not in ("POST", "PUT"):
            return _text(start_response, "405 Method Not Allowed", "Use POST.\n")
        error = self.reloader()
        if error:
            return _text(start_response, "500 Internal Server Error", f"{error}\n")
        return _text(start_response, "200 OK", "Reloaded.\n")

    def _landing(self) -> str:
        rt = self._runtime
        refresher = rt.refresher
        now = rt.clock.monotonic()
        statuses = rt.cache.statuses()
        rows = []
        for (source, app_id), e in sorted(rt.cache.entries().items()):
            age = f"{now - e.success_mono:.0f}s ago" if e.success_mono is not None else "never"
            due = statuses.get(source)
            nxt = ""
            if due is not None and due.next_due is not None:
                nxt = f"in {max(0.0, due.next_due - now):.0f}s"
            elif due is not None and due.cycle_started is not None and source in refresher.sources:
                left = due.cycle_started + refresher.interval(source) - now
                nxt = f"next scrape after {max(0.0, left):.0f}s"
            cells = (source, app_id or "-", "up" if e.up else "DOWN", age, e.last_error or "-", nxt)
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        table = "\n".join(rows) or "<tr><td colspan=6>no refresh has finished yet</td></tr>"
        plan = plan_section(refresher.plan, refresher.traffic, rt.targets.app_names())
        settings = rt.settings
        return f"""<!doctype html>
<html><head><title>Volcengine RTC exporter</title></head>
<body>
<h1>Volcengine RTC exporter</h1>
<p>Version {html.escape(__version__)} (revision {html.escape(revision())}), provider
<b>{html.escape(settings.provider)}</b>, refresh mode <b>{html.escape(settings.refresh.mode)}</b>.
<a href="{html.escape(settings.web.telemetry_path)}">Metrics</a> · <a href="/-/healthy">healthy</a>
· <a href="/-/ready">ready</a></p>
<h2>Sources</h2>
<table border=1 cellpadding=4>
<tr><th>source</th><th>app_id</th><th>state</th><th>last success</th>
<th>last error</th><th>next refresh</th></tr>
{table}
</table>
<h2>Quota plan</h2>
{plan}
</body></html>
"""


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    start_response(
        status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))]
    )
    return [data]
