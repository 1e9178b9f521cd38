"""The simulator's answer to one request, independent of how it travels (socket or in-process)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ApiError", "SimResponse", "envelope", "error_response"]

JSON = "application/json; charset=utf-8"


@dataclass
class SimResponse:
    """Status, headers and a body: either ``body`` bytes, or a ``stream`` of chunks.

    A stream with ``length`` None is sent chunked (it may never end: ``endless_body``); ``rate``
    paces the body in bytes per second (``trickle``).
    """

    status: int
    body: bytes = b""
    stream: Iterable[bytes] | None = None
    length: int | None = None
    rate: float | None = None
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": JSON})

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        if self.stream is None:
            for i in range(0, len(self.body), size):
                yield self.body[i : i + size]
        else:
            yield from self.stream

    def read(self, limit: int = 64 * 2**20) -> bytes:
        """The body, at most ``limit`` bytes (an endless stream is cut there)."""
        if self.stream is None:
            return self.body[:limit]
        out = bytearray()
        for chunk in self.chunks():
            out += chunk
            if len(out) >= limit:
                break
        return bytes(out[:limit])


class ApiError(Exception):
    """A request the vendor API would refuse; becomes an error envelope in one place."""

    def __init__(self, status: int, code: str, message: str, code_n: int | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.code_n = status, code, message, code_n


def envelope(meta: dict[str, Any], result: Any) -> bytes:
    # allow_nan: the bad_values scenario sends the NaN/Infinity tokens a sloppy server would
    return json.dumps({"ResponseMetadata": meta, "Result": result}, allow_nan=True).encode()


def error_response(
    meta: dict[str, Any], err: ApiError, *, description: bool = False, status: int | None = None
) -> SimResponse:
    doc: dict[str, Any] = {"Code": err.code, "Message": err.message}
    if err.code_n is not None:
        doc["CodeN"] = err.code_n
    if description:  # ListRoomInfo and ListUserInfo carry an extra Description
        doc["Description"] = err.message
    body = json.dumps({"ResponseMetadata": meta | {"Error": doc}}).encode()
    return SimResponse(err.status if status is None else status, body)


def repeat_to_size(prefix: bytes, item: bytes, suffix: bytes, size: int) -> SimResponse:
    """A 200 stream ``prefix item,item,... suffix`` of about ``size`` bytes, built lazily."""
    n = max(1, (size - len(prefix) - len(suffix)) // (len(item) + 1))
    length = len(prefix) + n * len(item) + (n - 1) + len(suffix)

    def gen() -> Iterator[bytes]:
        yield prefix
        block = 256
        done = 0
        while done < n:
            k = min(block, n - done)
            sep = b"," if done else b""
            yield sep + b",".join(itertools.repeat(item, k))
            done += k
        yield suffix

    return SimResponse(200, stream=gen(), length=length)
