"""The web config file: validation messages, secrets kept out of errors, reloads, auth cache."""

from __future__ import annotations

import asyncio
import base64
import random
from pathlib import Path
from typing import Any

import bcrypt
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from exporter.errors import ConfigError
from exporter.web.auth import AuthMiddleware, CredentialCache, TokenBucket, parse_basic_auth
from exporter.web.config import RateLimitConfig, load_web_config, parse_go_duration
from exporter.web.source import WebConfigSource as WebConfig
from tests.conftest import FrozenClock
from tests.test_webserver_tls import PKI

HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
SECRET_HASH = "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze"


def write(tmp_path: Path, doc: Any) -> Path:
    p = tmp_path / "web.yml"
    p.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc))
    return p


TLS = {"cert_file": "server.crt", "key_file": "server.key"}


@pytest.mark.parametrize(
    ("doc", "key", "problem"),
    [
        ("tls_server_config: [\n", "line", "not valid YAML"),
        ("- a list\n", "top level", "must be a mapping"),
        ({"tls_server_confg": {}}, "tls_server_confg", "Extra inputs are not permitted"),
        (
            {"tls_server_config": {"cert_file": "a.crt"}},
            "tls_server_config",
            "missing one of key or key_file",
        ),  # fmt: skip
        (
            {"tls_server_config": {"key_file": "a.key"}},
            "tls_server_config",
            "missing one of cert or cert_file",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "client_auth_type": "Sometimes"}},
            "client_auth_type",
            "invalid ClientAuth: Sometimes",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "client_auth_type": "RequireAnyClientCert"}},
            "client_auth_type",
            "Python's ssl module verifies",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "client_ca_file": "ca.pem"}},
            "tls_server_config",
            "client CA's have been configured without a Client Auth Policy",
        ),  # fmt: skip
        ({"tls_server_config": {**TLS, "min_version": "TLS14"}}, "min_version", "TLS10"),
        (
            {"tls_server_config": {**TLS, "min_version": "TLS13", "max_version": "TLS12"}},
            "tls_server_config",
            "min_version is above max_version",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "cipher_suites": ["TLS_RSA_WITH_RC4_128_SHA"]}},
            "cipher_suites",
            "unknown cipher: TLS_RSA_WITH_RC4_128_SHA",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "curve_preferences": ["X25519"]}},
            "curve_preferences",
            "not supported",
        ),  # fmt: skip
        (
            {"tls_server_config": {**TLS, "client_allowed_sans": ["x"]}},
            "tls_server_config",
            "client_allowed_sans needs",
        ),  # fmt: skip
        (
            {"http_server_config": {"headers": {"Content-Type": "foo"}}},
            "http_server_config.headers",
            'HTTP header "Content-Type" can not be configured',
        ),  # fmt: skip
        (
            {"http_server_config": {"headers": {"X-Frame-Options": "allow"}}},
            "headers",
            "invalid value for X-Frame-Options",
        ),  # fmt: skip
        (
            {"http_server_config": {"headers": {"X-Content-Type-Options": "sniff"}}},
            "headers",
            "Expected one of: ['nosniff']",
        ),  # fmt: skip
        ({"http_server_config": {"http3": True}}, "http_server_config.http3", "Extra inputs"),
        (
            {"basic_auth_users": {"alice": "plaintext"}},
            "basic_auth_users",
            "user 'alice': the password must be a bcrypt hash",
        ),  # fmt: skip
        (
            {"rate_limit": {"interval": "1 sec", "burst": 1}},
            "rate_limit.interval",
            "invalid duration",
        ),  # fmt: skip
        ({"rate_limit": {"interval": "1s"}}, "rate_limit", "burst must be at least 1"),
    ],
)
def test_bad_files_name_the_key_and_the_problem(tmp_path: Path, doc: Any, key: str, problem: str) -> None:  # fmt: skip
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as err:
        WebConfig.load(path)
    message = str(err.value)
    assert message.startswith(f"web config file {path}")
    assert key in message and problem in message, message
    assert "\n" not in message


def test_secrets_never_in_errors(tmp_path: Path) -> None:
    key_pem = "-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n"
    docs = [
        {"basic_auth_users": {"alice": "plain-password-123"}, "unknown": 1},
        {"basic_auth_users": {"alice": SECRET_HASH, "bob": "plain-password-123"}},
        {"tls_server_config": {"cert": "not a cert", "key": key_pem}},
    ]
    for doc in docs:
        with pytest.raises(ConfigError) as err:
            WebConfig.load(write(tmp_path, doc))
        text = str(err.value)
        assert "plain-password-123" not in text
        assert SECRET_HASH not in text
        assert "TOPSECRETKEYMATERIAL" not in text


def test_empty_file_means_plain_http_no_auth(tmp_path: Path) -> None:
    cfg = WebConfig.load(write(tmp_path, ""))
    assert not cfg.tls_enabled
    assert cfg.server_tls() is None
    assert cfg.current().users == {}


