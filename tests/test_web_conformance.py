"""RFC 9110/9112 answers of the running exporter to odd and hostile requests, plain and TLS.

Every request of issue 17's table goes to a started ``Runtime`` over a raw socket (wrapped in
TLS for the TLS server); then the slow and flood cases, each bounded (a few sockets, limits
injected small), and each while a legitimate scrape must still be answered in full.
"""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bcrypt
import httpx
import pytest
import yaml

from exporter.runtime import Runtime
from exporter.web.auth import AuthMiddleware
from exporter.web.serve import ServerLimits
from tests.conftest import GOLDEN_TIME, FrozenClock, fixture_transport, golden_settings
from tests.procs import wait_for
from tests.test_webserver_tls import PKI

PASSWORD = "scrape-pass"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
AUTH = "Basic " + base64.b64encode(f"prometheus:{PASSWORD}".encode()).decode()


class Exporter:
    """A started exporter and how to reach it with raw bytes."""

    def __init__(self, rt: Runtime, ctx: ssl.SSLContext | None) -> None:
        self.rt, self.ctx = rt, ctx
        assert rt.server is not None
        self.address = rt.server.address
        self.url = rt.server.url

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=timeout)
        if self.ctx is None:
            return sock
        return self.ctx.wrap_socket(sock, server_hostname="localhost")

    def exchange(self, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
        """Send ``data``; (everything read, whether the server closed the connection)."""
        with self.connect(timeout) as sock:
            sock.sendall(data)
            out = b""
            try:
                while chunk := sock.recv(65536):
                    out += chunk
            except (TimeoutError, ssl.SSLError, ConnectionResetError):
                return out, False
            return out, True

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, verify=self.ctx or True, timeout=10, **kw)

    def scrape(self, **headers: str) -> httpx.Response:
        with self.client() as c:
            return c.get(self.rt.settings.web.telemetry_path, headers=headers)


def _start(tmp_path: Path, tls: bool, limits: ServerLimits, users: bool) -> Exporter:
    transport, _ = fixture_transport()
    web: dict[str, Any] = {"listen_address": "127.0.0.1:0"}
    ctx = None
    doc: dict[str, Any] = {}
    if tls:
        pki = PKI(tmp_path)
        pki.issue("server")
        doc["tls_server_config"] = {"cert_file": "server.crt", "key_file": "server.key"}
        ctx = ssl.create_default_context(cafile=str(pki.ca_file))
    if users:
        doc["basic_auth_users"] = {"prometheus": HASH}
    if doc:
        (tmp_path / "web.yml").write_text(yaml.safe_dump(doc))
        web["config_file"] = str(tmp_path / "web.yml")
    rt = Runtime.build(golden_settings(web=web), transport=transport, clock=FrozenClock(GOLDEN_TIME))  # fmt: skip
    for name in rt.sources:
        rt.refresher.refresh(name)
    rt.server_limits = limits
    rt.serve()
    return Exporter(rt, ctx)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Exporter]]:
    started: list[Exporter] = []

    def _go(tls: bool = False, limits: ServerLimits | None = None, users: bool = False) -> Exporter:  # fmt: skip
        sub = tmp_path / str(len(started))
        sub.mkdir()
        ex = _start(sub, tls, limits or ServerLimits(), users)
        started.append(ex)
        return ex

    yield _go
    for ex in started:
        ex.rt.stop()


