"""Diagnosis on demand: the realtime quality values that fetch an app's breakdown ahead of the
round-robin.

When a live quality value of a busy app (the refresher asks only for those) crosses its
threshold (``planning.triggers.thresholds``, default: the shipped alerts' sustained thresholds,
``exporter.thresholds``), the app's breakdown for that indicator and product type, in every
configured dimension, is fetched next, within the breakdown action's own quota: the routine
breakdown cycle keeps running for the other apps. A
value that stays past its threshold does not trigger again; one that comes back and crosses
again does. The apps past a threshold are "in trouble": the breakdown cycle takes them first,
and the breakdown's series cap serves them first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from exporter.thresholds import SUSTAINED
from exporter.types import Snapshot

__all__ = ["WATCHES", "Diagnosis", "Trigger", "TriggerSettings", "TriggerThresholds", "Watch"]


@dataclass(frozen=True)
class Watch:
    """One live quality value that can trigger a breakdown."""

    key: str  # the threshold's name in planning.triggers.thresholds (and the mixin's)
    indicator: str  # the vendor indicator the breakdown is fetched for
    family: str  # the live family judged
    media: str  # the medium judged ("": any)
    threshold: str  # the `threshold` label judged ("": any)
    higher_is_worse: bool


# the same values and `threshold` labels the shipped quality alerts judge
WATCHES: tuple[Watch, ...] = (
    Watch("join_room_success_min", "join_room_success_rate",
          "volcengine_rtc_join_room_success_ratio", "", "5", False),
    Watch("audio_stall_max", "stall_rate", "volcengine_rtc_stall_ratio", "audio", "0.08", True),
    Watch("video_stall_max", "stall_rate", "volcengine_rtc_stall_ratio", "video", "0.5", True),
    Watch("first_frame_success_min", "first_frame_send_success_rate",
          "volcengine_rtc_first_frame_send_success_ratio", "", "", False),
    Watch("first_frame_success_min", "first_frame_recv_success_rate",
          "volcengine_rtc_first_frame_decode_success_ratio", "", "", False),
    Watch("network_delay_within_threshold_min", "network_trans_delay",
          "volcengine_rtc_network_delay_within_threshold_ratio", "", "0.4", False),
)  # fmt: skip


def _limit(key: str) -> Any:
    return Field(default=SUSTAINED[key], gt=0, le=1)


class TriggerThresholds(BaseModel):
    """``planning.triggers.thresholds``: ratios 0..1, as the mixin's ``thresholds``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    join_room_success_min: float = _limit("join_room_success_min")
    audio_stall_max: float = _limit("audio_stall_max")
    video_stall_max: float = _limit("video_stall_max")
    first_frame_success_min: float = _limit("first_frame_success_min")
    network_delay_within_threshold_min: float = _limit("network_delay_within_threshold_min")


class TriggerSettings(BaseModel):
    """``planning.triggers``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    enabled: bool = Field(
        default=True, description="fetch an app's breakdown when its quality crosses a threshold"
    )
    thresholds: TriggerThresholds = Field(default_factory=TriggerThresholds)


@dataclass(frozen=True)
class Trigger:
    """Fetch ``app_id``'s breakdown of ``indicator`` for ``product_type`` now."""

    app_id: str
    indicator: str
    product_type: str


class Diagnosis:
    """Which apps are past a threshold now, and which crossings are new."""

    def __init__(self, settings: TriggerSettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._past: dict[str, set[tuple[str, str, str, str]]] = {}  # app -> values past

    def check(self, app_id: str, snapshot: Snapshot) -> list[Trigger]:
        """The triggers of a live quality answer of ``app_id`` (crossings since the last one)."""
        limits = self.settings.thresholds
        past: set[tuple[str, str, str, str]] = set()
        for s in snapshot.samples:
            labels = dict(s.labels)
            for w in WATCHES:
                if s.metric != w.family or (w.media and labels.get("media") != w.media):
                    continue
                if w.threshold and labels.get("threshold") != w.threshold:
                    continue
                limit = float(getattr(limits, w.key))
                if s.value > limit if w.higher_is_worse else s.value < limit:
                    key = (w.indicator, labels.get("product_type", ""), s.metric,
                           labels.get("media", ""))  # fmt: skip
                    past.add(key)
        with self._lock:
            before = self._past.get(app_id, set())
            self._past[app_id] = past
        if not self.settings.enabled:
            return []
        fresh = {(k[0], k[1]) for k in past - before}
        return [Trigger(app_id, ind, pt) for ind, pt in sorted(fresh)]

    def troubled(self) -> frozenset[str]:
        """Apps with a live quality value past its threshold in their last answer."""
        with self._lock:
            return frozenset(a for a, past in self._past.items() if past)

    def forget(self, keep: set[str] | frozenset[str]) -> None:
        with self._lock:
            self._past = {a: v for a, v in self._past.items() if a in keep}