def test_relative_files_are_relative_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "conf"
    sub.mkdir()
    PKI(sub).issue("server")
    cfg = load_web_config(write(sub, {"tls_server_config": TLS}))
    assert cfg.tls_server_config.cert_file == sub / "server.crt"
    assert WebConfig.load(sub / "web.yml").server_tls() is not None


def test_certificate_problems_are_config_errors(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    pki.issue("server")
    pki.issue("other")
    cases = [
        ({"cert_file": "missing.crt", "key_file": "server.key"}, "cert_file: failed to read"),
        (
            {"cert_file": "server.crt", "key_file": "other.key"},
            "failed to load the certificate and key",
        ),  # fmt: skip
        (
            {"cert_file": "server.key", "key_file": "server.key"},
            "failed to load the certificate and key",
        ),  # fmt: skip
        (
            {
                **TLS,
                "client_auth_type": "RequireAndVerifyClientCert",
                "client_ca_file": "server.key",
            },
            "client_ca_file: cannot load",
        ),  # fmt: skip
    ]
    for tls, problem in cases:
        path = write(tmp_path, {"tls_server_config": tls})
        with pytest.raises(ConfigError, match=problem) as err:
            WebConfig.load(path)
        assert str(err.value).startswith(f"web config file {path}: tls_server_config")


def test_encrypted_key_is_refused_not_prompted(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    cert = pki.issue("server")
    key = serialization.load_pem_private_key(cert.key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    cert.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ConfigError, match="unencrypted PEM key"):
        WebConfig.load(write(tmp_path, {"tls_server_config": TLS}))


def test_inline_certificate_and_key(tmp_path: Path) -> None:
    pki = PKI(tmp_path)
    cert = pki.issue("server")
    doc = {
        "tls_server_config": {
            "cert": cert.cert.read_text(),
            "key": cert.key.read_text(),
            "client_auth_type": "VerifyClientCertIfGiven",
            "client_ca": pki.ca_file.read_text(),
        }
    }
    cfg = WebConfig.load(write(tmp_path, doc))
    tls = cfg.server_tls()
    assert tls is not None
    assert tls.context.verify_mode.name == "CERT_OPTIONAL"
    assert "PRIVATE KEY" not in repr(cfg.current())  # the key is a SecretStr


def test_reload_only_when_the_file_changes_and_keeps_the_last_good_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    path = write(tmp_path, {"basic_auth_users": {"alice": HASH}})
    results: list[bool] = []
    cfg = WebConfig(path, results.append)
    first = cfg.current()
    assert cfg.current() is first  # unchanged file: not parsed again
    write(tmp_path, {"basic_auth_users": {"alice": HASH, "bob": HASH}})
    good = cfg.current()
    assert set(good.users) == {"alice", "bob"} and results == [True]
    # invalid, truncated, empty, or without the users: the last good one stays (fail closed)
    for bad in ("basic_auth_users: 3\n", "basic_auth_users:\n  alice: $2y$04$abc", "", "{}\n"):
        write(tmp_path, bad)
        for _ in range(2):  # logged and reported once per change of the file
            assert cfg.current() is good
    assert results == [True, False, False, False, False]
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 4
    assert "basic auth cannot be turned off" in errors[3] and "the file is empty" in errors[2]
    assert "$2y$04$abc" not in caplog.text
    write(tmp_path, {"basic_auth_users": {"bob": HASH}})
    assert set(cfg.current().users) == {"bob"} and results[-1] is True
    assert set(cfg.initial.users) == {"alice"}


def test_go_durations() -> None:
    assert parse_go_duration("1s") == 1.0
    assert parse_go_duration("1m30s") == 90.0
    assert parse_go_duration("250ms") == pytest.approx(0.25)
    assert parse_go_duration("0") == 0.0
    assert parse_go_duration(1_000_000_000) == 1.0  # a bare number is nanoseconds (yaml.v2)
    for bad in ("", "1", "1d", "s", "1s 2m"):
        with pytest.raises(ValueError):
            parse_go_duration(bad)


def test_token_bucket_on_an_injected_clock() -> None:
    clock = FrozenClock(100.0)
    bucket = TokenBucket(RateLimitConfig.model_validate({"interval": "1s", "burst": 2}), clock)
    assert [bucket.allow() for _ in range(3)] == [True, True, False]
    clock.t += 0.5
    assert not bucket.allow()
    clock.t += 0.5
    assert bucket.allow()
    clock.t += 10
    assert [bucket.allow() for _ in range(3)] == [True, True, False]  # at most burst


def test_credential_cache_evicts_a_tenth_at_random() -> None:
    cache = CredentialCache(size=100, rng=random.Random(1))
    keys = [CredentialCache.key(b"u", b"h", str(i).encode()) for i in range(100)]
    for k in keys:
        cache.add(k)
    assert len(cache) == 100 and keys[0] in cache
    cache.add(CredentialCache.key(b"u", b"h", b"new"))
    assert len(cache) == 91
    # the key depends on every part, with no ambiguity between them
    assert CredentialCache.key(b"ab", b"c", b"") != CredentialCache.key(b"a", b"bc", b"")


def test_parse_basic_auth() -> None:
    enc = base64.b64encode(b"alice:pa:ss").decode()
    assert parse_basic_auth(f"Basic {enc}") == (b"alice", b"pa:ss")
    assert parse_basic_auth(f"basic {enc}") == (b"alice", b"pa:ss")
    for bad in (None, "", "Bearer x", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode()):  # fmt: skip
        assert parse_basic_auth(bad) is None


def _call(mw: AuthMiddleware, auth: tuple[str, str] | None) -> tuple[int, dict[str, str]]:
    headers = []
    if auth:
        token = base64.b64encode(":".join(auth).encode())
        headers.append((b"authorization", b"Basic " + token))
    scope = {"type": "http", "path": "/metrics", "method": "GET", "headers": headers}
    got: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start":
            got["status"] = message["status"]
            got["headers"] = {k.decode().lower(): v.decode() for k, v in message["headers"]}

    asyncio.run(mw(scope, receive, send))
    return got["status"], got["headers"]


async def inner(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"metrics"})


def test_bcrypt_runs_once_per_credential_and_unknown_users_pay_it_too(tmp_path: Path) -> None:
    calls: list[bytes] = []

    def checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return bcrypt.checkpw(password, hashed)

    cfg = WebConfig.load(write(tmp_path, {"basic_auth_users": {"alice": HASH}}))
    mw = AuthMiddleware(inner, cfg, checkpw=checkpw)
    assert _call(mw, ("alice", "pw"))[0] == 200
    assert _call(mw, ("alice", "pw"))[0] == 200
    assert len(calls) == 1  # the second scrape did not pay bcrypt
    status, headers = _call(mw, ("alice", "bad"))
    assert status == 401 and headers["www-authenticate"] == "Basic"
    assert _call(mw, ("alice", "bad"))[0] == 401
    assert len(calls) == 3  # failures are not remembered
    assert _call(mw, ("mallory", "pw"))[0] == 401
    # an unknown user is checked against a dummy hash of the file's cost (4 here)
    assert len(calls) == 4 and calls[3] != HASH.encode() and calls[3].startswith(b"$2b$04$")
    assert _call(mw, None)[0] == 401
    assert len(calls) == 4  # no credentials: nothing to check


def test_unknown_users_get_a_dummy_hash_of_a_cost_in_the_file(tmp_path: Path) -> None:
    costly = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=5)).decode()
    cfg = WebConfig.load(write(tmp_path, {"basic_auth_users": {"a": HASH, "b": costly}}))
    calls: list[bytes] = []
    mw = AuthMiddleware(inner, cfg, checkpw=lambda p, h: calls.append(h) or False)
    for i in range(40):
        _call(mw, (f"nobody{i}", "pw"))
    assert {h[:7] for h in calls} == {b"$2b$04$", b"$2b$05$"}  # both costs, per user name
    calls.clear()
    _call(mw, ("nobody1", "pw"))
    _call(mw, ("nobody1", "other"))
    assert calls[0][:7] == calls[1][:7]  # the same name always costs the same


