"""The busiest rooms: ``ListRoomInfo``, ``GetRoomOnlineUsers`` and ``ListUserInfo`` per app.

One refresh of an app:

1. ``ListRoomInfo`` lists the rooms (calls) *created* in a window of at most 24 h, paged. A room
   that has run for longer is only seen by a window reaching back to its start, so the source
   looks back ``lookback_seconds`` (default 24 h; one call per 24 h window and page). When
   ``HasMore`` says rooms were left unlisted, the window is narrowed (``room_list``); what
   still cannot be listed is counted in ``points_skipped_total{reason="has_more"|"max_pages"}``.
   A RoomId appears once per call: finished entries are dropped and the unfinished one kept.
   The ``top_rooms`` unfinished rooms with the most ``ActiveUserNum`` are the watched rooms.
2. ``GetRoomOnlineUsers`` lists who is in each watched room now. Visible users are candidates
   for the per-user watch list (invisible ones too with ``include_invisible``); a room that no
   longer exists (``RoomExists=false``) is left out.
3. ``contribute()`` hands the candidates to ``Targets.set_auto_watch``, cut so that the estimated
   ``ListCallDetail`` series of the whole watch list stay within ``max_client_series``: the
   configured rooms and users come first, the rest is shared equally by the monitored apps. A
   watched user costs ``UPLINK + DOWNLINK x (room users - 1)`` series (its uplink and device
   metrics, and the receive-side metrics of every peer it receives from).
4. ``ListUserInfo`` gives the OS, network, SDK version and device type of the users watched now
   (configured and automatic; a user picked in this refresh is described from the next one on).

Degraded operation: an action the key may not call (auth), a refused request (client) or an
unreadable answer (schema) of ``GetRoomOnlineUsers`` or ``ListUserInfo`` costs only what that
action gives (online users and watch candidates of that room, or ``client_info``); the rest is
exported and the failure is counted in ``api_request_failures_total``. Any failure of
``ListRoomInfo``, and a temporary failure (throttled, server, timeout, network) of the others,
fails the refresh of that app: the last good values and the current watch list stay.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pydantic import Field

from exporter.client import MAX_USER_INFO_USERS
from exporter.collectors.base import (
    DAY,
    HOUR,
    Source,
    SourceSettings,
    interval_field,
    register,
)
from exporter.collectors.call_detail import ROWS as CLIENT_ROWS
from exporter.collectors.room_list import PAGE_SIZE, RoomListing, last_page, users
from exporter.errors import ApiAuthError, ApiClientError, ApiError, ApiSchemaError
from exporter.log import get_logger
from exporter.models_rooms import Room, UserInfo
from exporter.types import AppTarget, Labels, MetricSpec, Sample, Snapshot, WatchRoom

__all__ = ["RoomsSettings", "RoomsSnapshot", "RoomsSource", "select_watch", "series_per_user"]

log = get_logger(__name__)
T = TypeVar("T")

# series of one watched user: uplink and device metrics, plus receive-side ones per peer
UPLINK = sum(1 for row in CLIENT_ROWS if not row.per_peer)
DOWNLINK = sum(1 for row in CLIENT_ROWS if row.per_peer)
REFUSED = (ApiAuthError, ApiClientError, ApiSchemaError)  # retrying will not help

_CACHED = "Cached; refreshed every sources.rooms interval."
ACTIVE = MetricSpec(
    "volcengine_rtc_room_active_users",
    "Users in the room now, for the watched (busiest) rooms. From Volcengine RTC ListRoomInfo "
    f"ActiveUserNum (no conversion). {_CACHED}",
    ("app_id", "room_id"),
)
ONLINE = MetricSpec(
    "volcengine_rtc_room_online_users",
    "Users online in the room now (TotalUser, invisible users included), for the watched "
    f"rooms. From Volcengine RTC GetRoomOnlineUsers TotalUser (no conversion). {_CACHED}",
    ("app_id", "room_id"),
)
INFO = MetricSpec(
    "volcengine_rtc_client_info",
    "Watched user (value 1) with OS, network type, SDK version and device type at the last "
    "join, as returned. From Volcengine RTC ListUserInfo OS, Access, SdkVersion, DeviceType "
    f"(the user's current call, else the newest). {_CACHED}",
    ("app_id", "room_id", "user_id", "os", "network", "sdk_version", "device_type"),
)


def series_per_user(room_users: int) -> int:
    """Estimated ``ListCallDetail`` series of one watched user in a room of ``room_users``."""
    return UPLINK + DOWNLINK * max(0, room_users - 1)


def configured_cost(rooms: tuple[WatchRoom, ...]) -> int:
    """Estimated series of configured rooms (their listed users as the room size)."""
    return sum(len(w.user_ids) * series_per_user(len(w.user_ids)) for w in rooms)


def select_watch(
    candidates: tuple[tuple[WatchRoom, int], ...],
    budget: int,
    configured: tuple[WatchRoom, ...] = (),
) -> tuple[WatchRoom, ...]:
    """The users to watch automatically: the candidate rooms in order (busiest first), each
    user in order while the estimated series fit in ``budget``. Users configured for the same
    room are left out (they are watched anyway and already paid for)."""
    taken = {(w.room_id, u) for w in configured for u in w.user_ids}
    out = []
    for room, size in candidates:
        cost = series_per_user(size)
        # ListCallDetail takes a comma-separated UserId list: an id with a comma cannot be asked
        users = [u for u in room.user_ids if (room.room_id, u) not in taken and "," not in u]
        n = min(len(users), budget // cost)
        if n:
            out.append(WatchRoom(room.room_id, tuple(users[:n])))
            budget -= n * cost
    return tuple(out)


class RoomsSettings(SourceSettings):
    interval_seconds: float = interval_field(60.0)
    top_rooms: int = Field(
        default=3, ge=1, le=100, description="watch the N unfinished rooms with the most users"
    )
    lookback_seconds: float = Field(
        default=DAY,
        ge=60,
        le=14 * DAY,
        description="ListRoomInfo finds rooms by creation time: one call per 24 h looked back",
    )
    max_pages: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="ListRoomInfo calls per 24 h window: pages of 100 rooms, and narrower "
        "windows while HasMore says rooms were left unlisted",
    )
    include_invisible: bool = Field(
        default=False, description="also watch invisible users (audience, server-side users)"
    )
    client_info: bool = Field(
        default=True, description="ListUserInfo: volcengine_rtc_client_info of watched users"
    )
    exclude_server_users: bool = Field(
        default=False,
        description="ListUserInfo ExcludeServerUser: leave out Linux (server-side) users; the "
        "vendor's default is true, the exporter sends false so watched bots are described",
    )
    user_info_window_seconds: float = Field(
        default=6 * HOUR, ge=60, le=6 * HOUR, description="ListUserInfo window (at most 6 h)"
    )


@dataclass
class RoomsSnapshot(Snapshot):
    app_id: str = ""
    candidates: tuple[tuple[WatchRoom, int], ...] = ()  # (room, its visible users), busiest first


@dataclass
class _Refusals:
    """Which (app, action) pairs are refused now: a warning when it starts, info when it ends."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    now: dict[tuple[str, str], str] = field(default_factory=dict)

    def refused(self, app_id: str, action: str, exc: ApiError) -> None:
        with self.lock:
            first = self.now.get((app_id, action)) != exc.reason
            self.now[(app_id, action)] = exc.reason
        if first:
            log.warning("action refused; exporting the rest", source="rooms", app_id=app_id,
                        action=action, reason=exc.reason, error=str(exc))  # fmt: skip

    def ok(self, app_id: str, action: str) -> None:
        with self.lock:
            if self.now.pop((app_id, action), None) is None:
                return
        log.info("action answers again", source="rooms", app_id=app_id, action=action)


