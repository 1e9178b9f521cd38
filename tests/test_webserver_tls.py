"""--web.config.file over real sockets: TLS handshakes, mTLS, basic auth, headers, reloads,
and the real prometheus binary scraping over https with basic_auth."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from exporter.web.serve import Listener, serve
from exporter.web.source import WebConfigSource
from tests.conftest import need_binary
from tests.procs import free_port, wait_for

PASSWORD = "s3cret-pass"


@dataclass
class Cert:
    cert: Path
    key: Path
    serial: int


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class PKI:
    """A throw-away CA issuing server and client certificates into a directory."""

    def __init__(self, directory: Path, name: str = "test CA") -> None:
        self.dir = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        self.ca = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.ca_file = directory / f"{name.replace(' ', '-')}.pem"
        self.ca_file.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, *, client: bool = False, sans: list[str] | None = None) -> Cert:
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        names: list[x509.GeneralName] = [x509.DNSName(s) for s in sans or ["localhost"]]
        if sans is None:
            names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(self.ca.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        out = Cert(self.dir / f"{stem}.crt", self.dir / f"{stem}.key", serial)
        out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        out.key.write_bytes(_key_pem(key))
        return out


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    return PKI(tmp_path)


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    # valid text exposition, so that the prometheus binary can scrape it too
    body = expected(scope["scheme"], scope["path"]).encode()
    headers = [(b"content-type", b"text/plain; version=0.0.4")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def expected(scheme: str, path: str) -> str:
    return f"# ok {scheme} {path}\nweb_test 1\n"


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Any]:
    servers: list[Listener] = []

    def _start(doc: dict[str, Any]) -> tuple[Listener, Path]:
        cfg = write_config(tmp_path / "web.yml", doc)
        s = serve(app, "127.0.0.1", 0, web_config=WebConfigSource.load(cfg))
        servers.append(s)
        return s, cfg

    yield _start
    for s in servers:
        s.shutdown()


def client_context(pki: PKI, cert: Cert | None = None, **kw: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert), str(cert.key))
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def peer_serial(server: Listener, ctx: ssl.SSLContext) -> int:
    with socket.create_connection(server.address, timeout=10) as raw_sock:
        with ctx.wrap_socket(raw_sock, server_hostname="localhost") as s:
            der = s.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_tls_handshake_and_plain_http_refused(pki: PKI, start: Any) -> None:
    server_cert = pki.issue("server")
    s, _ = start({"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"}})
    assert s.url.startswith("https://127.0.0.1:")
    r = httpx.get(s.url + "/metrics", verify=client_context(pki))
    assert r.status_code == 200 and r.text == expected("https", "/metrics")
    assert peer_serial(s, client_context(pki)) == server_cert.serial
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)):
        httpx.get(s.url.replace("https", "http") + "/")  # the handshake fails: no answer
    with pytest.raises(httpx.ConnectError):  # a client that does not trust our CA
        httpx.get(s.url, verify=ssl.create_default_context())


def test_a_rotated_certificate_is_served_to_clients_without_sni(pki: PKI, start: Any) -> None:
    pki.issue("server")
    s, _ = start({"tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"}})
    second = pki.issue("server")
    ctx = client_context(pki)
    ctx.check_hostname = False
    with socket.create_connection(s.address, timeout=10) as raw_sock:
        with ctx.wrap_socket(raw_sock) as tls:  # no server_hostname: no SNI extension
            der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert x509.load_der_x509_certificate(der).serial_number == second.serial


def test_min_version_is_honoured(pki: PKI, start: Any) -> None:
    pki.issue("server")
    tls = {"cert_file": "server.crt", "key_file": "server.key", "min_version": "TLS13"}
    s, _ = start({"tls_server_config": tls})
    old = client_context(pki, maximum_version=ssl.TLSVersion.TLSv1_2)
    with pytest.raises(httpx.ConnectError):
        httpx.get(s.url, verify=old)
    new = client_context(pki)
    with httpx.Client(verify=new) as c:
        assert c.get(s.url + "/").status_code == 200
        ext = c.get(s.url + "/").extensions["network_stream"]
        assert ext.get_extra_info("ssl_object").version() == "TLSv1.3"


def test_max_version_and_cipher_suites(pki: PKI, start: Any) -> None:
    pki.issue("server")
    tls = {
        "cert_file": "server.crt",
        "key_file": "server.key",
        "max_version": "TLS12",
        "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"],
    }
    s, _ = start({"tls_server_config": tls})
    with httpx.Client(verify=client_context(pki)) as c:
        r = c.get(s.url + "/")
        info = r.extensions["network_stream"].get_extra_info("ssl_object")
        assert info.version() == "TLSv1.2"
        assert info.cipher()[0] == "ECDHE-ECDSA-AES256-GCM-SHA384"


def test_mtls_requires_a_certificate_from_the_client_ca(pki: PKI, tmp_path: Path, start: Any) -> None:  # fmt: skip
    pki.issue("server")
    good = pki.issue("client", client=True)
    other_ca = PKI(tmp_path, "other CA")
    stranger = other_ca.issue("stranger", client=True)
    tls = {
        "cert_file": "server.crt",
        "key_file": "server.key",
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": pki.ca_file.name,
    }
    s, _ = start({"tls_server_config": tls})
    assert httpx.get(s.url + "/", verify=client_context(pki, good)).status_code == 200
    for who in (None, stranger):
        with pytest.raises(
            (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
        ):
            httpx.get(s.url + "/", verify=client_context(pki, who))


def test_client_allowed_sans(pki: PKI, start: Any) -> None:
    pki.issue("server")
    allowed = pki.issue("allowed", client=True, sans=["prometheus.example"])
    other = pki.issue("other", client=True, sans=["someone.example"])
    tls = {
        "cert_file": "server.crt",
        "key_file": "server.key",
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca_file": pki.ca_file.name,
        "client_allowed_sans": ["prometheus.example"],
    }
    s, _ = start({"tls_server_config": tls})
    assert httpx.get(s.url + "/", verify=client_context(pki, allowed)).status_code == 200
    with pytest.raises(
        (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
    ):
        httpx.get(s.url + "/", verify=client_context(pki, other))


def test_basic_auth_and_headers_on_every_path(pki: PKI, start: Any) -> None:
    pki.issue("server")
    doc = {
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {"prometheus": hash_password(PASSWORD)},
        "http_server_config": {
            "headers": {"X-Frame-Options": "deny", "Strict-Transport-Security": "max-age=31536000"}
        },
    }
    s, _ = start(doc)
    with httpx.Client(verify=client_context(pki)) as c:
        for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
            for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD)):
                r = c.get(s.url + path, auth=auth)
                assert r.status_code == 401, (path, auth)
                assert r.headers["www-authenticate"] == "Basic"
                assert r.headers["x-frame-options"] == "deny"
                assert PASSWORD not in r.text
            r = c.get(s.url + path, auth=("prometheus", PASSWORD))
            assert r.status_code == 200 and r.text == expected("https", path)
            assert r.headers["x-frame-options"] == "deny"
            assert r.headers["strict-transport-security"] == "max-age=31536000"


def test_file_changes_apply_without_restart(pki: PKI, start: Any, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    first = pki.issue("server")
    doc: dict[str, Any] = {
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {"alice": hash_password("one")},
    }
    s, cfg = start(doc)
    ctx = client_context(pki)
    assert httpx.get(s.url, verify=ctx, auth=("alice", "one")).status_code == 200
    # a new password and a rotated certificate: the next request / connection sees them
    doc["basic_auth_users"] = {"alice": hash_password("two")}
    write_config(cfg, doc)
    second = pki.issue("server")
    assert second.serial != first.serial
    assert httpx.get(s.url, verify=ctx, auth=("alice", "one")).status_code == 401
    assert httpx.get(s.url, verify=ctx, auth=("alice", "two")).status_code == 200
    assert peer_serial(s, ctx) == second.serial
    # a broken, empty or auth-dropping file: the last good one stays (fail closed)
    for bad in ("basic_auth_users: [not, a, mapping]\n", "", "tls_server_config: {}\n"):
        cfg.write_text(bad)
        assert httpx.get(s.url, verify=ctx).status_code == 401, bad
        assert httpx.get(s.url, verify=ctx, auth=("alice", "two")).status_code == 200
        assert peer_serial(s, ctx) == second.serial
    assert "basic_auth_users" in caplog.text and "the file is empty" in caplog.text
    assert "two" not in caplog.text


@pytest.mark.e2e
def test_prometheus_scrapes_over_tls_with_basic_auth(pki: PKI, tmp_path: Path, start: Any) -> None:  # fmt: skip
    prometheus = need_binary("prometheus")
    pki.issue("server")
    doc = {
        "tls_server_config": {"cert_file": "server.crt", "key_file": "server.key"},
        "basic_auth_users": {"prometheus": hash_password(PASSWORD)},
    }
    s, _ = start(doc)
    (tmp_path / "password").write_text(PASSWORD)
    prom_cfg = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": [
            {
                "job_name": "tls",
                "scheme": "https",
                "metrics_path": "/metrics",
                "basic_auth": {
                    "username": "prometheus",
                    "password_file": str(tmp_path / "password"),
                },  # fmt: skip
                "tls_config": {"ca_file": str(pki.ca_file), "server_name": "localhost"},
                "static_configs": [{"targets": [f"127.0.0.1:{s.address[1]}"]}],
            },
            {  # the same target without credentials: must be down (401)
                "job_name": "noauth",
                "scheme": "https",
                "tls_config": {"ca_file": str(pki.ca_file), "server_name": "localhost"},
                "static_configs": [{"targets": [f"127.0.0.1:{s.address[1]}"]}],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(prom_cfg))
    port = free_port()
    proc = subprocess.Popen(
        [
            prometheus,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        api = f"http://127.0.0.1:{port}/api/v1"

        def health() -> dict[str, str]:
            r = httpx.get(f"{api}/targets")
            if r.status_code != 200:  # still starting
                return {}
            targets = r.json()["data"]["activeTargets"]
            return {t["labels"]["job"]: t["health"] for t in targets}

        wait_for(lambda: health() == {"tls": "up", "noauth": "down"}, 60, "scrapes over TLS")
        targets = httpx.get(f"{api}/targets").json()["data"]["activeTargets"]
        noauth = next(t for t in targets if t["labels"]["job"] == "noauth")
        assert "401" in noauth["lastError"]
    finally:
        proc.terminate()
        proc.wait(10)
