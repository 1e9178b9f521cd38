"""The events the simulated world sends as time passes: users joining and leaving (every app,
a few every 20 s, staying 30 s to 10 min), cloud recording tasks (``recordings``) started,
stopped and uploaded, and a push-to-CDN task and a relay stream every 150 s, shaped as the
vendor documents their ``EventData``.

``events(sim, t0, t1)`` returns every event whose time is in ``(t0, t1]``, ordered by time, with
a deterministic ``EventId``. Scenarios decide start and upload failures when an event is made;
the recording book remembers each task, so ``GetRecordTask`` agrees with the events.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exporter.callbacks.storage import decode_storage
from exporter.simulator.data import SimApp, noise
from exporter.simulator.recordings import PERIOD, RecordTask, scheduled, storage_of

if TYPE_CHECKING:
    from exporter.simulator.server import Simulator

__all__ = ["SimEvent", "events", "burst_events"]

SLOT, MAX_STAY, MAX_TASK = 20.0, 600.0, 400.0
DEVICES = ("Android", "iOS", "Windows", "Mac", "Web")
REASONS = ("userLeave", "userLeave", "connectionLost", "kickedOut")


@dataclass(frozen=True)
class SimEvent:
    app_id: str
    event_type: str
    data: dict[str, Any]
    time: float
    event_id: str


def _id(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:32]


def _unit(*parts: object) -> float:
    """Deterministic number in [0, 1)."""
    return (noise(*parts) + 1) / 2


def _churn(seed: int, app: SimApp, t0: float, t1: float) -> list[SimEvent]:
    out = []
    for k in range(math.floor((t0 - MAX_STAY) / SLOT), math.floor(t1 / SLOT) + 1):
        for i in range(1 + int(3 * _unit(seed, app.app_id, "joins", k))):
            join = k * SLOT + (5 * i + app.index) % SLOT
            stay = 30 + (MAX_STAY - 30) * _unit(seed, app.app_id, "stay", k, i)
            user, room = f"guest-{k % 100000}-{i}", f"meeting-{k % 2 + 1}"
            device = DEVICES[int(len(DEVICES) * _unit(seed, app.app_id, "dev", k, i))]
            prefix = "Invisible" if i == 2 else ""
            base = {"RoomId": room, "UserId": user, "DeviceType": device, "ExtraInfo": ""}
            if t0 < join <= t1:
                data = {**base, "Timestamp": int(join * 1000)}
                event_id = _id(seed, app.app_id, "join", k, i)
                out.append(SimEvent(app.app_id, f"{prefix}UserJoinRoom", data, join, event_id))
            if t0 < join + stay <= t1:
                reason = REASONS[int(len(REASONS) * _unit(seed, app.app_id, "why", k, i))]
                left = join + stay
                data = {**base, "Reason": reason, "Duration": int(stay * 1000)}
                data["Timestamp"] = int(left * 1000)
                event_id = _id(seed, app.app_id, "leave", k, i)
                out.append(SimEvent(app.app_id, f"{prefix}UserLeaveRoom", data, left, event_id))
    return out


STREAM_SLOT = 150.0


def _streams(seed: int, app: SimApp, t0: float, t1: float) -> list[SimEvent]:
    """A push-to-CDN task and a relay stream every 150 s per app: started, pushing, stopped."""
    out = []
    for k in range(math.floor((t0 - STREAM_SLOT) / STREAM_SLOT), math.floor(t1 / STREAM_SLOT) + 1):
        base = k * STREAM_SLOT + (app.index * 23) % STREAM_SLOT
        ids = {"RoomId": f"meeting-{k % 2 + 1}", "TaskId": f"push-{k % 100000}"}
        steps: list[tuple[float, str, dict[str, Any]]] = [
            (0.0, "TranscodeStarted", {}),
            (5.0, "TranscodeStateChanged", {"State": 5}),
            (20.0, "RelayStreamStateChanged", {"Status": 2, "UserId": "host"}),
            (100.0, "TranscodeStopped", {}),
            (120.0, "RelayStreamStateChanged", {"Status": 3, "UserId": "host"}),
        ]
        for offset, kind, extra in steps:
            t = base + offset
            if t0 < t <= t1:
                event_id = _id(seed, app.app_id, "stream", k, offset)
                out.append(SimEvent(app.app_id, kind, {**ids, **extra}, t, event_id))
    return out


def _scenario(sim: Simulator, name: str, app_id: str) -> dict[str, Any] | None:
    active = sim.active.get(name)
    if active is None or (active.params.get("app_id") and active.params["app_id"] != app_id):
        return None
    return active.params


def _upload_fails(sim: Simulator, app: SimApp, task: RecordTask) -> bool:
    params = _scenario(sim, "upload_failures", app.app_id)
    if params is None:
        return False
    info = decode_storage(*storage_of(app.index))
    if (info.platform, info.region) != (params["platform"], params["region"]):
        return False
    return _unit(sim.seed, app.app_id, "upfail", task.task_id) < float(params["share"])


def _start_fails(sim: Simulator, app: SimApp, n: int) -> bool:
    params = _scenario(sim, "recording_start_failures", app.app_id)
    return params is not None and _unit(sim.seed, app.app_id, "fail", n) < float(params["share"])


def _files(task: RecordTask) -> list[dict[str, Any]]:
    length = task.stop - task.start
    return [
        {
            "ObjectKey": f"{task.task_id}.mp4",
            "Vid": "",
            "Duration": int(length * 1000),
            "Size": int(length * 62_500),
            "StartTime": int(task.start * 1000),
            "AudioCodec": "aac",
            "EncryptionType": 0,
        }
    ]


def _task_events(
    sim: Simulator, app: SimApp, n: int, t0: float, t1: float, period: float
) -> list[SimEvent]:
    task = scheduled(sim.seed, app.app_id, app.index, sim.epoch, n, period)
    ids = {"AppId": app.app_id, "BusinessId": "", "RoomId": task.room_id, "TaskId": task.task_id}
    out = []

    def emit(kind: str, extra: dict[str, Any], t: float) -> None:
        event_id = _id(sim.seed, app.app_id, task.task_id, kind)
        out.append(SimEvent(app.app_id, kind, {**ids, **extra}, t, event_id))

    known = sim.recordings.get(app.app_id, task.task_id)
    if t0 < task.start <= t1:
        task.failed = _start_fails(sim, app, n)
        sim.recordings.add(task, t1)
        failure = {"Code": 1, "ErrorMessage": "StartTaskFailed"}
        emit(
            "RecordStarted", failure if task.failed else {"Code": 0, "ErrorMessage": ""}, task.start
        )
        known = task
    if known is not None and known.failed:
        return out
    if known is None and task.start <= t0:
        sim.recordings.add(task, t1)  # started before the feed: its stop and upload still come
    if t0 < task.stop <= t1:
        emit("RecordStopped", {"Code": 0, "RecordFileList": _files(task)}, task.stop)
    if t0 < task.upload <= t1:
        failed = _upload_fails(sim, app, task)
        result = {"Code": int(failed), "ErrorMessage": "UploadFailed" * failed}
        emit("RecordUploadDone", result, task.upload)
    return out


def _recordings(sim: Simulator, app: SimApp, t0: float, t1: float, period: float) -> list[SimEvent]:
    out = []
    first = math.floor((t0 - sim.epoch - MAX_TASK * period / PERIOD) / period)
    for n in range(first, math.floor((t1 - sim.epoch) / period) + 1):
        out += _task_events(sim, app, n, t0, t1, period)
    return out


def events(sim: Simulator, t0: float, t1: float, period: float = PERIOD) -> list[SimEvent]:
    """Every event of every running app with a time in ``(t0, t1]``, in time order;
    ``period``: seconds between two recording tasks of an app."""
    out: list[SimEvent] = []
    for app in sim.running_apps:
        out += _churn(sim.seed, app, t0, t1)
        out += _streams(sim.seed, app, t0, t1)
        out += _recordings(sim, app, t0, t1, period)
    out.sort(key=lambda e: e.time)
    return out


def burst_events(sim: Simulator, count: int, now: float, tag: float) -> list[SimEvent]:
    """``count`` extra joins for the first app (the ``burst`` scenario), all at ``now``."""
    app = sim.running_apps[0]
    return [
        SimEvent(
            app.app_id,
            "UserJoinRoom",
            {
                "RoomId": "room-burst",
                "UserId": f"burst-{i}",
                "DeviceType": "Android",
                "Timestamp": int(now * 1000),
            },
            now,
            _id(sim.seed, app.app_id, "burst", tag, i),
        )
        for i in range(count)
    ]
