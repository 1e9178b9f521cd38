"""Which apps this instance monitors: configured or discovered, then this shard's share."""

from __future__ import annotations

import hashlib

from exporter.cache import SnapshotCache
from exporter.collectors.apps import AppsSnapshot
from exporter.collectors.base import AppTarget
from exporter.settings import Settings

__all__ = ["Targets", "shard_of"]


def shard_of(app_id: str, count: int) -> int:
    """Stable shard (1..count) of an app: SHA-256 of the app id, not Python's salted hash()."""
    digest = hashlib.sha256(app_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


class Targets:
    def __init__(self, settings: Settings, cache: SnapshotCache) -> None:
        self._cache = cache
        self._statuses = set(settings.sources.apps.statuses)
        self._shard, self._shards = settings.shard_index
        self.discovery = settings.apps is None
        self._configured = [
            AppTarget(
                app.app_id,
                tuple((w.room_id, tuple(w.user_ids)) for w in app.call_detail),
            )
            for app in settings.apps or []
        ]
        self.names = {app.app_id: app.name for app in settings.apps or []}

    def _mine(self, app_id: str) -> bool:
        return self._shards == 1 or shard_of(app_id, self._shards) == self._shard

    def known_apps(self) -> dict[str, tuple[str, str]]:
        """app_id -> (name, status) from the last successful ListApps, if any."""
        entry = self._cache.get("apps", "")
        if entry is None or not isinstance(entry.snapshot, AppsSnapshot):
            return {}
        return entry.snapshot.apps

    def discovered(self) -> bool:
        entry = self._cache.get("apps", "")
        return entry is not None and entry.last_success is not None

    def current(self) -> list[AppTarget]:
        if not self.discovery:
            return [t for t in self._configured if self._mine(t.app_id)]
        return [
            AppTarget(app_id)
            for app_id, (_, status) in sorted(self.known_apps().items())
            if status in self._statuses and self._mine(app_id)
        ]
