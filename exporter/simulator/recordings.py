"""Cloud recording tasks of the simulated world, and ``GetRecordTask``.

Each running app starts a recording task every ``PERIOD`` seconds (offset per app), which records
for 1 to 4 minutes, stops with one or two files, and is uploaded 5 to 45 s later. When the event
feed emits a task's events it records the task here, so ``GetRecordTask`` answers what the
events said (Status 2 running, 3 ended, 4 failed); tasks older than 72 h are forgotten, as the
vendor's API does. The storage each app records to is fixed by its index (``STORAGES``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from exporter.simulator.data import noise
from exporter.simulator.response import ApiError
from exporter.simulator.validate import Ctx, missing

__all__ = ["PERIOD", "STORAGES", "RecordTask", "RecordingBook", "get_record_task", "storage_of"]

PERIOD = 90.0
WINDOW = 72 * 3600.0
# (Type, Vendor, Region) of each app's StorageConfig, by app index modulo 4
STORAGES: tuple[tuple[int, int | None, int], ...] = (
    (2, 0, 0),  # Amazon S3 us-east-1
    (2, 1, 0),  # Aliyun OSS oss-cn-hangzhou
    (0, None, 0),  # TOS cn-beijing
    (1, None, 0),  # VOD cn-north-1
)


def storage_of(index: int) -> tuple[int, int | None, int]:
    return STORAGES[index % len(STORAGES)]


@dataclass
class RecordTask:
    app_id: str
    room_id: str
    task_id: str
    start: float
    stop: float  # when it stops (or stopped)
    upload: float  # when the upload ends
    failed: bool = False  # the start failed


def scheduled(
    seed: int, app_id: str, app_index: int, epoch: float, n: int, period: float = PERIOD
) -> RecordTask:
    """Task ``n`` of an app: a pure function of (seed, app, epoch, n); a shorter ``period``
    shortens every duration in proportion (tests)."""
    scale = period / PERIOD
    start = epoch + n * period + (app_index * 17 * scale) % period
    length = scale * (60 + 90 * (1 + noise(seed, app_id, "rec-len", n)))
    delay = scale * (5 + 20 * (1 + noise(seed, app_id, "rec-up", n)))
    room = f"room-rec-{n % 3 + 1}"
    return RecordTask(
        app_id, room, f"rec-{n + 500000:06d}", start, start + length, start + length + delay
    )


class RecordingBook:
    """The tasks the feed has announced, by (app, task id); bounded to 72 h."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: OrderedDict[tuple[str, str], RecordTask] = OrderedDict()

    def add(self, task: RecordTask, now: float) -> None:
        with self._lock:
            self._tasks[(task.app_id, task.task_id)] = task
            while self._tasks and now - next(iter(self._tasks.values())).start > WINDOW:
                self._tasks.popitem(last=False)

    def get(self, app_id: str, task_id: str) -> RecordTask | None:
        with self._lock:
            return self._tasks.get((app_id, task_id))


def _status(task: RecordTask, now: float) -> tuple[int, str, int]:
    """(Status, StopReason, EndTime ms) at ``now``."""
    if task.failed:
        return 4, "StartTaskFailed", int(task.start * 1000)
    if now < task.stop:
        return 2, "", 0
    return 3, "StopByAPI", int(task.stop * 1000)


def get_record_task(ctx: Ctx) -> dict[str, object]:
    for key in ("RoomId", "TaskId"):
        if not str(ctx.params.get(key, "")):
            raise missing(key)
    book: RecordingBook | None = ctx.recordings
    task = book.get(ctx.app.app_id, str(ctx.params["TaskId"])) if book else None
    if task is None or task.room_id != ctx.params["RoomId"] or ctx.now - task.start > WINDOW:
        raise ApiError(400, "InvalidParameter.TaskNotExist", "no such task in the last 72 hours")
    status, reason, end = _status(task, ctx.now)
    files = []
    if status == 3:
        length = task.stop - task.start
        files = [{"ObjectKey": f"{task.task_id}.mp4", "Duration": int(length * 1000),
                  "Size": int(length * 62_500), "StartTime": int(task.start * 1000),
                  "StreamList": [], "AudioCodec": "aac", "VideoCodec": "h264"}]  # fmt: skip
    return {
        "RecordTask": {
            "StartTime": int(task.start * 1000),
            "EndTime": end,
            "Status": status,
            "StopReason": reason,
            "RecordFileList": files,
        }
    }
