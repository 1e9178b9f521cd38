"""Reading configuration text: YAML without duplicate keys, addresses, shards, and error
messages that name the key and never the value. Used by ``exporter.settings`` (and the mixin's
config)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from exporter.errors import ConfigError

__all__ = [
    "format_validation_error",
    "parse_listen_address",
    "parse_shard",
    "read_secret_file",
    "read_secrets_file",
    "read_yaml",
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
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or ""
        detail = f": {problem}" if problem.startswith("duplicate key") else ""
        raise ConfigError(f"{what} {path}:{where} is not valid YAML{detail}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path}: top level must be a mapping")
    return data


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem, 'key.path: message'. Input values are never echoed (secrets)."""
    lines = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}")
    return "; ".join(lines)
