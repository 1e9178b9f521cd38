"""A vendor that changes its mind: the API scenarios of issue 22 (see ``scenarios.py``).

* ``apps_spike``: ListApps also lists ``count`` apps that do not exist (a test account's burst,
  a glitch); their data calls are answered ``InvalidParameter.NotExistAppId`` as for any
  unknown app. The extra apps page like real ones (``Total`` counts them).
* ``product_type_error``: calls with ``ProductType=<product_type>`` are answered HTTP 200 with
  ``ResponseMetadata.Error`` (``code``), the other product type answers normally.
* ``clock_ahead``: every ``TimeStamp`` (RFC 3339) and ``Time`` (ms) is ``seconds`` ahead.
* ``duplicate_points``: each data point (or the ``last`` newest of each series) is listed twice,
  the copy with its value times ``factor``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from exporter.simulator.response import SimResponse
from exporter.simulator.scenarios import ActiveScenario

__all__ = ["product_type_error", "spike_app_ids", "transform_quirks"]

Active = Mapping[str, ActiveScenario]


def _on(active: Active, name: str, action: str, app_id: str) -> ActiveScenario | None:
    s = active.get(name)
    return s if s is not None and s.applies(action, app_id) else None


def spike_app_ids(count: int) -> list[str]:
    """The ids of the apps a spike lists (24 hex characters, like real ones; stable)."""
    return [hashlib.sha256(f"spike-{i}".encode()).hexdigest()[:24] for i in range(count)]


def product_type_error(
    active: Active, action: str, app_id: str, params: Mapping[str, Any], meta: dict[str, Any]
) -> SimResponse | None:
    s = _on(active, "product_type_error", action, app_id)
    got, want = params.get("ProductType"), s.params["product_type"] if s else ""
    if s is None or got is None or (want and str(got) != want):
        return None
    error = {"Code": s.params["code"], "Message": f"ProductType {got} is unavailable"}
    return SimResponse(200, json.dumps({"ResponseMetadata": meta | {"Error": error}}).encode())


def _spike(result: dict[str, Any], count: int) -> None:
    real = int(result.get("Total", 0))
    offset, limit = int(result.get("Offset", 0)), int(result.get("Limit", 50))
    ids = spike_app_ids(count)
    first, last = max(offset, real), min(offset + limit, real + count)
    result.setdefault("AppList", []).extend(
        {"AppId": ids[i - real], "AppName": f"spike-{i - real}", "Status": 1,
         "CreateAt": "2024-01-01T00:00:00+08:00"}
        for i in range(first, last)
    )  # fmt: skip
    result["Total"] = real + count


def _shift(d: dict[str, Any], seconds: float) -> None:
    stamp = d.get("TimeStamp")
    if isinstance(stamp, str):
        try:
            t = dt.datetime.fromisoformat(stamp)
        except ValueError:
            return
        d["TimeStamp"] = (t + dt.timedelta(seconds=seconds)).isoformat()
    if isinstance(d.get("Time"), int | float) and not isinstance(d.get("Time"), bool):
        d["Time"] = int(d["Time"] + seconds * 1000)


def _is_point(item: Any) -> bool:
    return isinstance(item, dict) and "Value" in item and ("TimeStamp" in item or "Time" in item)


def _duplicate(obj: Any, factor: float, last: int) -> None:
    if isinstance(obj, dict):
        for v in obj.values():
            _duplicate(v, factor, last)
    elif isinstance(obj, list):
        if obj and all(_is_point(p) for p in obj):
            start = 0 if last <= 0 else max(0, len(obj) - last)
            out = obj[:start]
            for p in obj[start:]:
                v = p["Value"]
                copy = dict(p, Value=v * factor if isinstance(v, int | float) else v)
                out += [p, copy]
            obj[:] = out
        else:
            for v in obj:
                _duplicate(v, factor, last)


def _walk_points(obj: Any, seconds: float) -> None:
    if isinstance(obj, dict):
        if _is_point(obj):
            _shift(obj, seconds)
        for v in obj.values():
            _walk_points(v, seconds)
    elif isinstance(obj, list):
        for v in obj:
            _walk_points(v, seconds)


def transform_quirks(result: Any, active: Active, action: str, app_id: str) -> None:
    """Apply ``apps_spike``, ``clock_ahead`` and ``duplicate_points`` to ``result`` in place."""
    s = _on(active, "apps_spike", action, app_id)
    if s and action == "ListApps" and isinstance(result, dict):
        _spike(result, int(s.params["count"]))
    s = _on(active, "clock_ahead", action, app_id)
    if s:
        _walk_points(result, float(s.params["seconds"]))
    s = _on(active, "duplicate_points", action, app_id)
    if s:
        _duplicate(result, float(s.params["factor"]), int(s.params["last"]))
