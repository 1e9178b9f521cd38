"""The HTTP application: ``/metrics``, ``/`` landing page, ``/-/healthy``, ``/-/ready``,
``/-/reload``. An ASGI app; ``exporter.web.serve`` serves it (hypercorn, TLS, basic auth).

It sees the exporter through a narrow ``ScrapeView`` (render, health, readiness, reload, the
landing page), never the runtime. ``/metrics`` negotiates the text and OpenMetrics formats
and gzip like prometheus_client's own handler; the bytes come from ``ScrapeView.render``,
the same call the tests and the golden file check. The blocking work (rendering, scrape-mode
refreshes) runs on a fixed pool of ``workers`` threads, off the event loop.

In scrape mode a scrape refreshes the sources that are due first. Its deadline is set when
the request arrives, from Prometheus' ``X-Prometheus-Scrape-Timeout-Seconds`` (capped by
``refresh.scrape_timeout_seconds``) minus a margin, so it covers the wait for a worker as
well as the refresh; rendering cached bytes after it takes milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from prometheus_client.exposition import choose_encoder

from exporter.web.asgi import Receive, Scope, Send, header, send_text

__all__ = ["ExporterApp", "ScrapeView", "scrape_budget"]

GET = ("GET", "HEAD")


class ScrapeView(Protocol):
    """What the web layer needs of the exporter."""

    @property
    def telemetry_path(self) -> str: ...

    @property
    def scrape_timeout(self) -> float | None:
        """Scrape mode: the configured scrape timeout; timer mode: None."""

    @property
    def lifecycle(self) -> bool:
        """POST /-/reload is enabled."""

    def render(self, fmt: str, gzip: bool, deadline: float | None) -> list[bytes]:
        """The exposition (``text`` or ``openmetrics``) as chunks; with a ``deadline``
        (``time.monotonic()``), refresh what is due first, until then at most."""

    def ready(self) -> bool: ...

    def reload(self) -> str | None:
        """Reload the configuration: the error, or None."""

    def landing(self) -> str: ...


def scrape_budget(header: str | None, configured: float) -> float:
    """How long a scrape may spend before it renders: the scrape timeout (Prometheus' header,
    capped by the configured one) minus a margin for a loaded machine and the network."""
    try:
        budget = float(header) if header else configured
    except ValueError:
        budget = configured
    if not budget > 0:  # also NaN
        budget = configured
    budget = min(budget, configured)
    return max(0.05, budget - max(1.0, 0.15 * budget))


class ExporterApp:
    def __init__(
        self,
        view: ScrapeView,
        *,
        workers: int = 16,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.view = view
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="http")
        self._monotonic = monotonic

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        view = self.view
        routes = {view.telemetry_path: GET, "/-/healthy": GET, "/-/ready": GET, "/": GET}
        if path == "/-/reload":
            if not view.lifecycle:
                return await send_text(send, 403, "Lifecycle API is not enabled.\n")
            routes[path] = ("POST", "PUT")
        allowed = routes.get(path)
        if allowed is None:
            return await send_text(send, 404, "Not found.\n")
        if method not in allowed:
            allow = [("Allow", ", ".join(allowed))]
            return await send_text(send, 405, "Method Not Allowed\n", allow)
        if path == view.telemetry_path:
            return await self._metrics(scope, send)
        if path == "/-/healthy":
            return await send_text(send, 200, "Healthy.\n")
        if path == "/-/ready":
            if view.ready():
                return await send_text(send, 200, "Ready.\n")
            return await send_text(send, 503, "Not ready: first refresh.\n")
        if path == "/-/reload":
            error = await self._run(view.reload)
            if error:
                return await send_text(send, 500, f"{error}\n")
            return await send_text(send, 200, "Reloaded.\n")
        page = (await self._run(view.landing) or "").encode("utf-8")
        await _send(send, [("content-type", "text/html; charset=utf-8")], [page])

    async def _run(self, fn: Callable[[], str | None]) -> str | None:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        deadline = None
        configured = self.view.scrape_timeout
        if configured is not None:  # set on arrival: covers the wait for a worker
            wanted = header(scope, b"x-prometheus-scrape-timeout-seconds")
            deadline = self._monotonic() + scrape_budget(wanted, configured)
        _, content_type = choose_encoder(header(scope, b"accept") or "")
        fmt = "openmetrics" if content_type.startswith("application/openmetrics") else "text"
        gzip = "gzip" in (header(scope, b"accept-encoding") or "")
        loop = asyncio.get_running_loop()
        chunks = await loop.run_in_executor(self._pool, self.view.render, fmt, gzip, deadline)
        headers = [("content-type", content_type)]
        if gzip:
            headers.append(("content-encoding", "gzip"))
        await _send(send, headers, chunks)


async def _send(send: Send, headers: list[tuple[str, str]], chunks: list[bytes]) -> None:
    length = sum(len(c) for c in chunks)
    out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    out.append((b"content-length", str(length).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": out})
    for i, chunk in enumerate(chunks):
        more = i < len(chunks) - 1
        await send({"type": "http.response.body", "body": chunk, "more_body": more})
    if not chunks:
        await send({"type": "http.response.body", "body": b""})
