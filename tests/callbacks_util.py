"""Signed callback bodies for the tests (the vendor's envelope, signed as documented)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

from exporter.callbacks.signature import compute_signature

SECRET = "cb-Secret-4f1e9a"
_ids = itertools.count(1)


def rfc3339(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope(
    event_type: str,
    data: dict[str, Any],
    *,
    t: float,
    app_id: str = "app1",
    event_id: str | None = None,
    secret: str = SECRET,
    nonce_key: str = "Nonce",
) -> dict[str, Any]:
    doc = {
        "EventType": event_type,
        "EventData": json.dumps(data, separators=(",", ":")),
        "EventTime": rfc3339(t),
        "EventId": event_id or f"evt-{next(_ids):08d}",
        "AppId": app_id,
        "Version": "2020-12-01",
        nonce_key: "4821",
    }
    keys = ("EventType", "EventData", "EventTime", "EventId", "AppId", "Version", nonce_key)
    doc["Signature"] = compute_signature([doc[k] for k in keys], secret)
    return doc


def signed(event_type: str, data: dict[str, Any], **kw: Any) -> bytes:
    return json.dumps(envelope(event_type, data, **kw)).encode()
