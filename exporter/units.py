"""Unit conversion and the indicator-name grammar, shared by every collector.

Units (metrics contract): the conversion is chosen from the ``Unit`` string the API returns,
falling back to the seed table's unit when ``Unit`` is empty. A unit outside the table is never
exported with a guessed scale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "Kind",
    "ParsedName",
    "UnknownUnit",
    "convert",
    "format_threshold",
    "parse_indicator_name",
    "unit_factor",
]


class Kind(StrEnum):
    """The base-unit family a metric is exported in (its name suffix)."""

    RATIO = "ratio"
    SECONDS = "seconds"
    BYTES_PER_SECOND = "bytes_per_second"
    FRAMES_PER_SECOND = "frames_per_second"
    PLAIN = "plain"  # counts and unitless values: no suffix


# API unit -> (kind, factor to the base unit). Keys are matched after strip(); see _normalise.
_UNITS: dict[str, tuple[Kind, float]] = {
    "%": (Kind.RATIO, 0.01),
    "ms": (Kind.SECONDS, 0.001),
    "s": (Kind.SECONDS, 1.0),
    "min": (Kind.SECONDS, 60.0),
    "分钟": (Kind.SECONDS, 60.0),
    "kbps": (Kind.BYTES_PER_SECOND, 125.0),
    "bps": (Kind.BYTES_PER_SECOND, 0.125),
    "fps": (Kind.FRAMES_PER_SECOND, 1.0),
    "": (Kind.PLAIN, 1.0),
    "个": (Kind.PLAIN, 1.0),
    "人": (Kind.PLAIN, 1.0),
    "次": (Kind.PLAIN, 1.0),
    "count": (Kind.PLAIN, 1.0),
}
# The seed writes "——" for unitless metrics.
_UNITLESS = {"——", "—", "-", "--"}


class UnknownUnit(ValueError):
    def __init__(self, unit: str, expected: Kind) -> None:
        super().__init__(f"unit {unit!r} cannot be converted to {expected.value}")
        self.unit = unit
        self.expected = expected


def _normalise(unit: str) -> str:
    u = unit.strip()
    if u in _UNITLESS:
        return ""
    if u.lower() in ("kbps", "count"):
        return u.lower()
    return u


def unit_factor(unit: str) -> tuple[Kind, float] | None:
    """(kind, factor) for an API unit string, or None when the unit is not in the table."""
    return _UNITS.get(_normalise(unit))


def convert(value: float, api_unit: str, seed_unit: str, expected: Kind) -> float:
    """Convert ``value`` to the base unit of ``expected``.

    ``api_unit`` wins; ``seed_unit`` is used when the API's is empty. Raises UnknownUnit when
    the unit is unknown or belongs to another kind (e.g. "ms" for a ratio).
    """
    unit = api_unit if api_unit.strip() else seed_unit
    found = unit_factor(unit)
    if found is None or found[0] is not expected:
        raise UnknownUnit(api_unit if api_unit.strip() else seed_unit, expected)
    # 12 significant digits: 98.81 / 100 is 0.9881, not 0.9881000000000001
    return float(f"{value * found[1]:.12g}")


# [<N>(ms|s)_][audio_|video_]<indicator>, threshold and media parts in either order.
_NAME = re.compile(
    r"^(?:(?P<t1>\d+(?:\.\d+)?)(?P<u1>ms|s)_)?"
    r"(?:(?P<media>audio|video)_)?"
    r"(?:(?P<t2>\d+(?:\.\d+)?)(?P<u2>ms|s)_)?"
    r"(?P<base>[a-z][a-z0-9_]*)$"
)


@dataclass(frozen=True)
class ParsedName:
    base: str
    media: str  # "audio", "video" or ""
    threshold: Decimal | None  # seconds


def parse_indicator_name(name: str) -> ParsedName | None:
    """Parse a returned indicator name, e.g. ``80ms_audio_stall_rate``.

    Returns None for names outside the grammar (or with two thresholds).
    """
    m = _NAME.match(name.strip())
    if m is None:
        return None
    if m["t1"] and m["t2"]:
        return None
    number, unit = (m["t1"], m["u1"]) if m["t1"] else (m["t2"], m["u2"])
    threshold: Decimal | None = None
    if number:
        threshold = Decimal(number) / (Decimal(1000) if unit == "ms" else Decimal(1))
    return ParsedName(base=m["base"], media=m["media"] or "", threshold=threshold)


def format_threshold(seconds: Decimal) -> str:
    """``Decimal('0.080')`` -> ``"0.08"``, ``Decimal('5')`` -> ``"5"``."""
    return format(seconds.normalize(), "f")
