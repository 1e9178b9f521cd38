"""Where a knob's value went in one rendered string, and how it was formatted.

The output is rendered with the knob's base value and with two probe values; a *hole* is a span
of the base string that reads ``transform(base)`` where the probe strings read
``transform(probe)``, everything else being equal. The transforms are the formats the Python
generator uses (``f"{x:g}"``, ``f"{x * 100:g}%"``, ``f"{x:.0%}"``, ``f"{x:.0f}"``, ...); each
has a twin in the generated ``pyformat.libsonnet`` that prints exactly the same text. A
difference no transform explains is an error at generation time (teach the transform here and
in ``pyformat``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from exporter.mixin.config import seconds

__all__ = ["NUMBER_TRANSFORMS", "TEXT_TRANSFORMS", "Hole", "align", "number_transform"]


def _g(x: float) -> str:
    return format(float(x), "g")


# name -> (Python format, kinds of knob it applies to); the Jsonnet twins are in files.py
TEXT_TRANSFORMS: dict[str, tuple[Callable[[Any], str], tuple[str, ...]]] = {
    "str": (str, ("text", "duration", "optional")),
    "capitalize": (lambda v: str(v).capitalize(), ("text", "optional")),
    "g": (_g, ("number",)),
    "percent_g": (lambda v: _g(float(v) * 100), ("number",)),
    "percent0": (lambda v: format(float(v), ".0%"), ("number",)),
    "fixed0": (lambda v: format(float(v), ".0f"), ("number",)),
    "minutes_g": (lambda v: _g(float(v) / 60), ("number",)),
    "seconds_g": (lambda v: _g(seconds(str(v))), ("duration",)),
}
NUMBER_TRANSFORMS: dict[str, tuple[Callable[[Any], float], tuple[str, ...]]] = {
    "value": (float, ("number",)),
    "percent": (lambda v: float(v) * 100, ("number",)),
    "seconds": (lambda v: seconds(str(v)), ("duration",)),
}


@dataclass(frozen=True)
class Hole:
    start: int
    end: int
    knob: str
    transform: str


def _candidates(kind: str, values: list[Any]) -> list[tuple[str, list[str]]]:
    out = []
    for name, (fn, kinds) in TEXT_TRANSFORMS.items():
        if kind not in kinds:
            continue
        try:
            texts = [fn(v) for v in values]
        except (TypeError, ValueError):
            continue
        # visible in every probe, and not empty (an empty base is a facet, not a hole)
        if texts[0] and all(t != texts[0] for t in texts[1:]):
            out.append((name, texts))
    return out


def align(knob: str, kind: str, texts: list[str], values: list[Any]) -> list[Hole] | None:
    """Holes of ``knob`` in ``texts[0]`` (rendered with ``values[0]``; the others with the
    probes), or None when no combination of transforms explains the differences."""
    cands = _candidates(kind, values)
    failed: set[tuple[int, ...]] = set()

    def options(pos: list[int]) -> list[tuple[str, list[str]]]:
        return [
            (name, out)
            for name, out in cands
            if all(t.startswith(o, p) for t, o, p in zip(texts, out, pos, strict=True))
        ]

    def solve(start: tuple[int, ...]) -> list[Hole] | None:
        pos = list(start)
        while True:  # equal characters: advance; a transform could start: branch
            key = tuple(pos)
            if key in failed:
                return None
            here = options(pos)
            for name, out in here:
                rest = solve(tuple(p + len(o) for p, o in zip(pos, out, strict=True)))
                if rest is not None:
                    return [Hole(pos[0], pos[0] + len(out[0]), knob, name), *rest]
            ends = [p == len(t) for p, t in zip(pos, texts, strict=True)]
            if all(ends):
                return []
            if any(ends) or len({t[p] for t, p in zip(texts, pos, strict=True)}) != 1:
                failed.add(key)
                return None
            if here:  # a transform matched but led nowhere: the literal path, once
                rest = solve(tuple(p + 1 for p in pos))
                if rest is None:
                    failed.add(key)
                return rest
            pos = [p + 1 for p in pos]

    return solve(tuple(0 for _ in texts))


def number_transform(kind: str, numbers: list[float], values: list[Any]) -> str | None:
    """The transform that turns each knob value into the rendered number, if any."""
    for name, (fn, kinds) in NUMBER_TRANSFORMS.items():
        if kind not in kinds:
            continue
        try:
            if all(fn(v) == n for v, n in zip(values, numbers, strict=True)):
                return name
        except (TypeError, ValueError):
            continue
    return None
