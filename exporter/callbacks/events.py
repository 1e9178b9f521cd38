"""What an accepted event changes: the worker's side of the receiver.

Every accepted event counts in ``callback_events_total`` and sets the app's newest-event time;
the delivery delay is observed. Then, by ``EventType``:

* ``UserJoinRoom`` / ``InvisibleUserJoinRoom``: ``user_joins_total`` (``DeviceType``)
* ``UserLeaveRoom`` / ``InvisibleUserLeaveRoom``: ``user_leaves_total`` (``DeviceType``,
  ``Reason``) and ``session_duration_seconds`` (``Duration``)
* ``RecordStarted``: ``recording_tasks_started_total`` by ``Code`` (0 or absent: success); a
  started task is in flight
* ``RecordStopped``: ``recording_tasks_stopped_total``; each ``RecordFileList`` entry counts a
  file, its ``Size`` bytes and ``Duration`` (ms) media time, with the app's storage labels
* ``RecordUploadDone``: ``recording_uploads_total`` by ``Code`` and storage; the upload delay
* ``Transcode*``: ``cdn_push_state_changes_total`` (the event's ``State``/``Status``)
* ``RelayStreamStateChanged``: ``relay_stream_state_changes_total`` (``Status``)

Fields the vendor leaves out or sends with another type are ``unknown`` or skipped, never an
error: an event whose fields cannot be used still counts as an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exporter.callbacks.families import CallbackState
from exporter.callbacks.labels import AppIds, Vocabulary
from exporter.callbacks.receiver import Accepted
from exporter.callbacks.storage import StorageInfo
from exporter.callbacks.tasks import InFlightTasks

__all__ = ["EventProcessor"]

JOINS = {"UserJoinRoom": "visible", "InvisibleUserJoinRoom": "invisible"}
LEAVES = {"UserLeaveRoom": "visible", "InvisibleUserLeaveRoom": "invisible"}
CDN = ("TranscodeStarted", "TranscodeStopped", "TranscodeUpdated", "TranscodeStateChanged")


def _number(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if parsed == parsed and abs(parsed) != float("inf") else None
    return None


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    return value if isinstance(value, str) else ""


def _result(data: dict[str, Any]) -> str:
    code = _number(data, "Code")
    return "success" if code is None or code == 0 else "failure"


class EventProcessor:
    def __init__(
        self,
        state: CallbackState,
        tasks: InFlightTasks,
        apps: AppIds,
        storage: Callable[[str], StorageInfo],
        *,
        max_label_values: int,
        duration_unit: str,
        wall: Callable[[], float],
    ) -> None:
        self.state, self.tasks, self.apps, self.storage = state, tasks, apps, storage
        self.duration_scale = 0.001 if duration_unit == "ms" else 1.0
        self._wall = wall
        cap = max_label_values
        self.event_type = Vocabulary("event_type", cap)
        self.device_type = Vocabulary("device_type", cap)
        self.reason = Vocabulary("reason", cap)
        self.cdn_state = Vocabulary("state", cap)
        self.relay_status = Vocabulary("status", cap)

    def apply(self, item: Accepted) -> None:
        env = item.envelope
        app = self.apps(env.app_id)
        self.state.inc("events", (app, self.event_type(env.event_type)))
        self.state.event_seen(app, item.received)
        self.state.observe("delivery_delay", (), max(0.0, item.received - env.time))
        data, kind = env.data, env.event_type
        if kind in JOINS:
            device = self.device_type(data.get("DeviceType"))
            self.state.inc("joins", (app, device, JOINS[kind]))
        elif kind in LEAVES:
            self._leave(app, kind, data)
        elif kind == "RecordStarted":
            self.state.inc("rec_started", (app, _result(data)))
            if _result(data) == "success":
                room, task = _text(data, "RoomId"), _text(data, "TaskId")
                self.tasks.started(env.app_id, app, room, task, self._wall())
        elif kind == "RecordStopped":
            self._stopped(app, env.app_id, env.time, data)
        elif kind == "RecordUploadDone":
            self._uploaded(app, env.app_id, env.time, data)
        elif kind in CDN:
            raw = next((data[k] for k in ("State", "Status") if k in data), None)
            self.state.inc("cdn", (app, self.event_type(kind), self.cdn_state(raw)))
        elif kind == "RelayStreamStateChanged":
            self.state.inc("relay", (app, self.relay_status(data.get("Status"))))

    def _leave(self, app: str, kind: str, data: dict[str, Any]) -> None:
        device = self.device_type(data.get("DeviceType"))
        reason = self.reason(data.get("Reason"))
        self.state.inc("leaves", (app, device, LEAVES[kind], reason))
        duration = _number(data, "Duration")
        if duration is not None and duration >= 0:
            self.state.observe("session", (app,), duration * self.duration_scale)

    def _storage_labels(self, app_id: str) -> tuple[str, str]:
        info = self.storage(app_id)
        return info.platform, info.region

    def _stopped(self, app: str, app_id: str, at: float, data: dict[str, Any]) -> None:
        self.state.inc("rec_stopped", (app,))
        labels = (app, *self._storage_labels(app_id))
        files = data.get("RecordFileList")
        for entry in files if isinstance(files, list) else []:
            if not isinstance(entry, dict):
                continue
            self.state.inc("files", labels)
            size = _number(entry, "Size")
            if size is not None and size >= 0:
                self.state.inc("bytes", labels, size)
            media = _number(entry, "Duration")
            if media is not None and media >= 0:
                self.state.inc("media_seconds", labels, media / 1000.0)
        room, task = _text(data, "RoomId"), _text(data, "TaskId")
        delay = self.tasks.stopped(app_id, app, room, task, at, self._wall())
        if delay is not None:
            self.state.observe("upload_delay", (app,), delay)

    def _uploaded(self, app: str, app_id: str, at: float, data: dict[str, Any]) -> None:
        self.state.inc("uploads", (app, _result(data), *self._storage_labels(app_id)))
        room, task = _text(data, "RoomId"), _text(data, "TaskId")
        delay = self.tasks.uploaded(app_id, room, task, at, self._wall())
        if delay is not None:
            self.state.observe("upload_delay", (app,), delay)
