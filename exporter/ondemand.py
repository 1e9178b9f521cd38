"""Triggered breakdown fetches: run beside the routine cycles, written into the cache at once.

The refresher hands every answer of a ``judged`` source (live quality) to ``OnDemand.check``;
each new crossing of a threshold (``exporter.triggers``) for an indicator and product type the
breakdown is configured for is fetched on a worker of its own, ahead of the breakdown's
round-robin, through the same client and limiter (the breakdown action's own quota). The answer
replaces that indicator's series of that product type in the app's breakdown entry, which keeps
its fetch time (the other indicators' series look no fresher than their last refresh; a stale
entry starts afresh); it is never cut by the series cap. One fetch per app, indicator and
product type is in flight at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

from exporter.cache import SnapshotCache
from exporter.collectors.base import Source
from exporter.errors import ApiError
from exporter.limiter import Cancelled, Waiter
from exporter.log import get_logger
from exporter.pool import DaemonPool
from exporter.telemetry import Telemetry
from exporter.triggers import Diagnosis, Trigger, TriggerSettings
from exporter.types import AppTarget, Clock, Snapshot

__all__ = ["OnDemand"]

log = get_logger("exporter.scheduler")


class OnDemand:
    def __init__(
        self,
        sources: dict[str, Source[Any]],
        cache: SnapshotCache,
        owner: object,
        telemetry: Telemetry,
        clock: Clock,
        waiter: Waiter,
        settings: TriggerSettings,
        staleness: Callable[[str, str], float],
        *,
        inline: bool,
    ) -> None:
        self.judge = Diagnosis(settings)
        self.source = next((s for s in sources.values() if s.diagnoses), None)
        self._cache, self._owner, self._telemetry = cache, owner, telemetry
        self._clock, self._waiter, self._staleness = clock, waiter, staleness
        self._pool = DaemonPool(0 if inline else 1, "diagnosis")
        self._lock = threading.Lock()
        self._inflight: set[Trigger] = set()
        if self.source is not None:
            for indicator in getattr(self.source.settings, "indicators", ()):
                telemetry.triggers.labels(self.source.name, indicator)  # 0 until the first

    def shutdown(self) -> None:
        self._pool.shutdown()

    def check(self, src: Source[Any], app_id: str, snapshot: Snapshot) -> list[Trigger]:
        """After an answer of ``src``: start the fetches it triggers; returns them."""
        if not src.judged:
            return []
        triggers = self.judge.check(app_id, snapshot)
        target = self.source
        if target is None:
            return []
        settings = target.settings
        wanted = [
            t
            for t in triggers
            if t.indicator in getattr(settings, "indicators", ())
            and t.product_type in getattr(settings, "product_types", ())
        ]
        started = []
        for t in wanted:
            with self._lock:
                if t in self._inflight:
                    continue
                self._inflight.add(t)
            started.append(t)
            self._pool.submit(partial(self._run, target, t))
        return started

    def _base(self, name: str, app_id: str) -> tuple[Snapshot | None, float, float]:
        """The app's breakdown to merge into and the fetch time to keep: a triggered answer
        never makes the other indicators' series look fresher than their last refresh."""
        entry = self._cache.get(name, app_id)
        now = self._clock.monotonic()
        if entry is None or entry.snapshot is None or entry.fetched_mono is None:
            return None, now, self._clock.time()
        if now - entry.fetched_mono > self._staleness(name, app_id):
            return None, now, self._clock.time()  # stale: start afresh
        wall = entry.success_wall if entry.success_wall is not None else self._clock.time()
        return entry.snapshot, entry.fetched_mono, wall

    def _run(self, src: Source[Any], t: Trigger) -> None:
        try:
            if self._waiter.cancelled or not self._cache.owned_by(self._owner):
                return
            old, mono, wall = self._base(src.name, t.app_id)
            app = AppTarget(t.app_id)
            snapshot = src.focus(app, self._clock.time(), t.indicator, t.product_type, old)
            if self._cache.put_success(src.name, t.app_id, snapshot, mono, wall,
                                       owner=self._owner):  # fmt: skip
                self._telemetry.triggers.labels(src.name, t.indicator).inc()
                log.info("breakdown fetched on a trigger", source=src.name, app_id=t.app_id,
                         indicator=t.indicator, product_type=t.product_type)  # fmt: skip
        except Cancelled:
            return
        except ApiError as exc:
            log.warning("triggered breakdown failed", source=src.name, app_id=t.app_id,
                        indicator=t.indicator, reason=exc.reason)  # fmt: skip
        except Exception as exc:  # never kill the worker
            if not self._waiter.cancelled:
                log.error("triggered breakdown failed", source=src.name, app_id=t.app_id,
                          error=f"{type(exc).__name__}: {exc}")  # fmt: skip
        finally:
            with self._lock:
                self._inflight.discard(t)
