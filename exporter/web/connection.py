"""hypercorn's connection handler with the bounds it lacks (see ``exporter.web.serve``)."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import dataclass
from ssl import SSLError

from hypercorn.asyncio.tcp_server import MAX_RECV, TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.protocol import ProtocolWrapper
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.typing import AppWrapper

from exporter.web.source import WebConfigSource

__all__ = ["Connections", "ServerLimits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerLimits:
    """Bounds of the server; the defaults suit an exporter scraped by a few Prometheus."""

    head_timeout: float = 10.0  # TLS handshake; a request head from its first byte
    keep_alive: float = 120.0  # a kept-alive connection waiting for its next request
    write_timeout: float = 30.0  # sending one part of an answer
    read_timeout: float | None = None  # each read of a request body (None: unbounded)
    max_connections: int = 4096  # open connections; the longest idle is closed past it
    backlog: int = 1024  # listen queue (the kernel caps it at net.core.somaxconn)
    max_head_bytes: int = 64 * 1024  # request line and headers (431 past it)
    max_body_bytes: int = 1024 * 1024  # request body (413 past it)
    graceful: float = 1.0  # shutdown: open requests get this long to finish


_BAD_REQUEST = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


async def _http11_only(_request: object) -> None:
    return None


class _Connection(TCPServer):
    def __init__(
        self, owner: Connections, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super().__init__(owner.app, owner.loop, owner.config, owner.context, {}, reader, writer)
        self._owner = owner
        self._limits = owner.limits
        self.requests = 0
        self.waiting = True  # for a request (no request is being answered)
        self.head_started = False  # a byte of the awaited request has come
        self.idle_since = self.loop.time()
        self.head_deadline = self.idle_since + self._limits.head_timeout
        self._line: bytes | None = None  # the start of a request line not yet judged
        self.closed = False  # the client is gone (or was dropped)

    @property
    def protocol(self) -> ProtocolWrapper:
        return self._protocol

    @protocol.setter
    def protocol(self, wrapper: ProtocolWrapper) -> None:
        # HTTP/1.1 only: no switch to HTTP/2 on a cleartext preface or an h2c Upgrade (the
        # preface is then an HTTP/2.0 request line, answered 505; the Upgrade is ignored)
        if isinstance(wrapper.protocol, H11Protocol):
            wrapper.protocol._check_protocol = _http11_only  # type: ignore[method-assign,assignment]
        self._protocol = wrapper

    def abort(self) -> None:
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()

    async def run(self) -> None:
        source = self._owner.source
        if source is not None and source.tls_enabled:
            tls = source.server_tls()
            if tls is not None and not tls.peer_allowed(self.writer.get_extra_info("peercert")):
                self._owner.counters["refused_sans"] += 1
                self.abort()
                return
        await super().run()

    async def protocol_send(self, event: Event) -> None:
        if isinstance(event, RawData):
            if self.writer.transport.is_closing():
                return  # dropped: answers still being made for pipelined requests go nowhere
            async with self.send_lock:
                try:
                    self.writer.write(event.data)
                    await asyncio.wait_for(self.writer.drain(), self._limits.write_timeout)
                except (ConnectionError, RuntimeError, TimeoutError):
                    self.abort()  # a client that stopped reading is dropped
                    await self.protocol.handle(Closed())
            return
        if isinstance(event, Updated):
            self.waiting = event.idle
            if event.idle:
                self.requests += 1
                self._owner.counters["requests"] += 1
                self.idle_since = self.loop.time()
                # bytes of the next request may have come while this one was answered
                self.head_started = self._buffered()
                self.head_deadline = self.idle_since + self._limits.head_timeout
        await super().protocol_send(event)

    async def _read_data(self) -> None:
        while not self.reader.at_eof():
            timeout = None if self.waiting else self._limits.read_timeout
            try:
                data = await asyncio.wait_for(self.reader.read(MAX_RECV), timeout)
            except (ConnectionError, OSError, TimeoutError, SSLError):
                break
            if data and self.waiting and not self.head_started:
                self.head_started = True  # the whole head must come within head_timeout
                self.head_deadline = self.loop.time() + self._limits.head_timeout
                self._line = b""
                await self.idle_task.restart(self._task_group, self._idle_timeout)
            if self.waiting and self._line is not None and not self._request_line(data):
                break
            await self.protocol.handle(RawData(data))
        self.closed = True
        await self.protocol.handle(Closed())
        # hypercorn would keep a closed connection (and its state) until its idle timer ends
        await self.idle_task.stop()

    def _buffered(self) -> bool:
        """h11 holds bytes of a request not yet parsed."""
        inner = getattr(self._protocol, "protocol", None)
        connection = getattr(inner, "connection", None)
        trailing = getattr(connection, "trailing_data", (b"", False))
        return bool(trailing[0])

    def _request_line(self, data: bytes) -> bool:
        """h11 waits for the end of a head that an HTTP/0.9 request never sends: a request
        line without an HTTP/1.x version gets a 400 at once (False: the connection ends)."""
        assert self._line is not None
        self._line += data[:256]
        end = self._line.find(b"\n")
        if end < 0 and len(self._line) < 8192:
            return True
        line = self._line[:end].rstrip(b"\r")
        self._line = None
        if end < 0 or line.count(b" ") == 2 and line.rsplit(b" ", 1)[1].startswith(b"HTTP/"):
            return True  # h11 judges it (too long: 400 or 431; other versions: the guard)
        self.writer.write(_BAD_REQUEST)
        return False

    async def _idle_timeout(self) -> None:
        if self.closed:  # a late answer to a pipelined request must not keep it open
            return
        if self.requests:  # kept alive: waiting for the next request
            deadline = self.idle_since + self._limits.keep_alive
        else:  # a new connection: its first request within head_timeout
            deadline = self.idle_since + self._limits.head_timeout
        if self.head_started:
            deadline = min(deadline, self.head_deadline)
        while (left := deadline - self.loop.time()) > 0:
            try:
                await asyncio.wait_for(self.context.terminated.wait(), left)
                break
            except TimeoutError:
                pass
        else:
            self._owner.counters["expired"] += 1
        await asyncio.shield(self._initiate_server_close())


class Connections:
    """The open connections of one listener: accepted, bounded, closed at shutdown."""

    def __init__(
        self,
        app: AppWrapper,
        loop: asyncio.AbstractEventLoop,
        config: Config,
        limits: ServerLimits,
        max_connections: int,
        source: WebConfigSource | None,
    ) -> None:
        self.app, self.loop, self.config, self.limits = app, loop, config, limits
        self.max_connections = max_connections
        self.source = source
        self.context = WorkerContext(None)
        self.open: set[_Connection] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.counters = dict.fromkeys(
            ("accepted", "requests", "evicted", "refused", "expired", "refused_sans"), 0
        )

    async def accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.counters["accepted"] += 1
        if len(self.open) >= self.max_connections and not self._evict():
            self.counters["refused"] += 1
            writer.transport.abort()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # an answer is written in parts (head, body chunks): without this, Nagle's
            # algorithm and the client's delayed ACK add 40 ms to every small answer
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = _Connection(self, reader, writer)
        task = asyncio.current_task()
        self.open.add(conn)
        if task is not None:
            self._tasks.add(task)
        try:
            await conn.run()
        finally:
            self.open.discard(conn)
            if task is not None:
                self._tasks.discard(task)

    def _evict(self) -> bool:
        idle = [c for c in self.open if c.waiting and not c.head_started]
        if not idle:
            return False
        min(idle, key=lambda c: c.idle_since).abort()
        self.counters["evicted"] += 1
        return True

    def idle(self) -> int:
        """Connections waiting for a request."""
        return sum(1 for c in self.open if c.waiting)

    async def close_all(self, graceful: float) -> None:
        await self.context.terminated.set()  # idle connections close now
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=graceful)
        for conn in list(self.open):
            conn.abort()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=0.5)
