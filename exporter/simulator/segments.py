"""Audience segments: who the traffic of an app comes from, and how good each segment is.

Four dimensions, as the distribution APIs name them: ``OS``, ``Access`` (network), ``Province``
and ``Country``. Each segment has a share of the app's traffic and a *badness multiplier*: a
segment's badness (failure share, or stall rate) is the app's badness times its multiplier. The
multipliers are normalised so the traffic-weighted mean of the segments of one dimension equals the
app-level value; ``Province`` covers Chinese traffic only (so its mean is China's value).

Segment strings follow the docs: OS and network lower case (``android``, ``wifi``), provinces and
countries as Chinese names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "CHINA",
    "DIMENSIONS",
    "SCENARIO_DIMENSION",
    "Attributes",
    "affected_fraction",
    "attributes_of",
    "multiplier",
    "segments",
    "share",
]

# dimension -> ((segment, traffic share, badness multiplier before normalisation), ...)
_TABLE: dict[str, tuple[tuple[str, float, float], ...]] = {
    "OS": (
        ("android", 0.46, 1.25),
        ("ios", 0.30, 0.70),
        ("windows", 0.13, 0.95),
        ("mac", 0.07, 0.80),
        ("linux", 0.04, 1.40),
    ),
    "Access": (
        ("wifi", 0.60, 0.80),
        ("4g", 0.24, 1.30),
        ("5g", 0.12, 0.90),
        ("3g", 0.03, 2.40),
        ("2g", 0.01, 4.00),
    ),
    "Province": (
        ("广东", 0.17, 0.90),
        ("北京", 0.12, 0.80),
        ("上海", 0.11, 0.80),
        ("浙江", 0.09, 0.90),
        ("江苏", 0.09, 0.95),
        ("四川", 0.07, 1.20),
        ("山东", 0.06, 1.05),
        ("湖北", 0.06, 1.10),
        ("河南", 0.05, 1.25),
        ("福建", 0.05, 1.00),
        ("陕西", 0.04, 1.30),
        ("香港", 0.04, 0.85),
        ("台湾", 0.03, 1.10),
        ("澳门", 0.02, 0.90),
    ),
    "Country": (
        ("中国", 0.88, 0.95),
        ("新加坡", 0.04, 1.10),
        ("美国", 0.03, 1.60),
        ("日本", 0.02, 1.20),
        ("马来西亚", 0.02, 1.50),
        ("印度尼西亚", 0.01, 2.00),
    ),
}
DIMENSIONS = tuple(_TABLE)
CHINA = "中国"
# scenario parameter -> the dimension it limits
SCENARIO_DIMENSION = {"os": "OS", "network": "Access", "province": "Province"}


def _normalised(dim: str) -> dict[str, tuple[float, float]]:
    rows = _TABLE[dim]
    mean = sum(w * m for _, w, m in rows)
    return {seg: (w, m / mean) for seg, w, m in rows}


_SEGMENTS = {dim: _normalised(dim) for dim in DIMENSIONS}


def segments(dim: str) -> list[str]:
    return list(_SEGMENTS[dim])


def share(dim: str, segs: Iterable[str] | None = None) -> float:
    """Traffic share of ``segs`` within the dimension (all segments when None)."""
    table = _SEGMENTS[dim]
    if segs is None:
        return 1.0
    return sum(table[s][0] for s in set(segs) if s in table)


def multiplier(dim: str, segs: Iterable[str] | None = None) -> float:
    """Traffic-weighted badness multiplier of ``segs`` (1.0 for the whole dimension)."""
    if segs is None:
        return 1.0
    table = _SEGMENTS[dim]
    chosen = [table[s] for s in set(segs) if s in table]
    total = sum(w for w, _ in chosen)
    return sum(w * m for w, m in chosen) / total if total else 1.0


def affected_fraction(
    limits: Mapping[str, str], selection: Mapping[str, Iterable[str]] | None = None
) -> float:
    """Share of the selected traffic that a segment-limited scenario affects.

    ``limits`` maps dimensions to the one segment a scenario is limited to (none: everything);
    ``selection`` is the slice of traffic asked about (a distribution segment, an OS filter).
    Dimensions are independent, except that a province implies the country 中国.
    """
    sel = {d: set(v) for d, v in (selection or {}).items()}
    fraction = 1.0
    for dim, seg in limits.items():
        chosen = sel.get(dim)
        base = share(dim, chosen)
        fraction *= (
            share(dim, {seg} & chosen if chosen is not None else {seg}) / base if base else 0
        )
    if "Province" in limits and "Province" not in sel:
        chosen = sel.get("Country")
        if chosen is not None:
            base = share("Country", chosen)
            fraction *= share("Country", {CHINA} & chosen) / base if base else 0.0
        else:
            fraction *= share("Country", {CHINA})
    return fraction


@dataclass(frozen=True)
class Attributes:
    """Where a user connects from."""

    os: str
    access: str
    province: str  # "" outside China
    country: str

    def segment(self, dim: str) -> str:
        return {"OS": self.os, "Access": self.access, "Province": self.province}.get(
            dim, self.country
        )

    def matches(self, limits: Mapping[str, str]) -> bool:
        return all(self.segment(dim) == seg for dim, seg in limits.items())


def _pick(dim: str, *key: object) -> str:
    h = hashlib.sha256("|".join(map(str, (dim, *key))).encode()).digest()
    x = int.from_bytes(h[:8], "big") / 2**64
    for seg, (w, _) in _SEGMENTS[dim].items():
        x -= w
        if x < 0:
            return seg
    return segments(dim)[-1]


def attributes_of(seed: int, app_id: str, user: str) -> Attributes:
    """Deterministic attributes of a user the simulated world does not define, by traffic share."""
    country = _pick("Country", seed, app_id, user)
    province = _pick("Province", seed, app_id, user) if country == CHINA else ""
    return Attributes(
        _pick("OS", seed, app_id, user), _pick("Access", seed, app_id, user), province, country
    )
