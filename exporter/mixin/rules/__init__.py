"""Prometheus recording and alerting rules, built from ``MixinConfig``.

Four groups: recording rules (traffic gate, data age, failures per source, each app's
distance from its thresholds), the worst-segment rules of the breakdown families, the alerts
(quality: ``category=quality``; exporter health: ``category=health``) and the event-callback
alerts (``rules/callbacks.py``: ``category=recording``, and ``health`` for the receiver's own).
``docs/alerting.md`` explains how they page.
"""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.rules.breakdown import worst_segment_rules
from exporter.mixin.rules.callbacks import callback_alerts
from exporter.mixin.rules.common import (
    DATA_AGE,
    FAILURES,
    SOURCE_ACTIONS,
    USERS,
    users_peak,
    worst_record,
)
from exporter.mixin.rules.health import health_alerts, health_recording
from exporter.mixin.rules.quality import QUALITY_ALERTS, online_users_dropped, quality_alerts
from exporter.mixin.rules.ranking import QUALITY_MULTIPLE, QUALITY_VALUE, ranking_rules

__all__ = [
    "DATA_AGE",
    "FAILURES",
    "QUALITY_ALERTS",
    "QUALITY_MULTIPLE",
    "QUALITY_VALUE",
    "SOURCE_ACTIONS",
    "USERS",
    "alert_rules",
    "build_rules",
    "recording_names",
    "users_peak",
    "worst_record",
]


def build_rules(cfg: MixinConfig) -> dict[str, Any]:
    alerts = quality_alerts(cfg) + [online_users_dropped(cfg)] + health_alerts(cfg)
    return {
        "groups": [
            {
                "name": "volc-rtc.recording",
                "interval": cfg.rule_interval,
                "rules": health_recording(cfg) + ranking_rules(cfg),
            },
            {
                "name": "volc-rtc.breakdown",
                "interval": cfg.rule_interval,
                "rules": worst_segment_rules(cfg),
            },
            {"name": "volc-rtc.alerts", "interval": cfg.rule_interval, "rules": alerts},
            {
                "name": "volc-rtc.callbacks",
                "interval": cfg.rule_interval,
                "rules": callback_alerts(cfg),
            },
        ]
    }


def alert_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    return [r for g in build_rules(cfg)["groups"] for r in g["rules"] if "alert" in r]


def recording_names(cfg: MixinConfig) -> set[str]:
    return {r["record"] for g in build_rules(cfg)["groups"] for r in g["rules"] if "record" in r}
