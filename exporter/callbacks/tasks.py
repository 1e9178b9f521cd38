"""In-flight cloud recording tasks, as the events tell them: started and not yet stopped
(``recording``), stopped and not yet uploaded (``uploading``).

There is no API that lists recording tasks, so the events are how tasks are found; and events
can be lost (at most three deliveries) or arrive out of order. So the table is bounded
(``max_tasks``, the oldest entry goes first), entries expire 72 h after they were first seen
(the window in which ``GetRecordTask`` can still find a task), a task that stays in one state
longer than ``check_after`` is *overdue* and is checked with ``GetRecordTask`` (``reconcile``),
and events in any order end in the same state:

* RecordStopped before RecordStarted: the task is uploading; the late start changes nothing.
* RecordUploadDone before RecordStopped: the task is done; the late stop still gives the
  upload delay (both EventTimes are kept for a while) and never re-opens the task.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EXPIRE_SECONDS", "InFlightTasks", "Task"]

EXPIRE_SECONDS = 72 * 3600.0  # GetRecordTask finds tasks started within the last 72 h
Key = tuple[str, str, str]  # app_id, room_id, task_id


@dataclass
class Task:
    app_id: str
    app_label: str
    room_id: str
    task_id: str
    state: str  # recording | uploading
    first_seen: float  # wall time the task entered the table
    since: float  # wall time it entered its state
    stopped_at: float | None = None  # EventTime of RecordStopped
    next_check: float = 0.0

    @property
    def key(self) -> Key:
        return (self.app_id, self.room_id, self.task_id)


class InFlightTasks:
    """Thread-safe: the event worker writes, the reconciler and scrapes read."""

    def __init__(self, max_tasks: int, check_after: float) -> None:
        self.max_tasks = max_tasks
        self.check_after = check_after
        self._lock = threading.Lock()
        self._tasks: OrderedDict[Key, Task] = OrderedDict()
        # finished tasks: key -> (stop EventTime or None, upload EventTime or None)
        self._done: OrderedDict[Key, tuple[float | None, float | None, float]] = OrderedDict()
        self._apps: set[tuple[str, str]] = set()  # (app label, state) pairs ever shown
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def _put(self, task: Task) -> None:
        self._tasks[task.key] = task
        self._tasks.move_to_end(task.key)
        self._apps.add((task.app_label, task.state))
        while len(self._tasks) > self.max_tasks:
            self._tasks.popitem(last=False)
            self.evicted += 1

    def _finish(self, key: Key, stopped: float | None, uploaded: float | None, now: float) -> None:
        self._tasks.pop(key, None)
        self._done[key] = (stopped, uploaded, now)
        self._done.move_to_end(key)
        while len(self._done) > self.max_tasks:
            self._done.popitem(last=False)

    def started(self, app_id: str, app_label: str, room_id: str, task_id: str, now: float) -> None:
        key = (app_id, room_id, task_id)
        with self._lock:
            if key in self._tasks or key in self._done:
                return  # a duplicate, or a start that arrives after the stop
            self._put(Task(app_id, app_label, room_id, task_id, "recording", now, now))

    def stopped(
        self, app_id: str, app_label: str, room_id: str, task_id: str, at: float, now: float
    ) -> float | None:
        """The task is uploading; returns the upload delay when its upload was seen first."""
        key = (app_id, room_id, task_id)
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                if done[0] is None and done[1] is not None:
                    self._done[key] = (at, done[1], done[2])
                    return max(0.0, done[1] - at)
                return None
            task = self._tasks.get(key)
            if task is None:
                task = Task(app_id, app_label, room_id, task_id, "uploading", now, now, at)
            else:
                task.state, task.since, task.stopped_at = "uploading", now, at
                task.next_check = 0.0
            self._put(task)
            return None

    def uploaded(
        self, app_id: str, room_id: str, task_id: str, at: float, now: float
    ) -> float | None:
        """The task is done; returns the upload delay when its stop was seen."""
        key = (app_id, room_id, task_id)
        with self._lock:
            if key in self._done:
                return None
            task = self._tasks.get(key)
            stopped = task.stopped_at if task is not None else None
            self._finish(key, stopped, at, now)
        return max(0.0, at - stopped) if stopped is not None else None

    def counts(self) -> dict[tuple[str, str], int]:
        """(app label, state) -> tasks; pairs seen once stay at 0 (no vanishing series)."""
        with self._lock:
            out = dict.fromkeys(self._apps, 0)
            for task in self._tasks.values():
                out[(task.app_label, task.state)] += 1
            return out

    def expire(self, now: float) -> int:
        """Drop tasks first seen more than 72 h ago, and old finished ones; returns how many."""
        with self._lock:
            old = [k for k, t in self._tasks.items() if now - t.first_seen >= EXPIRE_SECONDS]
            for key in old:
                del self._tasks[key]
            while self._done and now - next(iter(self._done.values()))[2] >= EXPIRE_SECONDS:
                self._done.popitem(last=False)
            return len(old)

    def overdue(self, now: float, limit: int) -> list[Task]:
        """Up to ``limit`` tasks in their state for ``check_after`` or longer and due for a
        check, the longest-waiting first; each is not offered again before ``check_after``."""
        with self._lock:
            due = [
                t
                for t in self._tasks.values()
                if now - t.since >= self.check_after and t.next_check <= now
            ]
            due.sort(key=lambda t: t.since)
            chosen = due[:limit]
            for task in chosen:
                task.next_check = now + self.check_after
            return [Task(**vars(t)) for t in chosen]

    def offer_again(self, keys: Iterable[Key]) -> None:
        """Tasks chosen by ``overdue`` but not checked: offered again at once."""
        with self._lock:
            for key in keys:
                task = self._tasks.get(key)
                if task is not None:
                    task.next_check = 0.0

    def resolve(self, key: Key, status: int | None, now: float) -> str:
        """Apply a GetRecordTask answer (Status; None: the task is unknown to the API);
        returns what happened: kept, recording, removed."""
        with self._lock:
            task = self._tasks.get(key)
            if task is None:
                return "removed"
            if status in (1, 2):  # not started yet, or running: still recording
                if task.state != "recording":
                    task.state, task.since = "recording", now
                    self._apps.add((task.app_label, "recording"))
                return "recording" if status == 2 else "kept"
            # ended, failed, unknown error, or not found: the events that would end it were
            # lost; an upload cannot be confirmed by any API
            self._finish(key, task.stopped_at, None, now)
            return "removed"

    def reconfigure(self, max_tasks: int, check_after: float) -> None:
        with self._lock:
            self.max_tasks, self.check_after = max_tasks, check_after
            while len(self._tasks) > max_tasks:
                self._tasks.popitem(last=False)
                self.evicted += 1