def test_rate_limit_answers_429(tmp_path: Path) -> None:
    clock = FrozenClock(0.0)
    cfg = WebConfig.load(write(tmp_path, {"rate_limit": {"interval": "1s", "burst": 1}}))
    mw = AuthMiddleware(inner, cfg, clock=clock)
    assert _call(mw, None)[0] == 200
    assert _call(mw, None)[0] == 429
    clock.t += 1
    assert _call(mw, None)[0] == 200


def test_configured_headers_do_not_override_the_apps(tmp_path: Path) -> None:
    doc = {"http_server_config": {"headers": {"Content-Security-Policy": "default-src 'none'"}}}
    cfg = WebConfig.load(write(tmp_path, doc))

    async def csp_app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-security-policy", b"app's own")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    assert _call(AuthMiddleware(inner, cfg), None)[1]["content-security-policy"] == "default-src 'none'"  # fmt: skip
    assert _call(AuthMiddleware(csp_app, cfg), None)[1]["content-security-policy"] == "app's own"  # fmt: skip


def test_a_broken_file_keeps_the_last_good_one_and_is_logged_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    path = write(tmp_path, {"basic_auth_users": {"alice": HASH}})
    mw = AuthMiddleware(inner, WebConfig.load(path))
    path.write_text("basic_auth_users: {alice: not-a-hash-but-a-secret}\n")
    assert [_call(mw, ("alice", "pw"))[0] for _ in range(3)] == [200] * 3
    assert [_call(mw, ("alice", "not-a-hash-but-a-secret"))[0] for _ in range(2)] == [401] * 2
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "user 'alice'" in errors[0].getMessage()
    assert "not-a-hash-but-a-secret" not in caplog.text
    write(tmp_path, {"basic_auth_users": {"bob": HASH}})
    assert _call(mw, ("alice", "pw"))[0] == 401
    assert _call(mw, ("bob", "pw"))[0] == 200
