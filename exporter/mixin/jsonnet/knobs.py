"""Every knob of ``MixinConfig``, read from the model itself: its path (the YAML keys, so
``for.quality``, not ``for_``), what kind of value it takes, its default, and probe values the
inference renders the mixin with. A knob added to the model is found here without an edit.

Kinds decide how a knob enters the generated Jsonnet:

* ``number``, ``duration``, ``text``: a value substituted into the output (formatted as the
  Python generator formats it), found by rendering with two probe values;
* ``choice`` (a ``Literal``), ``flag`` (a bool), ``optional`` (a string that is empty by
  default): a *facet*: the output is rendered once per alternative and the parts that change
  become ``if`` expressions on the knob.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from exporter.mixin.config import MixinConfig

__all__ = ["Knob", "Kind", "config_with", "knobs"]

Kind = Literal["number", "duration", "text", "choice", "flag", "optional"]
FACETS = ("choice", "flag", "optional")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
# the per-app overrides are a list: rules.py turns them into per-app rules (not a knob here)
LISTS = ("overrides",)


@dataclass(frozen=True)
class Knob:
    path: tuple[str, ...]
    kind: Kind
    default: Any
    choices: tuple[Any, ...] = ()

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def facet(self) -> bool:
        return self.kind in FACETS

    def alternatives(self) -> list[Any]:
        """The facet values other than the default the output is rendered with."""
        if self.kind == "choice":
            return [c for c in self.choices if c != self.default]
        if self.kind == "flag":
            return [not self.default]
        if self.kind == "optional":
            return [_valid(self, _text_probes(self, "zqa"))]
        return []

    def probes(self, base: Any) -> list[Any]:
        """Two values other than ``base`` that keep the knob's shape (and the model valid)."""
        out: list[Any] = []
        if self.kind == "number":
            out = list(_valid_numbers(self, float(base)))
        elif self.kind == "duration":
            m = _DURATION.match(str(base))
            assert m, f"{self.name}: {base!r} is not a duration"
            out = [f"{int(m[1]) + k}{m[2]}" for k in (7, 13)]
        elif self.kind in ("text", "optional"):
            out = [_valid(self, _text_probes(self, tag)) for tag in ("zqb", "zqcc")]
        return out


def _valid_numbers(knob: Knob, base: float) -> list[float]:
    """Two probes a few per cent off ``base`` (4 significant digits, within the bounds)."""
    out: list[float] = []
    for factor in (1.0371, 0.9623, 0.9317, 1.0713, 0.8911, 0.8537):
        value = base * factor if base else 0.37 * factor
        digits = 3 - int(f"{abs(value):e}".split("e")[1])
        value = round(value, digits)
        try:
            config_with({knob.path: value})
        except ValidationError:
            continue
        if value not in out and value != base:
            out.append(value)
        if len(out) == 2:
            return out
    raise ValueError(f"mixin knob {knob.name}: no two valid probe values near {base}")


def _text_probes(knob: Knob, tag: str) -> list[str]:
    if knob.kind == "text":
        return [f"{knob.default}{tag}"]
    return [tag, f'{tag}="1"']  # a plain word, or a label matcher (selector)


def _valid(knob: Knob, candidates: list[Any]) -> Any:
    for value in candidates:
        try:
            cfg = config_with({knob.path: value})
        except ValidationError:
            continue
        return _get(cfg.model_dump(by_alias=True), knob.path)  # as the validators normalised it
    raise ValueError(f"mixin knob {knob.name}: no valid probe value among {candidates}")


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def config_with(values: dict[tuple[str, ...], Any], **extra: Any) -> MixinConfig:
    """The defaults with some knobs (by path) set; ``extra`` adds top-level keys (overrides)."""
    data: dict[str, Any] = {}
    for path, value in values.items():
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return MixinConfig.model_validate({**data, **extra})


def _kind(annotation: Any, default: Any) -> tuple[Kind, tuple[Any, ...]]:
    if typing.get_origin(annotation) is Literal:
        return "choice", typing.get_args(annotation)
    if annotation is bool:
        return "flag", ()
    if annotation in (int, float):
        return "number", ()
    if annotation is str:
        if default == "":
            return "optional", ()
        return ("duration" if _DURATION.match(default) else "text"), ()
    raise TypeError(f"mixin knob of type {annotation!r}: teach exporter/mixin/jsonnet/knobs.py")


def _walk(model: type[BaseModel], instance: BaseModel, prefix: tuple[str, ...]) -> list[Knob]:
    out: list[Knob] = []
    for name, field in model.model_fields.items():
        key = field.alias or name
        if not prefix and key in LISTS:
            continue
        value = getattr(instance, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out += _walk(annotation, value, (*prefix, key))
            continue
        kind, choices = _kind(annotation, value)
        out.append(Knob((*prefix, key), kind, value, choices))
    return out


def knobs() -> list[Knob]:
    """Every scalar knob of ``MixinConfig``, in the model's order."""
    return _walk(MixinConfig, MixinConfig(), ())
