"""The web config file in use: reloaded when it changes, kept at its last good version.

Like the toolkit, the file is looked at again on every request (users, headers) and the
certificate files on every new TLS connection, so rotated certificates and changed passwords
apply without a restart. A file is re-parsed only when its modification time, size or inode
changed.

**Fail closed.** A file that is empty, truncated or invalid when it is looked at again (an
editor or a config-management tool rewriting it in place) never replaces the last good one:
the last good configuration keeps serving, the problem is logged once per change of the file
and ``on_result(False)`` is called (``config_last_reload_successful`` 0). A reload may neither
turn TLS off nor drop basic auth (users to none): both need a restart. ``rate_limit`` is read
once at start, as in the toolkit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from exporter.errors import ConfigError
from exporter.web.config import WebConfigFile, load_web_config
from exporter.web.tls import ServerTLS, build_server_tls

__all__ = ["WebConfigSource"]

log = logging.getLogger(__name__)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _refusal(old: WebConfigFile, new: WebConfigFile) -> str | None:
    """Why ``new`` may not replace ``old`` at run time, or None."""
    if old.tls_server_config.enabled and not new.tls_server_config.enabled:
        return "tls_server_config: TLS cannot be turned off without a restart"
    if old.basic_auth_users and not new.basic_auth_users:
        return "basic_auth_users: basic auth cannot be turned off without a restart"
    return None


class WebConfigSource:
    """A web config file in use: re-read when it (or a certificate file) changes."""

    def __init__(self, path: Path, on_result: Callable[[bool], None] | None = None) -> None:
        self.path = path
        self.on_result = on_result
        self._lock = threading.Lock()
        self._sig = _signature(path)
        self._cfg = self._initial = load_web_config(path)
        self._bad_sig: object = None
        self.last_error: str | None = None
        self._tls_enabled = self._cfg.tls_server_config.enabled
        self._tls: ServerTLS | None = None
        self._tls_sig: object = None
        self._tls_error_sig: object = None
        if self._tls_enabled:
            try:
                self._tls = build_server_tls(self._cfg.tls_server_config)
            except ConfigError as exc:
                raise ConfigError(f"web config file {path}: {exc}") from None
            self._tls_sig = self._tls_signature(self._cfg)

    @classmethod
    def load(cls, path: str | Path) -> WebConfigSource:
        """Validate the file and every certificate it names; ConfigError if anything is bad."""
        return cls(Path(path))

    @property
    def tls_enabled(self) -> bool:
        return self._tls_enabled

    @property
    def initial(self) -> WebConfigFile:
        """The configuration read at start (rate_limit and TLS on/off come from it)."""
        return self._initial

    def current(self) -> WebConfigFile:
        """The file as it is now, or the last good version if it is now empty or invalid."""
        sig = _signature(self.path)
        with self._lock:
            if sig == self._sig or sig == self._bad_sig:
                return self._cfg
            try:
                if sig is not None and sig[1] == 0:
                    raise ConfigError(f"web config file {self.path}: the file is empty")
                cfg = load_web_config(self.path)
                why = _refusal(self._cfg, cfg)
                if why is not None:
                    raise ConfigError(f"web config file {self.path}: {why}")
            except ConfigError as exc:
                self._bad_sig, self.last_error = sig, str(exc)
                log.error("web config: keeping the last good configuration error=%s", exc)
                ok = False
            else:
                self._cfg, self._sig, self._bad_sig, self.last_error = cfg, sig, None, None
                log.info("web config: reloaded file=%s", self.path)
                ok = True
            current = self._cfg
        if self.on_result is not None:
            self.on_result(ok)
        return current

    def _tls_signature(self, cfg: WebConfigFile) -> object:
        files = cfg.tls_server_config.files()
        return (cfg.tls_server_config, tuple(_signature(p) for p in files))

    def server_tls(self) -> ServerTLS | None:
        """The TLS context for a new connection; rebuilt when the config or a file changed.

        If the new files do not load, the last good context keeps serving and the problem is
        logged once per change (the toolkit would fail the handshakes instead).
        """
        if not self._tls_enabled:
            return None
        cfg = self.current()
        sig = self._tls_signature(cfg)
        with self._lock:
            if sig == self._tls_sig or sig == self._tls_error_sig:
                return self._tls
        try:
            new = build_server_tls(cfg.tls_server_config)
        except ConfigError as exc:
            with self._lock:
                self._tls_error_sig = sig
            log.error(
                "web config: keeping the last good TLS settings file=%s error=%s", self.path, exc
            )
            return self._tls
        with self._lock:
            self._tls, self._tls_sig = new, sig
        log.info("web config: TLS certificates reloaded file=%s", self.path)
        return new
