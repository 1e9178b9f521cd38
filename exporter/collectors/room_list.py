"""Listing the rooms (calls) of a window with ``ListRoomInfo``: pages, ``HasMore``, narrower
windows.

The vendor selects calls by creation time and answers a page at a time (``PageNum``,
``PageSize`` at most 100). ``HasMore`` is documented as "rooms are left unlisted: too many match
this query; change the query to list them" (volc-sdk-golang v20231101 ``ListRoomInfoResResult``).
Whether it is a hard cap or just "another page exists" is not documented, so both readings are
followed:

1. A window is paged until a short page or until ``Total`` entries were seen (readable or not).
2. If the last page read still says ``HasMore``, the window is narrowed: split into parts small
   enough for the number one query listed (``Total`` / listed, with a margin; halves when
   ``Total`` says nothing), newest part first, each listed the same way.
3. A part narrower than ``MIN_SPAN`` that still says ``HasMore`` cannot be narrowed further; the
   rooms it leaves out are counted (``reason="has_more"``). When the call budget of a 24 h
   window (``max_pages``) runs out first, what is left is counted as ``reason="max_pages"``.

"Counted" is a lower bound of the calls not listed: ``Total`` of the whole window minus the
distinct calls listed, or 1 when ``Total`` does not say more. Nothing is left out silently.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from typing import Protocol

from exporter.models_rooms import Room, RoomPage

__all__ = ["MIN_SPAN", "PAGE_SIZE", "RoomListing", "last_page"]

PAGE_SIZE = 100  # the API's maximum
MIN_SPAN = 60.0  # seconds: a window is not narrowed below this
SPLIT_MARGIN = 1.25  # parts are sized for 1 / 1.25 of what one query listed
MAX_PARTS = 16


class RoomInfoClient(Protocol):
    def list_room_info(
        self, app_id: str, start: dt.datetime, end: dt.datetime, *, page: int, page_size: int
    ) -> RoomPage: ...


def last_page(page: int, entries: int, total: int | None) -> bool:
    """A short page, or every entry of ``Total`` seen (readable or not)."""
    return entries < PAGE_SIZE or (total is not None and (page - 1) * PAGE_SIZE + entries >= total)


@dataclass
class _Answer:
    """What one window answered over its pages."""

    listed: int  # entries listed (distinct calls)
    total: int | None  # Total of its first page
    has_more: bool  # HasMore of the last page read
    done: bool  # paging ended on the answers, not on the call budget


@dataclass
class RoomListing:
    """The unfinished rooms of one app over several 24 h windows, the best entry per RoomId."""

    client: RoomInfoClient
    app_id: str
    max_calls: int  # per 24 h window: pages and narrowed parts together
    best: dict[str, Room] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)  # unreadable entries, unlisted rooms
    unlisted: Counter[str] = field(default_factory=Counter)  # reason -> calls not listed
    calls: int = 0

    def add_window(self, start: dt.datetime, end: dt.datetime) -> None:
        budget = [self.max_calls]
        seen: set[str] = set()
        pending = [(start, end)]
        top_total: int | None = None
        reasons: set[str] = set()
        first = True
        while pending:
            s, e = pending.pop(0)
            got = self._query(s, e, budget, seen)
            if first:
                top_total, first = got.total, False
            if not got.done:
                reasons.add("max_pages")
                break
            if not got.has_more:
                continue
            if (e - s).total_seconds() <= MIN_SPAN:
                reasons.add("has_more")
            elif budget[0] <= 0:
                reasons.add("max_pages")
                break
            else:
                pending[:0] = _split(s, e, got.total, got.listed)
        if reasons:
            reason = "max_pages" if "max_pages" in reasons else "has_more"
            missing = top_total - len(seen) if top_total and top_total > len(seen) else 1
            self.unlisted[reason] += missing
            self.skipped[reason] += missing

    def _query(
        self, start: dt.datetime, end: dt.datetime, budget: list[int], seen: set[str]
    ) -> _Answer:
        listed: set[str] = set()
        total: int | None = None
        more = False
        for page in count(1):
            if budget[0] <= 0:
                return _Answer(len(listed), total, more, done=False)
            budget[0] -= 1
            self.calls += 1
            got = self.client.list_room_info(
                self.app_id, start, end, page=page, page_size=PAGE_SIZE
            )
            self.skipped.update(got.skipped)
            total = got.total if page == 1 else total
            more = got.has_more is True
            for room in got.rooms:
                listed.add(room.call_id or room.room_id)
                self._keep(room)
            seen |= listed
            if last_page(page, len(got.rooms) + sum(got.skipped.values()), got.total):
                break
        return _Answer(len(listed), total, more, done=True)

    def _keep(self, room: Room) -> None:
        old = self.best.get(room.room_id)
        if not room.finished and (old is None or users(room) > users(old)):
            self.best[room.room_id] = room


def _split(
    start: dt.datetime, end: dt.datetime, total: int | None, listed: int
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Equal parts of [start, end], newest first: as many as ``Total`` / listed needs (with a
    margin), else two; never narrower than ``MIN_SPAN``."""
    span = (end - start).total_seconds()
    parts = 2
    if total and listed and total > listed:
        parts = math.ceil(SPLIT_MARGIN * total / listed)
    parts = max(2, min(parts, MAX_PARTS, int(span // MIN_SPAN)))
    step = span / parts
    cuts = [start + dt.timedelta(seconds=round(i * step)) for i in range(parts)] + [end]
    return [(cuts[i], cuts[i + 1]) for i in reversed(range(parts))]


def users(room: Room) -> int:
    return room.active_users if room.active_users is not None else -1