H = b"Host: x\r\n"
# (name, request, acceptable status codes, must the server close the connection)
TABLE: list[tuple[str, bytes, tuple[int, ...], bool]] = [
    # obs-fold: h11 replaces the fold with a space (RFC 9112 5.2 allows both)
    (
        "obs-fold",
        b"GET /-/healthy HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\nConnection: close\r\n\r\n",
        (200, 400),
        True,
    ),  # fmt: skip
    (
        "bare-LF",
        b"GET /-/healthy HTTP/1.1\n" + H.replace(b"\r", b"") + b"Connection: close\n\n",
        (200, 400),
        True,
    ),  # fmt: skip
    ("HTTP/0.9", b"GET /-/healthy\r\n", (400,), True),
    ("NUL in a header", b"GET /-/healthy HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n", (400,), True),
    (
        "lone CR in a header",
        b"GET /-/healthy HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
        (400,),
        True,
    ),
    ("header without colon", b"GET /-/healthy HTTP/1.1\r\n" + H + b"X-A b\r\n\r\n", (400,), True),
    ("space before colon", b"GET /-/healthy HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", (400,), True),
    (
        "empty Transfer-Encoding + Content-Length",
        b"POST /-/healthy HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\nContent-Length: 3\r\n\r\nabc",
        (400, 501),
        True,
    ),  # fmt: skip
    (
        "invalid Content-Length",
        b"POST /-/healthy HTTP/1.1\r\n" + H + b"Content-Length: 1x\r\n\r\n",
        (400,),
        True,
    ),  # fmt: skip
    (
        "two Content-Lengths",
        b"POST /-/healthy HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        (400,),
        True,
    ),  # fmt: skip
    (
        "FOO /metrics",
        b"FOO /metrics HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
        (405,),
        True,
    ),  # fmt: skip
    (
        "DELETE /metrics",
        b"DELETE /metrics HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
        (405,),
        True,
    ),  # fmt: skip
    ("no Host", b"GET /-/healthy HTTP/1.1\r\nConnection: close\r\n\r\n", (400,), True),
    ("two Host headers", b"GET /-/healthy HTTP/1.1\r\n" + H + b"Host: y\r\n\r\n", (400,), True),
    ("HTTP/2.0 request line", b"GET /-/healthy HTTP/2.0\r\n" + H + b"\r\n", (505,), True),
    # HTTP/1.1 only: no switch to HTTP/2 on a cleartext preface or an h2c Upgrade
    ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", (505,), True),
    (
        "h2c Upgrade",
        b"GET /-/healthy HTTP/1.1\r\n"
        + H
        + b"Connection: Upgrade, HTTP2-Settings, close\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        (200,),
        True,
    ),  # fmt: skip
    (
        "huge header",
        b"GET /-/healthy HTTP/1.1\r\n" + H + b"X: " + b"a" * 70_000 + b"\r\n\r\n",
        (400, 431),
        True,
    ),  # fmt: skip
    (
        "huge body",
        b"POST /-/healthy HTTP/1.1\r\n" + H + b"Content-Length: 5000000\r\n\r\n",
        (413,),
        True,
    ),  # fmt: skip
]


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:80]
    return int(answer[9:12])


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_every_request_of_the_table_gets_an_rfc_answer(start: Any, tls: bool, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    ex = start(tls=tls)
    caplog.clear()
    problems = []
    for name, request, statuses, closes in TABLE:
        answer, closed = ex.exchange(request)
        if not answer.startswith(b"HTTP/1.1 ") or status_of(answer) not in statuses:
            problems.append(f"{name}: {answer[:60]!r}")
        elif closes and not closed:
            problems.append(f"{name}: answered {status_of(answer)} but kept the connection")
        elif status_of(answer) == 405 and b"\r\nallow: get, head\r\n" not in answer.lower():
            problems.append(f"{name}: 405 without Allow: GET, HEAD")
    assert problems == []
    assert ex.scrape().status_code == 200  # and the exporter is still fine
    # a bad request is the client's problem: no log line for it (one client could flood logs)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_expect_100_continue_is_answered(start: Any, tls: bool) -> None:
    ex = start(tls=tls)
    with ex.connect() as sock:
        sock.sendall(b"GET /-/ready HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")  # fmt: skip
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 100"), first
        sock.sendall(b"ok")
        rest = first.split(b"\r\n\r\n", 1)[1]
        while b"Ready." not in rest:
            rest += sock.recv(65536)
        assert status_of(rest) == 200


def test_obs_fold_is_replaced_not_passed_on() -> None:
    from exporter.web.serve import serve
    from tests.test_webserver import hello, raw

    s = serve(hello, "127.0.0.1", 0)
    try:
        out = raw(s, b"GET /headers HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n")  # fmt: skip
        body = out.split(b"\r\n\r\n", 1)[1]
        assert b"x-a=a b" in body and b"\r" not in body
    finally:
        s.shutdown()


def _hold(ex: Exporter, count: int, first: bytes) -> list[socket.socket]:
    """``count`` connections that send ``first`` and then nothing."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(ex.address, timeout=10)
        if first:
            sock.sendall(first)
        held.append(sock)
    return held


CLIENT_HELLO_START = bytes.fromhex("16030100c8010000c40303")  # a TLS record, cut short


@pytest.mark.parametrize(
    ("tls", "first"),
    [
        (False, b"GET /metrics HTTP/1.1\r\nHost: x\r\n"),
        (
            False,
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        ),  # fmt: skip
        (True, CLIENT_HELLO_START),
        (False, b""),
    ],
    ids=["dribbled head", "Expect without body", "dribbled ClientHello", "idle"],
)
def test_a_handful_of_slow_sockets_do_not_hold_a_scrape(start: Any, tls: bool, first: bytes) -> None:  # fmt: skip
    ex = start(tls=tls, limits=ServerLimits(head_timeout=30))
    held = _hold(ex, 40, first)
    try:
        r = ex.scrape()
        assert r.status_code == 200 and b"volcengine_rtc_online_users{" in r.content
        assert all(s.fileno() >= 0 for s in held)  # they were all still open meanwhile
    finally:
        for s in held:
            s.close()


def test_a_dribbled_head_is_cut_off_at_the_head_timeout(start: Any) -> None:
    ex = start(limits=ServerLimits(head_timeout=0.3))
    (slow,) = _hold(ex, 1, b"GET /metrics HTTP/1.1\r\n")
    try:
        slow.sendall(b"X-A: b\r\n")  # bytes keep coming, but the head never ends
        assert slow.recv(1) == b""
        assert ex.rt.server is not None and ex.rt.server.connections.counters["expired"] >= 1
    finally:
        slow.close()


def test_past_max_connections_idle_ones_make_room_for_a_scrape(start: Any) -> None:
    ex = start(limits=ServerLimits(max_connections=16, head_timeout=30))
    held = []
    for i in range(16):
        held += _hold(ex, 1, b"")
        server = ex.rt.server
        assert server is not None
        wait_for(lambda: len(server.connections.open) == i + 1, 10, "accepted", 0.01)  # noqa: B023
    try:
        assert ex.scrape().status_code == 200
        assert server.connections.counters["evicted"] >= 1
    finally:
        for s in held:
            s.close()


def slow_reader(ex: Exporter) -> socket.socket:
    """A connection with a small receive window (set before connecting, so the kernel keeps it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10)
    sock.connect(ex.address)
    return sock


def test_slow_readers_of_metrics_do_not_hold_a_scrape(start: Any) -> None:
    ex = start(limits=ServerLimits(write_timeout=30))
    readers = []
    for _ in range(16):
        sock = slow_reader(ex)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n")
        sock.recv(100)  # the answer has started; the rest is never read
        readers.append(sock)
    try:
        r = ex.scrape(**{"Accept-Encoding": "identity"})
        assert r.status_code == 200 and r.content.endswith(b"\n")
        assert len(r.content) > 100_000  # the full exposition, not a cut one
    finally:
        for s in readers:
            s.close()


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_a_bcrypt_flood_does_not_delay_a_cached_credential(start: Any, tls: bool) -> None:
    ex = start(tls=tls, users=True)
    assert ex.scrape(Authorization=AUTH).status_code == 200  # now cached
    server = ex.rt.server
    assert server is not None
    auth = _auth_middleware(ex)
    base = auth.checks  # the first scrape's one check
    slow = threading.Event()
    real = auth._checkpw

    def slow_check(password: bytes, hashed: bytes) -> bool:
        slow.wait(5)  # every failing check holds the bcrypt slot until the scrape is done
        return real(password, hashed)

    auth._checkpw = slow_check
    wrong = "Basic " + base64.b64encode(b"prometheus:wrong").decode()
    flood = [
        threading.Thread(target=lambda: ex.scrape(Authorization=wrong), daemon=True)
        for _ in range(20)
    ]
    for t in flood:
        t.start()
    try:
        wait_for(lambda: auth.checks > base, 10, "the flood to reach bcrypt", 0.01)
        r = ex.scrape(Authorization=AUTH)
        assert r.status_code == 200
        assert auth.checks == base + 1  # answered while the flood queued behind one check
    finally:
        slow.set()
        for t in flood:
            t.join(10)
    assert auth.checks >= base + 20  # every wrong password was checked, one at a time


def _auth_middleware(ex: Exporter) -> AuthMiddleware:
    app: Any = ex.rt.server.connections.app.app  # type: ignore[union-attr]
    while not isinstance(app, AuthMiddleware):
        app = app._app
    return app


def test_a_web_config_rewritten_badly_keeps_auth_and_reports_the_reload_failed(start: Any) -> None:  # fmt: skip
    ex = start(users=True)
    path = ex.rt.settings.web.config_file
    assert path is not None
    good = Path(path).read_text()

    def reload_ok() -> bytes:
        ex.rt.clock.t += 1  # type: ignore[attr-defined]  # past the live part's sharing window
        line = [ln for ln in ex.rt.view.body().splitlines() if ln.startswith(b"volcengine_rtc_exporter_config_last_reload_successful ")]  # fmt: skip
        return line[0].rsplit(b" ", 1)[1]

    assert reload_ok() == b"1.0"
    for bad in ("", "basic_auth_users:\n  prometheus: $2b$04$trunc", "http_server_config: {}\n"):
        Path(path).write_text(bad)  # truncated, half written, without the users
        assert ex.scrape().status_code == 401  # never served without credentials
        assert ex.scrape(Authorization=AUTH).status_code == 200
        assert reload_ok() == b"0.0"
    Path(path).write_text(good + "\n")
    assert ex.scrape(Authorization=AUTH).status_code == 200
    assert reload_ok() == b"1.0"


def test_a_reader_that_stops_reading_is_dropped_at_the_write_timeout(start: Any) -> None:
    ex = start(limits=ServerLimits(write_timeout=0.3))
    sock = slow_reader(ex)
    try:
        # 150 pipelined scrapes (~10 MB): more than the kernel's socket buffers hold
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: identity\r\n\r\n" * 150)  # fmt: skip
        server = ex.rt.server
        assert server is not None
        wait_for(lambda: server.connections.counters["accepted"] == 1, 10, "accepted", 0.01)
        # never read: the answers cannot be sent, the connection is dropped
        wait_for(lambda: len(server.connections.open) == 0, 10, "dropped", 0.05)
        assert ex.scrape().status_code == 200
    finally:
        sock.close()


def test_a_dribbled_tls_handshake_is_cut_off(start: Any) -> None:
    ex = start(tls=True, limits=ServerLimits(head_timeout=0.3))
    (slow,) = _hold(ex, 1, CLIENT_HELLO_START)
    try:
        assert slow.recv(1) == b""  # closed without a handshake
        assert ex.scrape().status_code == 200
    finally:
        slow.close()
