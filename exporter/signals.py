"""Signals of the long-running process: SIGHUP reloads, SIGTERM and SIGINT stop.

Python runs signal handlers in the main thread, between bytecodes. A signal the kernel hands to
another thread (any thread may get a process-directed signal, e.g. while the main thread still
has one pending) only sets a flag the main thread sees when it next runs Python code: a main
thread parked in an un-timed ``Event.wait()`` may not see it until another signal comes (a lost
SIGHUP, a SIGTERM ignored). And a handler that calls ``Event.set()`` can interrupt the main
thread inside that same ``Event`` while it holds the event's lock, and wait for it forever
(the process then ignores SIGHUP *and* SIGTERM). So here:

* the handlers only store to plain attributes: no lock, no I/O, no logging;
* ``signal.set_wakeup_fd`` writes every signal to a socket pair from whichever thread received
  it; the main thread waits on that socket (``select``, with a 1 s timeout as a safety net), so
  it wakes for every signal and runs the handlers at once;
* reloads run in a thread of their own: SIGHUPs that arrive during a reload are coalesced into
  one more reload that starts after the last of them (coalesced, never lost), and a SIGTERM is
  acted on at once whatever a reload is doing;
* stopping is bounded: when the shutdown takes longer than ``deadline`` (1.5 s), the process
  exits anyway after a log line, so an orchestrator never waits for its kill timeout.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import sys
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from exporter.log import get_logger

__all__ = ["DEADLINE_SECONDS", "Signals"]

log = get_logger("exporter")

DEADLINE_SECONDS = 1.5  # a stop takes at most this long, then the process exits anyway
_STOP = (signal.SIGTERM, signal.SIGINT)


class Signals:
    """``install()`` in the main thread, ``wait_for_stop()`` there, then ``stop_within(fn)``."""

    def __init__(self, reload: Callable[[], object], *, deadline: float = DEADLINE_SECONDS) -> None:
        self._reload = reload
        self._deadline = deadline
        self.hups = 0  # SIGHUPs received (written by the handler only)
        self.stop_signal: int | None = None  # written by the handler only
        self._asked = 0  # SIGHUPs the reloader has been told about (main thread)
        self.reloaded = 0  # SIGHUPs covered by a finished reload (reloader thread)
        self._kick = threading.Event()
        self._closing = False
        self._rx, self._tx = socket.socketpair()
        for s in (self._rx, self._tx):
            s.setblocking(False)
        self._previous: dict[int, Any] = {}
        self._previous_fd = -1
        self._reloader = threading.Thread(target=self._reloads, name="reloader", daemon=True)

    def install(self) -> None:
        self._previous_fd = signal.set_wakeup_fd(self._tx.fileno(), warn_on_full_buffer=False)
        for sig in (signal.SIGHUP, *_STOP):
            self._previous[sig] = signal.signal(sig, self._handle)
        self._reloader.start()

    def uninstall(self) -> None:
        """Put back the previous handlers (tests run this in-process)."""
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._previous_fd)
        self._closing = True
        self._kick.set()
        self._rx.close()
        self._tx.close()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.hups += 1
        else:
            self.stop_signal = signum

    # -- the main thread -----------------------------------------------------------------------

    def wait_for_stop(self) -> int:
        """Hand SIGHUPs to the reloader until SIGTERM or SIGINT; return that signal."""
        while self.stop_signal is None:
            try:
                select.select([self._rx], [], [], 1.0)
                while self._rx.recv(512):
                    pass
            except (BlockingIOError, InterruptedError):
                pass
            hups = self.hups
            if hups != self._asked:
                self._asked = hups
                self._kick.set()
        return self.stop_signal

    def stop_within(self, stop: Callable[[], object]) -> None:
        """Run ``stop()``; exit the process if it is not done within the deadline. From now
        on SIGHUP is ignored: Python puts back the default action of its handlers when the
        interpreter exits, and a late SIGHUP must not turn a clean exit into a kill."""
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self._closing = True
        self._kick.set()
        watchdog = threading.Timer(self._deadline, self._too_slow)
        watchdog.daemon = True
        watchdog.start()
        try:
            stop()
        finally:
            watchdog.cancel()

    def _too_slow(self) -> None:
        log.error("shutdown is taking too long; exiting now", deadline_seconds=self._deadline)
        try:
            sys.stderr.flush()
        finally:
            os._exit(0)

    # -- the reloader thread -------------------------------------------------------------------

    def _reloads(self) -> None:
        while True:
            self._kick.wait()
            self._kick.clear()
            while not self._closing and self.reloaded < self._asked:
                covered = self._asked  # every SIGHUP so far: the file is read after them
                log.info("reloading configuration", signal="SIGHUP")
                try:
                    self._reload()
                except Exception as exc:  # never let the reloader die
                    log.error("reload failed", error=f"{type(exc).__name__}: {exc}")
                self.reloaded = covered
            if self._closing:
                return
