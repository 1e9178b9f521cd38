"""Handlers of the room, user and app actions: ListCallDetail, ListRoomInfo, GetRoomOnlineUsers,
ListUserInfo and ListApps, answered from the simulated world (:mod:`world`)."""

from __future__ import annotations

from typing import Any

from exporter.simulator.model import PEER_PENALTY
from exporter.simulator.names import CALL_DETAIL, RETURNED_NAME
from exporter.simulator.segments import Attributes, attributes_of
from exporter.simulator.validate import Ctx, invalid, ts
from exporter.simulator.world import Member, RoomCall

__all__ = [
    "get_room_online_users",
    "list_apps",
    "list_call_detail",
    "list_room_info",
    "list_user_info",
]

_UP = [m for m in CALL_DETAIL if m[3] == "up"]
_DOWN = [m for m in CALL_DETAIL if m[3] == "down"]
POINT_STEP = 10.0


def _room(ctx: Ctx, room_id: str) -> RoomCall | None:
    """The running call of a RoomId, else its newest call, else None."""
    calls = [c for c in ctx.rooms(ctx.app) if c.room_id == room_id and c.created <= ctx.now]
    running = [c for c in calls if c.running(ctx.now)]
    chosen = running or calls
    return chosen[-1] if chosen else None


def _bad_senders(publishers: list[str]) -> set[str]:
    """Deterministically, every second sender (in sorted order) sends badly."""
    return {u for i, u in enumerate(sorted(publishers)) if i % 2 == 1}


def _series(
    ctx: Ctx, user: str, peer: str, attrs: Attributes, product: str, bad: bool, times: list[float]
) -> list[dict[str, Any]]:
    app, out = ctx.app, []
    for desc, name, unit, _ in _DOWN if peer else _UP:
        penalty = PEER_PENALTY.get(name, 1.0) if bad else 1.0
        data = [
            {
                "Time": int(t * 1000),
                "Value": round(
                    app.client_metric(name, user, peer, t)
                    * penalty
                    * ctx.model.client_factor(app, name, attrs, product, t),
                    2,
                ),
            }
            for t in times
        ]
        out.append(
            {"Name": RETURNED_NAME.get(name, name), "Desc": desc, "Unit": unit, "Data": data}
        )
    return out


