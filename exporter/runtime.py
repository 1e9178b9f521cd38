"""Wiring: settings -> client -> sources -> refresher -> cache -> collectors -> registry -> server.

The parts that a reload may replace (client, limiters, sources, targets, refresher, scheduler)
form an ``Engine``; what outlives a reload (registries, self-metrics, the cache, the HTTP app)
belongs to the ``Runtime``. A reload builds a new engine from the new settings, swaps it in
atomically and retires the old one. What a reload keeps and drops:

* the cache of the (source, app) pairs that stay; the entries of removed apps and sources go
  with the reload (the new refresher sets the cache's app list before it is swapped in);
* the discovered app list and the automatic watch list of the apps that stay (``Targets.adopt``),
  so ``client_*`` and ``client_info`` series have no hole;
* the schedule: when only credentials, logging or web settings changed (a key rotation), each
  source that is healthy and idle keeps its next run; any other change, and any source that is
  down or was running, is refreshed at once;
* nothing the old engine still had in flight: its refresher is retired and fenced out of the
  cache (an aborted call of the old engine never shows as a failure).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from exporter.cache import SnapshotCache, SourceStatus
from exporter.client import VolcClient
from exporter.collectors import SOURCES, actions
from exporter.collectors.base import Source
from exporter.errors import ConfigError
from exporter.limiter import Limiters, Quota, Waiter
from exporter.log import get_logger, set_secrets
from exporter.metrics import (
    CacheCollector,
    Exposition,
    LiveCollector,
    ReloadStatus,
    ServedCollector,
    make_registries,
)
from exporter.quotas import PROVIDERS
from exporter.scheduler import Refresher, TimerScheduler
from exporter.server import ExporterApp
from exporter.settings import Settings
from exporter.targets import Targets
from exporter.telemetry import Telemetry
from exporter.types import Clock, SystemClock
from exporter.view import ExporterView
from exporter.web.serve import Listener, ServerLimits

if TYPE_CHECKING:
    from exporter.callbacks.service import CallbackService

__all__ = ["Engine", "Runtime", "quotas_for"]

log = get_logger(__name__)


def quotas_for(settings: Settings) -> dict[str, Quota]:
    """Per-action quotas: the provider's, then rate_limit overrides (per_second, quotas)."""
    rl = settings.rate_limit
    out: dict[str, Quota] = {}
    for action, quota in PROVIDERS[settings.provider].quotas.items():
        per_second = rl.per_action.get(action, rl.requests_per_second or quota.per_second)
        out[action] = Quota(per_second, quota.per_minute, quota.per_day)
    for action, override in rl.quotas.items():
        base = out.get(action, Quota())
        out[action] = Quota(
            override.per_second if override.per_second is not None else base.per_second,
            override.per_minute if override.per_minute is not None else base.per_minute,
            override.per_day if override.per_day is not None else base.per_day,
        )
    return out


class _Credentials:
    """The current credentials; a reload swaps them, the signer reads them per request."""

    def __init__(self, settings: Settings) -> None:
        self.set(settings)

    def set(self, settings: Settings) -> None:
        triple = settings.credential_triple()
        # the scrubber keeps the current secrets (and the replaced ones for a grace minute)
        set_secrets("credentials", [s for s in triple[1:] if s])
        self._triple = triple

    def __call__(self) -> tuple[str, str, str | None]:
        return self._triple


@dataclass
class Engine:
    settings: Settings
    client: VolcClient
    limiters: Limiters
    sources: dict[str, Source[Any]]
    targets: Targets
    refresher: Refresher
    scheduler: TimerScheduler | None

    def start(self) -> None:
        if self.scheduler is not None:
            self.scheduler.start()

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown()
        self.refresher.retire()  # first: nothing in flight may write once the client closes
        self.client.close()


def _limiters(settings: Settings, clock: Clock) -> Limiters:
    _, shards = settings.shard_index
    quotas = quotas_for(settings)
    return Limiters(
        quotas,
        Quota(per_second=settings.rate_limit.requests_per_second or 2.0),
        headroom=settings.rate_limit.headroom,
        shards=shards,
        clock=clock.monotonic,
    )


def _same_quotas(a: Settings, b: Settings) -> bool:
    return (a.provider, a.rate_limit, a.shard) == (b.provider, b.rate_limit, b.shard)


