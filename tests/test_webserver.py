"""The HTTP serving layer: keep-alive, bounded workers, idle and slow clients, limits, listen errors."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exporter.errors import ListenError
from exporter.runtime import Runtime
from exporter.webserver import HttpServer, ServerLimits, serve
from tests.conftest import GOLDEN_TIME, FrozenClock, fixture_transport, golden_settings
from tests.procs import wait_for


def hello(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    if environ["PATH_INFO"] == "/boom":
        raise RuntimeError("app bug")
    if environ["PATH_INFO"] == "/env":
        body = "\n".join(f"{k}={v}" for k, v in sorted(environ.items()) if isinstance(v, str))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [body.encode()]
    if environ["PATH_INFO"] == "/stream":  # no Content-Length: the connection must close
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"a", b"b"])  # type: ignore[return-value]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"hello {environ['PATH_INFO']}".encode()]


@pytest.fixture
def server() -> Iterator[HttpServer]:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(workers=2))
    yield s
    s.shutdown()


def raw(server: HttpServer, data: bytes, *, timeout: float = 10) -> bytes:
    """Send bytes, read until the server closes the connection."""
    with socket.create_connection(server.address, timeout=timeout) as c:
        c.sendall(data)
        out = b""
        while chunk := c.recv(65536):
            out += chunk
        return out


def test_keep_alive_serves_requests_on_one_connection(server: HttpServer) -> None:
    with httpx.Client() as client:
        texts = [client.get(server.url + f"/r{i}").text for i in range(5)]
    assert texts == [f"hello /r{i}" for i in range(5)]
    assert server.counters["accepted"] == 1  # one connection for all five


def test_pipelined_requests_answered_in_order(server: HttpServer) -> None:
    out = raw(
        server,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert out.index(b"hello /a") < out.index(b"hello /b")
    assert out.rstrip().endswith(b"hello /b")


def test_http10_and_unsized_bodies_close_the_connection(server: HttpServer) -> None:
    out = raw(server, b"GET /x HTTP/1.0\r\n\r\n")
    assert b"Connection: close" in out and out.endswith(b"hello /x")
    out = raw(server, b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Connection: close" in out and out.endswith(b"ab")


def test_head_has_length_but_no_body(server: HttpServer) -> None:
    r = httpx.head(server.url + "/abc")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len("hello /abc"))
    assert r.content == b""


def test_app_error_is_500_and_closes(server: HttpServer) -> None:
    out = raw(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500 ")
    assert b"Connection: close" in out
    assert httpx.get(server.url + "/ok").text == "hello /ok"


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT A REQUEST LINE\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", b"431"),
        (b"GET / HTTP/1.1\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(150)) + b"\r\n", b"431"),
        (b"POST / HTTP/1.1\r\nContent-Length: 5000000\r\n\r\n", b"413"),
        (b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", b"501"),
    ],
)
def test_malformed_or_oversized_requests_are_refused(
    server: HttpServer, request_bytes: bytes, status: bytes
) -> None:
    out = raw(server, request_bytes)
    assert out.startswith(b"HTTP/1.1 " + status), out[:80]
    assert b"Connection: close" in out


def test_request_body_is_passed_within_its_length(server: HttpServer) -> None:
    out = raw(server, b"POST /env HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")
    assert b"CONTENT_LENGTH=3" in out


def test_wsgi_environ_has_no_process_environment(server: HttpServer) -> None:
    os.environ["VOLC_RTC_EXPORTER_TEST_SECRET"] = "do-not-leak"
    try:
        body = httpx.get(server.url + "/env?q=1", headers={"X-Thing": "v"}).text
    finally:
        del os.environ["VOLC_RTC_EXPORTER_TEST_SECRET"]
    assert "do-not-leak" not in body
    assert "QUERY_STRING=q=1" in body
    assert "HTTP_X_THING=v" in body
    assert "wsgi.url_scheme=http" in body


def test_idle_connections_cost_no_thread_and_do_not_block_others() -> None:
    limits = ServerLimits(workers=2, read_timeout=30)
    s = serve(hello, "127.0.0.1", 0, limits=limits)
    threads_before = threading.active_count()
    idle = [socket.create_connection(s.address) for _ in range(300)]
    try:
        # 300 connections that never send a byte, 2 workers: a real client is still answered
        r = httpx.get(s.url + "/real", timeout=10)
        assert r.text == "hello /real"
        assert threading.active_count() == threads_before  # no thread per connection
        assert s.open_connections() >= 300
    finally:
        for c in idle:
            c.close()
        s.shutdown()


def test_idle_connections_expire_on_the_injected_clock() -> None:
    clock = FrozenClock(1000.0)
    s = serve(
        hello, "127.0.0.1", 0, limits=ServerLimits(read_timeout=5, idle_timeout=60), clock=clock
    )
    try:
        fresh = socket.create_connection(s.address, timeout=10)
        kept = socket.create_connection(s.address, timeout=10)
        kept.sendall(b"GET /k HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(65536).endswith(b"hello /k")
        # both accepted and back with the reactor before the clock moves
        wait_for(lambda: s.idle_connections() == 2, 10, "two idle connections")
        # a new connection gets read_timeout for its request, a kept-alive one idle_timeout
        clock.t += 6
        s._wake()
        assert fresh.recv(1) == b""  # closed by the server
        clock.t += 60
        s._wake()
        assert kept.recv(1) == b""
        assert s.counters["expired"] == 2
        fresh.close()
        kept.close()
    finally:
        s.shutdown()


def test_at_max_connections_the_longest_idle_is_evicted() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(max_connections=16, read_timeout=60))
    try:
        idle = [socket.create_connection(s.address, timeout=10) for _ in range(16)]
        assert httpx.get(s.url + "/new", timeout=10).text == "hello /new"
        assert s.counters["evicted"] >= 1
        assert idle[0].recv(1) == b""  # the oldest went first
        for c in idle:
            c.close()
    finally:
        s.shutdown()


def test_slow_client_is_cut_off_and_others_still_served() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(workers=1, read_timeout=0.5))
    try:
        slow = socket.create_connection(s.address, timeout=10)
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        assert slow.recv(1) == b""  # dropped after read_timeout, without an answer
        assert httpx.get(s.url + "/after", timeout=10).text == "hello /after"
        slow.close()
    finally:
        s.shutdown()


def test_shutdown_closes_connections_and_stops_threads() -> None:
    s = serve(hello, "127.0.0.1", 0)
    c = socket.create_connection(s.address, timeout=10)
    busy = socket.create_connection(s.address, timeout=10)
    busy.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n")  # a worker is reading it
    s.shutdown()
    assert c.recv(1) == b""
    assert not any(t.is_alive() for t in s._threads)
    c.close()
    busy.close()
    # the port is free again at once
    again = serve(hello, "127.0.0.1", s.address[1])
    again.shutdown()


def test_listen_errors_are_one_clean_line() -> None:
    s = serve(hello, "127.0.0.1", 0)
    try:
        with pytest.raises(ListenError, match=r"^cannot listen on 127\.0\.0\.1:\d+: the port is already in use$"):  # fmt: skip
            serve(hello, "127.0.0.1", s.address[1])
    finally:
        s.shutdown()
    with pytest.raises(ListenError, match=r"^cannot listen on no-such-host\.invalid:9: host does not resolve"):  # fmt: skip
        serve(hello, "no-such-host.invalid", 9)
    # 192.0.2.0/24 is reserved for documentation: never an address of this machine
    with pytest.raises(ListenError, match=r"192\.0\.2\.1:0: the address is not one of this machine's"):  # fmt: skip
        serve(hello, "192.0.2.1", 0)


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_ipv6_and_all_addresses() -> None:
    try:
        six = serve(hello, "::1", 0)
    except ListenError:
        pytest.skip("no IPv6 loopback")
    try:
        assert six.url.startswith("http://[::1]:")
        assert httpx.get(six.url + "/six").text == "hello /six"
    finally:
        six.shutdown()
    every = serve(hello, "", 0)
    try:
        port = every.address[1]
        assert httpx.get(f"http://127.0.0.1:{port}/four").text == "hello /four"
        if socket.has_dualstack_ipv6():
            assert httpx.get(f"http://[::1]:{port}/six").text == "hello /six"
    finally:
        every.shutdown()


def test_serves_the_exporter_app() -> None:
    transport, _ = fixture_transport()
    settings = golden_settings(refresh={"mode": "timer"})
    rt = Runtime.build(settings, transport=transport, clock=FrozenClock(GOLDEN_TIME))
    for name in rt.sources:
        rt.refresher.refresh(name)
    s = serve(rt.app, "127.0.0.1", 0)
    try:
        with httpx.Client(base_url=s.url) as client:
            assert client.get("/-/healthy").status_code == 200
            assert client.get("/-/ready").status_code == 200
            metrics = client.get("/metrics", headers={"Accept-Encoding": "identity"})
            assert "volcengine_rtc_online_users{" in metrics.text
            assert "content-encoding" not in metrics.headers
            assert int(metrics.headers["content-length"]) == len(metrics.content)
            gz = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
            assert gz.headers.get("content-encoding") == "gzip"
            stable = lambda text: [  # noqa: E731
                ln for ln in text.splitlines()
                if not ln.startswith(("process_", "python_gc", "volcengine_rtc_exporter_api_request_duration"))
            ]  # fmt: skip
            assert stable(gz.text) == stable(metrics.text)
    finally:
        s.shutdown()
        rt.stop()
