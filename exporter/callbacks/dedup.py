"""A bounded TTL set of EventIds: the vendor may deliver an event more than once.

Keys are 16-byte BLAKE2b digests of the EventId (fixed size whatever the id looks like), kept in
insertion order with their expiry on the monotonic clock. The TTL covers the whole time window
(``max_age + max_future``): a replay older than that is stale anyway, so within the cap no
signed event is ever counted twice. When the cap is reached the oldest entry goes first (counted
in ``evicted``); the cache survives configuration reloads.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

__all__ = ["DedupCache"]


def _key(event_id: str) -> bytes:
    return hashlib.blake2b(event_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class DedupCache:
    """Not thread-safe on its own: the receiver calls it under its lock."""

    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._expiry: OrderedDict[bytes, float] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._expiry)

    def _expire(self, now: float) -> None:
        expiry = self._expiry
        while expiry:
            key, until = next(iter(expiry.items()))
            if until > now:
                break
            del expiry[key]

    def seen(self, event_id: str, now: float) -> bool:
        """True when ``event_id`` was added within the TTL."""
        self._expire(now)
        return _key(event_id) in self._expiry

    def add(self, event_id: str, now: float) -> None:
        key = _key(event_id)
        self._expiry.pop(key, None)
        self._expiry[key] = now + self.ttl
        while len(self._expiry) > self.max_entries:
            self._expiry.popitem(last=False)
            self.evicted += 1

    def resize(self, ttl: float, max_entries: int) -> None:
        """New limits (a reload); the entries stay, the oldest go if over the new cap."""
        self.ttl, self.max_entries = ttl, max_entries
        while len(self._expiry) > max_entries:
            self._expiry.popitem(last=False)
            self.evicted += 1
