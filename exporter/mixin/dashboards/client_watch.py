"""RTC client watch: per-user client metrics (ListCallDetail) of the watched rooms and users."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.overview import APP
from exporter.mixin.dashboards.panels import (
    FPS,
    DashboardSpec,
    PanelSpec,
    Scope,
    custom_var,
    query_var,
    units,
)

__all__ = ["WATCH", "client_watch", "watch_variables"]

WATCH = 'room_id=~"$room_id", user_id=~"$user_id"'
MEDIA = 'media=~"$media"'
WHO = "{{user_id}}"
PEER = "{{user_id}} {{media}} {{direction}} {{peer_id}}"

# (row, title, unit, ((family, legend, by media), ...), description, width)
PANELS: tuple[tuple[str, str, str, tuple[tuple[str, str, bool], ...], str, int], ...] = (
    ("Devices", "App CPU usage", units.PercentUnit,
     (("volcengine_rtc_client_app_cpu_usage_ratio", WHO, False),), "CPU used by the app.", 8),
    ("Devices", "System CPU usage", units.PercentUnit,
     (("volcengine_rtc_client_system_cpu_usage_ratio", WHO, False),),
     "CPU used by the whole device.", 8),
    ("Devices", "Audio volume", units.Short,
     (("volcengine_rtc_client_audio_capture_volume", f"{WHO} capture", False),
      ("volcengine_rtc_client_audio_playback_volume", f"{WHO} playback {{{{peer_id}}}}", False)),
     "Audio capture and playback volume (unitless).", 8),
    ("Network", "Bitrate", units.BitsPerSecondSI,
     (("volcengine_rtc_client_bitrate_bytes_per_second",
       "{{user_id}} {{media}} {{direction}} {{stream}} {{peer_id}}", True),),
     "Send (up) and receive (down) bitrate, shown in bits per second.", 12),
    ("Network", "Network delay", units.Seconds,
     (("volcengine_rtc_client_network_delay_seconds", PEER, True),),
     "Uplink and downlink network delay.", 12),
    ("Network", "Packet loss", units.PercentUnit,
     (("volcengine_rtc_client_packet_loss_ratio", PEER, True),),
     "Uplink and downlink packet loss.", 12),
    ("Network", "Stall duration", units.Seconds,
     (("volcengine_rtc_client_stall_duration_seconds", "{{user_id}} {{media}} {{peer_id}}", True),),
     "Audio and video stall duration.", 12),
    ("Video", "Resolution", units.Pixels,
     (("volcengine_rtc_client_video_width_pixels", f"{WHO} {{{{direction}}}} width", False),
      ("volcengine_rtc_client_video_height_pixels", f"{WHO} {{{{direction}}}} height", False)),
     "Sent (up) and received (down) video resolution in pixels.", 12),
    ("Video", "Frame rate", FPS,
     (("volcengine_rtc_client_video_capture_frames_per_second", f"{WHO} capture", False),
      ("volcengine_rtc_client_video_frames_per_second",
       "{{user_id}} {{direction}} {{stream}} {{peer_id}}", False)),
     "Capture, send (per stream) and receive frame rates.", 12),
)  # fmt: skip


def watch_variables(cfg: MixinConfig, s: Scope) -> tuple[object, ...]:
    """Room and user of the watch list, from the series every watched user has."""
    series = "volcengine_rtc_client_app_cpu_usage_ratio" + cfg.sel(*s.matchers, APP)
    return tuple(
        query_var(name, name.replace("_", " "), f"label_values({series}, {name})")
        for name in ("room_id", "user_id")
    )


def client_panels(s: Scope, row: str) -> tuple[PanelSpec, ...]:
    return tuple(
        PanelSpec(
            title,
            unit,
            tuple(
                (
                    ("8 * " if unit == units.BitsPerSecondSI else "")
                    + s.q(family, APP, WATCH, MEDIA if by_media else ""),
                    legend,
                )
                for family, legend, by_media in targets
            ),
            description,
            width=width,
        )
        for r, title, unit, targets, description, width in PANELS
        if r == row
    )


def client_watch(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    return DashboardSpec(
        "rtc-client-watch",
        "RTC client watch",
        "Per-user client metrics (ListCallDetail) of the watched rooms and users: configured in "
        "the exporter (apps[].call_detail) or picked automatically from the busiest rooms.",
        tuple((row, client_panels(s, row)) for row in ("Devices", "Network", "Video")),
        (
            s.app_var(multi=True),
            custom_var("media", "Media", "audio,video", multi=True),
            *watch_variables(cfg, s),
        ),
    )
