"""Signed callback bodies for the tests (the vendor's envelope, signed as documented)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
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


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (it is its own CA)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cb.crt", directory / "cb.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file
