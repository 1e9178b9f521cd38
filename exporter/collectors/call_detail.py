"""Per-user client metrics: ``ListCallDetail`` for the configured watch list.

The API needs a RoomId and at most 20 UserIds per call. Metrics are mapped by their Chinese
``Desc`` (the seed's wording) first, then by ``Name``; the machine names are not documented, so
the ``Name`` aliases below are inferred and the ``Desc`` mapping is authoritative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from exporter.client import MAX_CALL_DETAIL_USERS
from exporter.collectors.base import (
    AppTarget,
    MetricSpec,
    Sample,
    Snapshot,
    Source,
    newest_complete,
)
from exporter.settings import CallDetailSettings
from exporter.units import Kind

__all__ = ["FAMILIES", "ROWS", "CallDetailSource"]

log = logging.getLogger(__name__)

BASE_LABELS = ("app_id", "room_id", "user_id", "peer_id")

# family -> (HELP lead, extra label names, conversion note)
FAMILIES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "volcengine_rtc_client_app_cpu_usage_ratio": ("CPU usage of the app, 0..1", (), "% / 100"),
    "volcengine_rtc_client_system_cpu_usage_ratio": ("System CPU usage, 0..1", (), "% / 100"),
    "volcengine_rtc_client_audio_capture_volume": ("Audio capture volume", (), "unitless"),
    "volcengine_rtc_client_audio_playback_volume": ("Audio playback volume", (), "unitless"),
    "volcengine_rtc_client_bitrate_bytes_per_second": (
        "Send (up) or receive (down) bitrate, bytes per second",
        ("media", "direction", "stream"),
        "Kbps x 125",
    ),
    "volcengine_rtc_client_network_delay_seconds": (
        "Uplink or downlink network delay, seconds",
        ("media", "direction"),
        "ms / 1000",
    ),
    "volcengine_rtc_client_packet_loss_ratio": (
        "Uplink or downlink packet loss, 0..1",
        ("media", "direction"),
        "% / 100",
    ),
    "volcengine_rtc_client_stall_duration_seconds": (
        "Stall duration, seconds",
        ("media",),
        "ms / 1000",
    ),
    "volcengine_rtc_client_video_width_pixels": (
        "Sent (up) or received (down) video width, pixels",
        ("direction",),
        "unitless",
    ),
    "volcengine_rtc_client_video_height_pixels": (
        "Sent (up) or received (down) video height, pixels",
        ("direction",),
        "unitless",
    ),
    "volcengine_rtc_client_video_capture_frames_per_second": (
        "Video capture frame rate",
        (),
        "fps",
    ),
    "volcengine_rtc_client_video_frames_per_second": (
        "Video send (up, per stream) or receive (down) frame rate",
        ("direction", "stream"),
        "fps",
    ),
}


@dataclass(frozen=True)
class Row:
    desc: str  # seed wording, as the API's Desc
    name: str  # [inferred] machine Name alias
    family: str
    labels: tuple[tuple[str, str], ...]
    kind: Kind
    seed_unit: str


def _r(desc: str, name: str, family: str, kind: Kind, unit: str, **labels: str) -> Row:
    return Row(desc, name, "volcengine_rtc_client_" + family, tuple(labels.items()), kind, unit)


_BPS, _S, _R, _P, _F = (
    Kind.BYTES_PER_SECOND,
    Kind.SECONDS,
    Kind.RATIO,
    Kind.PLAIN,
    Kind.FRAMES_PER_SECOND,
)
ROWS: tuple[Row, ...] = (
    _r("App 的 CPU 使用率", "app_cpu_usage", "app_cpu_usage_ratio", _R, "%"),
    _r("系统 CPU 使用率", "system_cpu_usage", "system_cpu_usage_ratio", _R, "%"),
    _r("音频采集音量", "audio_capture_volume", "audio_capture_volume", _P, ""),
    _r("音频播放音量", "audio_playback_volume", "audio_playback_volume", _P, ""),
    _r("音频发送码率", "audio_send_bitrate", "bitrate_bytes_per_second", _BPS, "Kbps",
       media="audio", direction="up", stream=""),
    _r("音频接收码率", "audio_recv_bitrate", "bitrate_bytes_per_second", _BPS, "Kbps",
       media="audio", direction="down", stream=""),
    _r("音频上行网络延时", "audio_up_delay", "network_delay_seconds", _S, "ms",
       media="audio", direction="up"),
    _r("音频上行丢包率", "audio_up_loss", "packet_loss_ratio", _R, "%",
       media="audio", direction="up"),
    _r("音频下行网络延时", "audio_down_delay", "network_delay_seconds", _S, "ms",
       media="audio", direction="down"),
    _r("音频下行丢包率", "audio_down_loss", "packet_loss_ratio", _R, "%",
       media="audio", direction="down"),
    _r("音频卡顿时长", "audio_stall_duration", "stall_duration_seconds", _S, "ms", media="audio"),
    _r("视频发送分辨率的宽", "video_send_width", "video_width_pixels", _P, "", direction="up"),
    _r("视频发送分辨率的高", "video_send_height", "video_height_pixels", _P, "", direction="up"),
    _r("视频接收分辨率的宽", "video_recv_width", "video_width_pixels", _P, "", direction="down"),
    _r("视频接收分辨率的高", "video_recv_height", "video_height_pixels", _P, "", direction="down"),
    _r("视频采集帧率", "video_capture_fps", "video_capture_frames_per_second", _F, "fps"),
    _r("视频大流发送帧率", "video_big_send_fps", "video_frames_per_second", _F, "fps",
       direction="up", stream="big"),
    _r("视频小流发送帧率", "video_small_send_fps", "video_frames_per_second", _F, "fps",
       direction="up", stream="small"),
    _r("视频接收帧率", "video_recv_fps", "video_frames_per_second", _F, "fps",
       direction="down", stream=""),
    _r("视频大流发送码率", "video_big_send_bitrate", "bitrate_bytes_per_second", _BPS, "Kbps",
       media="video", direction="up", stream="big"),
    _r("视频小流发送码率", "video_small_send_bitrate", "bitrate_bytes_per_second", _BPS, "Kbps",
       media="video", direction="up", stream="small"),
    _r("视频接收码率", "video_recv_bitrate", "bitrate_bytes_per_second", _BPS, "Kbps",
       media="video", direction="down", stream=""),
    _r("视频上行网络延时", "video_up_delay", "network_delay_seconds", _S, "ms",
       media="video", direction="up"),
    _r("视频上行丢包率", "video_up_loss", "packet_loss_ratio", _R, "%",
       media="video", direction="up"),
    _r("视频下行网络延时", "video_down_delay", "network_delay_seconds", _S, "ms",
       media="video", direction="down"),
    _r("视频下行丢包率", "video_down_loss", "packet_loss_ratio", _R, "%",
       media="video", direction="down"),
    _r("视频卡顿时长", "video_stall_duration", "stall_duration_seconds", _S, "ms", media="video"),
)  # fmt: skip

_BY_DESC = {_row.desc.replace(" ", ""): _row for _row in ROWS}
_BY_NAME = {_row.name: _row for _row in ROWS}


def find_row(desc: str, name: str) -> Row | None:
    """Map by Desc (spaces ignored), then by Name."""
    return _BY_DESC.get(desc.replace(" ", "")) or _BY_NAME.get(name)


class CallDetailSource(Source[CallDetailSettings]):
    """Per-user client metrics of the watch list.

    # TYPE volcengine_rtc_client_bitrate_bytes_per_second gauge
    volcengine_rtc_client_bitrate_bytes_per_second{app_id="a",room_id="r",user_id="u",
        peer_id="",media="audio",direction="up",stream=""} 8000.0
    """

    name = "call_detail"
    action = "ListCallDetail"
    specs = tuple(
        MetricSpec(
            family,
            f"{lead}. From Volcengine RTC ListCallDetail metrics "
            f"{', '.join(r.desc for r in ROWS if r.family == family)} (watch list only; newest "
            f"point; {conv}). Cached; refreshed every sources.call_detail interval.",
            BASE_LABELS + extra,
        )
        for family, (lead, extra, conv) in FAMILIES.items()
    )

    _remaining = 0

    def begin_cycle(self) -> None:
        self._remaining = self.settings.max_client_series

    def wants(self, app: AppTarget) -> bool:
        return bool(app.call_detail)

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = self.window(now, self.settings.window_seconds)
        newest: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[float, float]] = {}
        for room_id, user_ids in app.call_detail:
            for i in range(0, len(user_ids), MAX_CALL_DETAIL_USERS):
                chunk = user_ids[i : i + MAX_CALL_DETAIL_USERS]
                result = self.client.list_call_detail(app.app_id, start, end, room_id, chunk)
                for user in result.user_call_detail:
                    for metric in user.call_detail:
                        row = find_row(metric.desc, metric.name)
                        if row is None:
                            continue
                        point = newest_complete(
                            ((p.time_ms / 1000.0, p.value) for p in metric.data),
                            self.settings.settle_seconds,
                            now,
                        )
                        if point is None:
                            continue
                        value = self.to_base(point[1], metric.unit, row.seed_unit, row.kind)
                        if value is None:
                            continue
                        downlink = dict(row.labels).get("direction") == "down"
                        labels = (
                            ("app_id", app.app_id),
                            ("room_id", user.room_id or room_id),
                            ("user_id", user.user_id),
                            ("peer_id", user.peer_id if downlink else ""),
                            *row.labels,
                        )
                        key = (row.family, labels)
                        if key not in newest or newest[key][0] < point[0]:
                            newest[key] = (point[0], value)
        snap = Snapshot()
        keep = sorted(newest.items())
        allowed = max(0, self._remaining)
        if len(keep) > allowed:
            dropped = len(keep) - allowed
            self.telemetry.series_dropped.labels(self.name).inc(dropped)
            log.warning(
                "call_detail series cap reached app_id=%s dropped=%d max_client_series=%d",
                app.app_id,
                dropped,
                self.settings.max_client_series,
            )
            keep = keep[:allowed]
        self._remaining -= len(keep)
        for (family, labels), (ts, value) in keep:
            snap.samples.append(Sample(family, labels, value))
            snap.data_timestamp = max(snap.data_timestamp or 0.0, ts)
        return snap
