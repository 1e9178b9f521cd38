"""Wiring: settings -> client -> sources -> cache/refresher -> collector -> registry -> server."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIServer

import httpx
from prometheus_client import CollectorRegistry

from exporter.cache import SnapshotCache
from exporter.client import VolcClient
from exporter.collectors import make_sources
from exporter.collectors.base import Source
from exporter.limiter import Limiters
from exporter.metrics import CacheCollector, make_registry
from exporter.scheduler import Refresher, TimerScheduler
from exporter.server import ExporterApp, serve
from exporter.settings import Settings, parse_listen_address
from exporter.targets import Targets
from exporter.telemetry import Telemetry

__all__ = ["Runtime", "action_rates"]

log = logging.getLogger(__name__)


def action_rates(settings: Settings) -> tuple[float, dict[str, float]]:
    """Requests/s this instance may send per action: quota x headroom / number of shards."""
    rl = settings.rate_limit
    _, shards = settings.shard_index
    share = rl.headroom / shards
    return rl.requests_per_second * share, {a: r * share for a, r in rl.per_action.items()}


@dataclass
class Runtime:
    settings: Settings
    registry: CollectorRegistry
    telemetry: Telemetry
    client: VolcClient
    sources: dict[str, Source[Any]]
    cache: SnapshotCache
    targets: Targets
    refresher: Refresher
    scheduler: TimerScheduler | None
    app: ExporterApp
    server: WSGIServer | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] | None = None,
    ) -> Runtime:
        registry, telemetry = make_registry()
        default_rate, per_action = action_rates(settings)
        client = VolcClient(
            endpoint=settings.endpoint,
            region=settings.region,
            access_key_id=settings.credentials.access_key_id or "",
            secret_access_key=settings.secret_key,
            telemetry=telemetry,
            limiters=Limiters(default_rate, per_action),
            version=settings.version,
            service=settings.service,
            timeout=settings.timeout_seconds,
            max_retries=settings.rate_limit.max_retries,
            backoff_seconds=settings.rate_limit.backoff_seconds,
            transport=transport,
            clock=(lambda: dt.datetime.fromtimestamp(clock(), dt.UTC)) if clock else None,
        )
        sources = make_sources(settings, client, telemetry)
        cache = SnapshotCache()
        targets = Targets(settings, cache)
        intervals = {n: getattr(settings.sources, n).interval_seconds for n in sources}
        staleness = {n: getattr(settings.sources, n).staleness for n in sources}
        kw: dict[str, Any] = {"clock": clock} if clock else {}
        refresher = Refresher(sources, cache, targets, intervals, **kw)
        registry.register(CacheCollector(refresher, targets, staleness, **kw))
        scheduler = TimerScheduler(refresher) if settings.refresh.mode == "timer" else None
        app = ExporterApp(
            registry,
            refresher,
            telemetry_path=settings.web.telemetry_path,
            mode=settings.refresh.mode,
            scrape_timeout=settings.refresh.scrape_timeout_seconds,
            scheduler=scheduler,
            **kw,
        )
        return cls(
            settings, registry, telemetry, client, sources, cache, targets, refresher,
            scheduler, app,
        )  # fmt: skip

    def start(self) -> tuple[str, int]:
        host, port = parse_listen_address(self.settings.web.listen_address)
        self.server, _ = serve(self.app, host, port)
        if self.scheduler is not None:
            self.scheduler.start()
        bound = self.server.server_address
        return str(bound[0]), int(bound[1])

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self.refresher.shutdown()
        self.client.close()
