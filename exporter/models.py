"""Response parsing at the client boundary: tolerant per point, strict per envelope.

The vendor SDK's models make nearly every field optional, so one odd point or indicator must
not cost a whole call. The rules:

* An envelope that cannot be read (``Result`` not an object, a list field that is not a list)
  raises ``ApiSchemaError``: the source fails for that app.
* An indicator, record or point that cannot be read is skipped and counted by reason in the
  result's ``skipped`` counter (``timestamp``, ``value``, ``malformed``); the rest is used.
* A missing or ``null`` value is missing data: the point is kept with ``value=None`` (no
  sample, never 0) and not counted as skipped.
* A timestamp without a UTC offset is read in the configured time zone.
* ``AppKey`` / ``SecondaryAppKey`` of ``ListApps`` are never kept.

The room actions (ListRoomInfo, GetRoomOnlineUsers, ListUserInfo) are parsed by the same rules
in ``exporter.models_rooms``.

Strings have already been made valid UTF-8 by the client (``sanitize``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exporter.errors import ApiSchemaError
from exporter.log import add_secret_hash

__all__ = [
    "App",
    "AppsPage",
    "CallMetric",
    "CallRecord",
    "CallDetailResult",
    "Indicator",
    "IndicatorsResult",
    "Point",
    "SegmentsResult",
    "parse_apps",
    "parse_call_detail",
    "parse_indicators",
    "parse_operation_distribution",
    "sanitize",
    "text",
]

T = TypeVar("T")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Point:
    ts: float  # Unix seconds (bucket start)
    value: float | None  # None: missing data
    segment: str = ""  # the Dimension group of distribution APIs


@dataclass(frozen=True)
class Indicator:
    name: str
    unit: str
    points: tuple[Point, ...]


@dataclass
class IndicatorsResult:
    indicators: list[Indicator] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class CallMetric:
    name: str
    desc: str
    unit: str
    points: tuple[Point, ...]


@dataclass(frozen=True)
class CallRecord:
    room_id: str
    user_id: str
    peer_id: str
    direction: str
    metrics: tuple[CallMetric, ...]


@dataclass
class CallDetailResult:
    records: list[CallRecord] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class App:
    app_id: str
    app_name: str
    status: str  # the raw status (a number as text, or a word)


@dataclass
class AppsPage:
    apps: list[App] = field(default_factory=list)
    total: int | None = None
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass
class SegmentsResult:
    # ListOperationDistribution: (segment, user count, share in percent) per group
    segments: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)


# -- primitives -----------------------------------------------------------------------------


def sanitize(obj: Any) -> Any:
    """Make every string of a parsed JSON document valid UTF-8 (lone surrogates -> U+FFFD)."""
    if isinstance(obj, str):
        try:
            obj.encode("utf-8")
        except UnicodeEncodeError:
            return _SURROGATE.sub("\ufffd", obj)
        return obj
    if isinstance(obj, dict):
        return {sanitize(k): sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [sanitize(v) for v in obj]
    return obj


def text(v: object) -> str | None:
    """A string field: str as is (trimmed), a number as text, None/missing as "", else None."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        return str(int(v)) if float(v).is_integer() else str(v)
    return None


