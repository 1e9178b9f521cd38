"""Virtual time for sources that run in parallel: one clock per lane (source).

In the exporter each source's cycle runs in its own thread, paced by its own action's limiter.
Inline (virtual-time) runs would put the cycles one after another, so a source with a long
cycle would hold back the others. Here each source has its own lane of virtual time: the driver
always runs the lane furthest behind, and everything that lane does (its calls, the limiter of
its action, the simulator's answers and quota book for that action) happens on its lane's clock.
Sources sharing state only through the refresher (the traffic tiers, the trigger of a breakdown)
see each other's results at most one cycle early or late.
"""

from __future__ import annotations

import json
from collections import defaultdict

import httpx

from exporter.refresher import Refresher
from tests.conftest import VirtualClock

__all__ = ["Calls", "LaneClock", "drive"]


class LaneClock(VirtualClock):
    """A ``VirtualClock`` whose time is the current lane's."""

    def __init__(self, t: float, lanes: list[str]) -> None:
        self.lanes = dict.fromkeys(lanes, t)
        self.lane = lanes[0]

    @property  # type: ignore[override]
    def t(self) -> float:
        return self.lanes[self.lane]

    @t.setter
    def t(self, value: float) -> None:
        self.lanes[self.lane] = value


class Calls(httpx.BaseTransport):
    """Every request's (time, action, app id, status)."""

    def __init__(self, inner: httpx.BaseTransport, clock: LaneClock) -> None:
        self.inner, self.clock = inner, clock
        self.sent: list[tuple[float, str, str, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        params = dict(request.url.params)
        if request.content:
            params |= json.loads(request.content)
        action = params.get("Action", request.url.params.get("Action", ""))
        self.sent.append((self.clock.t, action, str(params.get("AppId", "")),
                          response.status_code))  # fmt: skip
        return response

    def times(self, action: str) -> dict[str, list[float]]:
        """app id -> send times of ``action``."""
        out: dict[str, list[float]] = defaultdict(list)
        for t, a, app, _ in self.sent:
            if a == action:
                out[app].append(t)
        return out

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        for *_, status in self.sent:
            out[status] += 1
        return dict(out)


def drive(refresher: Refresher, clock: LaneClock, until: float) -> None:
    """Run every lane (a source each) up to ``until``: the lane furthest behind goes next,
    starting its source's cycle when due (inline: the cycle runs now, on the lane's clock)."""
    while True:
        lane = min(clock.lanes, key=lambda n: clock.lanes[n])
        if clock.lanes[lane] >= until:
            return
        clock.lane = lane
        refresher.replan()
        started = refresher.cache.status(lane).cycle_started
        due = clock.t if started is None else started + refresher.interval(lane)
        if due > clock.t:
            clock.t = min(due, until)
            continue
        refresher.trigger(lane).result()
        if clock.t == started:  # nothing to wait for: never spin
            clock.t += 1.0
