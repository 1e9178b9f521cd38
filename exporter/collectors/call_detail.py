"""Per-user client metrics: ``ListCallDetail`` for the watch list.

The API needs a RoomId and at most 20 UserIds per call, and answers one record per (user,
direction) and, for the downlink, one record per ``PeerId``: the remote user whose stream the
values describe. Receive-side metrics (receive bitrate, delay, loss, resolution, frame rate,
playback volume, stall duration) therefore carry ``peer_id`` from their record, one series per
peer; uplink and device-level metrics (CPU, capture volume, capture frame rate) have
``peer_id=""``.

Metrics are mapped by their ``Desc``: the vendor's metric list (指标列表) names each metric only
by its Chinese name, and ``Desc`` carries that name (the documented example: ``Desc`` 音频发送码率,
``Name`` ``bandwidth``, ``Unit`` ``kbps``). The machine ``Name``s are not documented; the one the
vendor shows (``bandwidth``) is a generic word that may name every bitrate, so a ``Name`` is used
only when ``Desc`` is empty, and only a ``Name`` a vendor source shows. A metric that matches no
row is skipped and counted (``points_skipped_total{reason="unmatched"}``), its ``Desc``/``Name``
logged once, never guessed.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import Field

from exporter.client import MAX_CALL_DETAIL_USERS
from exporter.collectors.base import (
    Collected,
    IndicatorRow,
    Source,
    WindowedSettings,
    family_specs,
    indicator_samples,
    interval_field,
    register,
    row_help,
    settle_field,
    window_field,
)
from exporter.collectors.budget import SeriesBudget
from exporter.log import get_logger
from exporter.models import CallMetric, CallRecord
from exporter.types import AppTarget, Labels, Snapshot
from exporter.units import Kind

__all__ = ["ROWS", "CallDetailSettings", "CallDetailSource", "find_row"]

log = get_logger(__name__)

ACTION = "ListCallDetail"
DELAY_SECONDS = 100.0  # documented data delay
PREFIX = "volcengine_rtc_client_"
BASE_LABELS = ("app_id", "room_id", "user_id", "peer_id")

_B, _S, _R, _P, _F = (
    Kind.BYTES_PER_SECOND,
    Kind.SECONDS,
    Kind.RATIO,
    Kind.PLAIN,
    Kind.FRAMES_PER_SECOND,
)
_A, _V = ("media", "audio"), ("media", "video")
_UP, _DOWN = ("direction", "up"), ("direction", "down")
_BIG, _SMALL, _NONE = ("stream", "big"), ("stream", "small"), ("stream", "")
_CPU, _VOL, _BPS = "cpu_usage_ratio", "audio_{}_volume", "bitrate_bytes_per_second"
_DLY, _LOSS, _STALL = "network_delay_seconds", "packet_loss_ratio", "stall_duration_seconds"
_FPS = "video_frames_per_second"


# ``Name``s a vendor source shows, by ``Desc`` (the ListCallDetail example of the 2023-11-01 page)
VENDOR_NAMES = {"音频发送码率": "bandwidth"}


def _row(
    desc: str, metric: str, kind: Kind, unit: str, what: str, *labels: tuple[str, str]
) -> IndicatorRow:
    per_peer = _DOWN in labels or metric in ("audio_playback_volume", _STALL)
    alias = VENDOR_NAMES.get(desc, "")
    return IndicatorRow(desc, metric, kind, what, unit, labels, alias=alias, per_peer=per_peer)


ROWS: tuple[IndicatorRow, ...] = (
    _row("App 的 CPU 使用率", "app_" + _CPU, _R, "%",
         "CPU usage of the app, 0..1"),
    _row("系统 CPU 使用率", "system_" + _CPU, _R, "%",
         "System CPU usage, 0..1"),
    _row("音频采集音量", _VOL.format("capture"), _P, "",
         "Audio capture volume"),
    _row("音频播放音量", _VOL.format("playback"), _P, "",
         "Audio playback volume, per sending peer"),
    _row("音频发送码率", _BPS, _B, "Kbps",
         "Send (up) or receive (down, per sending peer) bitrate, bytes per second", _A, _UP, _NONE),
    _row("音频接收码率", _BPS, _B, "Kbps", "", _A, _DOWN, _NONE),
    _row("音频上行网络延时", _DLY, _S, "ms",
         "Uplink or downlink (per sending peer) network delay, seconds", _A, _UP),
    _row("音频上行丢包率", _LOSS, _R, "%",
         "Uplink or downlink (per sending peer) packet loss, 0..1", _A, _UP),
    _row("音频下行网络延时", _DLY, _S, "ms", "", _A, _DOWN),
    _row("音频下行丢包率", _LOSS, _R, "%", "", _A, _DOWN),
    _row("音频卡顿时长", _STALL, _S, "ms",
         "Stall duration of the stream received from a peer, seconds", _A),
    _row("视频发送分辨率的宽", "video_width_pixels", _P, "",
         "Sent (up) or received (down, per sending peer) video width, pixels", _UP),
    _row("视频发送分辨率的高", "video_height_pixels", _P, "",
         "Sent (up) or received (down, per sending peer) video height, pixels", _UP),
    _row("视频接收分辨率的宽", "video_width_pixels", _P, "", "", _DOWN),
    _row("视频接收分辨率的高", "video_height_pixels", _P, "", "", _DOWN),
    _row("视频采集帧率", "video_capture_frames_per_second", _F, "fps",
         "Video capture frame rate"),
    _row("视频大流发送帧率", _FPS, _F, "fps",
         "Video send (up, per stream) or receive (down, per sending peer) frame rate", _UP, _BIG),
    _row("视频小流发送帧率", _FPS, _F, "fps", "", _UP, _SMALL),
    _row("视频接收帧率", _FPS, _F, "fps", "", _DOWN, _NONE),
    _row("视频大流发送码率", _BPS, _B, "Kbps", "", _V, _UP, _BIG),
    _row("视频小流发送码率", _BPS, _B, "Kbps", "", _V, _UP, _SMALL),
    _row("视频接收码率", _BPS, _B, "Kbps", "", _V, _DOWN, _NONE),
    _row("视频上行网络延时", _DLY, _S, "ms", "", _V, _UP),
    _row("视频上行丢包率", _LOSS, _R, "%", "", _V, _UP),
    _row("视频下行网络延时", _DLY, _S, "ms", "", _V, _DOWN),
    _row("视频下行丢包率", _LOSS, _R, "%", "", _V, _DOWN),
    _row("视频卡顿时长", _STALL, _S, "ms", "", _V),
)  # fmt: skip

_BY_DESC = {"".join(row.key.split()): row for row in ROWS}
_BY_NAME = {row.alias: row for row in ROWS if row.alias}
MAX_LOGGED = 32  # distinct unmatched (Desc, Name) pairs logged per source


def find_row(desc: str, name: str) -> IndicatorRow | None:
    """The row of a metric: by ``Desc`` (white space ignored); by ``Name`` only when ``Desc`` is
    empty and the ``Name`` is one a vendor source shows. A ``Desc`` that matches no row is an
    unknown metric, whatever its ``Name``."""
    if desc.strip():
        return _BY_DESC.get("".join(desc.split()))
    return _BY_NAME.get(name.strip())


class CallDetailSettings(WindowedSettings):
    interval_seconds: float = interval_field(60.0)
    window_seconds: float = window_field(600.0)
    settle_seconds: float = settle_field(DELAY_SECONDS)
    max_client_series: int = Field(default=2000, ge=0, le=1_000_000)


def _help(first: IndicatorRow, group: list[IndicatorRow]) -> str:
    keys = [f"metric {r.key}" for r in group]
    return row_help(first, ACTION, keys, "watch list only; newest point", "call_detail")


@register
class CallDetailSource(Source[CallDetailSettings]):
    """Per-user client metrics of the watch list.

    # TYPE volcengine_rtc_client_stall_duration_seconds gauge
    volcengine_rtc_client_stall_duration_seconds{app_id="a",room_id="r",user_id="carol",
        peer_id="alice",media="video"} 0.34
    """

    name = "call_detail"
    title = "Per-user client metrics (watch list)"
    actions = (ACTION,)
    settings_model = CallDetailSettings
    order = 50
    specs = family_specs(ROWS, prefix=PREFIX, base_labels=BASE_LABELS, help_for=_help)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.budget = SeriesBudget(self.settings.max_client_series)
        self._unmatched: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def begin_cycle(self) -> None:
        self.budget.reset()

    def wants(self, app: AppTarget) -> bool:
        return bool(app.watch)

    def calls(self, app: AppTarget) -> dict[str, int]:
        chunks = sum(-(-len(w.user_ids) // MAX_CALL_DETAIL_USERS) for w in app.watch)
        return {ACTION: chunks}

    def fetch(self, app: AppTarget, now: float) -> Snapshot:
        start, end = self.window(now, self.settings.window_seconds)
        out = Collected()
        for watch in app.watch:
            for i in range(0, len(watch.user_ids), MAX_CALL_DETAIL_USERS):
                chunk = watch.user_ids[i : i + MAX_CALL_DETAIL_USERS]
                result = self.client.list_call_detail(app.app_id, start, end, watch.room_id, chunk)
                out.skipped.update(result.skipped)
                for record in result.records:
                    self._record(out, app.app_id, watch.room_id, record, now)
        return self.budget.take(out)

    def _record(
        self, out: Collected, app_id: str, room_id: str, record: CallRecord, now: float
    ) -> None:
        def resolve(metric: CallMetric) -> tuple[IndicatorRow, Labels] | None:
            row = find_row(metric.desc, metric.name)
            if row is None:
                out.skipped["unmatched"] += 1
                self._log_unmatched(app_id, metric)
                return None
            labels = (
                ("app_id", app_id),
                ("room_id", record.room_id or room_id),
                ("user_id", record.user_id),
                ("peer_id", record.peer_id if row.per_peer else ""),
                *row.labels,
            )
            return row, labels

        indicator_samples(
            out,
            record.metrics,
            resolve,
            prefix=PREFIX,
            complete_after=self.settings.settle_seconds,
            now=now,
        )

    def _log_unmatched(self, app_id: str, metric: CallMetric) -> None:
        """One warning per distinct (Desc, Name), for the first few: the words to report."""
        key = (metric.desc, metric.name)
        with self._lock:
            if key in self._unmatched or len(self._unmatched) >= MAX_LOGGED:
                return
            self._unmatched.add(key)
        log.warning("ListCallDetail metric matches no row; skipped and counted as unmatched",
                    source=self.name, app_id=app_id, desc=metric.desc, metric_name=metric.name,
                    unit=metric.unit)  # fmt: skip
