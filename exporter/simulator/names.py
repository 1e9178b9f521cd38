"""Indicator names, units and ListCallDetail metrics as the API returns them."""

from __future__ import annotations

__all__ = [
    "CALL_DETAIL",
    "OPERATION",
    "OPERATION_UNITS",
    "QUALITY_NAMES",
    "REALTIME_OPERATION",
    "RETURNED_NAME",
]

QUALITY_NAMES: dict[str, list[tuple[str, str]]] = {
    # indicator -> [(returned name, media)]
    "join_room_success_rate": [("5s_join_room_success_rate", "")],
    "stall_rate": [("80ms_audio_stall_rate", "audio"), ("500ms_video_stall_rate", "video")],
    "first_frame_send_success_rate": [
        ("audio_first_frame_send_success_rate", "audio"),
        ("video_first_frame_send_success_rate", "video"),
    ],
    "first_frame_recv_success_rate": [
        ("audio_first_frame_recv_success_rate", "audio"),
        ("video_first_frame_recv_success_rate", "video"),
    ],
    "network_trans_delay": [
        ("400ms_audio_network_trans_delay", "audio"),
        ("400ms_video_network_trans_delay", "video"),
    ],
}
OPERATION = (
    "user_count session_count peak_concurrent_user room_count high_concurrency_room "
    "peak_concurrent_room avg_call_count per_call_time avg_call_time total_online_time "
    "avg_online_time avg_user_count"
).split()
# the API's own unit strings, kept exactly (the exporter must map each)
OPERATION_UNITS = {
    "per_call_time": "min",
    "avg_call_time": "min",
    "total_online_time": "分钟",
    "avg_online_time": "分钟",
}
REALTIME_OPERATION = ("online_user_count", "online_room_count")

# (Desc, key, Unit, direction) of ListCallDetail metrics; "up" entries for the user itself,
# "down" entries once per peer. The key drives the value model and is returned as ``Name``,
# except where a vendor source shows the Name (RETURNED_NAME): the vendor documents only the
# Desc of each metric, so the other Names are this simulator's placeholders, which the exporter
# must not rely on.
RETURNED_NAME = {"audio_send_bitrate": "bandwidth"}  # the 2023-11-01 page's example
CALL_DETAIL = (
    ("App 的 CPU 使用率", "app_cpu_usage", "%", "up"),
    ("系统 CPU 使用率", "system_cpu_usage", "%", "up"),
    ("音频采集音量", "audio_capture_volume", "", "up"),
    ("音频发送码率", "audio_send_bitrate", "kbps", "up"),
    ("音频上行网络延时", "audio_up_delay", "ms", "up"),
    ("音频上行丢包率", "audio_up_loss", "%", "up"),
    ("视频发送分辨率的宽", "video_send_width", "", "up"),
    ("视频发送分辨率的高", "video_send_height", "", "up"),
    ("视频采集帧率", "video_capture_fps", "fps", "up"),
    ("视频大流发送帧率", "video_big_send_fps", "fps", "up"),
    ("视频小流发送帧率", "video_small_send_fps", "fps", "up"),
    ("视频大流发送码率", "video_big_send_bitrate", "kbps", "up"),
    ("视频小流发送码率", "video_small_send_bitrate", "kbps", "up"),
    ("视频上行网络延时", "video_up_delay", "ms", "up"),
    ("视频上行丢包率", "video_up_loss", "%", "up"),
    ("音频播放音量", "audio_playback_volume", "", "down"),
    ("音频接收码率", "audio_recv_bitrate", "kbps", "down"),
    ("音频下行网络延时", "audio_down_delay", "ms", "down"),
    ("音频下行丢包率", "audio_down_loss", "%", "down"),
    ("音频卡顿时长", "audio_stall_duration", "ms", "down"),
    ("视频接收分辨率的宽", "video_recv_width", "", "down"),
    ("视频接收分辨率的高", "video_recv_height", "", "down"),
    ("视频接收帧率", "video_recv_fps", "fps", "down"),
    ("视频接收码率", "video_recv_bitrate", "kbps", "down"),
    ("视频下行网络延时", "video_down_delay", "ms", "down"),
    ("视频下行丢包率", "video_down_loss", "%", "down"),
    ("视频卡顿时长", "video_stall_duration", "ms", "down"),
)
