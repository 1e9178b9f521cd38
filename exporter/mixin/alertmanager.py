"""An example Alertmanager routing tree: critical pages, warnings go to chat, by app."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig

__all__ = ["build_alertmanager"]


def build_alertmanager(cfg: MixinConfig) -> dict[str, Any]:
    r = cfg.receivers
    return {
        "route": {
            "receiver": "chat",
            "group_by": ["alertname", "app_id"],
            "group_wait": r.group_wait,
            "group_interval": r.group_interval,
            "repeat_interval": r.repeat_interval,
            "routes": [
                {
                    "receiver": "pager",
                    "matchers": ['severity="critical"', 'alertname=~"Rtc.*"'],
                    "continue": True,  # pages also show in chat for context
                },
                {"receiver": "chat", "matchers": ['alertname=~"Rtc.*"']},
            ],
        },
        "inhibit_rules": [
            {
                # an app's quality alerts are meaningless while its data source is down
                "source_matchers": ['alertname="RtcSourceDown"'],
                "target_matchers": ['category="quality"'],
                "equal": ["app_id"],
            },
            {
                # and all of them while the exporter itself is down
                "source_matchers": ['alertname="RtcExporterDown"'],
                "target_matchers": ['category="quality"'],
            },
            {
                "source_matchers": ['alertname="RtcExporterDown"'],
                "target_matchers": ['alertname=~"RtcSourceDown|RtcDataStale"'],
            },
        ],
        "receivers": [
            {
                "name": "pager",
                "webhook_configs": [{"url": r.pager_webhook_url, "send_resolved": True}],
            },
            {
                "name": "chat",
                "webhook_configs": [{"url": r.chat_webhook_url, "send_resolved": True}],
            },
        ],
    }
