"""A template of the rendered mixin: JSON with holes. It is evaluated in Python (to check the
inference against the real generator) and written out as Jsonnet (``emit``), so both read the
same tree.

Nodes: ``Lit`` (plain JSON), ``Obj``, ``Arr``, ``Str`` (literal text and ``Ref`` holes), ``Num``
(a number taken from a knob), ``Cond`` (``if knob == value then ... else ...``) and ``PerApp``
(a rule, once for the apps without an override and once per overriding app). Knobs are read
from the config ``c`` by path; the per-app logic mirrors ``overrides:`` in
``exporter/mixin/config.py``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Union

from exporter.mixin.jsonnet.align import NUMBER_TRANSFORMS, TEXT_TRANSFORMS

__all__ = [
    "MATCHER",
    "Arr",
    "Cond",
    "Lit",
    "Node",
    "Num",
    "Obj",
    "PerApp",
    "Ref",
    "Str",
    "emit",
    "evaluate",
    "view",
]

MATCHER = ("_app_matcher",)  # the app matcher of a per-app rule: not a knob of the model


@dataclass(frozen=True)
class Ref:
    path: tuple[str, ...]
    transform: str


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Str:
    parts: tuple[str | Ref, ...]


@dataclass(frozen=True)
class Num:
    ref: Ref


@dataclass(frozen=True)
class Obj:
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True)
class Arr:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Cond:
    path: tuple[str, ...]
    value: Any
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class PerApp:
    """Inside an ``Arr``: a list of rules spliced in place."""

    name: str
    rule: Node


Node = Union[Lit, Str, Num, Obj, Arr, Cond, PerApp]  # noqa: UP007 (a runtime alias)


# -- evaluation ---------------------------------------------------------------------------------


def _get(c: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        c = c[part]
    return c


def view(c: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """The config as one overriding app sees it (``AppOverride``: thresholds, severe, and one
    traffic gate that replaces both)."""
    out = {
        **c,
        "thresholds": {**c["thresholds"], **override.get("thresholds", {})},
        "severe": {**c["severe"], **override.get("severe", {})},
    }
    if override.get("min_online_users") is not None:
        out["min_online_users"] = out["min_online_users_warning"] = override["min_online_users"]
    return out


def _per_app(node: PerApp, c: dict[str, Any]) -> list[Any]:
    plain = evaluate(node.rule, {**c, MATCHER[0]: ""})
    applying = [
        o
        for o in c.get("overrides", [])
        if evaluate(node.rule, {**view(c, o), MATCHER[0]: ""}) != plain
    ]
    ids = "|".join(o["app_id"] for o in applying)
    out = [evaluate(node.rule, {**c, MATCHER[0]: f'app_id!~"{ids}"' if applying else ""})]
    for o in applying:
        out.append(evaluate(node.rule, {**view(c, o), MATCHER[0]: f'app_id="{o["app_id"]}"'}))
    return out


def evaluate(node: Node, c: dict[str, Any]) -> Any:
    """The JSON the template stands for under config ``c`` (``model_dump(by_alias=True)``)."""
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Str):
        return "".join(
            p if isinstance(p, str) else TEXT_TRANSFORMS[p.transform][0](_get(c, p.path))
            for p in node.parts
        )
    if isinstance(node, Num):
        return NUMBER_TRANSFORMS[node.ref.transform][0](_get(c, node.ref.path))
    if isinstance(node, Obj):
        return {k: evaluate(v, c) for k, v in node.items}
    if isinstance(node, Arr):
        out: list[Any] = []
        for item in node.items:
            if isinstance(item, PerApp):
                out += _per_app(item, c)
            else:
                out.append(evaluate(item, c))
        return out
    if isinstance(node, Cond):
        return evaluate(node.then if _get(c, node.path) == node.value else node.otherwise, c)
    raise TypeError(f"not a template node: {node!r}")


# -- Jsonnet ------------------------------------------------------------------------------------

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYWORDS = {
    "assert", "else", "error", "false", "for", "function", "if", "import", "importstr",
    "importbin", "in", "local", "null", "self", "super", "tailstrict", "then", "true",
}  # fmt: skip
# Jsonnet twins of the transforms (pyformat.libsonnet prints what Python prints)
JSONNET_TEXT = {
    "str": "%s",
    "capitalize": "fmt.capitalize(%s)",
    "g": "fmt.g(%s)",
    "percent_g": "fmt.g(%s * 100)",
    "percent0": "fmt.percent0(%s)",
    "fixed0": "fmt.fixed0(%s)",
    "minutes_g": "fmt.g(%s / 60)",
    "seconds_g": "fmt.g(fmt.seconds(%s))",
}
JSONNET_NUMBER = {"value": "%s", "percent": "%s * 100", "seconds": "fmt.seconds(%s)"}


def access(path: tuple[str, ...], root: str = "c") -> str:
    return root + "".join(
        f".{p}" if _IDENT.match(p) and p not in _KEYWORDS else f"[{json.dumps(p)}]" for p in path
    )


def field(key: str) -> str:
    return key if _IDENT.match(key) and key not in _KEYWORDS else json.dumps(key)


def emit(node: Node, indent: int = 0, rules: dict[str, str] | None = None) -> str:
    """Jsonnet source of ``node`` (an expression over ``c``); ``PerApp`` rules are written to
    ``rules`` (name -> function body) and referenced by name."""
    pad, inner = "  " * indent, "  " * (indent + 1)
    if isinstance(node, Lit):
        return json.dumps(node.value, ensure_ascii=False)
    if isinstance(node, Str):
        parts = [
            json.dumps(p, ensure_ascii=False)
            if isinstance(p, str)
            else JSONNET_TEXT[p.transform] % access(p.path)
            for p in node.parts
        ]
        if not any(isinstance(p, str) for p in node.parts):
            parts.insert(0, '""')  # a string, whatever the knob holds
        return " + ".join(parts)
    if isinstance(node, Num):
        return JSONNET_NUMBER[node.ref.transform] % access(node.ref.path)
    if isinstance(node, Obj):
        if not node.items:
            return "{}"
        body = ",\n".join(f"{inner}{field(k)}: {emit(v, indent + 1, rules)}" for k, v in node.items)
        return "{\n" + body + ",\n" + pad + "}"
    if isinstance(node, Arr):
        return _emit_array(node, indent, rules)
    if isinstance(node, Cond):
        then, other = emit(node.then, indent + 1, rules), emit(node.otherwise, indent + 1, rules)
        test = f"{access(node.path)} == {json.dumps(node.value)}"
        return f"(\n{inner}if {test}\n{inner}then {then}\n{inner}else {other}\n{pad})"
    raise TypeError(f"cannot emit {node!r}")


def _emit_array(node: Arr, indent: int, rules: dict[str, str] | None) -> str:
    pad, inner = "  " * indent, "  " * (indent + 1)
    if not node.items:
        return "[]"
    if not any(isinstance(i, PerApp) for i in node.items):
        body = ",\n".join(inner + emit(i, indent + 1, rules) for i in node.items)
        return "[\n" + body + ",\n" + pad + "]"
    assert rules is not None, "per-app rules need a place to go"
    chunks = []
    for item in node.items:
        if isinstance(item, PerApp):
            rules[item.name] = emit(item.rule, 1, rules)
            chunks.append(f"{inner}fmt.perApp(c, rule_{item.name})")
        else:
            chunks.append(f"{inner}[{emit(item, indent + 1, rules)}]")
    return "std.flattenArrays([\n" + ",\n".join(chunks) + ",\n" + pad + "])"
