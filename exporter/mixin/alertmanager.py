"""An example Alertmanager routing tree: critical alerts page (one page per app per incident;
account-level alerts, which have no app, share one), everything goes to chat (health alerts as
one message per alert and source, however many apps they hit), and inhibitions that only mute
what another firing alert explains.

The two tiers of a quality alert are not inhibited here: the rules never fire the sustained
tier while the severe one fires (unless it fired first), so the pager never receives a resolve
of an alert it was never sent."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig

__all__ = ["build_alertmanager"]


def build_alertmanager(cfg: MixinConfig) -> dict[str, Any]:
    r = cfg.receivers
    inst = list(cfg.instance_labels)  # [cluster,] job, instance
    cluster = [cfg.cluster_label] if cfg.cluster_label else []
    return {
        "route": {
            "receiver": "chat",
            "group_by": [*cluster, "alertname", "app_id"],
            "group_wait": r.group_wait,
            "group_interval": r.group_interval,
            "repeat_interval": r.repeat_interval,
            "routes": [
                {
                    # one page per app per incident: every critical alert of an app (audio and
                    # video stall, severe and sustained tier, blind) joins the same group
                    "receiver": "pager",
                    "matchers": ['severity="critical"', 'alertname=~"Rtc.*"'],
                    "group_by": [*cluster, "app_id"],
                    "group_wait": r.pager_group_wait,
                    "group_interval": r.pager_group_interval,
                    "continue": True,  # pages also show in chat for context
                },
                {
                    # one chat message per alert and source, however many apps it hits
                    "receiver": "chat",
                    "matchers": ['category="health"', 'alertname=~"Rtc.*"'],
                    "group_by": [*cluster, "alertname", "source"],
                },
                {"receiver": "chat", "matchers": ['alertname=~"Rtc.*"']},
            ],
        },
        "inhibit_rules": [
            {
                # an exporter that cannot be scraped explains its own apps' silence
                "source_matchers": ['alertname="RtcExporterDown"'],
                "target_matchers": ['category=~"quality|health"', 'alertname!="RtcExporterDown"'],
                "equal": inst,
            },
            {
                # only a failure of the source an alert reads from mutes it: a failing
                # watch list (call_detail) or report never hides a stall page
                "source_matchers": [
                    'alertname="RtcSourceDown"',
                    'source=~"realtime_quality|realtime_operation"',
                ],
                "target_matchers": ['category="quality"'],
                "equal": [*inst, "app_id", "source"],
            },
            {
                # throttling or failing credentials explain the sources they bring down
                "source_matchers": ['alertname=~"RtcApiThrottled|RtcApiAuthFailing"'],
                "target_matchers": ['alertname="RtcSourceDown"'],
                "equal": [*inst, "source", "reason"],
            },
            {
                # the vendor API failing for the whole account is one page, not one blind
                # page per app (the vendor alert holds until no app is blind) ...
                "source_matchers": ['alertname="RtcVendorApiFailing"'],
                "target_matchers": ['alertname="RtcQualityBlind"'],
                "equal": inst,
            },
            {
                # ... nor a quality page on the last value seen before the data stopped
                "source_matchers": ['alertname="RtcVendorApiFailing"'],
                "target_matchers": ['category="quality"'],
                "equal": inst,
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
