"""A small, consistent world of rooms (calls) and users per app, for the room APIs.

Everything is placed relative to the simulator's *epoch* (its clock at construction, floored to
the minute), so the same seed and epoch give the same world, and virtual time moves through it:

* ``room-demo-1`` (the demo's watch-list room): the busiest running room. Its members cover every
  OS, network and province of :mod:`segments`, so any segment-limited scenario hits some of them;
  alice, bob and carol publish (alice receives from two peers); dave left; erin left and came back;
  four invisible viewers; two server-side (Linux) users: a visible relay and an invisible
  recording bot.
* ``room-long``: running, created 30 h before the epoch (older than ListRoomInfo's 24 h span).
* ``room-reuse``: the same RoomId twice, a finished call and a running one.
* ``meeting-*``: smaller running rooms; ``class-*``: finished rooms of the past days;
  ``room-late``: created ten minutes after the epoch.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from exporter.simulator.segments import CHINA, Attributes, segments

__all__ = ["Member", "RoomCall", "build_crowd", "build_world"]

HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Member:
    user_id: str
    attrs: Attributes
    product: str  # native | web
    sdk_version: str
    device_type: str
    visible: bool
    pub: bool
    sessions: tuple[tuple[float, float | None], ...]  # (join, leave or None), absolute times

    @property
    def reported_os(self) -> str:
        """OS as ListUserInfo reports it: browsers show as ``web``."""
        return "web" if self.product == "web" else self.attrs.os

    def online(self, t: float) -> bool:
        return any(j <= t and (leave is None or t < leave) for j, leave in self.sessions)

    def present(self, start: float, end: float) -> bool:
        return any(j < end and (leave is None or leave > start) for j, leave in self.sessions)

    def duration(self, now: float) -> int:
        return int(sum(max(0.0, min(now, leave or now) - j) for j, leave in self.sessions))


@dataclass(frozen=True)
class RoomCall:
    call_id: str
    room_id: str
    created: float
    destroyed: float | None
    members: tuple[Member, ...]

    def running(self, now: float) -> bool:
        return self.created <= now and (self.destroyed is None or now < self.destroyed)

    def active_users(self, now: float) -> int:
        return sum(1 for m in self.members if m.online(now)) if self.running(now) else 0


_SDK = ("3.58.1", "3.57.2", "3.60.0", "3.54.6")
_DEVICE = {
    "android": ("Xiaomi 14", "HUAWEI Mate 60", "OPPO Reno11", "vivo X100"),
    "ios": ("iPhone15,2", "iPhone16,1", "iPad13,4"),
    "windows": ("PC",),
    "mac": ("MacBookPro18,3", "Macmini9,1"),
    "linux": ("Linux server",),
}


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _member(
    uid: str,
    attrs: Attributes,
    sessions: tuple[tuple[float, float | None], ...],
    *,
    visible: bool = True,
    pub: bool = False,
    product: str = "native",
) -> Member:
    n = _h(uid, attrs.os)
    devices = _DEVICE.get(attrs.os, ("unknown",))
    return Member(
        uid,
        attrs,
        product,
        _SDK[n % len(_SDK)],
        devices[n % len(devices)],
        visible,
        pub,
        sessions,
    )


def _demo_room(e: float) -> list[Member]:
    """The busiest room: covers every segment value (OS and network cycle, provinces in turn)."""
    oses, nets, provs = segments("OS"), segments("Access"), segments("Province")
    on = ((e - 2 * HOUR, None),)
    out = [
        _member("alice", Attributes("android", "wifi", "广东", CHINA), on, pub=True),
        _member("bob", Attributes("ios", "wifi", "北京", CHINA), on, pub=True),
        _member("carol", Attributes("android", "4g", "上海", CHINA), on, pub=True),
        _member(
            "dave",
            Attributes("windows", "wifi", "浙江", CHINA),
            ((e - 2 * HOUR, e - 30 * 60),),
            pub=True,
        ),
        _member(
            "erin",
            Attributes("mac", "5g", "江苏", CHINA),
            ((e - 90 * 60, e - 60 * 60), (e - 40 * 60, None)),
            product="web",
        ),
    ]
    # a visible server-side user (Linux): ListUserInfo lists it only with ExcludeServerUser=false
    relay = Attributes("linux", "wifi", "上海", CHINA)
    out.append(_member("relay-bot", relay, ((e - 90 * 60, None),)))
    for i in range(len(provs)):
        attrs = Attributes(oses[i % len(oses)], nets[i % len(nets)], provs[i], CHINA)
        out.append(_member(f"user-{i + 1:02d}", attrs, ((e - HOUR + 60 * i, None),)))
    for i, os in enumerate(("ios", "android", "android", "ios")):
        attrs = Attributes(os, nets[(i + 2) % len(nets)], provs[(i * 3) % len(provs)], CHINA)
        out.append(_member(f"viewer-{i + 1}", attrs, on, visible=False))
    bot = Attributes("linux", "wifi", "北京", CHINA)
    out.append(_member("recorder-bot", bot, on, visible=False))
    return out


def _crowd(prefix: str, n: int, seed: int, start: float) -> list[Member]:
    """``n`` users joining from ``start`` on, attributes by hash; the first two publish."""
    oses, nets, provs = segments("OS"), segments("Access"), segments("Province")
    out = []
    for i in range(n):
        k = _h(seed, prefix, i)
        abroad = k % 10 == 0
        attrs = Attributes(
            oses[k % len(oses)],
            nets[(k >> 8) % len(nets)],
            "" if abroad else provs[(k >> 16) % len(provs)],
            "新加坡" if abroad else CHINA,
        )
        out.append(_member(f"{prefix}-u{i + 1}", attrs, ((start + 30 * i, None),), pub=i < 2))
    return out


def _finished(members: list[Member], end: float) -> tuple[Member, ...]:
    return tuple(
        Member(
            m.user_id,
            m.attrs,
            m.product,
            m.sdk_version,
            m.device_type,
            m.visible,
            m.pub,
            tuple((j, end if leave is None or leave > end else leave) for j, leave in m.sessions),
        )
        for m in members
    )


def build_world(seed: int, app_index: int, epoch: float) -> list[RoomCall]:
    """Every call of one app, ordered by creation time."""
    e = epoch

    def call(room: str, created: float, destroyed: float | None, members: list[Member]) -> RoomCall:
        cid = f"call-{_h(seed, app_index, room, created) % 16**10:010x}"
        kept = _finished(members, destroyed) if destroyed is not None else tuple(members)
        return RoomCall(cid, room, created, destroyed, kept)

    rooms = [
        call("room-demo-1", e - 2 * HOUR, None, _demo_room(e)),
        call("room-long", e - 30 * HOUR, None, _crowd("long", 6, seed, e - 30 * HOUR)),
        call(
            "room-reuse",
            e - 5 * HOUR,
            e - 4 * HOUR,
            _crowd("reuse-a", 4, seed, e - 5 * HOUR),
        ),
        call("room-reuse", e - HOUR, None, _crowd("reuse-b", 3, seed, e - HOUR)),
        call("meeting-1", e - 20 * 60, None, _crowd("m1", 8 + app_index % 3, seed, e - 1200)),
        call("meeting-2", e - 3 * HOUR, None, _crowd("m2", 5, seed, e - 3 * HOUR)),
        call("room-late", e + 600, None, _crowd("late", 4, seed, e + 600)),
    ]
    for d in range(1, 4):
        created = e - d * DAY - 2 * HOUR
        rooms.append(call(f"class-{d}", created, created + HOUR, _crowd(f"c{d}", 6, seed, created)))
    return sorted(rooms, key=lambda r: r.created)


def build_crowd(seed: int, app_index: int, epoch: float, rooms: int, users: int) -> list[RoomCall]:
    """``crowded_rooms``: ``rooms`` small running rooms created over the 23 h before the epoch,
    and ``crowd-hot``, created after all of them (40 minutes before the epoch), with ``users``
    users: the app's busiest room, among the last a capped ListRoomInfo would list."""
    e = epoch
    out = []
    for i in range(rooms):
        created = e - 23 * HOUR + i * (22 * HOUR) / max(1, rooms)
        room = f"crowd-{i + 1:04d}"
        members = _crowd(room, 1 + _h(seed, room) % 3, seed, created)
        cid = f"call-{_h(seed, app_index, room, created) % 16**10:010x}"
        out.append(RoomCall(cid, room, created, None, tuple(members)))
    hot = e - 40 * 60  # its users join 30 s apart from then on
    members = _crowd("hot", users, seed, hot)
    cid = f"call-{_h(seed, app_index, 'crowd-hot', hot) % 16**10:010x}"
    out.append(RoomCall(cid, "crowd-hot", hot, None, tuple(members)))
    return out
