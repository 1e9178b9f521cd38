"""Request validation shared by the actions: each helper returns a clean value or raises ApiError.

``Ctx`` carries what a handler needs: the parsed parameters, the app, the (validated) window, the
request time and the value model.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from exporter.simulator.data import CST, SimApp
from exporter.simulator.model import Model
from exporter.simulator.response import ApiError
from exporter.simulator.world import RoomCall

if TYPE_CHECKING:
    from exporter.simulator.actions import ActionSpec
    from exporter.simulator.recordings import RecordingBook

__all__ = ["Ctx", "invalid", "missing", "ts"]

TZ = dt.timezone(dt.timedelta(seconds=CST))
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
_INT = re.compile(r"^-?\d+$")


def ts(t: float) -> str:
    """RFC3339 in the API's +08:00 zone, seconds precision."""
    return dt.datetime.fromtimestamp(t, TZ).isoformat()


def missing(key: str) -> ApiError:
    return ApiError(400, "MissingParameter", f"{key} is required", 100002)


def invalid(message: str, code: str = "InvalidParameter") -> ApiError:
    return ApiError(400, code, message)


@dataclass
class Ctx:
    spec: ActionSpec
    version: str
    params: dict[str, Any]
    now: float
    model: Model
    app_or_none: SimApp | None
    apps: list[SimApp]
    rooms: Callable[[SimApp], list[RoomCall]]
    seed: int
    start: float = 0.0
    end: float = 0.0
    provider: str = "volcengine"
    recordings: RecordingBook | None = None  # tasks announced by the event feed

    @property
    def app(self) -> SimApp:
        assert self.app_or_none is not None, f"{self.spec.name} has no AppId"
        return self.app_or_none

    # -- single parameters ------------------------------------------------------------------

    def text(self, key: str, *, required: bool = False) -> str | None:
        raw = self.params.get(key)
        if raw is None or raw == "":
            if required:
                raise missing(key)
            return None
        if not isinstance(raw, str):
            raise invalid(f"{key} must be a string")
        return raw

    def integer(self, key: str, default: int, lo: int = 1) -> int:
        raw = self.params.get(key)
        if raw is None or raw == "":
            return default
        if isinstance(raw, bool) or not (isinstance(raw, int) or _INT.match(str(raw))):
            raise invalid(f"{key} must be an integer")
        if int(raw) < lo:
            raise invalid(f"{key} must be >= {lo}")
        return int(raw)

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.params.get(key)
        if raw is None or raw == "":
            return default
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in ("true", "false"):
            return str(raw).lower() == "true"
        raise invalid(f"{key} must be true or false")

    def page(self) -> tuple[int, int]:
        """PageNum (default 1) and PageSize (default 20; above 100 is treated as 100)."""
        return self.integer("PageNum", 1), min(100, self.integer("PageSize", 20))

    def id_list(self, key: str, limit: int, *, required: bool = False) -> list[str]:
        """A comma-separated (GET) or array (POST) list of ids, at most ``limit``."""
        raw = self.params.get(key)
        if raw is None or raw == "" or raw == []:
            if required:
                raise missing(key)
            return []
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise invalid(f"{key} must be a list of strings")
        ids = [i.strip() for i in items if i.strip()]
        if len(ids) > limit:
            raise invalid(f"at most {limit} {key}")
        return ids

    def product_type(self) -> str:
        raw = self.params.get("ProductType")
        if raw is None:
            return "native"
        if raw not in ("native", "web"):
            raise invalid(f"ProductType must be native or web, not {raw!r}")
        return str(raw)

    def choice(self, key: str, allowed: Collection[str], *, fold: bool = False) -> str:
        """One string out of ``allowed`` (``fold``: compared case-insensitively)."""
        raw = self.text(key, required=True)
        assert raw is not None
        for value in allowed:
            if raw == value or (fold and raw.lower() == value.lower()):
                return value
        raise invalid(f"{key} must be one of {', '.join(allowed)}, not {raw!r}")

    def indicator_list(self, allowed: Collection[str]) -> list[str]:
        ind = self.params.get("Indicator")
        if not isinstance(ind, list) or not ind:
            raise missing("Indicator")
        for i in ind:
            if i not in allowed:
                raise invalid(f"unknown Indicator {i!r}")
        return [str(i) for i in ind]

    def one_indicator(self, allowed: Collection[str]) -> str:
        ind = self.params.get("Indicator")
        if ind is None or ind == "":
            raise missing("Indicator")
        if not isinstance(ind, str):
            raise invalid("Indicator is one string in this action")
        if ind not in allowed:
            raise invalid(f"unknown Indicator {ind!r}")
        return ind

    def granularity(self) -> str:
        g = self.params.get("AggregateGranularity")
        if g not in self.spec.granularities:
            raise invalid(f"AggregateGranularity must be one of {self.spec.granularities}")
        return str(g)

    def segment_filter(self, key: str, allowed: Collection[str]) -> list[str] | None:
        """ListQuality's optional OS / Access arrays."""
        raw = self.params.get(key)
        if raw is None or raw == []:
            return None
        if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
            raise invalid(f"{key} must be an array of strings")
        lowered = {a.lower(): a for a in allowed}
        return [lowered[v.lower()] for v in raw if v.lower() in lowered]


def parse_window(ctx: Ctx) -> tuple[float, float]:
    """StartTime/EndTime: RFC3339, ordered, within span and lookback (or clamped to the span)."""
    times = []
    for key in ("StartTime", "EndTime"):
        raw = ctx.params.get(key)
        if not raw:
            raise missing(key)
        if not isinstance(raw, str) or not _RFC3339.match(raw):
            raise invalid(f"{key} must be RFC3339: {raw!r}")
        times.append(dt.datetime.fromisoformat(raw).timestamp())
    start, end = times
    if start >= end:
        raise invalid("StartTime must be before EndTime", "InvalidParameter.StartTimeAfterEndTime")
    spec = ctx.spec
    if end - start > spec.max_span:
        if not spec.clamp_span:
            raise invalid(f"span over {spec.max_span:g}s", "InvalidParameter.OutofTimeRange")
        end = start + spec.max_span  # documented: silently moved, not an error
    if start < ctx.now - spec.max_lookback - 60:
        raise invalid(f"lookback over {spec.max_lookback:g}s", "InvalidParameter.OutofTimeRange")
    return start, end


def require_app(params: Mapping[str, Any], by_id: Mapping[str, SimApp]) -> SimApp:
    app_id = params.get("AppId")
    if not app_id:
        raise missing("AppId")
    app = by_id.get(str(app_id))
    if app is None:
        raise invalid("AppId does not exist", "InvalidParameter.NotExistAppId")
    return app
