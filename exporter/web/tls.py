"""TLS for the web server: the toolkit's ``tls_server_config`` as a Python ``ssl.SSLContext``.

Mapping from the Go toolkit: ``min_version``/``max_version`` -> the context's version bounds,
``cipher_suites`` (Go names) -> OpenSSL names for TLS 1.2 and below (TLS 1.3 suites are fixed,
as in Go), ``prefer_server_cipher_suites`` -> ``OP_CIPHER_SERVER_PREFERENCE``,
``client_auth_type`` -> ``verify_mode``, ``client_allowed_sans`` -> a check of the verified
client certificate's subject alternative names after the handshake.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from exporter.errors import ConfigError

if TYPE_CHECKING:
    from exporter.web.config import TLSServerConfig

__all__ = ["CLIENT_AUTH", "GO_CIPHER_SUITES", "TLS_VERSIONS", "ServerTLS", "build_server_tls"]

# Go's tls.CipherSuites() (the secure ones the toolkit accepts) -> OpenSSL names. The TLS 1.3
# suites are accepted and, as in Go, have no effect: TLS 1.3 suites are not configurable.
GO_CIPHER_SUITES: dict[str, str | None] = {
    "TLS_AES_128_GCM_SHA256": None,
    "TLS_AES_256_GCM_SHA384": None,
    "TLS_CHACHA20_POLY1305_SHA256": None,
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
}
TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}


@dataclass(frozen=True)
class ServerTLS:
    """The TLS context for new connections and the client SANs they must present."""

    context: ssl.SSLContext
    allowed_sans: frozenset[str] | None

    def peer_allowed(self, cert: dict[str, Any] | None) -> bool:
        """The toolkit's client_allowed_sans check (DNS, email, IP address or URI SAN)."""
        if self.allowed_sans is None:
            return True
        if not cert:
            return False
        values = {_norm_san(kind, str(v)) for kind, v in cert.get("subjectAltName", ())}
        return bool(values & self.allowed_sans)


def _norm_san(kind: str, value: str) -> str:
    if kind == "IP Address":
        try:
            return str(ipaddress.ip_address(value.strip()))
        except ValueError:
            return value
    return value


def build_server_tls(tls: TLSServerConfig) -> ServerTLS:
    """Load certificates into a fresh server SSLContext; ConfigError naming the key."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    openssl = [n for n in (GO_CIPHER_SUITES[c] for c in tls.cipher_suites) if n]
    if openssl:
        ctx.set_ciphers(":".join(openssl))
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    _load_cert_chain(ctx, tls)
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    if ctx.verify_mode != ssl.CERT_NONE:
        try:
            if tls.client_ca_file is not None:
                ctx.load_verify_locations(cafile=str(tls.client_ca_file))
            elif tls.client_ca is not None:
                ctx.load_verify_locations(cadata=tls.client_ca)
            else:
                ctx.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        except OSError as exc:
            what = "client_ca_file" if tls.client_ca_file else "client_ca"
            detail = exc.strerror or getattr(exc, "reason", None) or "not PEM certificates"
            raise ConfigError(f"tls_server_config.{what}: cannot load: {detail}") from None
    sans = tls.client_allowed_sans
    return ServerTLS(ctx, frozenset(_norm_san("IP Address", s) for s in sans) if sans else None)


def _load_cert_chain(ctx: ssl.SSLContext, tls: TLSServerConfig) -> None:
    # inline PEM goes through a private temporary directory: load_cert_chain takes file names
    with tempfile.TemporaryDirectory(prefix="volc-rtc-tls-") as tmp:
        cert, key = tls.cert_file, tls.key_file
        if cert is None:
            cert = Path(tmp) / "cert.pem"
            cert.write_text(tls.cert or "")
        if key is None:
            key = Path(tmp) / "key.pem"
            key.touch(mode=0o600)
            key.write_text(tls.key.get_secret_value() if tls.key else "")
        for name, path in (("cert_file", tls.cert_file), ("key_file", tls.key_file)):
            if path is not None and not os.access(path, os.R_OK):
                raise ConfigError(
                    f"tls_server_config.{name}: failed to read {path}: "
                    + ("permission denied" if path.exists() else "no such file")
                )
        try:
            # an encrypted key gets an empty password instead of a prompt on the terminal
            ctx.load_cert_chain(str(cert), str(key), password=lambda: b"")
        except ssl.SSLError as exc:
            reason = exc.reason or "invalid PEM data"
            raise ConfigError(
                f"tls_server_config: failed to load the certificate and key: {reason} "
                "(PEM certificate and matching unencrypted PEM key expected)"
            ) from None
