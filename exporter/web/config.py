"""``--web.config.file``: the Prometheus exporter-toolkit web configuration format.

The same YAML file the Go exporters accept (``tls_server_config``, ``http_server_config``,
``basic_auth_users``, ``rate_limit``), parsed strictly: an unknown key, a bad value or a
setting Python's ``ssl`` module cannot honour is a ``ConfigError`` naming the key. Relative
file names are relative to the directory of the web config file, as in the toolkit.

The file in use, reloaded when it changes and kept at its last good version when it turns
bad (fail closed), is ``exporter.web.source.WebConfigSource``.

Secrets (passwords, hashes, private keys) never appear in errors or logs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator
from pydantic import model_validator as _model_validator

from exporter.errors import ConfigError
from exporter.web.tls import CLIENT_AUTH, GO_CIPHER_SUITES, TLS_VERSIONS

__all__ = ["TLSServerConfig", "WebConfigFile", "load_web_config", "parse_go_duration"]

# toolkit values Python's ssl cannot do: it verifies every client certificate it asks for
UNVERIFIED_CLIENT_AUTH = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
# the toolkit's list, on purpose closed; None = any value
EXTRA_HTTP_HEADERS: dict[str, tuple[str, ...] | None] = {
    "Strict-Transport-Security": None,
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": None,
    "Content-Security-Policy": None,
}
_BCRYPT = re.compile(r"^\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53}$")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
TLSVersionName = Literal["TLS10", "TLS11", "TLS12", "TLS13"]


def parse_go_duration(value: object) -> float:
    """Seconds in a Go duration ("1s", "1m30s", "500ms", "0"); ValueError otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * 1e-9  # yaml.v2 reads a bare number as nanoseconds
    text = str(value).strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {text!r} (e.g. 1s, 500ms, 1m30s)")
    return total


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSServerConfig(_Model):
    cert: str | None = None
    key: SecretStr | None = None
    client_ca: str | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    client_allowed_sans: list[str] | None = None
    min_version: TLSVersionName = "TLS12"
    max_version: TLSVersionName = "TLS13"
    cipher_suites: list[str] = []
    prefer_server_cipher_suites: bool = True
    curve_preferences: list[str] | None = None

    @field_validator("client_auth_type")
    @classmethod
    def _client_auth(cls, v: str) -> str:
        if v in UNVERIFIED_CLIENT_AUTH:
            raise ValueError(
                f"{v} is not supported: Python's ssl module verifies every client certificate "
                "it asks for; use VerifyClientCertIfGiven or RequireAndVerifyClientCert with "
                "client_ca_file"
            )
        if v not in CLIENT_AUTH:
            raise ValueError(f"invalid ClientAuth: {v} (one of {', '.join(CLIENT_AUTH)})")
        return v

    @field_validator("cipher_suites")
    @classmethod
    def _ciphers(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in GO_CIPHER_SUITES:
                raise ValueError(f"unknown cipher: {name}")
        return v

    @field_validator("curve_preferences")
    @classmethod
    def _curves(cls, v: list[str] | None) -> list[str] | None:
        if v:
            raise ValueError(
                "not supported: Python's ssl module cannot set a list of curves; remove it "
                "to use OpenSSL's defaults (X25519, P-256, P-384, P-521)"
            )
        return v

    @_model_validator(mode="after")
    def _consistent(self) -> TLSServerConfig:
        if not self.enabled:
            return self
        if self.cert_file is None and self.cert is None:
            raise ValueError("missing one of cert or cert_file")
        if self.key_file is None and self.key is None:
            raise ValueError("missing one of key or key_file")
        pairs = (("cert", "cert_file"), ("key", "key_file"), ("client_ca", "client_ca_file"))
        for inline, path in pairs:
            if getattr(self, inline) is not None and getattr(self, path) is not None:
                raise ValueError(f"set {inline} or {path}, not both")
        has_ca = self.client_ca_file is not None or self.client_ca is not None
        if has_ca and self.client_auth_type == "NoClientCert":
            raise ValueError("client CA's have been configured without a Client Auth Policy")
        if self.client_allowed_sans is not None and self.client_auth_type == "NoClientCert":
            raise ValueError(
                "client_allowed_sans needs a client_auth_type that asks for certificates"
            )
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise ValueError("min_version is above max_version")
        return self

    @property
    def enabled(self) -> bool:
        """The toolkit's IsEnabled: any certificate, key or client-auth field set."""
        return (
            any(
                v not in (None, "")
                for v in (
                    self.cert,
                    self.key,
                    self.client_ca,
                    self.cert_file,
                    self.key_file,
                    self.client_ca_file,
                )  # fmt: skip
            )
            or self.client_auth_type != "NoClientCert"
        )

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)

    def with_base(self, base: Path) -> TLSServerConfig:
        def join(p: Path | None) -> Path | None:
            return None if p is None or p.is_absolute() else base / p

        update = {k: join(getattr(self, k)) for k in ("cert_file", "key_file", "client_ca_file")}
        return self.model_copy(update={k: v for k, v in update.items() if v is not None})


class HTTPServerConfig(_Model):
    http2: bool = True  # accepted for compatibility: this server speaks HTTP/1.1 only
    headers: dict[str, str] = {}

    @field_validator("headers")
    @classmethod
    def _headers(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if name not in EXTRA_HTTP_HEADERS:
                raise ValueError(f'HTTP header "{name}" can not be configured')
            allowed = EXTRA_HTTP_HEADERS[name]
            if allowed is not None and value not in allowed:
                raise ValueError(
                    f"invalid value for {name}. Expected one of: {list(allowed)}, "
                    f"but got: {value!r}"
                )
            if "\r" in value or "\n" in value:
                raise ValueError(f"{name}: a header value cannot contain a line break")
        return v


class RateLimitConfig(_Model):
    interval: float = 0.0  # seconds between two requests; 0 disables the limiter
    burst: int = 0

    @field_validator("interval", mode="before")
    @classmethod
    def _interval(cls, v: object) -> float:
        return parse_go_duration(v)

    @_model_validator(mode="after")
    def _burst(self) -> RateLimitConfig:
        if self.interval > 0 and self.burst < 1:
            raise ValueError("burst must be at least 1 when interval is set")
        return self


class WebConfigFile(_Model):
    """One parse of the web config file."""

    tls_server_config: TLSServerConfig = TLSServerConfig()
    http_server_config: HTTPServerConfig = HTTPServerConfig()
    basic_auth_users: dict[str, SecretStr] = {}
    rate_limit: RateLimitConfig = RateLimitConfig()

    @field_validator("basic_auth_users")
    @classmethod
    def _users(cls, v: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for user, hashed in v.items():
            if not _BCRYPT.match(hashed.get_secret_value()):
                raise ValueError(
                    f"user {user!r}: the password must be a bcrypt hash ($2y$10$ then 53 "
                    "characters, e.g. from `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                )
        return v

    @property
    def users(self) -> dict[str, str]:
        return {u: h.get_secret_value() for u, h in self.basic_auth_users.items()}


def _fmt(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"{loc}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def load_web_config(path: Path) -> WebConfigFile:
    """Parse and validate the file; ConfigError 'web config file PATH: key: problem'."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"web config file {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"web config file {path}:{where} is not valid YAML") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"web config file {path}: top level must be a mapping")
    try:
        cfg = WebConfigFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"web config file {path}: {_fmt(exc)}") from None
    base = path.resolve().parent
    return cfg.model_copy(update={"tls_server_config": cfg.tls_server_config.with_base(base)})
