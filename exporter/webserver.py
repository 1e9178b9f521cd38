"""An HTTP/1.1 server for a WSGI app that slow, idle or numerous clients cannot knock over.

One reactor thread and a fixed pool of worker threads:

* The reactor accepts connections (listen backlog 1024) and watches every connection that is
  waiting for its next request with a selector. Idle connections cost a file descriptor and a
  few hundred bytes, never a thread. A connection only goes to a worker once it has bytes to
  read. A new connection must send its request within ``read_timeout``, a kept-alive one within
  ``idle_timeout``; past that it is closed. At ``max_connections`` the connection idle for
  longest is closed to make room, so new clients are always served.
* A worker does the TLS handshake (first time), reads one request (head and body within
  ``read_timeout``), runs the app through ``wsgiref``'s handler, writes the answer (within
  ``write_timeout``) and hands a kept-alive connection back to the reactor.

``serve()`` returns once the socket is bound; ``HttpServer.shutdown()`` takes well under a
second. The HTTP parsing and WSGI glue live in ``exporter.http1``.
"""

from __future__ import annotations

import errno
import logging
import queue
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from exporter.errors import ListenError
from exporter.http1 import Conn, serve_one
from exporter.webauth import WebConfigMiddleware
from exporter.webconfig import WebConfig

__all__ = ["HttpServer", "ServerLimits", "serve"]

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@dataclass(frozen=True)
class ServerLimits:
    """Bounds of the server; the defaults suit an exporter scraped by a few Prometheus."""

    workers: int = 16  # threads running the app: the most requests served at once
    backlog: int = 1024  # listen queue (the kernel caps it at net.core.somaxconn)
    read_timeout: float = 10.0  # TLS handshake, and a request from its first byte to its end
    idle_timeout: float = 120.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 30.0  # sending one answer
    max_connections: int = 4096  # open connections; the longest idle is closed past it
    max_head_bytes: int = 64 * 1024
    max_body_bytes: int = 1024 * 1024


_OS_ERRORS = {
    errno.EADDRINUSE: "the port is already in use",
    errno.EACCES: "permission denied (ports below 1024 need privileges)",
    errno.EADDRNOTAVAIL: "the address is not one of this machine's",
    errno.EAFNOSUPPORT: "this machine has no such address family (IPv6?)",
}


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if host == "":
            # all addresses: IPv6 and IPv4 on one socket where the machine has IPv6
            if socket.has_dualstack_ipv6():
                try:
                    return socket.create_server(
                        ("", port), family=socket.AF_INET6, backlog=backlog, dualstack_ipv6=True
                    )
                except OSError as exc:
                    if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                        raise
            return socket.create_server(("", port), backlog=backlog)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        infos.sort(key=lambda i: i[0] != socket.AF_INET)  # Go listens on the IPv4 one first
        family, _, _, _, addr = infos[0]
        return socket.create_server(addr[:2], family=family, backlog=backlog)
    except socket.gaierror as exc:
        why = f"host does not resolve ({exc.strerror})"
        raise ListenError(f"cannot listen on {shown}: {why}") from None
    except OSError as exc:
        why = _OS_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
        raise ListenError(f"cannot listen on {shown}: {why}") from None


