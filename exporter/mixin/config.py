"""One settings object for every generated artefact: thresholds, ``for`` durations, traffic
gates, selectors, receivers and links. ``volc-rtc-exporter mixin --config FILE`` overrides any
of these from YAML; the defaults are documented in ``docs/runbooks.md`` and the README.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from exporter.errors import ConfigError
from exporter.settings import format_validation_error

__all__ = ["MixinConfig", "load_mixin_config"]

Severity = Literal["critical", "warning"]
_DURATION = r"^\d+(ms|s|m|h|d)$"


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Thresholds(_M):
    join_room_success_min: float = Field(default=0.95, gt=0, le=1, description="5 s join success")
    audio_stall_max: float = Field(default=0.05, gt=0, le=1)
    video_stall_max: float = Field(default=0.08, gt=0, le=1)
    first_frame_success_min: float = Field(default=0.97, gt=0, le=1, description="send and decode")
    network_delay_within_threshold_min: float = Field(default=0.90, gt=0, le=1)
    online_users_drop_ratio: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="alert when users fall below this share of a day earlier",
    )
    data_age_max_seconds: float = Field(
        default=600, gt=0, description="realtime data older than this"
    )


class ForDurations(_M):
    quality: str = Field(
        default="5m", pattern=_DURATION, description="covers the 1-2 min data delay"
    )
    online_users_drop: str = Field(default="15m", pattern=_DURATION)
    exporter_down: str = Field(default="5m", pattern=_DURATION)
    source_down: str = Field(default="10m", pattern=_DURATION)
    data_stale: str = Field(default="5m", pattern=_DURATION)
    throttled: str = Field(default="15m", pattern=_DURATION)
    auth_failing: str = Field(default="5m", pattern=_DURATION)


class Severities(_M):
    join_room_success_low: Severity = "critical"
    audio_stall_high: Severity = "critical"
    video_stall_high: Severity = "critical"
    first_frame_failures_high: Severity = "warning"
    network_delay_share_low: Severity = "warning"
    online_users_dropped: Severity = "warning"
    exporter_down: Severity = "critical"
    source_down: Severity = "warning"
    data_stale: Severity = "warning"
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


class MixinConfig(_M):
    selector: str = Field(
        default="", description='extra label matchers for every vendor series, e.g. job="volc-rtc"'
    )
    exporter_job: str = Field(
        default="volc-rtc", description="the scrape job of the exporter (up{})"
    )
    min_online_users: float = Field(
        default=50,
        ge=0,
        description="traffic gate: quality alerts only for apps with this many users",
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    for_: ForDurations = Field(default_factory=ForDurations, alias="for")
    severities: Severities = Field(default_factory=Severities)
    receivers: Receivers = Field(default_factory=Receivers)
    rule_interval: str = Field(default="30s", pattern=_DURATION)
    grafana_url: str = "http://localhost:3000"
    docs_url: str = Field(
        default="https://github.com/volc-rtc-exporter/volc-rtc-exporter/blob/main/docs",
        description="base URL of docs/ (runbooks, metric reference) for links",
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

    def sel(self, *matchers: str) -> str:
        """``{selector, matchers...}`` for a PromQL series selector."""
        parts = [m for m in (self.selector, *matchers) if m]
        return "{" + ", ".join(parts) + "}" if parts else ""


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
