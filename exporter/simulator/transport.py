"""An httpx transport straight into a Simulator: no socket, deterministic, virtual time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import httpx

from exporter.simulator.response import SimResponse

if TYPE_CHECKING:
    from exporter.simulator.server import Simulator

__all__ = ["SimulatorTransport"]


class _Stream(httpx.SyncByteStream):
    """A streamed simulator body; ``trickle`` pacing uses the simulator's (injected) sleep."""

    def __init__(self, resp: SimResponse, sleep: Callable[[float], None]) -> None:
        self.resp, self.sleep = resp, sleep
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        rate = self.resp.rate
        step = max(1, int(rate / 4)) if rate else 65536
        for chunk in self.resp.chunks(step):
            if self._closed:
                return
            if rate:
                self.sleep(len(chunk) / rate)
            yield chunk

    def close(self) -> None:
        self._closed = True


class SimulatorTransport(httpx.BaseTransport):
    """``Simulator.transport()``; ``calls`` lists the Action of every request, in order."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.calls: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request.url.params.get("Action", ""))
        resp = self.sim.respond(
            request.method, request.url.raw_path.decode(), dict(request.headers), request.read()
        )
        headers = dict(resp.headers)
        if resp.stream is None and resp.rate is None:
            return httpx.Response(resp.status, content=resp.body, headers=headers)
        if resp.length is not None:
            headers["Content-Length"] = str(resp.length)
        elif resp.stream is None:
            headers["Content-Length"] = str(len(resp.body))
        return httpx.Response(resp.status, stream=_Stream(resp, self.sim.sleep), headers=headers)