def _raise_fd_limit(want: int) -> int:
    """Raise the soft open-files limit towards ``want`` (as Go does at start); return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft if soft != resource.RLIM_INFINITY else want


class HttpServer:
    """A running server: ``address``, ``url``, ``shutdown()``."""

    def __init__(
        self,
        app: WSGIApp,
        sock: socket.socket,
        limits: ServerLimits,
        web_config: WebConfig | None,
        clock: Callable[[], float],
    ) -> None:
        self._app = app
        self._sock = sock
        self.limits = limits
        self._web_config = web_config
        self._clock = clock
        fds = _raise_fd_limit(limits.max_connections + 256)
        self._max_conns = max(16, min(limits.max_connections, fds - 64))
        self._open: set[Conn] = set()
        self._open_lock = threading.Lock()
        self._idle: dict[Conn, float] = {}  # reactor thread only: connection -> deadline
        self._work: queue.SimpleQueue[Conn | None] = queue.SimpleQueue()
        self._back: queue.SimpleQueue[Conn] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._stopping = threading.Event()
        self._accept_paused_until = 0.0
        self._next_expiry = 0.0
        self.counters = {"accepted": 0, "evicted": 0, "expired": 0, "requests": 0}
        bound = sock.getsockname()
        self.address: tuple[str, int] = (str(bound[0]), int(bound[1]))
        self._threads = [threading.Thread(target=self._reactor, name="http-reactor", daemon=True)]
        self._threads += [
            threading.Thread(target=self._worker, name=f"http-{i}", daemon=True)
            for i in range(limits.workers)
        ]
        for t in self._threads:
            t.start()

    @property
    def url(self) -> str:
        scheme = "https" if self._web_config and self._web_config.tls_enabled else "http"
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.address[0], self.address[0])
        return f"{scheme}://{f'[{host}]' if ':' in host else host}:{self.address[1]}"

    def open_connections(self) -> int:
        with self._open_lock:
            return len(self._open)

    def idle_connections(self) -> int:
        """Connections waiting for a request (watched by the reactor, not by a worker)."""
        return len(self._idle)

    def shutdown(self, timeout: float = 1.0) -> None:
        """Stop accepting, close every connection, wait up to ``timeout`` for the threads."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake()
        with self._open_lock:
            busy = list(self._open)
        for conn in busy:  # unblock workers reading or writing
            conn.abort()
        for _ in range(self.limits.workers):
            self._work.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._sock.close()
        self._wake_r.close()
        self._wake_w.close()

    # -- reactor ---------------------------------------------------------------------------

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    def _reactor(self) -> None:
        sel = selectors.DefaultSelector()
        self._sock.setblocking(False)
        sel.register(self._sock, selectors.EVENT_READ, "listen")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        try:
            while not self._stopping.is_set():
                for key, _ in sel.select(self._select_timeout()):
                    if key.data == "listen":
                        self._accept(sel)
                    elif key.data == "wake":
                        self._drain_wake()
                    else:
                        self._dispatch(sel, key.data)
                self._take_back(sel)
                self._expire(sel)
        except Exception:  # pragma: no cover - a bug here must not pass silently
            log.exception("http reactor failed")
        finally:
            for conn in list(self._idle):
                self._close(conn)
            self._idle.clear()
            sel.close()

    def _select_timeout(self) -> float:
        now = self._clock()
        if self._accept_paused_until > now:
            return min(0.05, self._accept_paused_until - now)
        return 0.5

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _accept(self, sel: selectors.BaseSelector) -> None:
        if self._accept_paused_until > self._clock():
            return
        for _ in range(64):  # a burst at a time, then serve the others
            try:
                sock, addr = self._sock.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    log.warning("http: out of file descriptors, closing idle connections")
                    if not self._evict(sel):
                        self._accept_paused_until = self._clock() + 0.1
                return
            self.counters["accepted"] += 1
            if self.open_connections() >= self._max_conns and not self._evict(sel):
                sock.close()
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock, addr)
            with self._open_lock:
                self._open.add(conn)
            self._register(sel, conn, self.limits.read_timeout)

    def _register(self, sel: selectors.BaseSelector, conn: Conn, timeout: float) -> None:
        self._idle[conn] = self._clock() + timeout
        sel.register(conn.sock, selectors.EVENT_READ, conn)

    def _dispatch(self, sel: selectors.BaseSelector, conn: Conn) -> None:
        sel.unregister(conn.sock)
        self._idle.pop(conn, None)
        self._work.put(conn)

    def _take_back(self, sel: selectors.BaseSelector) -> None:
        while True:
            try:
                conn = self._back.get_nowait()
            except queue.Empty:
                return
            if conn.has_buffered():  # a pipelined request already read: no need to wait
                self._work.put(conn)
            else:
                self._register(sel, conn, self.limits.idle_timeout)

    def _expire(self, sel: selectors.BaseSelector) -> None:
        now = self._clock()
        if now < self._next_expiry:  # a scan of every idle connection, 4 times a second at most
            return
        self._next_expiry = now + 0.25
        for conn in [c for c, deadline in self._idle.items() if deadline <= now]:
            self.counters["expired"] += 1
            self._drop(sel, conn)

    def _evict(self, sel: selectors.BaseSelector) -> bool:
        if not self._idle:
            return False
        self.counters["evicted"] += 1
        self._drop(sel, min(self._idle, key=self._idle.__getitem__))
        return True

    def _drop(self, sel: selectors.BaseSelector, conn: Conn) -> None:
        sel.unregister(conn.sock)
        del self._idle[conn]
        self._close(conn)

    def _close(self, conn: Conn) -> None:
        with self._open_lock:
            self._open.discard(conn)
        conn.close()

    # -- workers ---------------------------------------------------------------------------

    def _worker(self) -> None:
        while True:
            conn = self._work.get()
            if conn is None:
                return
            if self._stopping.is_set():
                self._close(conn)
                continue
            try:
                answered, keep = serve_one(conn, self._app, self._web_config, self.limits)
            except Exception:
                log.exception("http: error serving a connection")
                answered, keep = False, False
            if answered:
                with self._open_lock:
                    self.counters["requests"] += 1
            if keep and not self._stopping.is_set():
                self._back.put(conn)
                self._wake()
            else:
                self._close(conn)


def serve(
    app: WSGIApp,
    host: str,
    port: int,
    *,
    web_config: WebConfig | None = None,
    limits: ServerLimits | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> HttpServer:
    """Bind ``host:port`` and serve ``app`` in background threads.

    ``host`` "" listens on every address (IPv6 and IPv4 where possible). With ``web_config``
    the app is wrapped in its headers, rate limit and basic auth, and TLS is served when the
    file has a ``tls_server_config``. Raises ``ListenError`` (port in use, no permission,
    unresolvable host) with a one-line message.
    """
    limits = limits or ServerLimits()
    if web_config is not None:
        app = WebConfigMiddleware(app, web_config)
    sock = _listen(host, port, limits.backlog)
    return HttpServer(app, sock, limits, web_config, clock)
