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
from exporter.mixin.rules.quality import QUALITY_ALERTS, QualityAlert, limits, signal

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


def _threshold_variants(cfg: MixinConfig, qa: QualityAlert) -> list[tuple[str, float]]:
    """(app matcher, threshold): the default, then one per app whose threshold for this alert
    differs (a different traffic gate alone does not change how far the app is from it)."""
    default = limits(cfg, qa, None)[0]
    special = [(o.app_id, limits(cfg, qa, o)[0]) for o in cfg.overrides]
    special = [(app, limit) for app, limit in special if limit != default]
    ids = "|".join(app for app, _ in special)
    out = [(f'app_id!~"{ids}"' if special else "", default)]
    return out + [(f'app_id="{app}"', limit) for app, limit in special]


def _ratio_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    """One rule per indicator (and per app with its own threshold), all recording
    ``QUALITY_MULTIPLE``; the rule's labels name the indicator (and media) it covers."""
    views = {v.metric: v for v in quality_views()}
    rules = []
    for qa in _sustained():
        higher = views[qa.families[0]].worse == "higher"
        media = {"media": qa.media} if qa.media in ("audio", "video") else {}
        for matcher, limit in _threshold_variants(cfg, qa):
            ms = [f'indicator="{qa.indicator}"', *(f'media="{m}"' for m in media.values())]
            series = QUALITY_VALUE + cfg.sel(*ms, *([matcher] if matcher else []))
            if higher:
                expr = f"{series} / {limit:g}"
            else:
                expr = f"(1 - {series}) / (1 - {limit:g})"  # the knob verbatim
            labels = {"indicator": qa.indicator, **media}
            rules.append({"record": QUALITY_MULTIPLE, "expr": expr, "labels": labels})
    return rules


def ranking_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    return [{"record": QUALITY_VALUE, "expr": _value(cfg)}, *_ratio_rules(cfg)]