def list_call_detail(ctx: Ctx) -> dict[str, Any]:
    room_id = ctx.text("RoomId", required=True)
    assert room_id is not None
    users = ctx.id_list("UserId", 20, required=True)
    direction = str(ctx.params.get("Direction") or "0")
    if direction not in ("0", "1", "2"):
        raise invalid("Direction must be 0 (both), 1 (up) or 2 (down)")
    first = -(-ctx.start // POINT_STEP) * POINT_STEP
    newest = ctx.now - ctx.spec.delay
    times = [first + i * POINT_STEP for i in range(int((ctx.end - first) // POINT_STEP) + 1)]
    times = [t for t in times if t < ctx.end and t <= newest]
    call = _room(ctx, room_id)
    members: dict[str, Member] = {m.user_id: m for m in call.members} if call else {}
    if call:
        publishers = [m.user_id for m in call.members if m.pub and m.present(ctx.start, ctx.end)]
    else:  # a room the world does not know: the requested users see each other
        publishers = list(users)
    bad = _bad_senders(publishers)
    details = []
    for user in users:
        member = members.get(user)
        if call and member is None:
            continue  # not in this room: no records
        attrs = member.attrs if member else attributes_of(ctx.seed, ctx.app.app_id, user)
        product = member.product if member else "native"
        mine = [t for t in times if member.online(t)] if member else times
        entries = [("up", "")] if direction in ("0", "1") else []
        if direction in ("0", "2"):
            entries += [("down", p) for p in publishers if p != user]
        for kind, peer in entries:
            record: dict[str, Any] = {"RoomId": room_id, "UserId": user}
            if peer:
                record["PeerId"] = peer  # only downlink records have one
            record["Direction"] = kind
            record["CallDetail"] = _series(ctx, user, peer, attrs, product, peer in bad, mine)
            details.append(record)
    return {"UserCallDetail": details}


def list_room_info(ctx: Ctx) -> dict[str, Any]:
    room_id = ctx.text("RoomId")
    num, size = ctx.page()
    now = ctx.now
    calls = [
        c
        for c in ctx.rooms(ctx.app)
        if ctx.start <= c.created <= ctx.end
        and c.created <= now - ctx.spec.delay
        and (room_id is None or c.room_id == room_id)
    ]
    # crowded_rooms: at most ``cap`` calls per query (oldest first); HasMore says some were left
    # out (the documented meaning: too many rooms match, narrow the query), Total counts all
    cap = ctx.model.room_cap(ctx.app.app_id)
    listed = calls if cap is None else calls[:cap]
    page = listed[(num - 1) * size : num * size]
    return {
        "Total": len(calls),
        "PageNum": num,
        "PageSize": size,
        "HasMore": len(listed) < len(calls),
        "RoomList": [
            {
                "CallId": c.call_id,
                "RoomId": c.room_id,
                "CreatedTime": ts(c.created),
                "DestroyTime": ts(c.destroyed) if c.destroyed and c.destroyed <= now else "",
                "ActiveUserNum": c.active_users(now),
                "IsFinished": not c.running(now),
            }
            for c in page
        ],
    }


def get_room_online_users(ctx: Ctx) -> dict[str, Any]:
    room_id = ctx.text("RoomId", required=True)
    assert room_id is not None
    prop = ctx.boolean("Property", False) if ctx.version == "2023-11-01" else False
    role = ctx.integer("RoleType", 0, lo=0)
    if role > 2:
        raise invalid("RoleType must be 0, 1 or 2")
    if ctx.params.get("RoleType") not in (None, "") and not prop:
        raise invalid("RoleType needs Property=true")
    call = _room(ctx, room_id)
    if call is None or not call.running(ctx.now):
        return {"RoomExists": False}
    online = [m for m in call.members if m.online(ctx.now)]
    visible = [m.user_id for m in online if m.visible]
    invisible = [m.user_id for m in online if not m.visible]
    if prop:  # at most 200 together, visible first
        visible = visible if role in (0, 1) else []
        invisible = invisible if role in (0, 2) else []
        invisible = invisible[: max(0, 200 - len(visible))]
        visible = visible[:200]
    return {
        "RoomExists": True,
        "TotalUser": len(online),
        "TotalInvisibleUser": sum(1 for m in online if not m.visible),
        "VisibleUserList": visible,
        "InvisibleUserList": invisible[:10000],
    }


def _user_entry(call: RoomCall, m: Member, now: float) -> dict[str, Any]:
    records = []
    for join, leave in m.sessions:
        if join <= now:
            records.append({"Time": ts(join), "Type": "joinroom"})
        if leave is not None and leave <= now:
            records.append({"Time": ts(leave), "Type": "leaveroom"})
    last_leave = m.sessions[-1][1]
    finished = last_leave is not None and last_leave <= now
    return {
        "CallId": call.call_id,
        "RoomId": call.room_id,
        "UserId": m.user_id,
        "CreatedAt": ts(m.sessions[0][0]),
        "LeaveAt": ts(last_leave) if finished and last_leave is not None else "",
        "Finished": finished,
        "Duration": m.duration(now),
        "OS": m.reported_os,
        "Access": m.attrs.access,
        "DeviceType": m.device_type,
        "SdkVersion": m.sdk_version,
        "Pub": m.pub,
        "Record": records,
    }


def list_user_info(ctx: Ctx) -> dict[str, Any]:
    room_id = ctx.text("RoomId", required=True)
    wanted = set(ctx.id_list("UserId", 10))
    exclude_server = ctx.boolean("ExcludeServerUser", True)
    num, size = ctx.page()
    newest = ctx.now - ctx.spec.delay
    entries = [
        _user_entry(c, m, ctx.now)
        for c in ctx.rooms(ctx.app)
        if c.room_id == room_id
        for m in c.members
        if m.present(ctx.start, ctx.end)
        and m.sessions[0][0] <= newest
        and not (exclude_server and m.attrs.os == "linux")
        and (not wanted or m.user_id in wanted)
    ]
    return {
        "Total": len(entries),
        "PageNum": num,
        "PageSize": size,
        "UserList": entries[(num - 1) * size : num * size],
    }


def list_apps(ctx: Ctx) -> dict[str, Any]:
    limit = ctx.integer("Limit", 50)
    offset = ctx.integer("Offset", 0, lo=0)
    if limit > 100:
        raise invalid("Limit must be 1..100")
    only = ctx.text("AppId")
    apps = [a for a in ctx.apps if only is None or a.app_id == only]
    page = apps[offset : offset + limit]
    return {
        "AppList": [
            {
                "AppId": a.app_id,
                "AppName": a.name,
                "AppKey": a.app_key,
                "SecondaryAppKey": a.secondary_app_key,
                "CreateAt": "2024-01-01T00:00:00+08:00",
                "Status": a.status,
            }
            for a in page
        ],
        "Limit": str(limit),
        "Offset": str(offset),
        "Total": len(apps),
    }
