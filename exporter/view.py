"""``ExporterView``: the exporter as the web layer sees it (``exporter.server.ScrapeView``).

It reads the current engine through two getters (a reload swaps the engine) and renders
``/metrics`` with ``exporter.metrics.Exposition``: the one scrape path, used by the HTTP app,
the tests and the golden file alike.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from exporter import __version__, revision
from exporter.cache import SnapshotCache
from exporter.metrics import Exposition
from exporter.plan_page import plan_section
from exporter.refresher import Refresher
from exporter.settings import Settings
from exporter.types import Clock

__all__ = ["ExporterView"]


class ExporterView:
    def __init__(
        self,
        settings: Callable[[], Settings],
        refresher: Callable[[], Refresher],
        cache: SnapshotCache,
        exposition: Exposition,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._refresher = refresher
        self._cache = cache
        self.exposition = exposition
        self._clock = clock
        self.reloader: Callable[[], str | None] | None = None  # set by the CLI: error or None

    @property
    def telemetry_path(self) -> str:
        return self._settings().web.telemetry_path

    @property
    def scrape_timeout(self) -> float | None:
        refresh = self._settings().refresh
        return refresh.scrape_timeout_seconds if refresh.mode == "scrape" else None

    @property
    def lifecycle(self) -> bool:
        return self._settings().web.enable_lifecycle and self.reloader is not None

    def render(
        self, fmt: str = "text", gzip: bool = False, deadline: float | None = None
    ) -> list[bytes]:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left > 0:  # past its deadline (queued too long) a scrape serves the cache
                self._refresher().refresh_due(left)
        return self.exposition.gzip_chunks(fmt) if gzip else self.exposition.chunks(fmt)

    def body(self, fmt: str = "text") -> bytes:
        """What ``/metrics`` serves (uncompressed), as one string of bytes."""
        return b"".join(self.render(fmt))

    def ready(self) -> bool:
        return self._refresher().ready()

    def reload(self) -> str | None:
        if self.reloader is None:
            return "the lifecycle API is not enabled"
        return self.reloader()

    def landing(self) -> str:
        refresher = self._refresher()
        now = self._clock.monotonic()
        statuses = self._cache.statuses()
        names = refresher.targets.app_names()
        rows = []
        for (source, app_id), e in sorted(self._cache.entries().items()):
            age = f"{now - e.success_mono:.0f}s ago" if e.success_mono is not None else "never"
            due = statuses.get(source)
            nxt = ""
            if due is not None and due.next_due is not None:
                nxt = f"in {max(0.0, due.next_due - now):.0f}s"
            elif due is not None and due.cycle_started is not None and source in refresher.sources:
                left = due.cycle_started + refresher.interval(source) - now
                nxt = f"next scrape after {max(0.0, left):.0f}s"
            name = names.get(app_id, ("", ""))[0] if app_id else ""
            state = "up" if e.up else "DOWN"
            cells = (source, app_id or "-", name or "-", state, age, e.last_error or "-", nxt)
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        table = "\n".join(rows) or "<tr><td colspan=7>no refresh has finished yet</td></tr>"
        plan = plan_section(refresher.plan, refresher.traffic, names)
        settings = self._settings()
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
<tr><th>source</th><th>app_id</th><th>app name</th><th>state</th><th>last success</th>
<th>last error</th><th>next refresh</th></tr>
{table}
</table>
<h2>Quota plan</h2>
{plan}
</body></html>
"""
