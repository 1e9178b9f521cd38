"""Unsigned admin endpoints: ``GET /-/healthy``, ``GET /-/stats``, ``GET /-/quotas``,
``GET/POST/DELETE /-/scenarios[/<name>]``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from exporter.simulator.response import SimResponse
from exporter.simulator.scenarios import SCENARIOS

if TYPE_CHECKING:
    from exporter.simulator.server import Simulator

__all__ = ["admin"]


def _json(doc: Any, status: int = 200) -> SimResponse:
    return SimResponse(status, json.dumps(doc, ensure_ascii=False).encode())


def _scenarios(sim: Simulator) -> dict[str, Any]:
    return {
        "active": {n: {"params": s.params, "since": s.since} for n, s in sim.active.items()},
        "available": {
            n: {"kind": s.kind, "summary": s.summary, "expect": s.expect, "params": s.defaults}
            for n, s in SCENARIOS.items()
        },
    }


def _activate(sim: Simulator, body: bytes) -> SimResponse:
    try:
        req = json.loads(body or b"{}")
        s = sim.activate(str(req.get("name", "")), dict(req.get("params") or {}))
    except (ValueError, AttributeError, TypeError) as exc:
        return _json({"error": str(exc)}, 400)
    return _json({"name": s.name, "params": s.params})


def admin(sim: Simulator, method: str, path: str, body: bytes) -> SimResponse:
    path = path.split("?", 1)[0]
    if path == "/-/healthy":
        return _json({"status": "ok"})
    if path == "/-/stats" and method == "GET":
        return _json(sim.stats_doc())
    if path == "/-/quotas" and method == "GET":
        return _json(sim.quota_doc())
    if path == "/-/scenarios" and method == "GET":
        return _json(_scenarios(sim))
    if path == "/-/scenarios" and method == "POST":
        return _activate(sim, body)
    if path.startswith("/-/scenarios") and method == "DELETE":
        sim.deactivate(path.removeprefix("/-/scenarios").strip("/") or None)
        return _json({"status": "ok"})
    return _json({"error": "not found"}, 404)
