"""``GetRecordTask``'s answer, read strictly and only in part.

The exporter asks about a recording task only to settle an overdue in-flight entry, so it keeps
the task's ``Status`` (0 unknown error, 1 not started, 2 running, 3 ended, 4 failed),
``StopReason`` and ``EndTime`` and nothing else: no file list, no storage details (the task
getters of other kinds echo third-party storage credentials; nothing of an answer is stored or
logged beyond these three fields).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from exporter.errors import ApiSchemaError

__all__ = ["RecordTaskInfo", "parse_record_task"]


@dataclass(frozen=True)
class RecordTaskInfo:
    status: int
    stop_reason: str
    end_time: float | None  # Unix seconds; None while the task has not ended


def parse_record_task(result: dict[str, Any], action: str) -> RecordTaskInfo:
    task = result.get("RecordTask")
    if not isinstance(task, dict):
        raise ApiSchemaError("response has no RecordTask object", action=action, status=200)
    status = task.get("Status")
    if isinstance(status, bool) or not isinstance(status, int):
        raise ApiSchemaError("RecordTask.Status is not an integer", action=action, status=200)
    reason = task.get("StopReason")
    end = task.get("EndTime")
    end_time = end / 1000.0 if isinstance(end, int | float) and not isinstance(end, bool) else None
    return RecordTaskInfo(
        status=status,
        stop_reason=reason[:64] if isinstance(reason, str) else "",
        end_time=end_time if end_time else None,
    )
