"""What the refresher logs, once per change: a source (or one part of it) going down or coming
back, future-dated vendor data starting or ending, a kind of skipped point seen for the first
time, a discovery spike held back. Never once per point, per retry or per refresh of a state that
did not change, so 5,000 apps in the same state cost one line per change, not 5,000 per cycle.
"""

from __future__ import annotations

import logging
import threading

from exporter.log import get_logger
from exporter.types import Labels, Snapshot

__all__ = ["RefreshLog"]

log = get_logger("exporter.scheduler")


def _part(part: Labels) -> dict[str, str]:
    return dict(part)


class RefreshLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._down: dict[tuple[str, str], str] = {}  # (source, app) -> reason
        self._parts: dict[tuple[str, str, Labels], str] = {}  # (source, app, part) -> reason
        self._ahead: dict[str, set[str]] = {}  # source -> apps whose answers are future-dated
        self._skips: set[tuple[str, str]] = set()  # (source, reason) logged once
        self._spike = 0

    def forget_apps(self, keep: frozenset[str]) -> None:
        """Drop the state of apps no longer monitored (their recovery is never logged)."""
        with self._lock:
            for down in [k for k in self._down if k[1] and k[1] not in keep]:
                del self._down[down]
            for part in [k for k in self._parts if k[1] and k[1] not in keep]:
                del self._parts[part]
            for apps in self._ahead.values():
                apps &= keep | {""}

    def failed(self, source: str, app_id: str, reason: str, error: str) -> None:
        with self._lock:
            first = self._down.get((source, app_id)) != reason
            self._down[(source, app_id)] = reason
        log.log(logging.WARNING if first else logging.DEBUG, "source down", source=source,
                app_id=app_id, reason=reason, error=error)  # fmt: skip

    def answered(self, source: str, app_id: str, snap: Snapshot) -> None:
        """A successful (maybe partial) refresh: recoveries, failed parts, future-dated data."""
        with self._lock:
            recovered = self._down.pop((source, app_id), None) is not None
        if recovered:
            log.info("source recovered", source=source, app_id=app_id)
        self._parts_of(source, app_id, snap)
        self._future(source, app_id, snap)

    def _parts_of(self, source: str, app_id: str, snap: Snapshot) -> None:
        changes: list[tuple[Labels, str, str]] = []
        with self._lock:
            for (s, a, part), _ in list(self._parts.items()):
                if (s, a) == (source, app_id) and part not in snap.failed_parts:
                    del self._parts[(s, a, part)]
                    changes.append((part, "", ""))
            for part, (reason, error) in snap.failed_parts.items():
                if self._parts.get((source, app_id, part)) != reason:
                    self._parts[(source, app_id, part)] = reason
                    changes.append((part, reason, error))
        for part, reason, error in changes:
            if reason:
                log.warning("source partly down; serving the parts that answered", source=source,
                            app_id=app_id, reason=reason, error=error, **_part(part))  # fmt: skip
            else:
                log.info("source part recovered", source=source, app_id=app_id, **_part(part))

    def _future(self, source: str, app_id: str, snap: Snapshot) -> None:
        with self._lock:
            apps = self._ahead.setdefault(source, set())
            was = bool(apps)
            if snap.ahead_seconds > 0:
                apps.add(app_id)
            else:
                apps.discard(app_id)
            now = bool(apps)
        if now and not was:
            log.warning(
                "vendor data dated in the future; skipping it (the vendor's clock or this "
                "host's is off)",
                source=source,
                app_id=app_id,
                ahead_seconds=round(snap.ahead_seconds),
                count=snap.skipped.get("future", 0),
            )
        elif was and not now:
            log.info("vendor data no longer dated in the future", source=source)

    def skipped(self, source: str, app_id: str, snap: Snapshot) -> None:
        """The first time a source skips points for a reason (future-dated: see above)."""
        for reason, n in snap.skipped.items():
            if reason == "future" or not n:
                continue
            with self._lock:
                if (source, reason) in self._skips:
                    continue
                self._skips.add((source, reason))
            log.warning("skipping unreadable data points", source=source, app_id=app_id,
                        reason=reason, count=n)  # fmt: skip

    def spike(self, source: str, held: int, monitored: int, recheck: float) -> None:
        with self._lock:
            first, self._spike = self._spike == 0 and held > 0, held
        if first:
            log.warning(
                "discovery answer adds more apps than are monitored; polling them only when "
                "a second answer confirms them",
                source=source,
                added=held,
                monitored=monitored,
                recheck_seconds=round(recheck),
            )
