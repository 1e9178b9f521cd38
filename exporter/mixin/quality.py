"""The quality indicators as the mixin sees them: one row per quality family, derived from the
exporter's own table (``exporter.collectors.quality.ROWS``) plus what only the mixin needs
(titles, which direction is worse, the ``threshold`` label each medium is judged on, the alert
thresholds to draw).

``indicator_rows()`` is the only place that reads the exporter's table; dashboards (live, report
and breakdown panels) and rules take their families from ``quality_views()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from exporter.mixin.config import MixinConfig

__all__ = [
    "IndicatorRow",
    "QualityView",
    "indicator_rows",
    "live_family",
    "quality_views",
    "report_family",
]

Worse = Literal["higher", "lower"]


@dataclass(frozen=True)
class IndicatorRow:
    """What the exporter says about one quality family."""

    metric: str  # family name without the volcengine_rtc_ / volcengine_rtc_report_ prefix
    what: str
    media: bool
    threshold: bool


def indicator_rows() -> list[IndicatorRow]:
    """The exporter's quality table, read here and nowhere else in the mixin."""
    from exporter.collectors.quality import ROWS

    return [
        IndicatorRow(r.metric, r.what, "media" in r.label_names, "threshold" in r.label_names)
        for r in ROWS
    ]


@dataclass(frozen=True)
class _Extra:
    title: str
    worse: Worse
    thresholds: dict[str, str]  # media ("" without media) -> `threshold` label value judged on


# the mixin's part of each row; a family the exporter gains without a row here fails a test
_EXTRA: dict[str, _Extra] = {
    "join_room_success_ratio": _Extra("Join success (5 s)", "lower", {"": "5"}),
    "stall_ratio": _Extra("Stall rate", "higher", {"audio": "0.08", "video": "0.5"}),
    "first_frame_send_success_ratio": _Extra("First-frame send success", "lower", {}),
    "first_frame_decode_success_ratio": _Extra("First-frame decode success", "lower", {}),
    "network_delay_within_threshold_ratio": _Extra(
        "Network delay within 400 ms", "lower", {"": "0.4", "audio": "0.4", "video": "0.4"}
    ),
}


@dataclass(frozen=True)
class QualityView:
    metric: str
    what: str
    media: bool
    threshold: bool
    title: str
    worse: Worse
    thresholds: dict[str, str]

    @property
    def live(self) -> str:
        return live_family(self.metric)

    @property
    def report(self) -> str:
        return report_family(self.metric)

    @property
    def breakdown(self) -> str:
        return "volcengine_rtc_breakdown_" + self.metric

    @property
    def report_breakdown(self) -> str:
        return "volcengine_rtc_report_breakdown_" + self.metric

    def threshold_matcher(self, media: str = "") -> str:
        """``threshold="0.5"`` for the medium (the alert's threshold), or "" when none."""
        value = self.thresholds.get(media)
        return f'threshold="{value}"' if self.threshold and value else ""

    def alert_lines(self, cfg: MixinConfig, media: str = "") -> tuple[float, ...]:
        """Sustained and severe alert thresholds of this family (for panel thresholds)."""
        t, s = cfg.thresholds, cfg.severe
        table: dict[tuple[str, str], tuple[float, ...]] = {
            ("join_room_success_ratio", ""): (t.join_room_success_min, s.join_room_success_min),
            ("stall_ratio", "audio"): (t.audio_stall_max, s.audio_stall_max),
            ("stall_ratio", "video"): (t.video_stall_max, s.video_stall_max),
            ("first_frame_send_success_ratio", ""): (
                t.first_frame_success_min,
                s.first_frame_success_min,
            ),
            ("first_frame_decode_success_ratio", ""): (
                t.first_frame_success_min,
                s.first_frame_success_min,
            ),
            ("network_delay_within_threshold_ratio", ""): (t.network_delay_within_threshold_min,),
        }
        return table.get((self.metric, media), ())


def live_family(metric: str) -> str:
    return "volcengine_rtc_" + metric


def report_family(metric: str) -> str:
    return "volcengine_rtc_report_" + metric


def quality_views() -> list[QualityView]:
    out = []
    for row in indicator_rows():
        extra = _EXTRA.get(row.metric)
        if extra is None:
            raise KeyError(f"quality family {row.metric} has no row in exporter/mixin/quality.py")
        out.append(
            QualityView(
                row.metric,
                row.what,
                row.media,
                row.threshold,
                extra.title,
                extra.worse,
                extra.thresholds,
            )
        )
    return out
