"""``callbacks:`` in the mixin config: thresholds, windows, ``for`` durations and severities of
the event-callback alerts (``exporter/mixin/rules/callbacks.py``). A model of its own so the
rest of ``MixinConfig`` does not change with it; ``docs/callbacks.md`` explains each one."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["CallbackAlerts"]

_DURATION = r"^\d+(ms|s|m|h|d)$"
Severity = Literal["critical", "warning"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CallbackFor(_M):
    recording_start_failing: str = Field(default="5m", pattern=_DURATION)
    recording_upload_failing: str = Field(default="5m", pattern=_DURATION)
    callbacks_silent: str = Field(default="5m", pattern=_DURATION)
    callbacks_rejected: str = Field(default="15m", pattern=_DURATION)


class CallbackSeverities(_M):
    recording_start_failing: Severity = "critical"
    recording_upload_failing: Severity = "critical"
    callbacks_silent: Severity = "warning"
    callbacks_rejected: Severity = "warning"


class CallbackAlerts(_M):
    window: str = Field(
        default="15m", pattern=_DURATION, description="recording alerts count events over this"
    )
    recording_start_failure_ratio_max: float = Field(default=0.1, gt=0, le=1)
    recording_upload_failure_ratio_max: float = Field(default=0.05, gt=0, le=1)
    recording_min_failures: float = Field(
        default=2, ge=1, description="failures within the window before a recording alert"
    )
    silent_after: str = Field(
        default="15m", pattern=_DURATION, description="no accepted event this long: silent"
    )
    silent_min_online_users: float = Field(
        default=10, ge=0, description="only apps with this many users (poll path) are expected"
    )
    silent_lookback: str = Field(
        default="1d", pattern=_DURATION, description="apps with an event within this are watched"
    )
    rejected_window: str = Field(default="10m", pattern=_DURATION)
    rejected_ratio_max: float = Field(default=0.1, gt=0, le=1)
    rejected_min_per_second: float = Field(
        default=0.01, ge=0, description="ignore fewer rejected requests than this per second"
    )
    for_: CallbackFor = Field(default_factory=CallbackFor, alias="for")
    severities: CallbackSeverities = Field(default_factory=CallbackSeverities)
