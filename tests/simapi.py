"""A signed client for the simulator's in-process transport, on a virtual clock (simulator tests)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from exporter.signing import VolcAuth
from exporter.simulator import Simulator
from tests.conftest import AK, SK

T = 1704196800.0  # 2024-01-02T12:00:00Z = 20:00 +08:00, the evening peak
CST = dt.timezone(dt.timedelta(hours=8))


class VirtualClock:
    """The simulator's clock and sleep: sleeping advances time, nothing waits."""

    def __init__(self, t: float = T) -> None:
        self.t = t
        self.slept = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.slept += seconds


def iso(t: float) -> str:
    return dt.datetime.fromtimestamp(t, CST).isoformat()


def stamp(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


class Api:
    """Signed requests through ``Simulator.transport()``; times are offsets from the clock."""

    def __init__(self, sim: Simulator, clock: VirtualClock, *, secret: str = SK) -> None:
        self.sim, self.clock = sim, clock
        auth = VolcAuth(
            lambda: (AK, secret, None),
            region=sim.region,
            clock=lambda: dt.datetime.fromtimestamp(clock.t, dt.UTC),
        )
        self.client = httpx.Client(base_url="http://sim.test", transport=sim.transport(), auth=auth)

    @property
    def app(self) -> str:
        return self.sim.apps[0].app_id

    def window(self, start: float, end: float = 0.0, **kw: Any) -> dict[str, Any]:
        """AppId (the first app unless given) and StartTime/EndTime at now + offsets."""
        return {
            "AppId": self.app,
            "StartTime": iso(self.clock.t + start),
            "EndTime": iso(self.clock.t + end),
            **kw,
        }

    def post(
        self, action: str, body: dict[str, Any], version: str = ""
    ) -> tuple[int, dict[str, Any]]:
        r = self.client.post(
            "/",
            params={"Action": action, "Version": version or self.version(action)},
            content=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        return r.status_code, r.json()

    def get(
        self, action: str, query: dict[str, Any], version: str = ""
    ) -> tuple[int, dict[str, Any]]:
        version = version or self.version(action)
        params = {"Action": action, "Version": version, **{k: str(v) for k, v in query.items()}}
        r = self.client.get("/", params=params)
        return r.status_code, r.json()

    def ok(self, action: str, body: dict[str, Any], version: str = "") -> Any:
        """The Result of a successful call (POST for a JSON body, GET for the query actions)."""
        method = self.sim_method(action)
        status, doc = (
            self.post(action, body, version)
            if method == "POST"
            else self.get(action, body, version)
        )
        assert status == 200 and "Error" not in doc["ResponseMetadata"], doc
        return doc["Result"]

    def error(
        self, action: str, body: dict[str, Any], version: str = ""
    ) -> tuple[int, dict[str, Any]]:
        method = self.sim_method(action)
        status, doc = (
            self.post(action, body, version)
            if method == "POST"
            else self.get(action, body, version)
        )
        assert status != 200 and "Result" not in doc, doc
        return status, doc["ResponseMetadata"]["Error"]

    def version(self, action: str) -> str:
        """2023-11-01 where the simulated provider serves it, else the version it serves."""
        from exporter.simulator.actions import ACTIONS

        served = ACTIONS[action].versions_for(self.sim.provider) if action in ACTIONS else ()
        return "2023-11-01" if "2023-11-01" in served or not served else served[0]

    @staticmethod
    def sim_method(action: str) -> str:
        from exporter.simulator.actions import ACTIONS

        return ACTIONS[action].method if action in ACTIONS else "POST"


def make(**kw: Any) -> tuple[Simulator, VirtualClock, Api]:
    clock = VirtualClock(kw.pop("t", T))
    kw.setdefault("qps", 1e6)
    sim = Simulator(credentials={AK: SK}, clock=clock, sleep=clock.sleep, **kw)
    return sim, clock, Api(sim, clock)
