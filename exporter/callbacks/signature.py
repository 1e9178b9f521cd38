"""The callback signature: lowercase hex SHA-256 over the sorted values.

As the vendor documents it: take the *values* of EventType, EventData, EventTime, EventId, AppId,
Version, the nonce and the callback secret (eight strings), sort them as strings (byte order,
as Go's ``sort.Strings`` does), join them without a separator and hash with plain SHA-256 (not
HMAC). The comparison is constant-time. When ``Nonce`` and ``Noce`` both arrive and differ,
either may be the one that was signed: both are tried.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

from exporter.callbacks.envelope import Envelope

__all__ = ["compute_signature", "verify"]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def compute_signature(values: Iterable[str], secret: str) -> str:
    """Lowercase hex SHA-256 of the byte-wise sorted ``values`` plus ``secret``, joined."""
    parts = sorted(_utf8(v) for v in (*values, secret))
    return hashlib.sha256(b"".join(parts)).hexdigest()


def verify(envelope: Envelope, secrets: Sequence[str]) -> bool:
    """True when the envelope's signature matches one of ``secrets`` (and one nonce)."""
    given = _utf8(envelope.signature.strip().lower())
    ok = False
    for secret in secrets:
        for nonce in envelope.nonces:
            expected = compute_signature(envelope.signed_values(nonce), secret).encode()
            ok |= hmac.compare_digest(expected, given)
    return ok
