"""docs/runbooks.md: one section per alert — what it means, what the page tells you, how to
confirm, where to look (breakdown and watched rooms for quality alerts), what to check first."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.mixin.config import MixinConfig
from exporter.mixin.rules import alert_rules
from exporter.mixin.rules.callbacks import CALLBACK_RUNBOOKS
from exporter.mixin.rules.sources import EVIDENCE_GATED

__all__ = ["ALERTS", "AlertDoc", "render_runbooks"]


@dataclass(frozen=True)
class AlertDoc:
    name: str
    meaning: str
    confirm: str
    first_checks: str


QUALITY_PAGE = (
    "The page names the app (`app_name`, `app_id`), the client type (`product_type`: native "
    "SDKs or web), the value now and the threshold, since when the data has shown it, and "
    "the worst segment when one OS, network or region is far worse than the app. "
    "`dashboard_url` opens *RTC diagnosis* with the app preselected."
)
FIND_WHERE = (
    "**Find where.** On *RTC diagnosis* (the alert's `dashboard_url`): the indicator's bar "
    "gauges by OS, network and province show whether one segment carries the problem (the "
    "whole app's value is one of the bars); the report rows show whether it existed "
    "yesterday; *Users by region* tells how many users a bad region has; the watched rooms "
    "(busiest rooms, or the ones you configured) show affected users with their OS, network, "
    "SDK version and their loss, delay and stalls per peer."
)
HELD = (
    "It resolves only after `for.clear` without a bad value (a flapping problem is one page); "
    "a severe-tier page stays open until the value is back under the sustained threshold, and "
    "the sustained tier never pages on top of it. While its data is missing (vendor API or "
    "exporter down) a firing quality alert stays firing for up to `hold_missing_data`, and a "
    "pending one keeps its `for` clock through a gap shorter than `blind_after_seconds`; "
    "`RtcQualityBlind` tells you when that happens."
)

ALERTS: tuple[AlertDoc, ...] = (
    AlertDoc("RtcJoinRoomSuccessLow",
             "Fewer users than the threshold join a room within 5 s, for an app with real "
             "traffic (sustained tier).",
             "RTC overview → *Join success (5 s)* for the app; compare with *Online users*.",
             "Token service and AppKey rotation (joins fail on bad tokens); a client release; "
             "the vendor status page; one region or network type (diagnosis)."),
    AlertDoc("RtcJoinRoomSuccessSevere",
             "Join success fell below the severe threshold: many users cannot join at all. "
             "Pages within about 3 minutes of the data showing it; also fires during a total "
             "outage when users drain away (the gate looks at the last hour's peak).",
             "RTC overview → *Join success (5 s)* and *Online users* (falling users confirm "
             "an outage).",
             "As for RtcJoinRoomSuccessLow, first the token service and recent deploys."),
    AlertDoc("RtcAudioStallHigh",
             "The share of call time with audio stalls longer than 80 ms is above the "
             "threshold.",
             "RTC overview → *Audio stall rate*; RTC client watch for the watched rooms.",
             "Packet loss and delay on the watched users; network delay share; a client "
             "release; vendor incidents."),
    AlertDoc("RtcAudioStallSevere",
             "Audio stalls over 80 ms during more than the severe share of call time: voice is "
             "breaking up for many users (an audio-only app pages on this within about 3 "
             "minutes instead of waiting for the sustained tier).",
             "RTC overview → *Audio stall rate* (red line).",
             "As for RtcAudioStallHigh; a jump on every segment points at the vendor or a "
             "release, one OS or network at that segment."),
    AlertDoc("RtcVideoStallHigh",
             "The share of call time with video stalls longer than 500 ms is above the "
             "threshold (sustained tier).",
             "RTC overview → *Video stall rate*; client bitrate and frame rate on the watch.",
             "Uplink bitrate and loss of publishers; CPU usage of clients; resolution "
             "changes; vendor incidents."),
    AlertDoc("RtcVideoStallSevere",
             "Video stalls over 500 ms during more than the severe share of call time: video "
             "is unusable for many users. Pages within about 3 minutes.",
             "RTC overview → *Video stall rate* (red line).",
             "As for RtcVideoStallHigh; a sudden jump for all segments points at the vendor "
             "or a release, one segment at a network or region."),
    AlertDoc("RtcFirstFrameFailuresHigh",
             "First audio/video frames fail to be sent or decoded for too many streams (label "
             "`stage`: send or decode).",
             "RTC overview → *First-frame send success* / *First-frame decode success*.",
             "Device permissions (camera/microphone) after an OS or app update; codec "
             "support on new devices; publish failures in client logs."),
    AlertDoc("RtcFirstFrameFailuresSevere",
             "First frames fail for so many streams that users see or hear nothing (severe "
             "tier, critical).",
             "RTC overview → first-frame panels (red line).",
             "As for RtcFirstFrameFailuresHigh; check the OS breakdown first (a new OS "
             "version), then the SDK versions of watched users."),
    AlertDoc("RtcNetworkDelayShareLow",
             "Too little call time has network transport delay within 400 ms.",
             "RTC overview → *Network delay within 400 ms*.",
             "Which regions or networks (diagnosis); cross-border traffic (consider a per-app "
             "override); client network delay on the watch list."),
    AlertDoc("RtcOnlineUsersDropped",
             "Online users fell sharply against the same time a day earlier.",
             "RTC overview → *Online users* with the day-earlier line.",
             "App store or release problems, login/token outages, a marketing event "
             "yesterday; is the exporter's data fresh (*Exporter health*)?"),
    AlertDoc("RtcExporterDown",
             "Prometheus cannot scrape the exporter: no RTC data or alerts from it. Its apps' "
             "open quality alerts stay open (held) and their new ones cannot fire.",
             "Prometheus targets page; Exporter health goes blank.",
             "Pod/container status and logs; `/-/healthy`; network policy, TLS or basic-auth "
             "settings between Prometheus and the exporter (a scrape answered 401 is down)."),
    AlertDoc("RtcExporterAbsent",
             "Prometheus has no target at all for the exporter's job: every RTC alert is "
             "silent, RtcExporterDown included.",
             "Prometheus *Status → Targets*: no `volc-rtc` job.",
             "The Deployment/StatefulSet was deleted or scaled to 0; the ServiceMonitor no "
             "longer selects the Service, or your Prometheus no longer selects the "
             "ServiceMonitor (`release` label); the scrape job was renamed (the mixin's "
             "`exporter_job` must match)."),
    AlertDoc("RtcSourceDown",
             "The exporter's refreshes of one API source for one app have failed for `for` and "
             "still fail (it fires on a failed call, never after the vendor has recovered); "
             "label `reason` says why (auth, throttled, timeout, server, client, schema, "
             "network; unknown: a failure inside the exporter).",
             "Exporter health → *Sources up* and *API failures by source and reason*.",
             "auth: key, policy, clock; throttled: quota (RtcApiThrottled explains it); "
             "server: the vendor; schema: an API change; network: egress. The exporter log "
             "names the error code and request id. It also fires when only one product "
             "type fails (e.g. `web` answers with an error while `native` works: the log says "
             "`source partly down` with the `product_type`); the dashboards keep the healthy "
             "product type. Only a realtime_quality / realtime_operation failure mutes the "
             "app's quality alerts."),
    AlertDoc("RtcDataStale",
             "Realtime data exported for an app is older than the threshold plus the source's "
             "planned refresh interval, and a refresh has just succeeded without newer data.",
             "Exporter health → *Data age*.",
             "Vendor data delay (the API returns no new buckets); the exporter's clock; "
             "`timezone` setting."),
    AlertDoc("RtcQualityBlind",
             "The exporter has had no fresh realtime quality data for an app that had "
             "traffic in the last hour: its quality alerts can neither fire nor resolve. "
             "Pages whatever the cause; the description names it (exporter not scraped, "
             "target gone, source failing with its reason, or a vendor data delay).",
             "Exporter health → *Data age* and *Sources up* for the app.",
             "Follow the cause in the description; meanwhile watch the vendor console for "
             "the app, as the dashboards are blind too."),
    AlertDoc("RtcVendorApiFailing",
             "No realtime quality call of the exporter has succeeded for any app for longer "
             "than the source's interval plus `for`, while its calls fail: the vendor API is "
             "down (or throttles or refuses the account) for everything. One page per "
             "exporter, with the reason, the last success and the apps affected; the per-app "
             "RtcQualityBlind pages are muted while it fires, and it stays open until no app "
             "is blind.",
             "Exporter health → *API failures by source and reason*, *Time since last "
             "success*; the vendor's status page and console.",
             "server/timeout/network: the vendor or your egress (proxy, DNS, firewall); "
             "throttled: another tool using the account's quota; auth: RtcApiAuthFailing. "
             "Open quality pages stay open meanwhile; watch the vendor console."),
    AlertDoc("RtcApiThrottled",
             "The vendor has throttled the exporter's calls for a source for `for` and still "
             "does (never fires once throttling has stopped).",
             "Exporter health → *Throttled calls*, *Quota remaining*, *API calls by action*.",
             "Other tools sharing the account's quota; `rate_limit` settings (BytePlus quotas "
             "are far lower); several exporters or shards configured for the same apps."),
    AlertDoc("RtcApiAuthFailing",
             "API calls for a source fail authentication or authorisation: no vendor data is "
             "coming in.",
             "Exporter health → *API failures by source and reason* (reason=auth).",
             "Expired or rotated AccessKey, missing IAM policy for the RTC data APIs, clock "
             "skew over 15 minutes on the exporter host."),
    *(AlertDoc(*doc) for doc in CALLBACK_RUNBOOKS),  # event callbacks
)  # fmt: skip


def render_runbooks(cfg: MixinConfig) -> str:
    rules: dict[str, dict[str, object]] = {}
    for r in alert_rules(cfg):
        rules.setdefault(r["alert"], r)
    lines = [
        "# Runbooks",
        "",
        "One section per alert of `deploy/prometheus/rules/volc-rtc.rules.yml` (generated by",
        "`volc-rtc-exporter mixin` with the values shown; regenerate with your own). How paging",
        "works (tiers, gates, held alerts, inhibitions, grouping, resolve timing, per-app",
        "overrides): [`alerting.md`](alerting.md).",
        "",
    ]
    for doc in ALERTS:
        rule = rules[doc.name]
        labels = rule["labels"]
        assert isinstance(labels, dict)
        quality = labels.get("category") == "quality" and doc.name != "RtcOnlineUsersDropped"
        gated = EVIDENCE_GATED.get(doc.name)
        timing = f"*for* `{rule['for']}`"
        if gated == "vendor_failing":
            timing = f"*for* `{cfg.for_.vendor_failing}` past the source's interval, no success"
        elif gated:
            timing = f"*for* `{getattr(cfg.for_, gated)}`, on fresh evidence"
        lines += [
            f"## {doc.name}",
            "",
            f"*Severity* `{labels['severity']}`, {timing}. {doc.meaning}",
            "",
        ]
        if quality:
            lines += [f"**The page.** {QUALITY_PAGE} {HELD}", ""]
        lines += [
            f"**Confirm.** {doc.confirm}",
            "",
            *([FIND_WHERE, ""] if quality else []),
            f"**Check first.** {doc.first_checks}",
            "",
            "<details><summary>Expression</summary>",
            "",
            "```promql",
            str(rule["expr"]).strip(),
            "```",
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)
