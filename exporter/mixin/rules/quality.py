"""Quality alerts: two tiers per indicator, gated on recent traffic, held while data is missing,
one rule per app that overrides a threshold; and the worst-segment recording rules their
descriptions read.

Each alert keeps ``product_type`` (and ``media``) in its ``by (...)``, so a web-only problem
pages for its app. The expression has two branches::

    <aggregate of the current value> <cmp> <threshold>
    or (<aggregate of the last value within hold_missing_data> <cmp> <threshold>
        and on (<keys>) ALERTS{alertname="<self>", alertstate="firing"})

The second branch only keeps an alert that is already firing, and only while its series are
missing (``or`` takes it only for keys the first branch lacks): an open incident stays open when
the vendor API or the exporter goes away, yet resolves at the first evaluation that shows good
data. ``keep_firing_for`` would also hold it, but after a recovery too, delaying every resolve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from exporter.mixin.config import AppOverride, MixinConfig
from exporter.mixin.quality import QualityView, quality_views
from exporter.mixin.rules.common import USERS, alert, users_peak, worst_record
from exporter.mixin.templates import app_name, since, worst_segment

__all__ = ["QUALITY_ALERTS", "QualityAlert", "quality_alerts", "worst_segment_rules"]

Tier = Literal["sustained", "severe"]
STAGE = {"first_frame_send_success_ratio": "send", "first_frame_decode_success_ratio": "decode"}


@dataclass(frozen=True)
class QualityAlert:
    name: str
    indicator: str  # the `indicator` label: one per quality question, shared by both tiers
    families: tuple[str, ...]  # QualityView.metric of each signal
    media: str  # "audio"/"video": only that medium; "*": by media; "": no media
    tier: Tier
    threshold: str  # field of Thresholds (sustained) or SevereThresholds (severe)
    severity: str  # field of Severities, or a literal severity
    summary: str  # {what} and {value} are filled in
    what: str


QUALITY_ALERTS: tuple[QualityAlert, ...] = (
    QualityAlert(
        "RtcJoinRoomSuccessLow", "join_room_success", ("join_room_success_ratio",), "",
        "sustained", "join_room_success_min", "join_room_success_low",
        "RTC join success low", "of joins succeed within 5 s",
    ),
    QualityAlert(
        "RtcJoinRoomSuccessSevere", "join_room_success", ("join_room_success_ratio",), "",
        "severe", "join_room_success_min", "critical",
        "RTC joins failing", "of joins succeed within 5 s",
    ),
    QualityAlert(
        "RtcAudioStallHigh", "stall", ("stall_ratio",), "audio",
        "sustained", "audio_stall_max", "audio_stall_high",
        "RTC audio stall high", "of audio call time stalls longer than 80 ms",
    ),
    QualityAlert(
        "RtcVideoStallHigh", "stall", ("stall_ratio",), "video",
        "sustained", "video_stall_max", "video_stall_high",
        "RTC video stall high", "of video call time stalls longer than 500 ms",
    ),
    QualityAlert(
        "RtcVideoStallSevere", "stall", ("stall_ratio",), "video",
        "severe", "video_stall_max", "critical",
        "RTC video stalling badly", "of video call time stalls longer than 500 ms",
    ),
    QualityAlert(
        "RtcFirstFrameFailuresHigh", "first_frame",
        ("first_frame_send_success_ratio", "first_frame_decode_success_ratio"), "*",
        "sustained", "first_frame_success_min", "first_frame_failures_high",
        "RTC first-frame failures", "of first frames succeed",
    ),
    QualityAlert(
        "RtcFirstFrameFailuresSevere", "first_frame",
        ("first_frame_send_success_ratio", "first_frame_decode_success_ratio"), "*",
        "severe", "first_frame_success_min", "critical",
        "RTC first frames failing", "of first frames succeed",
    ),
    QualityAlert(
        "RtcNetworkDelayShareLow", "network_delay", ("network_delay_within_threshold_ratio",),
        "*", "sustained", "network_delay_within_threshold_min", "network_delay_share_low",
        "RTC network delay degraded", "of call time has network delay within 400 ms",
    ),
)  # fmt: skip


def _keys(cfg: MixinConfig, qa: QualityAlert) -> list[str]:
    keys = [*cfg.instance_labels, "app_id", "product_type"]
    if qa.media:
        keys.append("media")
    if len(qa.families) > 1:
        keys.append("stage")
    return keys


def _signal(cfg: MixinConfig, qa: QualityAlert, view: QualityView, app: str, held: bool) -> str:
    media = qa.media if qa.media in ("audio", "video") else ""
    matchers = [f'media="{media}"' if media else "", view.threshold_matcher(media), app]
    series = f"{view.live}{cfg.sel(*(m for m in matchers if m))}"
    if held:
        series = f"last_over_time({series}[{cfg.hold_missing_data}])"
    agg = "max" if view.worse == "higher" else "min"
    keys = ", ".join(k for k in _keys(cfg, qa) if k != "stage")
    out = f"{agg} by ({keys}) ({series})"
    if len(qa.families) > 1:
        out = f'label_replace({out}, "stage", "{STAGE[view.metric]}", "", "")'
    return out


def _limits(cfg: MixinConfig, qa: QualityAlert, ov: AppOverride | None) -> tuple[float, float]:
    """(threshold, traffic gate) of an alert, for one overriding app or the default."""
    tier = cfg.thresholds if qa.tier == "sustained" else cfg.severe
    value = float(getattr(tier, qa.threshold))
    paging = _severity(cfg, qa) == "critical"
    gate = cfg.min_online_users if paging else cfg.min_online_users_warning
    if ov is not None:
        given = ov.thresholds if qa.tier == "sustained" else ov.severe
        value = given.get(qa.threshold, value)
        gate = ov.min_online_users if ov.min_online_users is not None else gate
    return value, gate


def _severity(cfg: MixinConfig, qa: QualityAlert) -> str:
    if qa.severity in ("critical", "warning"):
        return qa.severity
    return str(getattr(cfg.severities, qa.severity))


def _expr(cfg: MixinConfig, qa: QualityAlert, app: str, limit: float, gate: float) -> str:
    views = {v.metric: v for v in quality_views()}
    cmp = ">" if views[qa.families[0]].worse == "higher" else "<"
    now = [f"{_signal(cfg, qa, views[f], app, False)} {cmp} {limit:g}" for f in qa.families]
    held = [f"{_signal(cfg, qa, views[f], app, True)} {cmp} {limit:g}" for f in qa.families]
    keys = ", ".join(_keys(cfg, qa))
    firing = f'ALERTS{{alertname="{qa.name}", alertstate="firing"}}'
    held_expr = "\n    or\n    ".join(held)
    return (
        "(\n  " + "\n  or\n  ".join(now) + "\n  or\n  (\n    " + held_expr + "\n  )\n"
        f"  and on ({keys}) {firing}\n)\n"
        f"and on ({cfg.by('app_id')}) ({users_peak(cfg)} >= {gate:g})"
    )


def _annotations(cfg: MixinConfig, qa: QualityAlert, limit: float) -> dict[str, str]:
    keys = [k for k in _keys(cfg, qa) if k not in cfg.instance_labels]
    detail = " ".join(
        part
        for part, wanted in (
            ("{{ $labels.media }}", qa.media == "*"),
            ("{{ $labels.stage }}", len(qa.families) > 1),
        )
        if wanted
    )
    detail = f" ({detail})" if detail else ""
    clients = '{{ if eq $labels.product_type "web" }}web{{ else }}native{{ end }} clients'
    worst = "".join(
        worst_segment(worst_record(f"volcengine_rtc_breakdown_{f}"), keys) for f in qa.families
    )
    url = (
        f"{cfg.grafana_url}/d/rtc-diagnosis/rtc-diagnosis?var-app_id={{{{ $labels.app_id }}}}"
        "&var-product_type={{ $labels.product_type }}"
        + ("&var-media={{ $labels.media }}" if qa.media else "")
    )
    name = app_name(cfg)
    return {
        "summary": f"{qa.summary}{detail} for {name}: {{{{ $value | humanizePercentage }}}}",
        "description": f"{{{{ $value | humanizePercentage }}}} {qa.what}{detail} for app {name} "
        f"({{{{ $labels.app_id }}}}, {clients}); threshold {limit * 100:g}%, "
        f"since {since(qa.name, keys)}.{worst}",
        "app_name": name,
        "dashboard_url": url,
    }


def _overrides_of(cfg: MixinConfig, qa: QualityAlert) -> list[AppOverride]:
    """The apps whose threshold or gate for this alert differs from the default."""
    default = _limits(cfg, qa, None)
    return [o for o in cfg.overrides if _limits(cfg, qa, o) != default]


def quality_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    rules = []
    for qa in QUALITY_ALERTS:
        special = _overrides_of(cfg, qa)
        variants: list[tuple[str, AppOverride | None]] = [
            (f'app_id!~"{"|".join(o.app_id for o in special)}"' if special else "", None)
        ]
        variants += [(f'app_id="{o.app_id}"', o) for o in special]
        for matcher, ov in variants:
            limit, gate = _limits(cfg, qa, ov)
            for_ = cfg.for_.quality if qa.tier == "sustained" else cfg.for_.severe
            labels = {
                "category": "quality",
                "source": "realtime_quality",
                "indicator": qa.indicator,
                "tier": qa.tier,
            }
            rules.append(
                alert(
                    cfg,
                    qa.name,
                    _expr(cfg, qa, matcher, limit, gate),
                    for_,
                    _severity(cfg, qa),
                    _annotations(cfg, qa, limit),
                    labels,
                )
            )
    return rules


def online_users_dropped(cfg: MixinConfig) -> dict[str, Any]:
    ratio = cfg.thresholds.online_users_drop_ratio
    gate = cfg.min_online_users_warning
    name = app_name(cfg)
    return alert(
        cfg,
        "RtcOnlineUsersDropped",
        f"{USERS}\n< {ratio:g} * ({USERS} offset 1d)\nand ({USERS} offset 1d) >= {gate:g}",
        cfg.for_.online_users_drop,
        cfg.severities.online_users_dropped,
        {
            "summary": f"RTC online users dropped for {name}",
            "description": f"App {name} ({{{{ $labels.app_id }}}}) has {{{{ $value }}}} online "
            f"users, under {ratio:.0%} of the same time yesterday.",
            "app_name": name,
            "dashboard_url": f"{cfg.grafana_url}/d/rtc-overview/rtc-overview"
            "?var-app_id={{ $labels.app_id }}",
        },
        {"category": "quality", "source": "realtime_operation", "indicator": "online_users"},
    )


def worst_segment_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    """Per live breakdown family: the segment (any dimension) furthest below (or above) the
    app's own value, kept only when ``worst_segment_factor`` times worse than the app."""
    f = cfg.worst_segment_factor
    out = []
    for view in quality_views():
        keys = [*cfg.instance_labels, "app_id", "product_type"]
        keys += (["media"] if view.media else []) + (["threshold"] if view.threshold else [])
        on = ", ".join(keys)
        seg, app = f"{view.breakdown}{cfg.sel()}", f"{view.live}{cfg.sel()}"
        if view.worse == "higher":
            expr = f"topk by ({on}) (1, {seg} > on ({on}) group_left () ({f:g} * {app}))"
        else:
            expr = (
                f"bottomk by ({on}) (1, {seg} < on ({on}) group_left () (1 - {f:g} * (1 - {app})))"
            )
        if view.metric in STAGE:
            expr = f'label_replace({expr}, "stage", "{STAGE[view.metric]}", "", "")'
        out.append({"record": worst_record(view.breakdown), "expr": expr})
    return out
