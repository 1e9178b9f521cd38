"""One callback request body: a flat JSON object of strings, read strictly.

The envelope has eight string fields: ``EventType``, ``EventData`` (a JSON document *encoded as a
string*), ``EventTime`` (RFC 3339), ``EventId``, ``AppId``, ``Version``, ``Signature`` and the
nonce, which current Volcengine pages spell ``Nonce`` and older ones and BytePlus ``Noce``: both
are read. Anything else (not JSON, not an object, a field missing or not a string, ``EventData``
not a string holding a JSON object, an unreadable ``EventTime``) is ``Malformed``. Extra fields
(e.g. ``BusinessId``) are ignored; they are not signed.
"""

from __future__ import annotations

import calendar
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Envelope", "Malformed", "parse_envelope", "parse_event_time"]

SIGNED = ("EventType", "EventData", "EventTime", "EventId", "AppId", "Version")
NONCES = ("Nonce", "Noce")

_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})"
)


class Malformed(ValueError):
    """The body is not a callback envelope; the message says why (safe to log)."""


@dataclass(frozen=True)
class Envelope:
    event_type: str
    event_data: str  # the raw string, as signed
    event_time: str
    event_id: str
    app_id: str
    version: str
    nonces: tuple[str, ...]  # the nonce values to try (Nonce, then a differing Noce)
    signature: str
    data: dict[str, Any]  # EventData, parsed
    time: float  # EventTime as Unix seconds

    def signed_values(self, nonce: str) -> tuple[str, ...]:
        return (
            self.event_type,
            self.event_data,
            self.event_time,
            self.event_id,
            self.app_id,
            self.version,
            nonce,
        )


def parse_event_time(text: str) -> float:
    """RFC 3339 date-time (``Z`` or an offset, up to 9 fractional digits) -> Unix seconds."""
    m = _TIME.fullmatch(text)
    if m is None:
        raise Malformed("EventTime is not an RFC 3339 date-time")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise Malformed("EventTime has no such date")
    if hour > 23 or minute > 59 or second > 60:  # 60: a leap second
        raise Malformed("EventTime has no such time of day")
    fraction = int((m.group(7) or "0").ljust(9, "0")) / 1e9
    offset = 0
    zone = m.group(8)
    if zone not in ("Z", "z"):
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            raise Malformed("EventTime has an impossible UTC offset")
        offset = (1 if zone[0] == "+" else -1) * (hours * 3600 + minutes * 60)
    stamp = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    return stamp + fraction - offset


def _nonces(doc: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for key in NONCES:
        value = doc.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise Malformed(f"{key} is not a string")
        found.append(value)
    if not found:
        raise Malformed("Nonce (or Noce) is missing")
    given = [v for v in found if v]
    return tuple(dict.fromkeys(given)) if given else ("",)


def parse_envelope(body: bytes) -> Envelope:
    """Parse one request body; ``Malformed`` when it is not a callback envelope."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise Malformed("body is not JSON") from None
    if not isinstance(doc, dict):
        raise Malformed("body is not a JSON object")
    values: dict[str, str] = {}
    for key in (*SIGNED, "Signature"):
        value = doc.get(key)
        if value is None:
            raise Malformed(f"{key} is missing")
        if not isinstance(value, str):
            raise Malformed(f"{key} is not a string")
        values[key] = value
    nonces = _nonces(doc)
    try:
        data = json.loads(values["EventData"])
    except (ValueError, RecursionError):
        raise Malformed("EventData is not a JSON string") from None
    if not isinstance(data, dict):
        raise Malformed("EventData is not a JSON object")
    return Envelope(
        event_type=values["EventType"],
        event_data=values["EventData"],
        event_time=values["EventTime"],
        event_id=values["EventId"],
        app_id=values["AppId"],
        version=values["Version"],
        nonces=nonces,
        signature=values["Signature"],
        data=data,
        time=parse_event_time(values["EventTime"]),
    )
