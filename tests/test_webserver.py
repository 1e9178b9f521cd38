"""The web layer (exporter.web.serve: hypercorn with our bounds) with a small ASGI app."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from exporter.errors import ListenError
from exporter.runtime import Runtime
from exporter.web.serve import Listener, ServerLimits, serve
from tests.conftest import GOLDEN_TIME, FrozenClock, fixture_transport, golden_settings
from tests.procs import wait_for


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("app bug")
    if path == "/body":
        data = b""
        while True:
            message = await receive()
            data += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = b"got %d bytes" % len(data)
    elif path == "/headers":
        body = b"\n".join(k + b"=" + v for k, v in scope["headers"])
    elif path == "/stream":  # no Content-Length: chunked, the connection stays usable
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})
        return
    else:
        body = f"hello {path}".encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[Listener]:
    s = serve(hello, "127.0.0.1", 0)
    yield s
    s.shutdown()


def raw(server: Listener, data: bytes, *, timeout: float = 10) -> bytes:
    """Send bytes, read until the server closes the connection."""
    with socket.create_connection(server.address, timeout=timeout) as c:
        c.sendall(data)
        out = b""
        while chunk := c.recv(65536):
            out += chunk
        return out


def read_until(sock: socket.socket, end: bytes) -> bytes:
    out = b""
    while not out.endswith(end):
        chunk = sock.recv(65536)
        assert chunk, out
        out += chunk
    return out


def test_keep_alive_serves_requests_on_one_connection(server: Listener) -> None:
    with httpx.Client() as client:
        texts = [client.get(server.url + f"/r{i}").text for i in range(5)]
    assert texts == [f"hello /r{i}" for i in range(5)]
    assert server.connections.counters["accepted"] == 1  # one connection for all five


def test_pipelined_requests_answered_in_order(server: Listener) -> None:
    out = raw(
        server,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert out.count(b"HTTP/1.1 200") == 2
    assert out.index(b"hello /a") < out.index(b"hello /b")
    assert out.rstrip().endswith(b"hello /b")


def test_http10_closes_and_unsized_bodies_are_chunked(server: Listener) -> None:
    out = raw(server, b"GET /x HTTP/1.0\r\n\r\n")
    assert b"connection: close" in out.lower() and out.endswith(b"hello /x")
    with httpx.Client() as client:
        r = client.get(server.url + "/stream")
        assert r.text == "ab" and r.headers["transfer-encoding"] == "chunked"
        assert client.get(server.url + "/after").text == "hello /after"


def test_head_has_length_but_no_body(server: Listener) -> None:
    r = httpx.head(server.url + "/abc")
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len("hello /abc"))
    assert r.content == b""


def test_app_error_is_500_and_the_server_goes_on(server: Listener) -> None:
    out = raw(server, b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 500")
    assert httpx.get(server.url + "/ok").text == "hello /ok"


@pytest.mark.parametrize(
    ("request_bytes", "statuses"),
    [
        (b"NOT A REQUEST LINE\r\n\r\n", (b"400",)),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", (b"505",)),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", (b"400", b"431")),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n", (b"413",)),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", (b"400",)),
    ],
)
def test_malformed_or_oversized_requests_are_refused(
    server: Listener, request_bytes: bytes, statuses: tuple[bytes, ...]
) -> None:
    out = raw(server, request_bytes)
    assert out[9:12] in statuses, out[:80]
    assert b"connection: close" in out.lower()


def test_request_body_is_passed_within_its_length(server: Listener) -> None:
    out = raw(server, b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc")  # fmt: skip
    assert out.endswith(b"got 3 bytes")
    chunked = b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\nab\r\n0\r\n\r\n"  # fmt: skip
    assert raw(server, chunked).endswith(b"got 2 bytes")


def test_idle_connections_cost_no_thread_and_do_not_block_others() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(head_timeout=30))
    threads_before = threading.active_count()
    idle = [socket.create_connection(s.address) for _ in range(300)]
    try:
        # 300 connections that never send a byte: a real client is still answered at once
        r = httpx.get(s.url + "/real", timeout=10)
        assert r.text == "hello /real"
        # no thread per connection (other tests' threads may come and go meanwhile)
        assert threading.active_count() < threads_before + 10
        wait_for(lambda: len(s.connections.open) >= 300, 10, "300 open connections")
    finally:
        for c in idle:
            c.close()
        s.shutdown()


def test_a_new_connection_gets_the_head_timeout_a_kept_alive_one_keep_alive() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(head_timeout=0.5, keep_alive=60))
    try:
        fresh = socket.create_connection(s.address, timeout=10)
        kept = socket.create_connection(s.address, timeout=10)
        kept.sendall(b"GET /k HTTP/1.1\r\nHost: x\r\n\r\n")
        read_until(kept, b"hello /k")
        assert fresh.recv(1) == b""  # closed by the server, without an answer
        assert s.connections.counters["expired"] == 1
        kept.sendall(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")  # still open
        read_until(kept, b"hello /again")
        kept.sendall(b"GET /slow HTTP/1.1\r\n")  # a head started on a kept-alive connection
        assert kept.recv(1) == b""  # cut off at head_timeout, not at keep_alive
        assert s.connections.counters["expired"] == 2
        # the same when the head's first bytes come with the previous request (pipelined)
        again = socket.create_connection(s.address, timeout=10)
        again.sendall(b"GET /p HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\n")
        read_until(again, b"hello /p")
        assert again.recv(1) == b""
        assert s.connections.counters["expired"] == 3
        for c in (fresh, kept, again):
            c.close()
    finally:
        s.shutdown()


def test_at_max_connections_the_longest_idle_is_evicted() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(max_connections=16, head_timeout=60))
    try:
        idle = []
        for i in range(16):
            idle.append(socket.create_connection(s.address, timeout=10))
            wait_for(lambda: len(s.connections.open) == i + 1, 10, "accepted", interval=0.01)  # noqa: B023
        assert httpx.get(s.url + "/new", timeout=10).text == "hello /new"
        assert s.connections.counters["evicted"] >= 1
        assert idle[0].recv(1) == b""  # the oldest went first
        for c in idle:
            c.close()
    finally:
        s.shutdown()


def test_a_dribbled_head_is_cut_off_and_others_still_served() -> None:
    s = serve(hello, "127.0.0.1", 0, limits=ServerLimits(head_timeout=0.5, keep_alive=60))
    try:
        slow = socket.create_connection(s.address, timeout=10)
        slow.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n")  # the head never ends
        assert slow.recv(1) == b""  # dropped after head_timeout, without an answer
        assert httpx.get(s.url + "/after", timeout=10).text == "hello /after"
        slow.close()
    finally:
        s.shutdown()


def test_shutdown_closes_connections_and_stops_the_thread() -> None:
    s = serve(hello, "127.0.0.1", 0)
    c = socket.create_connection(s.address, timeout=10)
    busy = socket.create_connection(s.address, timeout=10)
    busy.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n")  # half a head
    wait_for(lambda: len(s.connections.open) == 2, 10, "two connections", interval=0.01)
    s.shutdown()
    assert c.recv(1) == b""
    assert busy.recv(1) == b""
    assert not s._thread.is_alive()
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


def test_answers_are_not_held_back_by_nagle(server: Listener) -> None:
    # an answer goes out in parts (head, body): with Nagle's algorithm on, the client's
    # delayed ACK holds the second part back for 40 ms
    with httpx.Client() as client:
        assert client.get(server.url + "/a").text == "hello /a"
        (conn,) = server.connections.open
        sock = conn.writer.get_extra_info("socket")
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
