"""Units, valid ranges and the indicator-name grammar, shared by every source.

One exact table of the unit strings the API may return. Spellings are matched exactly (after
trimming white space); every accepted spelling is listed, including the aliases that mean the
same unit (full-width ``％``, Chinese units, ``FPS``, ``kb/s``). Anything else is unknown: the
value is skipped and counted, never exported with a guessed scale. Case is never folded:
``KBps`` (kilobytes per second) is not ``kbps`` (kilobits per second).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = [
    "UNITS",
    "Kind",
    "OutOfRange",
    "ParsedName",
    "Unit",
    "UnknownUnit",
    "conversion_help",
    "convert",
    "format_threshold",
    "parse_indicator_name",
]


class Kind(StrEnum):
    """The base-unit family a metric is exported in (its name suffix)."""

    RATIO = "ratio"
    SECONDS = "seconds"
    BYTES_PER_SECOND = "bytes_per_second"
    FRAMES_PER_SECOND = "frames_per_second"
    PLAIN = "plain"  # counts and unitless values: no suffix


# The valid range of each kind, in base units. A point outside it is skipped and counted.
_RANGES: dict[Kind, tuple[float, float]] = {
    Kind.RATIO: (0.0, 1.0),
    Kind.SECONDS: (0.0, 1e9),
    Kind.BYTES_PER_SECOND: (0.0, 1e12),
    Kind.FRAMES_PER_SECOND: (0.0, 1e4),
    Kind.PLAIN: (0.0, 1e15),
}


@dataclass(frozen=True)
class Unit:
    kind: Kind
    factor: float
    wording: str  # how HELP texts describe the conversion


_PERCENT = Unit(Kind.RATIO, 0.01, "percent / 100")
_MS = Unit(Kind.SECONDS, 0.001, "milliseconds / 1000")
_S = Unit(Kind.SECONDS, 1.0, "seconds")
_MIN = Unit(Kind.SECONDS, 60.0, "minutes x 60")
_KBPS = Unit(Kind.BYTES_PER_SECOND, 125.0, "kilobits per second x 125")
_BPS = Unit(Kind.BYTES_PER_SECOND, 0.125, "bits per second / 8")
_FPS = Unit(Kind.FRAMES_PER_SECOND, 1.0, "frames per second")
_COUNT = Unit(Kind.PLAIN, 1.0, "no conversion")

# Every accepted spelling, exactly. Unitless values: empty, the seed's dashes, counting words.
UNITS: dict[str, Unit] = {
    "%": _PERCENT,
    "％": _PERCENT,  # full-width
    "ms": _MS,
    "毫秒": _MS,
    "s": _S,
    "秒": _S,
    "min": _MIN,
    "分钟": _MIN,
    "kbps": _KBPS,
    "Kbps": _KBPS,
    "kb/s": _KBPS,
    "Kb/s": _KBPS,
    "bps": _BPS,
    "fps": _FPS,
    "FPS": _FPS,
    "": _COUNT,
    "—": _COUNT,
    "——": _COUNT,
    "-": _COUNT,
    "--": _COUNT,
    "个": _COUNT,
    "人": _COUNT,
    "次": _COUNT,
    "count": _COUNT,
}

# The unit a HELP text names for each kind (a value converted from any accepted spelling).
_KIND_WORDING = {
    Kind.RATIO: UNITS["%"].wording,
    Kind.SECONDS: "converted from the API's unit (ms / 1000, min x 60)",
    Kind.BYTES_PER_SECOND: UNITS["Kbps"].wording,
    Kind.FRAMES_PER_SECOND: UNITS["fps"].wording,
    Kind.PLAIN: UNITS[""].wording,
}


def conversion_help(kind: Kind, seed_unit: str = "") -> str:
    """The conversion wording of HELP texts, from the unit table (never hand-written)."""
    seed = UNITS.get(seed_unit.strip())
    if seed is not None and seed.kind is kind:
        return seed.wording
    return _KIND_WORDING[kind]


class UnknownUnit(ValueError):
    def __init__(self, unit: str, expected: Kind) -> None:
        super().__init__(f"unit {unit!r} cannot be converted to {expected.value}")
        self.unit = unit
        self.expected = expected


class OutOfRange(ValueError):
    """A value that is not finite or outside its kind's valid range after conversion."""


def convert(value: float, api_unit: str, seed_unit: str, expected: Kind) -> float:
    """Convert ``value`` to the base unit of ``expected`` and check its range.

    ``api_unit`` wins; ``seed_unit`` is used when the API's is empty. Raises UnknownUnit when
    the unit is unknown or belongs to another kind (e.g. "ms" for a ratio), OutOfRange when the
    result is not finite or outside the kind's valid range.
    """
    unit = api_unit if api_unit.strip() else seed_unit
    found = UNITS.get(unit.strip())
    if found is None or found.kind is not expected:
        raise UnknownUnit(unit, expected)
    if not math.isfinite(value):
        raise OutOfRange(f"{value!r} is not finite")
    # 12 significant digits: 98.81 / 100 is 0.9881, not 0.9881000000000001
    result = float(f"{value * found.factor:.12g}")
    low, high = _RANGES[expected]
    if not low <= result <= high:
        raise OutOfRange(f"{result!r} is outside {low:g}..{high:g} for {expected.value}")
    return result


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
