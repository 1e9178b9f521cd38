"""How far each app is from its thresholds right now: the value every sustained-tier quality
alert judges, and that value against the app's own threshold (per-app overrides included), as
recording rules the *RTC overview* ranks apps by.

``threshold_multiple`` is 1 at the sustained threshold and 2 at twice as bad: the value over the
threshold where higher is worse (stall rate), the failure share over the allowed failure share
where lower is worse (success ratios), so indicators of both kinds rank on one scale.
"""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.quality import quality_views
from exporter.mixin.rules.quality import QUALITY_ALERTS, QualityAlert, limits, signal, variants

__all__ = ["QUALITY_MULTIPLE", "QUALITY_VALUE", "ranking_rules"]

QUALITY_VALUE = "app_id:volcengine_rtc_quality:value"
QUALITY_MULTIPLE = "app_id:volcengine_rtc_quality:threshold_multiple"


def _sustained() -> list[QualityAlert]:
    return [qa for qa in QUALITY_ALERTS if qa.tier == "sustained"]


def _value(cfg: MixinConfig) -> str:
    views = {v.metric: v for v in quality_views()}
    parts = [
        f'label_replace({signal(cfg, qa, views[f], "")}, "indicator", "{qa.indicator}", "", "")'
        for qa in _sustained()
        for f in qa.families
    ]
    return "\n  or ".join(parts)


def _ratio(cfg: MixinConfig) -> str:
    views = {v.metric: v for v in quality_views()}
    parts = []
    for qa in _sustained():
        higher = views[qa.families[0]].worse == "higher"
        for matcher, ov in variants(cfg, qa):
            limit = limits(cfg, qa, ov)[0]
            media = f'media="{qa.media}"' if qa.media in ("audio", "video") else ""
            ms = [f'indicator="{qa.indicator}"', media, matcher]
            series = QUALITY_VALUE + cfg.sel(*(m for m in ms if m))
            if higher:
                parts.append(f"{series} / {limit:g}")
            else:
                parts.append(f"(1 - {series}) / (1 - {limit:g})")  # the knob verbatim
    return "\n  or ".join(parts)


def ranking_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    return [
        {"record": QUALITY_VALUE, "expr": _value(cfg)},
        {"record": QUALITY_MULTIPLE, "expr": _ratio(cfg)},
    ]
