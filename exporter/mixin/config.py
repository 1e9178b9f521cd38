"""One settings object for every generated artefact: thresholds, tiers, ``for`` durations,
traffic gates, selectors, per-app overrides, receivers and links. ``volc-rtc-exporter mixin
--config FILE`` overrides any of these from YAML; ``docs/alerting.md`` explains each one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from exporter.errors import ConfigError
from exporter.mixin.callbacks import CallbackAlerts
from exporter.settings import format_validation_error
from exporter.thresholds import SUSTAINED, TRAFFIC_FLOOR, TRAFFIC_WINDOW_SECONDS

__all__ = [
    "PLACEHOLDER_DOCS_URL",
    "PLACEHOLDER_GRAFANA_URL",
    "AppOverride",
    "MixinConfig",
    "Thresholds",
    "load_mixin_config",
    "placeholders",
    "seconds",
]

Severity = Literal["critical", "warning"]
_DURATION = r"^\d+(ms|s|m|h|d)$"
_LABEL = r"^([a-zA-Z_][a-zA-Z0-9_]*)?$"
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
# the shipped links: right for the Compose stack (Grafana on localhost:3000) and the project's
# docs, wrong for anyone else's on-call; `mixin` warns while they are left
PLACEHOLDER_GRAFANA_URL = "http://localhost:3000"
PLACEHOLDER_DOCS_URL = "https://github.com/volc-rtc-exporter/volc-rtc-exporter/blob/main/docs"


def seconds(duration: str) -> float:
    """``"2m"`` -> 120.0 (the Prometheus durations this config accepts)."""
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)", duration)
    if m is None:
        raise ValueError(f"not a duration: {duration!r}")
    return int(m.group(1)) * _UNIT[m.group(2)]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_M):
    """The sustained tier (``for.quality``) and the health thresholds."""

    # the defaults live in exporter.thresholds: the exporter's diagnosis triggers use them too
    join_room_success_min: float = Field(
        default=SUSTAINED["join_room_success_min"], gt=0, le=1, description="5 s join success"
    )
    audio_stall_max: float = Field(
        default=SUSTAINED["audio_stall_max"], gt=0, le=1, description="80 ms audio stall"
    )
    video_stall_max: float = Field(
        default=SUSTAINED["video_stall_max"], gt=0, le=1, description="500 ms video stall"
    )
    first_frame_success_min: float = Field(
        default=SUSTAINED["first_frame_success_min"], gt=0, le=1, description="send and decode"
    )
    network_delay_within_threshold_min: float = Field(
        default=SUSTAINED["network_delay_within_threshold_min"], gt=0, le=1
    )
    online_users_drop_ratio: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="alert when users fall below this share of a day earlier",
    )
    data_age_max_seconds: float = Field(
        default=600, gt=0, description="realtime data older than this (RtcDataStale)"
    )
    blind_after_seconds: float = Field(
        default=900,
        ge=1,  # a pending alert's gap tolerance is rendered as a range in whole seconds
        description="no realtime quality data this long (RtcQualityBlind)",
    )


class SevereThresholds(_M):
    """The severe tier (``for.severe``): pages within minutes of the data showing it."""

    join_room_success_min: float = Field(default=0.85, gt=0, le=1)
    audio_stall_max: float = Field(default=0.15, gt=0, le=1)
    video_stall_max: float = Field(default=0.20, gt=0, le=1)
    first_frame_success_min: float = Field(default=0.90, gt=0, le=1)


class ForDurations(_M):
    quality: str = Field(default="10m", pattern=_DURATION, description="sustained tier")
    severe: str = Field(default="2m", pattern=_DURATION, description="severe tier")
    clear: str = Field(
        default="3m",
        pattern=_DURATION,
        description="a firing quality alert resolves after this long without a bad value",
    )
    online_users_drop: str = Field(default="15m", pattern=_DURATION)
    exporter_down: str = Field(default="5m", pattern=_DURATION)
    exporter_absent: str = Field(default="10m", pattern=_DURATION)
    source_down: str = Field(default="10m", pattern=_DURATION)
    data_stale: str = Field(default="5m", pattern=_DURATION)
    blind: str = Field(default="1m", pattern=_DURATION)
    vendor_failing: str = Field(
        default="2m",
        pattern=_DURATION,
        description="no realtime_quality refresh succeeded for this long past its interval",
    )
    throttled: str = Field(default="10m", pattern=_DURATION)
    auth_failing: str = Field(default="5m", pattern=_DURATION)


class Severities(_M):
    join_room_success_low: Severity = "critical"
    audio_stall_high: Severity = "critical"
    video_stall_high: Severity = "critical"
    first_frame_failures_high: Severity = "warning"
    network_delay_share_low: Severity = "warning"
    online_users_dropped: Severity = "warning"
    exporter_down: Severity = "critical"
    exporter_absent: Severity = "critical"
    source_down: Severity = "warning"
    data_stale: Severity = "warning"
    quality_blind: Severity = "critical"
    vendor_failing: Severity = "critical"
    throttled: Severity = "warning"
    auth_failing: Severity = "critical"


class Receivers(_M):
    pager_webhook_url: str = Field(
        default="http://pager-bridge.example:9095/alerts", description="PagerDuty/Opsgenie stand-in"
    )
    chat_webhook_url: str = Field(default="http://chat-bridge.example:9096/alerts")
    group_wait: str = Field(default="30s", pattern=_DURATION)
    group_interval: str = Field(default="5m", pattern=_DURATION)
    repeat_interval: str = Field(default="4h", pattern=_DURATION)
    pager_group_wait: str = Field(default="30s", pattern=_DURATION)
    pager_group_interval: str = Field(
        default="1m", pattern=_DURATION, description="updates and resolves of an open page"
    )


class AppOverride(_M):
    """Different normal levels for one app (e.g. cross-border traffic): any threshold or gate
    given here replaces the default for that app only; the rest stays as configured."""

    app_id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    thresholds: dict[str, float] = Field(default_factory=dict)
    severe: dict[str, float] = Field(default_factory=dict)
    min_online_users: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _known(self) -> AppOverride:
        for given, model in ((self.thresholds, Thresholds), (self.severe, SevereThresholds)):
            merged = model().model_dump() | given
            model.model_validate(merged)  # unknown key or out-of-range value: ValidationError
        return self


class MixinConfig(_M):
    selector: str = Field(
        default="", description='extra label matchers for every vendor series, e.g. job="volc-rtc"'
    )
    exporter_job: str = Field(
        default="volc-rtc",
        description="the exporter's scrape job (up{}); the generated ServiceMonitor sets it",
    )
    cluster_label: str = Field(
        default="",
        pattern=_LABEL,
        description="label that tells clusters apart (e.g. cluster), kept in every aggregation",
    )
    min_online_users: float = Field(
        default=200, ge=0, description="traffic gate of paging quality alerts (peak users)"
    )
    min_online_users_warning: float = Field(
        default=TRAFFIC_FLOOR, ge=0, description="traffic gate of warning-level quality alerts"
    )
    gate_window: str = Field(
        default=f"{TRAFFIC_WINDOW_SECONDS / 3600:g}h",
        pattern=_DURATION,
        description="the gate looks at the peak over this window",
    )
    hold_missing_data: str = Field(
        default="1h",
        pattern=_DURATION,
        description="a firing quality alert stays firing this long while its data is missing",
    )
    worst_segment_factor: float = Field(
        default=1.5, gt=1, description="a segment is named when this much worse than the app"
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    severe: SevereThresholds = Field(default_factory=SevereThresholds)
    for_: ForDurations = Field(default_factory=ForDurations, alias="for")
    severities: Severities = Field(default_factory=Severities)
    receivers: Receivers = Field(default_factory=Receivers)
    overrides: list[AppOverride] = Field(default_factory=list)
    callbacks: CallbackAlerts = Field(default_factory=CallbackAlerts)
    rule_interval: str = Field(default="30s", pattern=_DURATION)
    grafana_url: str = Field(
        default=PLACEHOLDER_GRAFANA_URL,
        description="Grafana as the on-call opens it: every alert's dashboard_url starts here",
    )
    docs_url: str = Field(
        default=PLACEHOLDER_DOCS_URL,
        description="where your team reads docs/ (runbook_url of every alert, metric reference)",
    )
    dashboard_refresh: str = "1m"

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("selector")
    @classmethod
    def _selector(cls, v: str) -> str:
        v = v.strip().strip("{}").strip()
        if v and "=" not in v:
            raise ValueError('must be label matchers like job="volc-rtc"')
        return v

    @field_validator("grafana_url", "docs_url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http(s) URL")
        return v.rstrip("/")

    @model_validator(mode="after")
    def _unique_overrides(self) -> MixinConfig:
        ids = [o.app_id for o in self.overrides]
        if len(ids) != len(set(ids)):
            raise ValueError("overrides: each app_id at most once")
        return self

    def sel(self, *matchers: str) -> str:
        """``{selector, matchers...}`` for a PromQL series selector."""
        parts = [m for m in (self.selector, *matchers) if m]
        return "{" + ", ".join(parts) + "}" if parts else ""

    @property
    def instance_labels(self) -> tuple[str, ...]:
        """Labels that tell exporters (and clusters) apart; kept in every ``by (...)``."""
        return ((self.cluster_label,) if self.cluster_label else ()) + ("job", "instance")

    def by(self, *labels: str) -> str:
        """``cluster, job, instance, <labels>`` for ``by (...)`` / ``on (...)``."""
        return ", ".join((*self.instance_labels, *labels))


def placeholders(cfg: MixinConfig) -> list[str]:
    """One warning per link setting left at its shipped placeholder."""
    out = []
    if cfg.grafana_url.rstrip("/") == PLACEHOLDER_GRAFANA_URL:
        out.append(
            f"grafana_url is the placeholder {PLACEHOLDER_GRAFANA_URL}: every alert's "
            "dashboard_url points there; set it to the Grafana address your on-call opens"
        )
    if cfg.docs_url.rstrip("/") == PLACEHOLDER_DOCS_URL:
        out.append(
            f"docs_url is the placeholder {PLACEHOLDER_DOCS_URL}: every alert's runbook_url "
            "points there; set it to where your team reads docs/runbooks.md"
        )
    r = cfg.receivers
    for key, url in (("pager", r.pager_webhook_url), ("chat", r.chat_webhook_url)):
        if re.match(r"^https?://[^/:]*\.example(:|/|$)", url):
            out.append(f"receivers.{key}_webhook_url is the example {url}: nothing receives it")
    return out


def load_mixin_config(path: Path | None) -> MixinConfig:
    data: dict[str, object] = {}
    if path is not None:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{path}: {exc.strerror}") from None
        except yaml.YAMLError:
            raise ConfigError(f"{path}: not valid YAML") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: top level must be a mapping")
    try:
        return MixinConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
