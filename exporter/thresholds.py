"""The shipped alerts' default thresholds and traffic gate, in one place: the mixin's alert rules
(``exporter.mixin.config``) and the exporter's planner and diagnosis triggers
(``exporter.traffic``, ``exporter.triggers``) both read them here, so a default changes once.

A leaf module: it imports nothing of the exporter.
"""

from __future__ import annotations

__all__ = ["SUSTAINED", "TRAFFIC_FLOOR", "TRAFFIC_WINDOW_SECONDS"]

# the sustained tier of the quality alerts (``for.quality``): value past these is a problem
SUSTAINED: dict[str, float] = {
    "join_room_success_min": 0.95,  # share of joins within 5 s
    "audio_stall_max": 0.05,  # share of audio call time stalled longer than 80 ms
    "video_stall_max": 0.08,  # share of video call time stalled longer than 500 ms
    "first_frame_success_min": 0.97,  # first-frame send and decode success
    "network_delay_within_threshold_min": 0.90,  # share of time with delay within 400 ms
}
# the traffic gate of the warning-level quality alerts: peak online users over the last hour
TRAFFIC_FLOOR = 50
TRAFFIC_WINDOW_SECONDS = 3600