_ROTATION_ONLY = {"credentials", "log", "web"}  # what a reload may change and keep the schedule


def _carried(old: Engine, new: Engine, cache: SnapshotCache) -> set[str]:
    """Sources whose schedule survives the reload: nothing but credentials, logging or web
    settings changed, and the source is idle and up for every app."""
    a, b = (
        old.settings.model_dump(exclude=_ROTATION_ONLY),
        new.settings.model_dump(exclude=_ROTATION_ONLY),
    )
    if a != b:
        return set()
    statuses, entries = cache.statuses(), cache.entries()
    down = {source for (source, _), entry in entries.items() if not entry.up}
    return {
        name
        for name in new.sources
        if name in old.sources
        and name not in down
        and not old.refresher.running(name)
        and statuses.get(name, SourceStatus()).cycle_finished is not None
    }


class Runtime:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        waiter: Waiter | Callable[[], Waiter] | None = None,
        inline: bool = False,
    ) -> None:
        self.clock: Clock = clock or SystemClock()
        self._transport = transport
        # tests: a waiter that advances virtual time (a factory: a new one per engine)
        self._waiter = waiter
        self._inline = inline  # tests: cycles run in the caller's thread
        self.registry, self.live = make_registries()
        self.telemetry = Telemetry(
            self.live, actions(), [cls.name for cls in SOURCES], self.clock.time
        )
        self.cache = SnapshotCache()
        self.reload_status = ReloadStatus(self.clock.time)
        self._credentials = _Credentials(settings)
        self._swap = threading.Lock()
        self.engine = self._engine(settings, None)
        self.collector = CacheCollector(lambda: self.engine.refresher)
        self.live.register(
            LiveCollector(lambda: self.engine.limiters, actions(), self.reload_status)
        )
        self.exposition = Exposition(self.collector, self.live, self.clock.monotonic)
        # what tests query: the served bytes parsed back (one scrape path)
        self.registry.register(ServedCollector(lambda: self.exposition.body("text", fresh=True)))
        self.view = ExporterView(
            lambda: self.engine.settings,
            lambda: self.engine.refresher,
            self.cache,
            self.exposition,
            self.clock,
        )
        self.app = ExporterApp(self.view)
        self.server: Listener | None = None
        self.server_limits = ServerLimits()  # tests and benchmarks inject smaller ones
        self.callbacks: CallbackService | None = None
        if settings.callbacks.enabled:  # the event callback receiver (its families on /metrics)
            from exporter.callbacks.service import CallbackService

            self.callbacks = CallbackService(
                settings,
                clock=self.clock,
                known_apps=lambda: self.engine.targets.app_names().keys(),
                client=lambda: self.engine.client,
            )
            self.live.register(self.callbacks.collector)
        self.callback_address: tuple[str, int] | None = None
        self._started = False
        self._stopped = False

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock | None = None,
        waiter: Waiter | Callable[[], Waiter] | None = None,
        inline: bool = False,
    ) -> Runtime:
        return cls(settings, transport=transport, clock=clock, waiter=waiter, inline=inline)

    # -- the current engine --------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.engine.settings

    @property
    def refresher(self) -> Refresher:
        return self.engine.refresher

    @property
    def sources(self) -> dict[str, Source[Any]]:
        return self.engine.sources

    @property
    def targets(self) -> Targets:
        return self.engine.targets

    @property
    def client(self) -> VolcClient:
        return self.engine.client

    def _engine(self, settings: Settings, old: Engine | None) -> Engine:
        clock = self.clock
        if old is not None and _same_quotas(old.settings, settings):
            limiters = old.limiters  # keep the send history: the quota windows go on
        else:
            limiters = _limiters(settings, clock)
        # per engine: stopping the old one cancels its waits, not the new one's
        w = self._waiter
        waiter = w if isinstance(w, Waiter) else w() if w is not None else Waiter()
        tz = dt.timezone(dt.timedelta(seconds=settings.utc_offset_seconds))
        client = VolcClient(
            endpoint=settings.base_url,
            region=settings.signing_region,
            credentials=self._credentials,
            telemetry=self.telemetry,
            limiters=limiters,
            waiter=waiter,
            tz=tz,
            version=settings.version,
            provider=settings.provider,
            service=settings.service,
            timeout=settings.timeout_seconds,
            max_response_bytes=settings.max_response_bytes,
            max_retries=settings.rate_limit.max_retries,
            backoff_seconds=settings.rate_limit.backoff_seconds,
            transport=self._transport,
            monotonic=clock.monotonic,
            wall=clock.time if not isinstance(clock, SystemClock) else None,
        )
        sources: dict[str, Source[Any]] = {}
        statuses: list[str] | None = None
        for cls in SOURCES:
            src_settings = settings.source(cls.name)
            if cls.discovers_apps:
                statuses = getattr(src_settings, "statuses", None)
            if src_settings.enabled:
                sources[cls.name] = cls(client, src_settings, tz)
        targets = Targets(settings, statuses)
        if old is not None:  # before the refresher sets the cache's app list from it
            watch = any(src.feeds_watch_list for src in sources.values())
            targets.adopt(old.targets, watch=watch and targets.client_series_cap > 0)
        refresher = Refresher(
            sources,
            self.cache,
            targets,
            limiters,
            self.telemetry,
            clock,
            waiter,
            inline=self._inline,
            planning=settings.planning,
        )
        if old is not None:  # the traffic tiers go on (busy apps stay busy)
            refresher.traffic.adopt(old.refresher.traffic)
        scheduler = TimerScheduler(refresher) if settings.refresh.mode == "timer" else None
        return Engine(settings, client, limiters, sources, targets, refresher, scheduler)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Listen, then start refreshing; returns the bound host and port."""
        address = self.serve()
        if self.callbacks is not None:
            self.callback_address = self.callbacks.start()
        self.engine.start()
        self._started = True
        return address

    def serve(self) -> tuple[str, int]:
        """Listen on ``web.listen_address`` (with ``web.config_file``: TLS, basic auth);
        returns the bound host and port. ListenError or ConfigError when it cannot."""
        from exporter.settings import parse_listen_address
        from exporter.web.serve import serve
        from exporter.web.source import WebConfigSource

        path = self.settings.web.config_file
        web_config = None
        if path is not None:  # a bad file at run time: last good kept, reload status 0
            web_config = WebConfigSource(path, self.reload_status.set_web_config)
        host, port = parse_listen_address(self.settings.web.listen_address)
        self.server = serve(self.app, host, port, web_config=web_config, limits=self.server_limits)
        return self.server.address

    def shutdown_server(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None

    def reload(self, settings: Settings) -> None:
        """Swap in an engine built from ``settings``; keep the cache of what stays."""
        with self._swap:
            if self._stopped:
                return
            old = self.engine
            self._credentials.set(settings)
            new = self._engine(settings, old)  # its refresher now owns the cache: old is fenced
            carried = _carried(old, new, self.cache)
            for name in old.sources:
                if name not in new.sources:
                    self.cache.forget_source(name)
            self.engine = new
            if self.callbacks is not None:
                self.callbacks.reconfigure(settings)  # keeps the dedup cache
            elif settings.callbacks.enabled:
                log.warning("callbacks: switching the receiver on needs a restart")
            old.stop()
            for name in new.sources:  # what the reload changed is refreshed at once
                if name not in carried:
                    self.cache.update_status(name, next_due=None, cycle_started=None, running=False)
            if new.scheduler is not None and old.scheduler is not None:
                new.scheduler.adopt(old.scheduler, carried)
            if self._started:
                new.start()
            self.reload_status.successful = True
            self.reload_status.success_timestamp = self.clock.time()
        log.info("configuration reloaded", sources=",".join(new.sources))

    def reload_config(self, load: Callable[[], Settings]) -> str | None:
        """Re-read the configuration with ``load`` and swap it in; on a bad configuration keep
        the running one. Returns the error, or None. Used by SIGHUP and POST /-/reload."""
        try:
            settings = load()
        except ConfigError as exc:
            self.reload_status.successful = False
            log.error("reload failed, keeping the running configuration", error=str(exc))
            return f"reload failed: {exc}"
        self.reload(settings)
        return None

    def stop(self) -> None:
        self.shutdown_server()
        self.app.close()
        if self.callbacks is not None:
            self.callbacks.stop()
        self._stopped = True  # a reload still running does not start its engine
        locked = self._swap.acquire(timeout=1.0)
        try:
            self.engine.stop()
        finally:
            if locked:
                self._swap.release()