@dataclass
class _Unlisted:
    """Apps whose rooms ListRoomInfo could not all list: a warning when it starts, info when it
    ends (the counts go to points_skipped_total on every refresh)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    now: dict[str, str] = field(default_factory=dict)

    def report(self, app_id: str, unlisted: Counter[str], calls: int) -> None:
        reason = ",".join(sorted(unlisted))
        with self.lock:
            changed = self.now.get(app_id, "") != reason
            if reason:
                self.now[app_id] = reason
            else:
                self.now.pop(app_id, None)
        if changed and reason:
            hint = "raise sources.rooms.max_pages" if "max_pages" in unlisted else "the vendor " \
                "lists no more even for a one-minute window"  # fmt: skip
            log.warning("ListRoomInfo left rooms unlisted (HasMore); the busiest may be missed",
                        source="rooms", app_id=app_id, reason=reason,
                        unlisted=sum(unlisted.values()), calls=calls, hint=hint)  # fmt: skip
        elif changed:
            log.info("ListRoomInfo lists every room again", source="rooms", app_id=app_id)


@register
class RoomsSource(Source[RoomsSettings]):
    """The busiest rooms, who is in them, and what the watched users run.

    # TYPE volcengine_rtc_room_active_users gauge
    volcengine_rtc_room_active_users{app_id="661e...543cf",room_id="room-7"} 42.0
    # TYPE volcengine_rtc_client_info gauge
    volcengine_rtc_client_info{app_id="661e...543cf",room_id="room-7",user_id="alice",
        os="android",network="wifi",sdk_version="3.58.1",device_type="Pixel 8"} 1.0
    """

    name = "rooms"
    title = "Busiest rooms and watched users"
    actions = ("ListRoomInfo", "GetRoomOnlineUsers", "ListUserInfo")
    settings_model = RoomsSettings
    specs = (ACTIVE, ONLINE, INFO)
    order = 48
    feeds_watch_list = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refusals = _Refusals()
        self._unlisted = _Unlisted()

    def calls(self, app: AppTarget) -> dict[str, int]:
        s = self.settings
        windows = -(-int(s.lookback_seconds) // int(DAY))
        users = sum(-(-len(w.user_ids) // MAX_USER_INFO_USERS) for w in app.watch)
        return {
            "ListRoomInfo": windows,  # one page per window is the common case
            "GetRoomOnlineUsers": s.top_rooms,
            "ListUserInfo": users if s.client_info else 0,
        }

    def fetch(self, app: AppTarget, now: float) -> RoomsSnapshot:
        snap = RoomsSnapshot(app_id=app.app_id)
        rooms = self._busiest(app.app_id, now, snap)
        candidates = []
        for room in rooms:
            online = self._try(
                app.app_id,
                "GetRoomOnlineUsers",
                partial(self.client.get_room_online_users, app.app_id, room.room_id),
            )
            if online is not None and not online.exists:
                continue  # ended since ListRoomInfo saw it
            labels: Labels = (("app_id", app.app_id), ("room_id", room.room_id))
            if room.active_users is not None:
                snap.add(Sample(ACTIVE.name, labels, float(room.active_users)), now)
            if online is None:
                continue
            if online.total is not None:
                snap.add(Sample(ONLINE.name, labels, float(online.total)), now)
            users = online.visible + (online.invisible if self.settings.include_invisible else ())
            candidates.append((WatchRoom(room.room_id, users), max(1, len(online.visible))))
        snap.candidates = tuple(candidates)
        if self.settings.client_info:
            self._client_info(app, now, snap)
        return snap

    def contribute(self, snapshot: Snapshot, targets: Any) -> None:
        """Feed the watch list: the candidates cut to this app's share of the series cap."""
        if not isinstance(snapshot, RoomsSnapshot):
            return
        apps = targets.current()
        spent = sum(configured_cost(targets.configured_watch(a.app_id)) for a in apps)
        budget = max(0, targets.client_series_cap - spent) // max(1, len(apps))
        configured = targets.configured_watch(snapshot.app_id)
        chosen = select_watch(snapshot.candidates, budget, configured)
        targets.set_auto_watch(snapshot.app_id, chosen)

    # -- the three actions -----------------------------------------------------------------------

    def _try(self, app_id: str, action: str, call: Callable[[], T]) -> T | None:
        """``call()``, or None when the action is refused (other failures propagate)."""
        try:
            result = call()
        except REFUSED as exc:
            self._refusals.refused(app_id, action, exc)
            return None
        self._refusals.ok(app_id, action)
        return result

    def _windows(self, now: float) -> Iterator[tuple[dt.datetime, dt.datetime]]:
        """24 h windows (the API's maximum span), newest first, back to the lookback."""
        end = dt.datetime.fromtimestamp(int(now), self.tz)
        oldest = end - dt.timedelta(seconds=self.settings.lookback_seconds)
        while end > oldest:
            start = max(oldest, end - dt.timedelta(seconds=DAY))
            yield start, end
            end = start

    def _busiest(self, app_id: str, now: float, snap: Snapshot) -> list[Room]:
        """The ``top_rooms`` unfinished rooms with the most active users (``room_list``: pages,
        ``HasMore`` and narrower windows; what stays unlisted is counted)."""
        listing = RoomListing(self.client, app_id, self.settings.max_pages)
        for start, end in self._windows(now):
            listing.add_window(start, end)
        snap.skipped.update(listing.skipped)
        self._unlisted.report(app_id, listing.unlisted, listing.calls)
        ranked = sorted(listing.best.values(), key=lambda r: (-users(r), r.room_id))
        return ranked[: self.settings.top_rooms]

    def _client_info(self, app: AppTarget, now: float, snap: Snapshot) -> None:
        end = dt.datetime.fromtimestamp(int(now), self.tz)
        start = end - dt.timedelta(seconds=self.settings.user_info_window_seconds)
        for watch in app.watch:
            ids = watch.user_ids
            for i in range(0, len(ids), MAX_USER_INFO_USERS):
                chunk = ids[i : i + MAX_USER_INFO_USERS]
                found = self._try(
                    app.app_id,
                    "ListUserInfo",
                    partial(self._user_info, app.app_id, (start, end), watch, chunk, snap),
                )
                if found is None:
                    break  # refused: no more calls for this room
                for user, info in found.items():
                    labels = (
                        ("app_id", app.app_id), ("room_id", watch.room_id), ("user_id", user),
                        ("os", info.os), ("network", info.access),
                        ("sdk_version", info.sdk_version), ("device_type", info.device_type),
                    )  # fmt: skip
                    snap.add(Sample(INFO.name, labels, 1.0))

    def _user_info(
        self,
        app_id: str,
        window: tuple[dt.datetime, dt.datetime],
        watch: WatchRoom,
        users: tuple[str, ...],
        snap: Snapshot,
    ) -> dict[str, UserInfo]:
        """Per user of ``users``: the entry of the current call, else the newest one."""
        best: dict[str, UserInfo] = {}
        wanted = set(users)
        for page in range(1, self.settings.max_pages + 1):
            got = self.client.list_user_info(
                app_id, *window, watch.room_id, users, page=page, page_size=PAGE_SIZE,
                exclude_server_users=self.settings.exclude_server_users,
            )  # fmt: skip
            snap.skipped.update(got.skipped)
            for info in got.users:
                old = best.get(info.user_id)
                if info.user_id in wanted and (old is None or _rank(info) > _rank(old)):
                    best[info.user_id] = info
            if last_page(page, len(got.users) + sum(got.skipped.values()), got.total):
                break
        return best


def _rank(info: UserInfo) -> tuple[bool, float]:
    return (not info.finished, info.created_at if info.created_at is not None else float("-inf"))
