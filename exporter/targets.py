"""Which apps this instance monitors, and what to watch in them.

``Targets`` owns the app list: configured apps, or the apps discovered by a discovery source
(``set_discovered``), then this shard's share; and the per-user watch list: configured rooms and
users, plus rooms and users found automatically (``set_auto_watch``). Sources feed it through
their ``contribute()`` hook; nothing else reads discovery results from the cache.

Discovery answers are taken as they come, with one exception: a **spike**. An answer that would
add more apps than ``spike_min`` *and* more than are monitored now (1 app -> 5,000) is held back:
the apps it adds are not polled until a second answer confirms them (``set_discovered`` returns
how many wait; the refresher then asks the discovery source again soon). Apps that vanish go at
once. A reload hands the discovered list, the apps awaiting confirmation and the automatic
watch list of the apps that stay to the new ``Targets`` (``adopt``).
"""

from __future__ import annotations

import hashlib
import threading

from exporter.settings import Settings
from exporter.types import AppTarget, WatchRoom

__all__ = ["Targets", "shard_of"]


def shard_of(app_id: str, count: int) -> int:
    """Stable shard (1..count) of an app: SHA-256 of the app id, not Python's salted hash()."""
    digest = hashlib.sha256(app_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


class Targets:
    def __init__(self, settings: Settings, statuses: list[str] | None = None) -> None:
        self._lock = threading.Lock()
        self._statuses = set(statuses or ["running"])
        self._shard, self._shards = settings.shard_index
        self.discovery = settings.apps is None
        self._configured = {app.app_id: app for app in settings.apps or []}
        self._names = {app.app_id: app.name for app in settings.apps or []}
        self._discovered: dict[str, tuple[str, str]] | None = None
        self._pending: dict[str, tuple[str, str]] = {}  # added by a spike, not yet confirmed
        self._auto: dict[str, tuple[WatchRoom, ...]] = {}
        self._ids: tuple[int, tuple[str, ...], frozenset[str]] = (-1, (), frozenset())
        call_detail = settings.source("call_detail")
        # the series cap the whole watch list shares (0: nobody reads a watch list)
        self.client_series_cap = (
            int(getattr(call_detail, "max_client_series", 0)) if call_detail.enabled else 0
        )
        self.version = 0  # bumped whenever current() may change
        self.apps_version = 0  # bumped when the app list may change (not the watch list)

    def _mine(self, app_id: str) -> bool:
        return self._shards == 1 or shard_of(app_id, self._shards) == self._shard

    # -- discovery -----------------------------------------------------------------------------

    def set_discovered(
        self, apps: dict[str, tuple[str, str]], *, spike_min: int | None = None
    ) -> int:
        """app_id -> (name, status) from the last successful discovery. Returns how many apps
        it adds are held back as a spike (0: the answer is taken as it is)."""
        with self._lock:
            held: set[str] = set()
            if self._discovered is not None and spike_min is not None:
                now = {a for a, (_, st) in self._discovered.items() if st in self._statuses}
                new = {a for a, (_, st) in apps.items() if st in self._statuses and a not in now}
                unconfirmed = new - set(self._pending)
                if len(unconfirmed) > max(spike_min, len(now)):
                    held = unconfirmed
            self._pending = {a: apps[a] for a in held}
            adopted = {a: v for a, v in apps.items() if a not in held}
            if adopted != self._discovered:
                self._discovered = adopted
                self._auto = {a: rooms for a, rooms in self._auto.items() if a in adopted}
                self.version += 1
                self.apps_version += 1
            return len(held)

    def pending(self) -> int:
        """Apps of the last discovery answer that wait for a second one to confirm them."""
        with self._lock:
            return len(self._pending)

    def adopt(self, old: Targets, *, watch: bool) -> None:
        """After a reload: take over ``old``'s discovered apps (when both discover) and, with
        ``watch``, its automatic watch list for the apps that stay."""
        with old._lock:
            discovered, pending = old._discovered, dict(old._pending)
            auto = dict(old._auto)
        with self._lock:
            if discovered is not None and self.discovery:
                self._discovered, self._pending = dict(discovered), pending
            self.version += 1
            self.apps_version += 1
        if watch:
            ids = self.app_ids()
            with self._lock:
                self._auto = {a: rooms for a, rooms in auto.items() if a in ids}
                self.version += 1

    def discovered(self) -> bool:
        return self._discovered is not None

    def needs_discovery(self) -> bool:
        return self.discovery and self._discovered is None

    # -- watch list ----------------------------------------------------------------------------

    def set_auto_watch(self, app_id: str, rooms: tuple[WatchRoom, ...]) -> None:
        """Rooms and users found automatically for ``app_id`` (replaces the previous set);
        ignored for an app no longer monitored (an answer that arrived after it vanished)."""
        with self._lock:
            self._current_ids()
            if app_id not in self._ids[2]:
                return
            if self._auto.get(app_id, ()) != rooms:
                self._auto[app_id] = rooms
                self.version += 1

    def configured_watch(self, app_id: str) -> tuple[WatchRoom, ...]:
        """The rooms and users configured for ``app_id`` (always watched)."""
        app = self._configured.get(app_id)
        return tuple(
            WatchRoom(w.room_id, tuple(w.user_ids)) for w in (app.call_detail if app else [])
        )

    def _watch(self, app_id: str) -> tuple[WatchRoom, ...]:
        rooms: dict[str, list[str]] = {}
        app = self._configured.get(app_id)
        for w in app.call_detail if app else []:
            rooms.setdefault(w.room_id, []).extend(w.user_ids)
        for auto in self._auto.get(app_id, ()):
            rooms.setdefault(auto.room_id, []).extend(auto.user_ids)
        return tuple(WatchRoom(r, tuple(dict.fromkeys(users))) for r, users in rooms.items())

    # -- reading -------------------------------------------------------------------------------

    def _current_ids(self) -> tuple[str, ...]:
        """The monitored app ids (lock held), computed once per version."""
        if self._ids[0] == self.version:
            return self._ids[1]
        if not self.discovery:
            ids = tuple(a for a in self._configured if self._mine(a))
        else:
            known = self._discovered or {}
            ids = tuple(
                app_id
                for app_id, (_, status) in sorted(known.items())
                if status in self._statuses and self._mine(app_id)
            )
        self._ids = (self.version, ids, frozenset(ids))
        return ids

    def current(self) -> list[AppTarget]:
        with self._lock:
            return [AppTarget(app_id, self._watch(app_id)) for app_id in self._current_ids()]

    def app_ids(self) -> frozenset[str]:
        """The monitored app ids (cheap: computed once per change)."""
        with self._lock:
            self._current_ids()
            return self._ids[2]

    def monitors(self, app_id: str) -> bool:
        """Whether ``app_id`` is monitored now ("" for account-wide sources: always)."""
        return not app_id or app_id in self.app_ids()

    def app_names(self) -> dict[str, tuple[str, str]]:
        """app_id -> (name, status): discovered values, or configured names ("" status)."""
        with self._lock:
            out = {app_id: (name, "") for app_id, name in self._names.items()}
            out.update(self._discovered or {})
            return out
