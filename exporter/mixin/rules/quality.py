"""Quality alerts: two tiers per indicator, gated on recent traffic, one rule per app that
overrides a threshold.

Each alert keeps ``product_type`` (and ``media``) in its ``by (...)``, so a web-only problem
pages for its app. The expression is the current value plus three branches that only keep an
alert that already exists (``<op>_over_time`` of the alert's own series)::

    <value now> <cmp> <threshold>
    or (<worst value within for.clear> <cmp> <hold>            # resolve hysteresis
        or <last value within hold_missing_data> <cmp> <hold>)  # data missing
       and on (<keys>) ALERTS{alertname="<self>", alertstate="firing"}
    or <last value within blind_after> <cmp> <threshold>        # a short gap keeps `for` running
       and on (<keys>) ALERTS{alertname="<self>", alertstate="pending"}

A firing alert resolves once ``for.clear`` has passed without a bad value (one page per
flapping incident, not one per flap); ``<hold>`` is the sustained threshold for both tiers, so a
severe incident that eases to a moderate one stays the severe page. The sustained tier does not
fire while the severe tier of the same indicator fires (unless it fired first), so the pager
never gets a resolve of an alert it was never sent. ``docs/alerting.md`` explains the timing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from exporter.mixin.config import AppOverride, MixinConfig
from exporter.mixin.quality import QualityView, quality_views
from exporter.mixin.rules.common import USERS, alert, users_peak, worst_record
from exporter.mixin.templates import app_name, since, worst_segment

__all__ = [
    "QUALITY_ALERTS",
    "STAGE",
    "QualityAlert",
    "counterpart",
    "hold_limit",
    "keys",
    "limits",
    "online_users_dropped",
    "quality_alerts",
    "severity",
    "signal",
    "variants",
]

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


# each severe tier comes before its sustained tier: rules of a group run in order, and the
# sustained rule reads the severe one's ALERTS of the same evaluation
QUALITY_ALERTS: tuple[QualityAlert, ...] = (
    QualityAlert(
        "RtcJoinRoomSuccessSevere", "join_room_success", ("join_room_success_ratio",), "",
        "severe", "join_room_success_min", "critical",
        "RTC joins failing", "of joins succeed within 5 s",
    ),
    QualityAlert(
        "RtcJoinRoomSuccessLow", "join_room_success", ("join_room_success_ratio",), "",
        "sustained", "join_room_success_min", "join_room_success_low",
        "RTC join success low", "of joins succeed within 5 s",
    ),
    QualityAlert(
        "RtcAudioStallSevere", "stall", ("stall_ratio",), "audio",
        "severe", "audio_stall_max", "critical",
        "RTC audio stalling badly", "of audio call time stalls longer than 80 ms",
    ),
    QualityAlert(
        "RtcAudioStallHigh", "stall", ("stall_ratio",), "audio",
        "sustained", "audio_stall_max", "audio_stall_high",
        "RTC audio stall high", "of audio call time stalls longer than 80 ms",
    ),
    QualityAlert(
        "RtcVideoStallSevere", "stall", ("stall_ratio",), "video",
        "severe", "video_stall_max", "critical",
        "RTC video stalling badly", "of video call time stalls longer than 500 ms",
    ),
    QualityAlert(
        "RtcVideoStallHigh", "stall", ("stall_ratio",), "video",
        "sustained", "video_stall_max", "video_stall_high",
        "RTC video stall high", "of video call time stalls longer than 500 ms",
    ),
    QualityAlert(
        "RtcFirstFrameFailuresSevere", "first_frame",
        ("first_frame_send_success_ratio", "first_frame_decode_success_ratio"), "*",
        "severe", "first_frame_success_min", "critical",
        "RTC first frames failing", "of first frames succeed",
    ),
    QualityAlert(
        "RtcFirstFrameFailuresHigh", "first_frame",
        ("first_frame_send_success_ratio", "first_frame_decode_success_ratio"), "*",
        "sustained", "first_frame_success_min", "first_frame_failures_high",
        "RTC first-frame failures", "of first frames succeed",
    ),
    QualityAlert(
        "RtcNetworkDelayShareLow", "network_delay", ("network_delay_within_threshold_ratio",),
        "*", "sustained", "network_delay_within_threshold_min", "network_delay_share_low",
        "RTC network delay degraded", "of call time has network delay within 400 ms",
    ),
)  # fmt: skip


def counterpart(qa: QualityAlert) -> QualityAlert | None:
    """The other tier of the same indicator and medium, if there is one."""
    for other in QUALITY_ALERTS:
        if other.tier != qa.tier and (other.indicator, other.media, other.families) == (
            qa.indicator,
            qa.media,
            qa.families,
        ):
            return other
    return None


def keys(cfg: MixinConfig, qa: QualityAlert) -> list[str]:
    out = [*cfg.instance_labels, "app_id", "product_type"]
    if qa.media:
        out.append("media")
    if len(qa.families) > 1:
        out.append("stage")
    return out


def _views() -> dict[str, QualityView]:
    return {v.metric: v for v in quality_views()}


def signal(cfg: MixinConfig, qa: QualityAlert, view: QualityView, app: str, over: str = "") -> str:
    """The alert's value per key from one family; ``over="last_over_time(%s[1h])"`` wraps the
    series in a range function first."""
    media = qa.media if qa.media in ("audio", "video") else ""
    matchers = [f'media="{media}"' if media else "", view.threshold_matcher(media), app]
    series = f"{view.live}{cfg.sel(*(m for m in matchers if m))}"
    if over:
        series = over % series
    agg = "max" if view.worse == "higher" else "min"
    by = ", ".join(k for k in keys(cfg, qa) if k != "stage")
    out = f"{agg} by ({by}) ({series})"
    if len(qa.families) > 1:
        out = f'label_replace({out}, "stage", "{STAGE[view.metric]}", "", "")'
    return out


def limits(cfg: MixinConfig, qa: QualityAlert, ov: AppOverride | None) -> tuple[float, float]:
    """(threshold, traffic gate) of an alert, for one overriding app or the default."""
    tier = cfg.thresholds if qa.tier == "sustained" else cfg.severe
    value = float(getattr(tier, qa.threshold))
    gate = cfg.min_online_users if severity(cfg, qa) == "critical" else cfg.min_online_users_warning
    if ov is not None:
        given = ov.thresholds if qa.tier == "sustained" else ov.severe
        value = given.get(qa.threshold, value)
        gate = ov.min_online_users if ov.min_online_users is not None else gate
    return value, gate


def hold_limit(cfg: MixinConfig, qa: QualityAlert, ov: AppOverride | None) -> float:
    """Where a firing alert's hysteresis ends: the sustained tier's threshold."""
    if qa.tier == "sustained":
        return limits(cfg, qa, ov)[0]
    sustained = counterpart(qa)
    if sustained is None:
        return limits(cfg, qa, ov)[0]
    return limits(cfg, sustained, ov)[0]


def severity(cfg: MixinConfig, qa: QualityAlert) -> str:
    if qa.severity in ("critical", "warning"):
        return qa.severity
    return str(getattr(cfg.severities, qa.severity))


def _branch(cfg: MixinConfig, qa: QualityAlert, app: str, limit: float, over: str = "") -> str:
    """``<signal> <cmp> <limit>`` for each family of the alert, joined with ``or``."""
    views = _views()
    cmp = ">" if views[qa.families[0]].worse == "higher" else "<"
    return "\n    or\n    ".join(
        f"{signal(cfg, qa, views[f], app, over)} {cmp} {limit:g}" for f in qa.families
    )


def _expr(
    cfg: MixinConfig, qa: QualityAlert, app: str, limit: float, hold: float, gate: float
) -> str:
    worst = "max_over_time" if _views()[qa.families[0]].worse == "higher" else "min_over_time"
    k = ", ".join(keys(cfg, qa))
    mine = f'ALERTS{{alertname="{qa.name}", alertstate="%s"}}'
    gap = f"{cfg.thresholds.blind_after_seconds:.0f}s"
    expr = (
        f"(\n    {_branch(cfg, qa, app, limit)}\n  or\n  (\n"
        f"    {_branch(cfg, qa, app, hold, f'{worst}(%s[{cfg.for_.clear}])')}\n    or\n"
        f"    {_branch(cfg, qa, app, hold, f'last_over_time(%s[{cfg.hold_missing_data}])')}\n"
        f"  )\n  and on ({k}) {mine % 'firing'}\n  or\n  (\n"
        f"    {_branch(cfg, qa, app, limit, f'last_over_time(%s[{gap}])')}\n"
        f"  )\n  and on ({k}) {mine % 'pending'}\n)"
    )
    severe = counterpart(qa)
    if qa.tier == "sustained" and severe is not None:
        expr += (
            f'\nunless on ({k}) (\n  ALERTS{{alertname="{severe.name}", alertstate="firing"}}\n'
            f"  unless on ({k}) {mine % 'firing'}\n)"
        )
    return expr + f"\nand on ({cfg.by('app_id')}) ({users_peak(cfg)} >= {gate:g})"


def _annotations(cfg: MixinConfig, qa: QualityAlert, limit: float, hold: float) -> dict[str, str]:
    k = [x for x in keys(cfg, qa) if x not in cfg.instance_labels]
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
        worst_segment(worst_record(f"volcengine_rtc_breakdown_{f}"), k) for f in qa.families
    )
    url = (
        f"{cfg.grafana_url}/d/rtc-diagnosis/rtc-diagnosis?var-app_id={{{{ $labels.app_id }}}}"
        "&var-product_type={{ $labels.product_type }}"
        + ("&var-media={{ $labels.media }}" if qa.media else "")
    )
    name = app_name(cfg)
    side = "over" if _views()[qa.families[0]].worse == "higher" else "under"
    back = "under" if side == "over" else "over"
    return {
        "summary": f"{qa.summary}{detail} for {name}: {{{{ $value | humanizePercentage }}}}",
        "description": f"{{{{ $value | humanizePercentage }}}} {qa.what}{detail} for app {name} "
        f"({{{{ $labels.app_id }}}}, {clients}); threshold {limit * 100:g}%, "
        f"since {since(qa.name, k)}; resolves after {cfg.for_.clear} {back} "
        f"{hold * 100:g}%.{worst}",
        "app_name": name,
        "dashboard_url": url,
    }


def _key(cfg: MixinConfig, qa: QualityAlert, ov: AppOverride | None) -> tuple[float, ...]:
    return (*limits(cfg, qa, ov), hold_limit(cfg, qa, ov))


def variants(cfg: MixinConfig, qa: QualityAlert) -> list[tuple[str, AppOverride | None]]:
    """(app matcher, override): the default rule, then one per app whose thresholds or gate
    for this alert differ from the default."""
    default = _key(cfg, qa, None)
    special = [o for o in cfg.overrides if _key(cfg, qa, o) != default]
    out: list[tuple[str, AppOverride | None]] = [
        (f'app_id!~"{"|".join(o.app_id for o in special)}"' if special else "", None)
    ]
    return out + [(f'app_id="{o.app_id}"', o) for o in special]


def quality_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    rules = []
    for qa in QUALITY_ALERTS:
        for matcher, ov in variants(cfg, qa):
            limit, gate = limits(cfg, qa, ov)
            hold = hold_limit(cfg, qa, ov)
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
                    _expr(cfg, qa, matcher, limit, hold, gate),
                    for_,
                    severity(cfg, qa),
                    _annotations(cfg, qa, limit, hold),
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