def number(v: object) -> float | None:
    """A JSON number (not a bool, not a string). NaN/inf pass: ranges are checked later."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("not a number")
    return float(v)


def parse_rfc3339(v: object, tz: dt.tzinfo) -> float:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("not a timestamp")
    t = dt.datetime.fromisoformat(v.strip())
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return t.timestamp()


def parse_ms(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise ValueError("not a millisecond timestamp")
    return float(v) / 1000.0


def items(doc: dict[str, Any], key: str, action: str) -> list[Any]:
    """A list field of an object: missing/null is empty, anything else but a list is fatal."""
    v = doc.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise ApiSchemaError(f"Result field {key} is not a list", action=action, status=200)
    return v


def _points(
    raw: list[Any],
    ts_of: Callable[[Any], float],
    skipped: Counter[str],
    segment_key: str | None = None,
) -> tuple[Point, ...]:
    out: list[Point] = []
    for p in raw:
        if not isinstance(p, dict):
            skipped["malformed"] += 1
            continue
        try:
            ts = ts_of(p)
        except (ValueError, TypeError, OverflowError, OSError):
            skipped["timestamp"] += 1
            continue
        raw_value = p.get("Value")
        try:
            value = None if raw_value is None else number(raw_value)
        except ValueError:
            skipped["value"] += 1
            continue
        segment = ""
        if segment_key is not None:
            seg = text(p.get(segment_key))
            if not seg:
                skipped["malformed"] += 1
                continue
            segment = seg
        out.append(Point(ts, value, segment))
    return tuple(out)


# -- actions --------------------------------------------------------------------------------


def parse_indicators(
    result: dict[str, Any], action: str, tz: dt.tzinfo, *, segmented: bool = False
) -> IndicatorsResult:
    """``Result.Indicators[] = {Name, Unit, Data[{TimeStamp, Value[, Dimension]}]}``."""
    out = IndicatorsResult()
    for ind in items(result, "Indicators", action):
        name = text(ind.get("Name")) if isinstance(ind, dict) else None
        unit = text(ind.get("Unit")) if isinstance(ind, dict) else None
        data = ind.get("Data") if isinstance(ind, dict) else None
        if not name or unit is None or not isinstance(data, list | None):
            out.skipped["malformed"] += 1
            continue
        points = _points(
            data or [],
            lambda p: parse_rfc3339(p.get("TimeStamp"), tz),
            out.skipped,
            "Dimension" if segmented else None,
        )
        out.indicators.append(Indicator(name, unit, points))
    return out


def parse_call_detail(result: dict[str, Any], action: str) -> CallDetailResult:
    """``Result.UserCallDetail[] = {RoomId, UserId, PeerId, Direction, CallDetail[...]}``."""
    out = CallDetailResult()
    for rec in items(result, "UserCallDetail", action):
        if not isinstance(rec, dict):
            out.skipped["malformed"] += 1
            continue
        ids = [text(rec.get(k)) for k in ("RoomId", "UserId", "PeerId", "Direction")]
        details = rec.get("CallDetail")
        if any(v is None for v in ids) or not ids[1] or not isinstance(details, list | None):
            out.skipped["malformed"] += 1
            continue
        metrics = []
        for m in details or []:
            fields = [text(m.get(k)) if isinstance(m, dict) else None for k in ("Name", "Desc")]
            unit = text(m.get("Unit")) if isinstance(m, dict) else None
            data = m.get("Data") if isinstance(m, dict) else None
            if any(f is None for f in fields) or unit is None or not isinstance(data, list | None):
                out.skipped["malformed"] += 1
                continue
            points = _points(data or [], lambda p: parse_ms(p.get("Time")), out.skipped)
            metrics.append(CallMetric(fields[0] or "", fields[1] or "", unit, points))
        room, user, peer, direction = (v or "" for v in ids)
        out.records.append(CallRecord(room, user, peer, direction, tuple(metrics)))
    return out


def parse_apps(result: dict[str, Any], action: str) -> AppsPage:
    """``Result = {AppList[{AppId, AppName, Status, ...}], Total}``; AppKeys are dropped."""
    out = AppsPage()
    for a in items(result, "AppList", action):
        for secret in ("AppKey", "SecondaryAppKey"):
            key = a.get(secret) if isinstance(a, dict) else None
            if isinstance(key, str) and len(key) >= 16:
                add_secret_hash(hashlib.sha256(key.encode()).digest())
        fields = [text(a.get(k)) if isinstance(a, dict) else None for k in ("AppId", "AppName")]
        status = text(a.get("Status")) if isinstance(a, dict) else None
        if not fields[0] or fields[1] is None or status is None:
            out.skipped["malformed"] += 1
            continue
        out.apps.append(App(fields[0], fields[1], status))
    total = result.get("Total")
    if isinstance(total, str) and total.strip().isdigit():
        total = int(total)
    out.total = total if isinstance(total, int) and not isinstance(total, bool) else None
    return out


def parse_operation_distribution(result: dict[str, Any], action: str) -> SegmentsResult:
    """``Result = {Name, Dimension, Data[{DistributionName, Value, Proportion}]}``."""
    out = SegmentsResult()
    for p in items(result, "Data", action):
        segment = text(p.get("DistributionName")) if isinstance(p, dict) else None
        if not isinstance(p, dict) or not segment:
            out.skipped["malformed"] += 1
            continue
        try:
            pair = [None if p.get(k) is None else number(p.get(k)) for k in ("Value", "Proportion")]
        except ValueError:
            out.skipped["value"] += 1
            continue
        out.segments.append((segment, pair[0], pair[1]))
    return out
