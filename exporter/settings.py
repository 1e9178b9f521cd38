"""Configuration: a YAML file plus environment overrides, validated with pydantic-settings.

Precedence, highest first: command-line flags, ``VOLC_RTC_EXPORTER_*`` environment variables
(nested keys joined with ``__``, e.g.
``VOLC_RTC_EXPORTER_SOURCES__REALTIME_QUALITY__INTERVAL_SECONDS``),
``VOLCENGINE_ACCESS_KEY`` / ``VOLCENGINE_SECRET_KEY`` / ``VOLCENGINE_SESSION_TOKEN``, the YAML
file, defaults. ``sources.<name>`` keys come from the source registry.

This is the only module that reads environment variables or secret files. Every number has
sane bounds, duplicate YAML keys are refused, and no error message ever shows a secret value.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from exporter.callbacks.config import CallbacksSettings, RecordingStorage, read_app_secrets
from exporter.collectors import SOURCES
from exporter.collectors.base import SourceSettings
from exporter.configtext import (
    format_validation_error,
    parse_listen_address,
    parse_shard,
    read_secret_file,
    read_yaml,
)
from exporter.errors import ConfigError
from exporter.quotas import PROVIDERS, QuotaSettings
from exporter.traffic import PlanningSettings

__all__ = [
    "DEFAULT_PORT",
    "AppConfig",
    "CallDetailWatch",
    "Settings",
    "format_validation_error",
    "load_settings",
    "parse_listen_address",
]

DEFAULT_PORT = 9877


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Credentials(_Model):
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    secret_access_key_file: Path | None = Field(
        default=None, description="file holding the secret key (e.g. a mounted Kubernetes Secret)"
    )
    session_token: SecretStr | None = Field(
        default=None, description="STS temporary credentials: the session (security) token"
    )
    session_token_file: Path | None = None

    @model_validator(mode="after")
    def _read_files(self) -> Credentials:
        for name in ("secret_access_key", "session_token"):
            path: Path | None = getattr(self, f"{name}_file")
            if path is None:
                continue
            if getattr(self, name) is not None:
                raise ValueError(f"set {name} or {name}_file, not both")
            setattr(self, name, SecretStr(read_secret_file(path, f"{name}_file")))
        return self


class CallDetailWatch(_Model):
    room_id: str = Field(min_length=1, max_length=256)
    user_ids: list[str] = Field(min_length=1, max_length=10_000)

    @field_validator("user_ids")
    @classmethod
    def _non_empty_ids(cls, v: list[str]) -> list[str]:
        if any(not u.strip() or "," in u for u in v):
            raise ValueError("user ids must be non-empty strings without commas")
        return list(dict.fromkeys(v))  # de-duplicate, keep order


class AppConfig(_Model):
    app_id: str = Field(min_length=1, max_length=128)
    name: str = ""
    call_detail: list[CallDetailWatch] = Field(default_factory=list)
    callback_secret_file: Path | None = Field(
        default=None, description="event callbacks: this app's secret (instead of the default)"
    )
    recording_storage: RecordingStorage | None = Field(
        default=None, description="event callbacks: StorageConfig of this app's recordings"
    )
    _callback_secrets: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _read_callback_secret(self) -> AppConfig:
        self._callback_secrets = read_app_secrets(self.callback_secret_file)
        return self

    @property
    def callback_secrets(self) -> tuple[str, ...]:
        return self._callback_secrets


class _SourcesBase(_Model):
    def get(self, name: str) -> SourceSettings:
        value = getattr(self, name)
        assert isinstance(value, SourceSettings)
        return value


if TYPE_CHECKING:
    Sources = _SourcesBase
else:
    Sources = create_model(
        "Sources",
        __base__=_SourcesBase,
        **{
            cls.name: (cls.settings_model, Field(default_factory=cls.settings_model))
            for cls in SOURCES
        },
    )


class RateLimitSettings(_Model):
    headroom: float = Field(
        default=0.9, gt=0, le=1, description="fraction of the quota the exporter uses"
    )
    requests_per_second: float | None = Field(
        default=None,
        ge=0.001,
        le=10_000,
        description="per-second quota of actions without a documented one",
    )
    per_action: dict[str, float] = Field(
        default_factory=dict, description="per-second quota overrides, by action"
    )
    quotas: dict[str, QuotaSettings] = Field(
        default_factory=dict, description="per-action quota overrides: per_second/minute/day"
    )
    max_retries: int = Field(default=2, ge=0, le=10)
    backoff_seconds: float = Field(default=1.0, ge=0.01, le=60)

    @field_validator("per_action")
    @classmethod
    def _rates(cls, v: dict[str, float]) -> dict[str, float]:
        for action, rate in v.items():
            if not 0.001 <= rate <= 10_000:
                raise ValueError(f"rate for {action} must be within 0.001..10000")
        return v


class RefreshSettings(_Model):
    mode: Literal["timer", "scrape"] = "timer"
    scrape_timeout_seconds: float = Field(
        default=10.0,
        ge=0.5,
        le=300,
        description="used when Prometheus sends no scrape-timeout header",
    )


class WebSettings(_Model):
    listen_address: str = f":{DEFAULT_PORT}"
    telemetry_path: str = "/metrics"
    config_file: Path | None = Field(
        default=None, description="exporter-toolkit web config: TLS and basic auth"
    )
    enable_lifecycle: bool = Field(default=False, description="allow POST /-/reload")

    @field_validator("telemetry_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not re.match(r"^/[A-Za-z0-9._~/-]*$", v) or v == "/" or v.startswith("/-/"):
            raise ValueError("must be a path like /metrics, not '/' and not under '/-/'")
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
        allow_inf_nan=False,
    )

    config_file_data: ClassVar[dict[str, Any]] = {}

    provider: Literal["volcengine", "byteplus"] = Field(
        default="volcengine", description="sets endpoint, signing region and quotas"
    )
    endpoint: str | None = Field(default=None, description="default: the provider's")
    region: str | None = Field(default=None, description="signing region; default: provider's")
    service: str = "rtc"
    version: str | None = Field(
        default=None,
        pattern=r"^\d{4}-\d{2}-\d{2}$",
        description="API version tried first for every action; default: the provider's per action",
    )
    timezone: str = Field(default="+08:00", description="UTC offset of times sent to the API")
    timeout_seconds: float = Field(default=10.0, ge=0.1, le=300)
    max_response_bytes: int = Field(default=16 << 20, ge=64 << 10, le=1 << 30)
    credentials: Credentials = Field(default_factory=Credentials)
    apps: list[AppConfig] | None = Field(default=None, max_length=100_000)
    sources: Sources = Field(default_factory=Sources)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    refresh: RefreshSettings = Field(default_factory=RefreshSettings)
    planning: PlanningSettings = Field(default_factory=PlanningSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    callbacks: CallbacksSettings = Field(default_factory=CallbacksSettings)
    shard: str = Field(
        default="1/1",
        description="N/M: this instance serves shard N of M; auto/M takes N from the ordinal "
        "of a StatefulSet pod name (name-0 -> 1)",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if "@" in v.split("//", 1)[-1].split("/", 1)[0]:
            raise ValueError("must not contain user:password@ (credentials go in credentials.*)")
        if not re.match(r"^https?://[A-Za-z0-9.\-\[\]:]+/?$", v):
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
            if not v:
                raise ValueError("list at least one app, or leave apps out to discover them")
            seen: set[str] = set()
            for app in v:
                if app.app_id in seen:
                    raise ValueError(f"app_id {app.app_id!r} is listed twice")
                seen.add(app.app_id)
        return v

    @model_validator(mode="after")
    def _complete(self) -> Settings:
        profile = PROVIDERS[self.provider]
        if self.endpoint is None:
            self.endpoint = profile.endpoint
        if self.region is None:
            self.region = profile.region
        if not self.credentials.access_key_id:
            raise ValueError("credentials.access_key_id is required (or env VOLCENGINE_ACCESS_KEY)")
        if self.credentials.secret_access_key is None:
            raise ValueError(
                "credentials.secret_access_key is required "
                "(or credentials.secret_access_key_file, or env VOLCENGINE_SECRET_KEY)"
            )
        if not any(self.sources.get(cls.name).enabled for cls in SOURCES):
            raise ValueError("sources: every source is disabled")
        own = all(app.callback_secrets for app in self.apps or [])
        if self.callbacks.enabled and not self.callbacks.secrets and (self.apps is None or not own):
            raise ValueError(
                "callbacks: the receiver needs callbacks.secret_file (or secret, or env "
                "VOLC_RTC_EXPORTER_CALLBACKS__SECRET), or a callback_secret_file for every app"
            )
        return self

    def source(self, name: str) -> SourceSettings:
        return self.sources.get(name)

    @property
    def base_url(self) -> str:
        assert self.endpoint is not None
        return self.endpoint

    @property
    def signing_region(self) -> str:
        assert self.region is not None
        return self.region

    @property
    def shard_index(self) -> tuple[int, int]:
        return parse_shard(self.shard)

    @property
    def utc_offset_seconds(self) -> int:
        m = _TZ.match(self.timezone)
        assert m is not None
        sign = -1 if self.timezone.startswith("-") else 1
        return sign * (int(m[1]) * 3600 + int(m[2]) * 60)

    def credential_triple(self) -> tuple[str, str, str | None]:
        c = self.credentials
        assert c.access_key_id and c.secret_access_key is not None
        token = c.session_token.get_secret_value() if c.session_token else None
        return c.access_key_id, c.secret_access_key.get_secret_value(), token

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        creds: dict[str, str] = {}
        for env, key in (
            ("VOLCENGINE_ACCESS_KEY", "access_key_id"),
            ("VOLCENGINE_SECRET_KEY", "secret_access_key"),
            ("VOLCENGINE_SESSION_TOKEN", "session_token"),
        ):
            if os.environ.get(env):
                creds[key] = os.environ[env]
        vendor_env = {"credentials": creds} if creds else {}
        return (
            init_settings,
            env_settings,
            InitSettingsSource(settings_cls, init_kwargs=vendor_env),
            InitSettingsSource(settings_cls, init_kwargs=cls.config_file_data),
        )


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings; raise ConfigError naming the key and the problem."""
    data = read_yaml(config_file) if config_file is not None else {}
    holder = type("_FileSettings", (Settings,), {"config_file_data": data})
    try:
        settings: Settings = holder(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, Settings)) from None
    except SettingsError as exc:
        # an environment variable holding something that is not valid JSON for a nested key
        name = re.search(r'"([^"]+)"', str(exc))
        key = name[1] if name else "an environment variable"
        raise ConfigError(
            f"environment {'VOLC_RTC_EXPORTER_' + key.upper() if name else key}: "
            "not valid JSON for a nested setting"
        ) from None
    return settings
