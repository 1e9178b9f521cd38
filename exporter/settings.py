"""Configuration: a YAML file plus environment overrides, validated with pydantic-settings.

Precedence, highest first: command-line flags, ``VOLC_RTC_EXPORTER_*`` environment variables
(nested keys joined with ``__``, e.g.
``VOLC_RTC_EXPORTER_SOURCES__REALTIME_QUALITY__INTERVAL_SECONDS``),
``VOLCENGINE_ACCESS_KEY`` / ``VOLCENGINE_SECRET_KEY``, the YAML file, defaults.

This is the only module that reads environment variables or secret files.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from exporter.errors import ConfigError

__all__ = [
    "DEFAULT_PORT",
    "AppConfig",
    "CallDetailWatch",
    "Settings",
    "load_settings",
]

DEFAULT_PORT = 9877
MAX_USERS_PER_CALL = 20
HOUR = 3600.0
DAY = 86400.0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(_Model):
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    secret_access_key_file: Path | None = Field(
        default=None, description="file holding the secret key (e.g. a mounted Kubernetes Secret)"
    )

    @model_validator(mode="after")
    def _read_secret_file(self) -> Credentials:
        if self.secret_access_key_file is not None:
            if self.secret_access_key is not None:
                raise ValueError("set secret_access_key or secret_access_key_file, not both")
            try:
                text = self.secret_access_key_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ValueError(
                    f"cannot read secret_access_key_file {self.secret_access_key_file}: "
                    f"{exc.strerror}"
                ) from None
            if not text:
                raise ValueError(f"secret_access_key_file {self.secret_access_key_file} is empty")
            self.secret_access_key = SecretStr(text)
        return self


class CallDetailWatch(_Model):
    room_id: str = Field(min_length=1)
    user_ids: list[str] = Field(min_length=1)

    @field_validator("user_ids")
    @classmethod
    def _non_empty_ids(cls, v: list[str]) -> list[str]:
        if any(not u.strip() for u in v):
            raise ValueError("user ids must be non-empty strings")
        return list(dict.fromkeys(v))  # de-duplicate, keep order


class AppConfig(_Model):
    app_id: str = Field(min_length=1)
    name: str = ""
    call_detail: list[CallDetailWatch] = Field(default_factory=list)


class SourceSettings(_Model):
    enabled: bool = True
    interval_seconds: float = Field(default=60.0, gt=0)
    window_seconds: float = Field(default=600.0, gt=0)
    max_staleness_seconds: float | None = Field(
        default=None, gt=0, description="default: 3 x interval_seconds"
    )
    settle_seconds: float = Field(
        default=0.0, ge=0, description="a bucket counts as complete this long after it ends"
    )

    # documented per-action limits, overridden in subclasses
    _max_window: float = HOUR

    @model_validator(mode="after")
    def _check_window(self) -> SourceSettings:
        if self.window_seconds > self._max_window:
            raise ValueError(
                f"window_seconds {self.window_seconds:g} exceeds the API's maximum "
                f"of {self._max_window:g}s for this source"
            )
        return self

    @property
    def staleness(self) -> float:
        return self.max_staleness_seconds or 3 * self.interval_seconds


class RealtimeOperationSettings(SourceSettings):
    interval_seconds: float = Field(default=30.0, gt=0)
    window_seconds: float = Field(default=300.0, gt=0)


class RealtimeQualitySettings(SourceSettings):
    interval_seconds: float = Field(default=60.0, gt=0)
    window_seconds: float = Field(default=600.0, gt=0)


class QualityReportSettings(SourceSettings):
    interval_seconds: float = Field(default=HOUR, gt=0)
    window_seconds: float = Field(default=3 * DAY, gt=0)
    settle_seconds: float = Field(default=8 * HOUR, ge=0)
    granularity: Literal["1d", "5min"] = "1d"
    _max_window: float = 7 * DAY


class OperationReportSettings(SourceSettings):
    interval_seconds: float = Field(default=HOUR, gt=0)
    window_seconds: float = Field(default=3 * DAY, gt=0)
    settle_seconds: float = Field(default=8 * HOUR, ge=0)
    granularity: Literal["1d", "1h"] = "1d"
    _max_window: float = 7 * DAY


class CallDetailSettings(SourceSettings):
    interval_seconds: float = Field(default=60.0, gt=0)
    window_seconds: float = Field(default=600.0, gt=0)
    max_client_series: int = Field(default=2000, ge=0)


class AppsSettings(_Model):
    enabled: bool = True
    interval_seconds: float = Field(default=600.0, gt=0)
    max_staleness_seconds: float | None = Field(default=None, gt=0)
    statuses: list[str] = Field(
        default_factory=lambda: ["running"],
        description="with discovery, monitor apps whose status is one of these",
    )

    @property
    def staleness(self) -> float:
        return self.max_staleness_seconds or 3 * self.interval_seconds


class Sources(_Model):
    realtime_operation: RealtimeOperationSettings = Field(default_factory=RealtimeOperationSettings)
    realtime_quality: RealtimeQualitySettings = Field(default_factory=RealtimeQualitySettings)
    quality_report: QualityReportSettings = Field(default_factory=QualityReportSettings)
    operation_report: OperationReportSettings = Field(default_factory=OperationReportSettings)
    call_detail: CallDetailSettings = Field(default_factory=CallDetailSettings)
    apps: AppsSettings = Field(default_factory=AppsSettings)


class RateLimitSettings(_Model):
    requests_per_second: float = Field(default=2.0, gt=0, description="per action, per account")
    per_action: dict[str, float] = Field(default_factory=lambda: {"ListCallDetail": 10.0})
    headroom: float = Field(
        default=0.9, gt=0, le=1, description="fraction of the quota the exporter uses"
    )
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, gt=0)

    @field_validator("per_action")
    @classmethod
    def _positive(cls, v: dict[str, float]) -> dict[str, float]:
        for action, rate in v.items():
            if rate <= 0:
                raise ValueError(f"rate for {action} must be > 0")
        return v


class RefreshSettings(_Model):
    mode: Literal["timer", "scrape"] = "timer"
    scrape_timeout_seconds: float = Field(
        default=10.0, gt=0, description="used when Prometheus sends no scrape-timeout header"
    )


class WebSettings(_Model):
    listen_address: str = f":{DEFAULT_PORT}"
    telemetry_path: str = "/metrics"

    @field_validator("telemetry_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or v in ("/", "/-/healthy", "/-/ready"):
            raise ValueError("must start with '/' and not be '/', '/-/healthy' or '/-/ready'")
        return v

    @field_validator("listen_address")
    @classmethod
    def _addr(cls, v: str) -> str:
        parse_listen_address(v)
        return v


class LogSettings(_Model):
    level: Literal["debug", "info", "warn", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"


_TZ = re.compile(r"^[+-](\d{2}):(\d{2})$")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid",
        env_prefix="VOLC_RTC_EXPORTER_",
        env_nested_delimiter="__",
    )

    config_file_data: ClassVar[dict[str, Any]] = {}

    endpoint: str = "https://rtc.volcengineapi.com"
    region: str = "cn-north-1"
    service: str = "rtc"
    version: str = "2023-11-01"
    timezone: str = Field(default="+08:00", description="UTC offset of times sent to the API")
    timeout_seconds: float = Field(default=10.0, gt=0)
    credentials: Credentials = Field(default_factory=Credentials)
    apps: list[AppConfig] | None = None
    sources: Sources = Field(default_factory=Sources)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    refresh: RefreshSettings = Field(default_factory=RefreshSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    shard: str = Field(
        default="1/1",
        description="N/M: this instance serves shard N of M; auto/M takes N from the ordinal "
        "of a StatefulSet pod name (name-0 -> 1)",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+/?$", v):
            raise ValueError("must be a base URL like https://rtc.volcengineapi.com")
        return v.rstrip("/")

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        m = _TZ.match(v)
        if not m or int(m[1]) > 14 or int(m[2]) > 59:
            raise ValueError("must be a UTC offset like +08:00")
        return v

    @field_validator("shard")
    @classmethod
    def _shard(cls, v: str) -> str:
        v = v.strip()
        if v.startswith("auto/"):
            host = socket.gethostname()
            m = re.search(r"-(\d+)$", host)
            if m is None:
                raise ValueError(
                    f"auto needs a StatefulSet pod name ending in -<ordinal>, not {host!r}"
                )
            v = f"{int(m[1]) + 1}/{v.removeprefix('auto/')}"
        parse_shard(v)
        return v

    @field_validator("apps")
    @classmethod
    def _unique_apps(cls, v: list[AppConfig] | None) -> list[AppConfig] | None:
        if v is not None:
            seen: set[str] = set()
            for app in v:
                if app.app_id in seen:
                    raise ValueError(f"app_id {app.app_id!r} is listed twice")
                seen.add(app.app_id)
        return v

    @model_validator(mode="after")
    def _need_credentials(self) -> Settings:
        if not self.credentials.access_key_id:
            raise ValueError("credentials.access_key_id is required (or env VOLCENGINE_ACCESS_KEY)")
        if self.credentials.secret_access_key is None:
            raise ValueError(
                "credentials.secret_access_key is required "
                "(or credentials.secret_access_key_file, or env VOLCENGINE_SECRET_KEY)"
            )
        return self

    @property
    def shard_index(self) -> tuple[int, int]:
        return parse_shard(self.shard)

    @property
    def utc_offset_seconds(self) -> int:
        m = _TZ.match(self.timezone)
        assert m is not None
        sign = -1 if self.timezone.startswith("-") else 1
        return sign * (int(m[1]) * 3600 + int(m[2]) * 60)

    @property
    def secret_key(self) -> str:
        assert self.credentials.secret_access_key is not None
        return self.credentials.secret_access_key.get_secret_value()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        vendor_env: dict[str, Any] = {}
        ak = os.environ.get("VOLCENGINE_ACCESS_KEY")
        sk = os.environ.get("VOLCENGINE_SECRET_KEY")
        if ak or sk:
            creds: dict[str, str] = {}
            if ak:
                creds["access_key_id"] = ak
            if sk:
                creds["secret_access_key"] = sk
            vendor_env = {"credentials": creds}
        yaml_data = cls.config_file_data
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, init_kwargs=vendor_env),
            InitSettingsSource(settings_cls, init_kwargs=yaml_data),
        )


def parse_shard(v: str) -> tuple[int, int]:
    m = re.match(r"^(\d+)/(\d+)$", v.strip())
    if not m or not (1 <= int(m[1]) <= int(m[2])):
        raise ValueError("must be N/M with 1 <= N <= M, e.g. 2/5")
    return int(m[1]), int(m[2])


def parse_listen_address(v: str) -> tuple[str, int]:
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be [host]:port, e.g. :9877 or 127.0.0.1:9877")
    host = host.strip("[]")
    return host, int(port)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config file {path}:{where} is not valid YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path}: top level must be a mapping")
    return data


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, 'key.path: message'. Input values are never echoed (secrets)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raise ConfigError naming the key and the problem."""
    data = _read_yaml(config_file) if config_file is not None else {}
    holder = type("_FileSettings", (Settings,), {"config_file_data": data})
    try:
        settings: Settings = holder(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None
    return settings
