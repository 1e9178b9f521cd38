"""Response parsing of the room actions: ListRoomInfo, GetRoomOnlineUsers and ListUserInfo.

The rules of ``exporter.models`` apply: an unreadable envelope raises ``ApiSchemaError``, an
unreadable entry is skipped and counted, a missing count is ``None`` (never 0). The vendor's
models (volc-sdk-golang ``service/rtc/v20201201`` and ``v20231101``) differ between the two
versions only in integer widths (int32 / int64) and in which fields are optional, so one parser
reads both.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from exporter.models import items, parse_rfc3339, text

__all__ = [
    "OnlineUsers",
    "Room",
    "RoomPage",
    "UserInfo",
    "UserInfoPage",
    "parse_online_users",
    "parse_room_info",
    "parse_user_info",
]


@dataclass(frozen=True)
class Room:
    room_id: str
    active_users: int | None  # None: not reported
    finished: bool
    call_id: str = ""  # one RoomId has one entry per call


@dataclass
class RoomPage:
    rooms: list[Room] = field(default_factory=list)
    total: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)
    # HasMore: "rooms were left unlisted: too many match; change the query" (None: not sent)
    has_more: bool | None = None


@dataclass(frozen=True)
class OnlineUsers:
    exists: bool
    total: int | None
    visible: tuple[str, ...] = ()
    invisible: tuple[str, ...] = ()


@dataclass(frozen=True)
class UserInfo:
    user_id: str
    os: str
    access: str
    device_type: str
    sdk_version: str
    finished: bool
    created_at: float | None  # first join of this call (Unix seconds), None if unreadable


@dataclass
class UserInfoPage:
    users: list[UserInfo] = field(default_factory=list)
    total: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)


def _count(v: object) -> int | None:
    """A non-negative whole number (JSON number or digits as text), else None."""
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return int(v) if float(v).is_integer() else None
    return None


def parse_room_info(result: dict[str, Any], action: str) -> RoomPage:
    """``Result = {Total, HasMore, RoomList[{RoomId, ActiveUserNum, IsFinished, DestroyTime}]}``."""
    more = result.get("HasMore")
    out = RoomPage(
        total=_count(result.get("Total")), has_more=more if isinstance(more, bool) else None
    )
    for r in items(result, "RoomList", action):
        room_id = text(r.get("RoomId")) if isinstance(r, dict) else None
        if not isinstance(r, dict) or not room_id:
            out.skipped["malformed"] += 1
            continue
        done = r.get("IsFinished")  # missing or null: finished when DestroyTime is set
        finished = done if isinstance(done, bool) else bool(text(r.get("DestroyTime")))
        call_id = text(r.get("CallId")) or ""
        out.rooms.append(Room(room_id, _count(r.get("ActiveUserNum")), finished, call_id))
    return out


def parse_online_users(result: dict[str, Any], action: str) -> OnlineUsers:
    """``Result = {RoomExists, TotalUser, VisibleUserList[], InvisibleUserList[]}``."""
    if result.get("RoomExists") is False:
        return OnlineUsers(False, None)
    visible, invisible = (
        tuple(dict.fromkeys(u for u in map(text, items(result, k, action)) if u))
        for k in ("VisibleUserList", "InvisibleUserList")
    )
    return OnlineUsers(True, _count(result.get("TotalUser")), visible, invisible)


def parse_user_info(result: dict[str, Any], action: str, tz: dt.tzinfo) -> UserInfoPage:
    """``Result = {Total, UserList[{UserId, OS, Access, DeviceType, SdkVersion, Finished}]}``."""
    out = UserInfoPage(total=_count(result.get("Total")))
    keys = ("UserId", "OS", "Access", "DeviceType", "SdkVersion")
    for u in items(result, "UserList", action):
        fields = [text(u.get(k)) if isinstance(u, dict) else None for k in keys]
        if not isinstance(u, dict) or any(f is None for f in fields) or not fields[0]:
            out.skipped["malformed"] += 1
            continue
        try:
            created: float | None = parse_rfc3339(u.get("CreatedAt"), tz)
        except (ValueError, OverflowError, OSError):
            created = None
        finished = d if isinstance(d := u.get("Finished"), bool) else bool(text(u.get("LeaveAt")))
        user, os_, access, device, sdk = (f or "" for f in fields)
        out.users.append(UserInfo(user, os_, access, device, sdk, finished, created))
    return out
