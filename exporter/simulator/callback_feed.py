"""Delivering the simulated world's events to a callback URL, as the vendor does.

Each event is signed (``exporter.callbacks.signature``, the documented algorithm) and POSTed as
JSON on a fresh connection. Like the vendor: success is HTTP 200 within 5 s; anything else is
retried up to twice (``retry_delay`` apart), then given up. Like a real network: a delivered
event is sometimes delivered again (``duplicates``, a probability), neighbours are sometimes
swapped (``reorder``), and several senders work at once, so arrival order is not event order.

``pump(now)`` turns the events of ``(last, now]`` into deliveries; ``start()`` pumps once a
second on the simulator's clock. The ``wrong_secret`` scenario signs with another secret,
``burst`` sends a batch of joins once from its own senders.
"""

from __future__ import annotations

import collections
import datetime as dt
import http.client
import json
import queue
import random
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from exporter.callbacks.signature import compute_signature
from exporter.simulator.callback_events import SimEvent, burst_events, events
from exporter.simulator.validate import TZ

if TYPE_CHECKING:
    from exporter.simulator.server import Simulator

__all__ = ["CallbackFeed"]

_SIGNED = ("EventType", "EventData", "EventTime", "EventId", "AppId", "Version", "Nonce")


def _event_time(t: float) -> str:
    return dt.datetime.fromtimestamp(t, TZ).isoformat(timespec="milliseconds")


class CallbackFeed:
    def __init__(
        self,
        sim: Simulator,
        url: str,
        secret: str,
        *,
        retry_delay: float = 1.0,
        duplicates: float = 0.02,
        reorder: float = 0.05,
        senders: int = 4,
        timeout: float = 5.0,
        seed: int = 7,
        recording_period: float = 90.0,
        backlog: float = 0.0,
    ) -> None:
        self.sim, self.url, self.secret = sim, url, secret
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._tls = ssl.create_default_context() if self._https else None
        self.retry_delay, self.duplicates, self.reorder = retry_delay, duplicates, reorder
        self.timeout = timeout
        self.recording_period = recording_period
        self._rng = random.Random(seed)
        self._queue: queue.Queue[bytes | None] = queue.Queue()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.stats: collections.Counter[str] = collections.Counter()
        self._last = sim.clock() - backlog  # the first pump sends the last ``backlog`` s
        self._bursts: set[float] = set()
        self._senders = [
            threading.Thread(target=self._send_loop, name=f"callback-sender-{i}", daemon=True)
            for i in range(senders)
        ]
        self._ticker: threading.Thread | None = None
        for thread in self._senders:
            thread.start()

    # -- making deliveries ---------------------------------------------------------------------

    def sign(self, event: SimEvent) -> bytes:
        wrong = self.sim.active.get("wrong_secret")
        secret = self.secret
        if wrong is not None and wrong.params.get("app_id") in ("", event.app_id):
            secret = "rotated-" + self.secret
        doc = {
            "EventType": event.event_type,
            "EventData": json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
            "EventTime": _event_time(event.time),
            "EventId": event.event_id,
            "AppId": event.app_id,
            "Version": "2020-12-01",
            "Nonce": f"{self._rng.randrange(10000):04d}",
        }
        doc["Signature"] = compute_signature([doc[k] for k in _SIGNED], secret)
        return json.dumps(doc, ensure_ascii=False).encode()

    def pump(self, now: float | None = None) -> int:
        """Queue the events of ``(last, now]``; returns how many."""
        now = self.sim.clock() if now is None else now
        with self._lock:
            t0, self._last = self._last, max(self._last, now)
        batch = [self.sign(e) for e in events(self.sim, t0, now, self.recording_period)]
        for i in range(len(batch) - 1):
            if self._rng.random() < self.reorder:
                batch[i], batch[i + 1] = batch[i + 1], batch[i]
        for body in batch:
            self._queue.put(body)
        self.stats["events"] += len(batch)
        self._burst(now)
        return len(batch)

    def _burst(self, now: float) -> None:
        burst = self.sim.active.get("burst")
        if burst is None or burst.since in self._bursts:
            return
        self._bursts.add(burst.since)
        bodies = [
            self.sign(e)
            for e in burst_events(self.sim, int(burst.params["events"]), now, burst.since)
        ]
        self.stats["events"] += len(bodies)
        workers = max(1, int(burst.params["senders"]))
        with ThreadPoolExecutor(workers, thread_name_prefix="callback-burst") as pool:
            list(pool.map(self.deliver, bodies))

    # -- sending -------------------------------------------------------------------------------

    def deliver(self, body: bytes) -> bool:
        """POST until HTTP 200, at most three times; True when delivered."""
        for attempt in range(3):
            if attempt:
                self.stats["retries"] += 1
                if self._stop.wait(self.retry_delay):
                    return False
            status = self._post(body)
            self.stats[f"answer_{status}"] += 1
            if status == "200":
                self.stats["delivered"] += 1
                return True
        self.stats["gave_up"] += 1
        return False

    def _post(self, body: bytes) -> str:
        """One POST on a fresh connection (as the vendor sends); the status, or the error."""
        conn: http.client.HTTPConnection
        if self._tls is not None:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self.timeout, context=self._tls
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
        try:
            conn.request("POST", self._path, body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            return str(response.status)
        except (OSError, http.client.HTTPException) as exc:
            return type(exc).__name__
        finally:
            conn.close()

    def _send_loop(self) -> None:
        while True:
            body = self._queue.get()
            try:
                if body is None:
                    return
                if self.deliver(body) and self._rng.random() < self.duplicates:
                    self.stats["duplicates"] += 1
                    self.deliver(body)
            finally:
                self._queue.task_done()

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, interval: float = 1.0) -> CallbackFeed:
        def tick() -> None:
            while not self._stop.wait(interval):
                self.pump()

        self._ticker = threading.Thread(target=tick, name="callback-feed", daemon=True)
        self._ticker.start()
        return self

    def flush(self) -> None:
        """Wait until every queued delivery is done (tests)."""
        self._queue.join()

    def stop(self) -> None:
        self._stop.set()
        for _ in self._senders:
            self._queue.put(None)
        for thread in [*self._senders, *([self._ticker] if self._ticker else [])]:
            thread.join(2.0)

    def stats_doc(self) -> dict[str, Any]:
        return {"url": self.url, **dict(self.stats)}
