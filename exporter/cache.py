"""The one cache both refresh modes share: the latest snapshot per (source, app_id), and the
refresh status of every source. Written by the refresher, read by ``metrics`` and ``server``.

* A failed refresh keeps the last good snapshot; ``Entry.fresh()`` hides it once it is older than
  the source's staleness limit, measured on the monotonic clock (a wall clock that jumps neither
  keeps stale data alive nor hides fresh data).
* A *partly* failed refresh (one ``ProductType`` failed, the other answered) serves what
  answered at once and keeps the last good series of each failed part (``Held``), each hidden
  once *its* fetch is older than the staleness limit. The entry is down (``up=False``, e.g.
  ``last_error="server (product_type=web)"``) and ``success_*`` keeps the time of the last
  refresh in which every part answered: ``source_up`` 0 says "not everything you expect is
  current", while the healthy parts' series stay (see docs/api-notes.md, "Partial failures").
* ``data_timestamp``: the newest usable vendor bucket. A refresh whose answer held only
  future-dated points keeps the previous one (or, with none yet, the time of that refresh) and
  the last usable series (until they are stale, as after a failure), so the exported data age
  keeps growing and ``RtcDataStale`` fires instead of everything vanishing silently.
* Writers are fenced. The cache has one owner (the current engine's refresher, ``claim()``) and a
  set of monitored apps (``set_apps()``): a write by a retired owner (an aborted call of an
  engine a reload replaced) or for an app no longer monitored (vanished from ListApps, removed
  by a reload) is dropped, under the same lock that removes those entries, so it can never come
  back afterwards.

Every change bumps ``generation``, so readers can reuse what they built from an unchanged cache.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, replace

from exporter.types import Labels, Snapshot

__all__ = ["Entry", "Held", "SnapshotCache", "SourceStatus"]


@dataclass(frozen=True)
class Held:
    """The last good series of a part (e.g. ``product_type=web``) that failed since."""

    part: Labels
    snapshot: Snapshot
    fetched_mono: float


@dataclass(frozen=True)
class Entry:
    snapshot: Snapshot | None = None
    success_mono: float | None = None  # monotonic time of the last refresh that fully succeeded
    success_wall: float | None = None  # the same moment in wall time (exported)
    last_error: str = ""  # reason of the last failed attempt (or part), "" after a success
    up: bool = False
    fetched_mono: float | None = None  # when ``snapshot`` was fetched (its freshness)
    data_timestamp: float | None = None  # newest usable vendor bucket (see the module docs)
    held: tuple[Held, ...] = ()

    def fresh(self, now_mono: float, max_staleness: float) -> bool:
        fetched = self.fetched_mono if self.fetched_mono is not None else self.success_mono
        return fetched is not None and now_mono - fetched <= max_staleness

    def current(self, now_mono: float, max_staleness: float) -> bool:
        """Fresh data, or a refresh that succeeded within the staleness limit (one whose
        answer held only future-dated points): what ``source_up`` and the data timestamp of
        the health families are exported for."""
        return self.fresh(now_mono, max_staleness) or (
            self.success_mono is not None and now_mono - self.success_mono <= max_staleness
        )

    def serving(self, now_mono: float, max_staleness: float) -> list[Snapshot]:
        """The snapshots to export now: the last answer and the held parts still fresh."""
        out = []
        if self.snapshot is not None and self.fresh(now_mono, max_staleness):
            out.append(self.snapshot)
        out += [h.snapshot for h in self.held if now_mono - h.fetched_mono <= max_staleness]
        return out


def _held(old: Entry | None, part: Labels) -> Held | None:
    """The part's last good series: still held from before, or cut from the last answer."""
    if old is None:
        return None
    for h in old.held:
        if h.part == part:
            return h
    if old.snapshot is None or old.fetched_mono is None or part in old.snapshot.failed_parts:
        return None
    want = set(part)
    samples = [s for s in old.snapshot.samples if want <= set(s.labels)]
    return Held(part, Snapshot(samples=samples), old.fetched_mono) if samples else None


def merge(old: Entry | None, snapshot: Snapshot, mono: float, wall: float) -> Entry:
    """The entry after a successful (possibly partial) refresh."""
    data_ts = snapshot.data_timestamp
    future_only = data_ts is None and bool(snapshot.skipped.get("future"))
    if future_only:
        data_ts = old.data_timestamp if old is not None and old.data_timestamp else wall
        if old is not None and old.snapshot is not None and not snapshot.samples:
            # nothing usable, only points from the future: the last usable series stay until
            # stale (their fetch time is kept), the vendor did answer
            return replace(old, success_mono=mono, success_wall=wall, last_error="", up=True,
                           data_timestamp=data_ts)  # fmt: skip
    if not snapshot.failed_parts:
        return Entry(snapshot, mono, wall, "", True, mono, data_ts)
    held = tuple(h for h in (_held(old, p) for p in snapshot.failed_parts) if h is not None)
    part, (reason, _) = next(iter(snapshot.failed_parts.items()))
    reason += " (" + ",".join(f"{k}={v}" for k, v in part) + ")"  # "server (product_type=web)"
    last_mono = old.success_mono if old is not None else None
    last_wall = old.success_wall if old is not None else None
    return Entry(snapshot, last_mono, last_wall, reason, False, mono, data_ts, held)


class SnapshotCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], Entry] = {}
        self._status: dict[str, SourceStatus] = {}
        self._generations: dict[str, int] = {}
        self._owner: object | None = None
        self._apps: frozenset[str] | None = None  # None: every app may be written
        self.generation = 0

    def _bump(self, source: str) -> None:
        self.generation += 1
        self._generations[source] = self._generations.get(source, 0) + 1

    def source_generation(self, source: str) -> int:
        """Changes with every write of one of ``source``'s entries."""
        with self._lock:
            return self._generations.get(source, 0)

    # -- fencing -------------------------------------------------------------------------------

    def claim(self, owner: object) -> None:
        """From now on only ``owner`` (and callers passing no owner) may write."""
        with self._lock:
            self._owner = owner

    def owned_by(self, owner: object) -> bool:
        with self._lock:
            return self._owner is owner

    def _allowed(self, owner: object | None, app_id: str = "") -> bool:
        if owner is not None and owner is not self._owner:
            return False
        return not app_id or self._apps is None or app_id in self._apps

    def set_apps(self, app_ids: Iterable[str], owner: object | None = None) -> None:
        """The monitored apps: every entry of another app goes now, and none is written later."""
        with self._lock:
            if owner is not None and owner is not self._owner:
                return
            self._apps = frozenset(app_ids)
            gone = [k for k in self._entries if k[1] and k[1] not in self._apps]
            for key in gone:
                del self._entries[key]
            for source in {k[0] for k in gone}:
                self._bump(source)

    # -- entries ---------------------------------------------------------------------------------

    def put_success(
        self,
        source: str,
        app_id: str,
        snapshot: Snapshot,
        mono: float,
        wall: float,
        owner: object | None = None,
    ) -> bool:
        """Store a refresh's snapshot; False when the write is fenced off."""
        with self._lock:
            if not self._allowed(owner, app_id):
                return False
            old = self._entries.get((source, app_id))
            self._entries[(source, app_id)] = merge(old, snapshot, mono, wall)
            self._bump(source)
            return True

    def put_failure(
        self, source: str, app_id: str, reason: str, owner: object | None = None
    ) -> bool:
        with self._lock:
            if not self._allowed(owner, app_id):
                return False
            old = self._entries.get((source, app_id), Entry())
            self._entries[(source, app_id)] = replace(old, last_error=reason, up=False)
            self._bump(source)
            return True

    def get(self, source: str, app_id: str) -> Entry | None:
        with self._lock:
            return self._entries.get((source, app_id))

    def entries(self) -> dict[tuple[str, str], Entry]:
        with self._lock:
            return dict(self._entries)

    def retain(self, source: str, app_ids: set[str], owner: object | None = None) -> None:
        """Forget apps of ``source`` that are no longer monitored."""
        with self._lock:
            if owner is not None and owner is not self._owner:
                return
            gone = [k for k in self._entries if k[0] == source and k[1] not in app_ids]
            for key in gone:
                del self._entries[key]
            if gone:
                self._bump(source)

    def forget_source(self, source: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == source]:
                del self._entries[key]
            self._status.pop(source, None)
            self._bump(source)

    # -- refresh status ----------------------------------------------------------------------------

    def status(self, source: str) -> SourceStatus:
        """A copy of the source's status."""
        with self._lock:
            return replace(self._status.get(source) or SourceStatus())

    def statuses(self) -> dict[str, SourceStatus]:
        with self._lock:
            return {k: replace(v) for k, v in self._status.items()}

    def update_status(self, source: str, owner: object | None = None, **changes: object) -> None:
        with self._lock:
            if not self._allowed(owner):
                return
            current = self._status.setdefault(source, SourceStatus())
            for key, value in changes.items():
                setattr(current, key, value)
            self.generation += 1


@dataclass
class SourceStatus:
    """Refresh bookkeeping of one source (monotonic times)."""

    configured_interval: float = 0.0
    effective_interval: float = 0.0
    staleness: float = 0.0
    cycle_started: float | None = None
    cycle_finished: float | None = None
    cycle_duration: float | None = None
    next_due: float | None = None
    running: bool = False
    tiers: tuple[tuple[str, int, float], ...] = ()  # (tier, apps, interval) of a tiered source
