"""The receiver's synchronous core: one request body in, one outcome out, in microseconds.

Checks run in this order and the first that fails decides the answer:

====================  ======  ===========================================================
outcome               status  when
====================  ======  ===========================================================
``too_large``         413     the body is over ``max_body_bytes`` (the ASGI app stops reading)
``malformed``         400     not JSON, a field missing or not a string, ``EventData`` not a
                              string holding a JSON object, ``EventTime`` unreadable
``bad_signature``     401     no secret of the app (or the default) verifies the signature
``stale``             401     ``EventTime`` older than ``max_age`` or further ahead than
                              ``max_future`` (a replay, or a clock far off)
``duplicate``         200     the EventId was accepted within the dedup TTL
``overloaded``        503     the event queue is full (the vendor retries, twice at most)
``accepted``          200     queued for the worker
====================  ======  ===========================================================

A rejected request changes nothing but ``volcengine_rtc_callback_requests_total``: it never
enters the dedup cache, the queue or any other family. Nothing of a request (body, signature,
secret) is logged; debug lines name the outcome and reason only.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from exporter.callbacks.dedup import DedupCache
from exporter.callbacks.envelope import Envelope, Malformed, parse_envelope
from exporter.callbacks.families import CallbackState
from exporter.callbacks.signature import verify
from exporter.log import get_logger

__all__ = ["STATUS", "Accepted", "Keys", "Outcome", "Receiver"]

log = get_logger(__name__)

STATUS = {
    "accepted": 200,
    "duplicate": 200,
    "too_large": 413,
    "malformed": 400,
    "bad_signature": 401,
    "stale": 401,
    "overloaded": 503,
}


@dataclass(frozen=True)
class Outcome:
    outcome: str

    @property
    def status(self) -> int:
        return STATUS[self.outcome]


@dataclass(frozen=True)
class Accepted:
    """What the worker gets: the envelope and when its request arrived (wall time)."""

    envelope: Envelope
    received: float


@dataclass(frozen=True)
class Keys:
    """Secrets by app id, and the default for every other app."""

    default: tuple[str, ...] = ()
    per_app: Mapping[str, tuple[str, ...]] | None = None

    def for_app(self, app_id: str) -> Sequence[str]:
        own = (self.per_app or {}).get(app_id)
        return own if own else self.default


class Receiver:
    """Thread-safe. ``keys``, the window and the limits can be replaced (a reload); the dedup
    cache stays."""

    def __init__(
        self,
        state: CallbackState,
        keys: Keys,
        *,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
        max_age: float,
        max_future: float,
        dedup: DedupCache,
        events: queue.Queue[Accepted | None],
    ) -> None:
        self.state = state
        self.keys = keys
        self._wall, self._monotonic = wall, monotonic
        self.max_age, self.max_future = max_age, max_future
        self.dedup = dedup
        self.events = events
        self._lock = threading.Lock()

    def reconfigure(self, keys: Keys, max_age: float, max_future: float, dedup_max: int) -> None:
        """A reload: new secrets and window; the dedup cache keeps its entries."""
        with self._lock:
            self.keys = keys
            self.max_age, self.max_future = max_age, max_future
            self.dedup.resize(max_age + max_future, dedup_max)

    def handle(self, body: bytes | None) -> Outcome:
        """``body`` None: it was larger than the cap (not read to the end)."""
        outcome = self._check(body)
        self.state.request(outcome)
        return Outcome(outcome)

    def _check(self, body: bytes | None) -> str:
        if body is None:
            return "too_large"
        try:
            envelope = parse_envelope(body)
        except Malformed as exc:
            log.debug("callback rejected", outcome="malformed", reason=str(exc))
            return "malformed"
        if not verify(envelope, self.keys.for_app(envelope.app_id)):
            log.debug("callback rejected", outcome="bad_signature", app_id=envelope.app_id[:64])
            return "bad_signature"
        now = self._wall()
        if not now - self.max_age <= envelope.time <= now + self.max_future:
            log.debug(
                "callback rejected",
                outcome="stale",
                app_id=envelope.app_id,
                age_seconds=round(now - envelope.time, 3),
            )
            return "stale"
        mono = self._monotonic()
        with self._lock:
            if self.dedup.seen(envelope.event_id, mono):
                return "duplicate"
            try:
                self.events.put_nowait(Accepted(envelope, now))
            except queue.Full:
                return "overloaded"
            self.dedup.add(envelope.event_id, mono)
        return "accepted"
