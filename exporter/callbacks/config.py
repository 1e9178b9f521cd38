"""The ``callbacks.*`` settings, and the per-app fields ``apps[].callback_secret_file`` and
``apps[].recording_storage``.

The receiver is off until ``callbacks.listen_address`` (or ``--callbacks.listen-address``) is
set. It then needs a secret for every event it is to trust: ``callbacks.secret_file`` (or
``secret``, or ``VOLC_RTC_EXPORTER_CALLBACKS__SECRET``) as the default, and/or a per-app
``callback_secret_file``. A secret file may hold several secrets, one per line (while the secret
in the console is rotated, both verify). Files are read at start and on every reload.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from exporter.callbacks.storage import UNKNOWN, StorageInfo, decode_storage
from exporter.configtext import parse_listen_address, read_secrets_file

__all__ = [
    "CallbacksSettings",
    "RecordingStorage",
    "TaskSettings",
    "read_app_secrets",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class RecordingStorage(_Model):
    """Where the app's recordings go, as in ``StartRecord``'s ``StorageConfig``: ``type`` 0 TOS,
    1 VOD, 2 third party (``vendor`` 0 Amazon S3, 1 Aliyun OSS, 2 Huawei OBS, 3 Tencent COS,
    4 Qiniu Kodo), 3 VeImageX; ``region`` the code of the vendor's Region table."""

    type: int = Field(ge=0, le=1000)
    vendor: int | None = Field(default=None, ge=0, le=1000)
    region: int = Field(default=0, ge=0, le=1000)

    @model_validator(mode="after")
    def _vendor_only_for_third_party(self) -> RecordingStorage:
        if self.vendor is not None and self.type != 2:
            raise ValueError("vendor is only used with type 2 (third-party storage)")
        return self

    def info(self) -> StorageInfo:
        return decode_storage(self.type, self.vendor, self.region)


class TaskSettings(_Model):
    max_tasks: int = Field(
        default=10_000, ge=10, le=1_000_000, description="in-flight recording tasks tracked"
    )
    check_after_seconds: float = Field(
        default=3600,
        ge=60,
        le=72 * 3600,
        description="a task this long in one state is checked with GetRecordTask",
    )
    checks_per_minute: float = Field(
        default=30, ge=0, le=3600, description="GetRecordTask calls at most (0: never)"
    )


class CallbacksSettings(_Model):
    listen_address: str | None = Field(
        default=None, description="[host]:port of the callback listener; unset: off"
    )
    web_config_file: Path | None = Field(
        default=None, description="exporter-toolkit web config, TLS only (tls_server_config)"
    )
    secret: SecretStr | None = Field(default=None, description="the console's callback secret")
    secret_file: Path | None = None
    recording_storage: RecordingStorage | None = Field(
        default=None, description="default storage of every app's recordings"
    )
    max_age_seconds: float = Field(
        default=600, ge=1, le=86400, description="older EventTime: stale (401)"
    )
    max_future_seconds: float = Field(
        default=60, ge=0, le=3600, description="EventTime further ahead: stale (401)"
    )
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=16 << 20)
    dedup_max_entries: int = Field(default=100_000, ge=100, le=10_000_000)
    queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    max_label_values: int = Field(
        default=50, ge=1, le=1000, description="per label (reason, device_type, ...), then other"
    )
    max_other_apps: int = Field(
        default=100, ge=0, le=100_000, description="app ids beyond the exporter's own apps"
    )
    session_duration_unit: Literal["ms", "s"] = Field(
        default="ms", description="unit of UserLeaveRoom Duration (undocumented)"
    )
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    _secrets: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("listen_address")
    @classmethod
    def _addr(cls, v: str | None) -> str | None:
        if v is not None:
            parse_listen_address(v)
        return v

    @model_validator(mode="after")
    def _read(self) -> CallbacksSettings:
        if self.secret is not None and self.secret_file is not None:
            raise ValueError("set secret or secret_file, not both")
        if self.secret_file is not None:
            self._secrets = read_secrets_file(self.secret_file, "secret_file")
        elif self.secret is not None:
            value = self.secret.get_secret_value().strip()
            if not value:
                raise ValueError("secret is empty")
            self._secrets = (value,)
        return self

    @property
    def enabled(self) -> bool:
        return self.listen_address is not None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The default secrets (every app without a secret of its own)."""
        return self._secrets

    def storage(self) -> StorageInfo:
        return self.recording_storage.info() if self.recording_storage else UNKNOWN


def read_app_secrets(path: Path | None) -> tuple[str, ...]:
    """``apps[].callback_secret_file``, read (ValueError naming the key, never the content)."""
    return read_secrets_file(path, "callback_secret_file") if path is not None else ()
