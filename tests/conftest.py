from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.limiter import Waiter
from exporter.settings import Settings, load_settings
from exporter.simulator import Simulator, SimulatorTransport

ROOT = Path(__file__).resolve().parent.parent
AK = "AKLTtestAK"
SK = "test-Secret/Key+=="


def need_binary(name: str) -> str:
    """Path of a binary; skip locally when missing, fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required in CI but not installed")
        pytest.skip(f"{name} not installed")
    return path


class FrozenClock:
    """A clock for tests: wall time stands still at ``t`` (settable); monotonic time is ``t``
    plus the real time elapsed since creation, so pacing still advances while a test moves
    ``t`` forward to age the cache."""

    def __init__(self, t: float) -> None:
        self.t = t
        self._real = time.monotonic()

    def __call__(self) -> float:
        return self.t

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t + (time.monotonic() - self._real)

    def dt(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.t, dt.UTC)


class VirtualClock:
    """Virtual time: wall and monotonic are one number that only ``advance`` (or a
    ``VirtualWaiter``) moves. Nothing sleeps."""

    def __init__(self, t: float = 1704196800.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def time(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class VirtualWaiter(Waiter):
    """A waiter that advances a virtual clock instead of sleeping; records every wait."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        if self.cancelled:
            return False
        if seconds > 0:
            self.waits.append(seconds)
            self.clock.advance(seconds)
        return True


@pytest.fixture
def clock() -> FrozenClock:
    # 2024-01-02 12:00:00 UTC = 20:00 in +08:00
    return FrozenClock(dt.datetime(2024, 1, 2, 12, 0, 0, tzinfo=dt.UTC).timestamp())


def make_settings(**overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "endpoint": "http://rtc.test",
        "credentials": {"access_key_id": AK, "secret_access_key": SK},
        "apps": [{"app_id": "app1", "name": "one"}],
        "rate_limit": {"requests_per_second": 1000.0, "headroom": 1.0, "backoff_seconds": 0.01},
    }
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            base[k] = {**base[k], **v}
        else:
            base[k] = v
    return load_settings(None, **base)


GOLDEN_TIME = 1704196800.0  # 2024-01-02T12:00:00Z, when tests/fixtures were generated
GOLDEN_APP = "ee1629c1c1a650ff9fd61cf6"  # the simulator's first app (seed 1)


def golden_settings(**overrides: Any) -> Settings:
    """The settings the fixtures were generated with: one app with a two-user watch list, the
    busiest room watched automatically, short windows (small fixtures)."""
    base: dict[str, Any] = {
        "apps": [
            {
                "app_id": GOLDEN_APP,
                "name": "golden",
                "call_detail": [{"room_id": "room-1", "user_ids": ["alice", "bob"]}],
            }
        ],
        "sources": {
            "call_detail": {"window_seconds": 200, "max_client_series": 700},
            "realtime_breakdown": {"window_seconds": 180},
            "rooms": {"top_rooms": 1},
        },
    }
    return make_settings(**(base | overrides))


def envelope(result: dict[str, Any] | None = None, error: dict[str, str] | None = None) -> bytes:
    meta: dict[str, Any] = {"RequestId": "req-1", "Action": "X", "Version": "2023-11-01"}
    if error:
        meta["Error"] = error
    doc: dict[str, Any] = {"ResponseMetadata": meta}
    if result is not None:
        doc["Result"] = result
    return json.dumps(doc).encode()


Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture
def simulator(clock: FrozenClock) -> Iterator[Simulator]:
    sim = Simulator(apps=2, credentials={AK: SK}, clock=clock, qps=1000.0)
    sim.start()
    yield sim
    sim.stop()


# routes httpx requests straight into a Simulator (no socket): Simulator.transport()
SimTransport = SimulatorTransport


FIXTURES = ROOT / "tests" / "fixtures"


_WINDOW = {"Action", "Version", "AppId", "StartTime", "EndTime"}


def variant_key(request: httpx.Request) -> str:
    """The parameters that pick an answer: everything but the action, app and time window."""
    params: dict[str, Any] = dict(request.url.params)
    if request.method == "POST" and request.content:
        params |= json.loads(request.content)
    return "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in _WINDOW)


def fixture_result(action: str, contains: str = "") -> dict[str, Any]:
    """The ``Result`` of the first recorded answer of ``action`` whose key contains ``contains``."""
    variants = json.loads((FIXTURES / f"{action}.json").read_text(encoding="utf-8"))["variants"]
    doc = next(v for k, v in variants.items() if contains in k)
    return dict(doc["Result"])


def fixture_transport(
    overrides: dict[str, Handler] | None = None,
) -> tuple[httpx.MockTransport, list[str]]:
    """Answer each request from tests/fixtures/<Action>.json: the variant recorded for the same
    parameters (e.g. the same ProductType), else the first one (or an override handler)."""
    calls: list[str] = []
    cache: dict[str, dict[str, Any]] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        action = request.url.params["Action"]
        calls.append(action)
        if overrides and action in overrides:
            return overrides[action](request)
        if action not in cache:
            cache[action] = json.loads((FIXTURES / f"{action}.json").read_text(encoding="utf-8"))
        variants = cache[action]["variants"]
        doc = variants.get(variant_key(request)) or next(iter(variants.values()))
        return httpx.Response(200, content=json.dumps(doc).encode())

    return httpx.MockTransport(handler), calls
