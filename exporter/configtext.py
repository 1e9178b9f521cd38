"""Reading configuration text: YAML without duplicate keys, addresses, shards, and error
messages that name the key and never the value. Used by ``exporter.settings`` (and the mixin's
config)."""

from __future__ import annotations

import difflib
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from exporter.errors import ConfigError

__all__ = [
    "format_validation_error",
    "parse_listen_address",
    "parse_shard",
    "read_secret_file",
    "read_secrets_file",
    "read_yaml",
    "web_security",
]


def read_secret_file(path: Path, key: str) -> str:
    """A secret from a file, stripped; errors name the key and file, never the content."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {key} {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{key} {path} is not valid UTF-8 text") from None
    if not text:
        raise ValueError(f"{key} {path} is empty")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError(f"{key} {path} holds white space or control characters")
    return text


def read_secrets_file(path: Path, key: str) -> tuple[str, ...]:
    """One or more secrets, one per line (e.g. the new and the old one while rotating)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read {key} {path}: {exc.strerror}") from None
    try:
        lines = [ln.strip() for ln in raw.decode("utf-8").splitlines()]
    except UnicodeDecodeError:
        raise ValueError(f"{key} {path} is not valid UTF-8 text") from None
    secrets = tuple(dict.fromkeys(ln for ln in lines if ln))
    if not secrets:
        raise ValueError(f"{key} {path} is empty")
    for secret in secrets:
        if any(c.isspace() or not c.isprintable() for c in secret):
            raise ValueError(f"{key} {path} holds white space or control characters in a line")
    return secrets


def parse_shard(v: str) -> tuple[int, int]:
    m = re.match(r"^(\d{1,4})/(\d{1,4})$", v.strip())
    if not m or not (1 <= int(m[1]) <= int(m[2])):
        raise ValueError("must be N/M with 1 <= N <= M <= 9999, e.g. 2/5")
    return int(m[1]), int(m[2])


def parse_listen_address(v: str) -> tuple[str, int]:
    host, sep, port = v.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("must be [host]:port, e.g. :9877 or 127.0.0.1:9877")
    host = host.strip("[]")
    return host, int(port)


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key repeated in one mapping (PyYAML keeps the last one)."""


def _mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            continue  # unhashable keys are refused by the constructor below
        if duplicate:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def read_yaml(path: Path, what: str = "config file") -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what} {path}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not valid UTF-8 (at byte {exc.start})") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path}: {_yaml_problem(exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: top level must be a mapping")
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``line 3 column 5: not valid YAML: mapping values are not allowed here``: where and why
    (PyYAML's problem and context name the syntax, never the document's values)."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or ""
    context = getattr(exc, "context", None) or ""
    cause = ": " + problem if problem else ""
    if context:
        cause += f" ({context})"
    return f"{where}not valid YAML{cause}"


def _unwrap(annotation: Any) -> Any:
    """``X | None`` -> ``X``; any other union stays as it is."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _valid_keys(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    """The keys the model accepts where ``loc`` (the unknown key's parent path) points:
    through fields, list items (an index) and dict values (a key)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        origin, args = typing.get_origin(current), typing.get_args(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            current = field.annotation if field is not None else None
        elif origin in (list, dict) and args:
            current = args[-1]
        else:
            return []
    current = _unwrap(current)
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return []
    return sorted({f.alias or name for name, f in current.model_fields.items()})


def _unknown_key(model: type[BaseModel] | None, loc: tuple[int | str, ...]) -> str:
    keys = _valid_keys(model, loc[:-1])
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean {close[0]!r}?"
    return f"unknown key; valid here: {', '.join(keys)}" if keys else "unknown key"


def format_validation_error(exc: ValidationError, model: type[BaseModel] | None = None) -> str:
    """One line per problem, 'key.path: message'. Input values are never echoed (secrets).
    With the ``model`` that was validated, an unknown key names the closest valid one."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and err["loc"]:
            msg += f" ({_unknown_key(model, tuple(err['loc']))})"
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)


def web_security(path: Path | None) -> str:
    """``tls=on basic_auth=off``: what the web config file switches on, from its parsed content
    (for the start-up summary; the file is validated by the web server before)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = read_yaml(path, "web config file")
        except ConfigError:
            return "tls=unknown basic_auth=unknown"
    tls = data.get("tls_server_config") or {}
    on = bool(isinstance(tls, dict) and (tls.get("cert_file") or tls.get("cert")))
    mtls = on and tls.get("client_auth_type", "NoClientCert") != "NoClientCert"
    users = data.get("basic_auth_users") or {}
    auth = isinstance(users, dict) and bool(users)
    return f"tls={'mtls' if mtls else 'on' if on else 'off'} basic_auth={'on' if auth else 'off'}"
