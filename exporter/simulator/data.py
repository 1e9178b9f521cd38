"""Deterministic, realistic data for the simulated apps.

Every value is a pure function of (seed, app, time bucket), so answers are repeatable and two
calls for the same bucket agree. Traffic follows a daily curve in the API's time zone (+08:00);
quality worsens with load; report counts are derived from the same traffic curve.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CST", "SimApp", "make_apps", "noise"]

CST = 8 * 3600  # the API's time zone, +08:00


def noise(*parts: object) -> float:
    """Deterministic pseudo-random number in [-1, 1)."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**63 - 1.0


def daily_curve(t: float) -> float:
    """Relative load 0..1 at unix time t: quiet at night, a lunch bump, an evening peak."""
    h = ((t + CST) % 86400) / 3600.0
    evening = math.exp(-(((h - 20.5) / 3.0) ** 2))
    lunch = 0.45 * math.exp(-(((h - 12.5) / 2.0) ** 2))
    night = 0.08
    return min(1.0, night + 0.92 * max(evening, lunch))


@dataclass(frozen=True)
class SimApp:
    index: int
    app_id: str
    name: str
    status: int
    app_key: str  # a secret: the exporter must never store or show it
    secondary_app_key: str
    peak_users: int
    room_size: float
    seed: int

    # -- realtime --------------------------------------------------------------------------------

    def load(self, t: float) -> float:
        return daily_curve(t)

    def online_users(self, t: float) -> float:
        v = self.peak_users * self.load(t) * (1 + 0.04 * noise(self.seed, self.app_id, "u", t))
        return float(max(0, round(v)))

    def online_rooms(self, t: float) -> float:
        return float(round(self.online_users(t) / self.room_size))

    def quality(self, indicator: str, media: str, t: float) -> float:
        """Percent 0..100 for a quality indicator at time t (no scenario applied)."""
        load = self.load(t)
        n = noise(self.seed, self.app_id, indicator, media, t)
        if indicator == "join_room_success_rate":
            v = 99.6 - 0.8 * load + 0.1 * n
        elif indicator == "stall_rate":
            v = (0.4 + 1.2 * load) if media == "audio" else (0.8 + 2.5 * load)
            v += 0.1 * n
        elif indicator == "first_frame_send_success_rate":
            v = (99.8 - 0.3 * load) if media == "audio" else (99.5 - 0.6 * load)
            v += 0.05 * n
        elif indicator == "first_frame_recv_success_rate":
            v = (99.6 - 0.4 * load) if media == "audio" else (99.2 - 0.8 * load)
            v += 0.05 * n
        elif indicator == "network_trans_delay":
            v = (98.8 - 1.5 * load) if media == "audio" else (98.0 - 2.5 * load)
            v += 0.1 * n
        else:
            raise KeyError(indicator)
        return round(min(100.0, max(0.0, v)), 2)

    # -- reports ---------------------------------------------------------------------------------

    def operation(self, indicator: str, start: float, length: float) -> float:
        """An operations-report value for the bucket [start, start + length)."""
        step = 300.0
        samples = [self.online_users(start + i * step) for i in range(int(length // step))]
        peak = max(samples) if samples else 0.0
        mean = sum(samples) / len(samples) if samples else 0.0
        hours = length / 3600.0
        users = round(peak * (1.8 + 0.5 * hours**0.5))  # distinct users grow with the span
        sessions = round(users * 1.7)
        rooms = max(1, round(users / self.room_size * 1.3))
        per_call_min = round(11.0 + 2.0 * noise(self.seed, self.app_id, "pct", start), 2)
        avg_online_min = round(22.0 + 3.0 * noise(self.seed, self.app_id, "aot", start), 2)
        values = {
            "user_count": users,
            "session_count": sessions,
            "peak_concurrent_user": peak,
            "room_count": rooms,
            "high_concurrency_room": round(rooms * 0.002),
            "peak_concurrent_room": round(peak / self.room_size),
            "avg_call_count": round(sessions / users, 2) if users else 0.0,
            "per_call_time": per_call_min,
            "avg_call_time": round(per_call_min * 1.5, 2),
            "total_online_time": round(rooms * avg_online_min, 2),
            "avg_online_time": avg_online_min,
            "avg_user_count": round(mean / max(1.0, mean / self.room_size), 2) if mean else 0.0,
        }
        return float(values[indicator])

    def quality_report(self, indicator: str, media: str, start: float, length: float) -> float:
        step = 300.0 if length <= 3600 else 1800.0
        points = [
            self.quality(indicator, media, start + i * step) for i in range(int(length // step))
        ]
        return round(sum(points) / len(points), 2) if points else 0.0

    # -- per-user client metrics -----------------------------------------------------------------

    def client_metric(self, key: str, user: str, peer: str, t: float) -> float:
        n = noise(self.seed, self.app_id, key, user, peer, t)
        base = {
            "app_cpu_usage": 18.0,
            "system_cpu_usage": 42.0,
            "audio_capture_volume": 120.0,
            "audio_playback_volume": 96.0,
            "audio_send_bitrate": 48.0,
            "audio_recv_bitrate": 46.0,
            "audio_up_delay": 35.0,
            "audio_up_loss": 0.4,
            "audio_down_delay": 42.0,
            "audio_down_loss": 0.6,
            "audio_stall_duration": 20.0,
            "video_send_width": 1280.0,
            "video_send_height": 720.0,
            "video_recv_width": 1280.0,
            "video_recv_height": 720.0,
            "video_capture_fps": 30.0,
            "video_big_send_fps": 30.0,
            "video_small_send_fps": 15.0,
            "video_recv_fps": 28.0,
            "video_big_send_bitrate": 1200.0,
            "video_small_send_bitrate": 300.0,
            "video_recv_bitrate": 1100.0,
            "video_up_delay": 45.0,
            "video_up_loss": 0.8,
            "video_down_delay": 55.0,
            "video_down_loss": 1.1,
            "video_stall_duration": 80.0,
        }[key]
        if key.endswith(("width", "height")) or key.endswith("_fps") and "capture" in key:
            return base
        return round(max(0.0, base * (1 + 0.15 * n)), 2)


def make_apps(count: int, seed: int = 1, peaks: Sequence[int] = ()) -> list[SimApp]:
    """``count`` running apps plus one suspended app that discovery must skip. ``peaks``: the
    peak online users of the first apps (default: a heavy tail from 6,000 down to 20)."""
    apps = []
    for i in range(count + 1):
        h = hashlib.sha256(f"app|{seed}|{i}".encode()).hexdigest()
        running = i < count
        apps.append(
            SimApp(
                index=i,
                app_id=h[:24],
                name=f"demo-app-{i + 1}" if running else "legacy-suspended",
                status=1 if running else 6,
                app_key=hashlib.sha256(f"appkey|{seed}|{i}".encode()).hexdigest(),
                secondary_app_key=hashlib.sha256(f"appkey2|{seed}|{i}".encode()).hexdigest(),
                peak_users=peaks[i] if i < len(peaks) else max(20, int(6000 / (1 + i) ** 0.8)),
                room_size=2.5 + (i % 4),
                seed=seed,
            )
        )
    return apps
