"""The receiver's lifecycle: listener, event worker, reconciler; reload; storage warnings.

``CallbackService`` is built by the runtime when ``callbacks.listen_address`` is set; its
collector joins the exporter's registry, so the families are on ``/metrics`` from the first
scrape. ``start()`` binds the listener and starts one worker thread (the queue's consumer) and
the reconciler (overdue in-flight tasks, ``GetRecordTask`` at ``tasks.checks_per_minute``).
``reconfigure()`` (SIGHUP, ``/-/reload``) swaps secrets, storage, window and limits and keeps
the dedup cache, the counters and the in-flight tasks; the listen address and the web config
file need a restart.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from exporter.callbacks.asgi import CallbackApp
from exporter.callbacks.dedup import DedupCache
from exporter.callbacks.events import EventProcessor
from exporter.callbacks.families import CallbackCollector, CallbackState
from exporter.callbacks.labels import AppIds
from exporter.callbacks.receiver import Accepted, Keys, Receiver
from exporter.callbacks.storage import StorageInfo
from exporter.callbacks.tasks import InFlightTasks
from exporter.configtext import parse_listen_address
from exporter.errors import ApiClientError, ApiError, ConfigError
from exporter.limiter import Cancelled
from exporter.log import get_logger, set_secrets
from exporter.recordtask import RecordTaskInfo
from exporter.settings import Settings
from exporter.types import Clock
from exporter.web.source import WebConfigSource

if TYPE_CHECKING:
    from exporter.callbacks.listener import Listener

__all__ = ["CallbackService", "load_callback_web_config", "storage_warnings"]

log = get_logger(__name__)


class TaskClient(Protocol):
    def get_record_task(self, app_id: str, room_id: str, task_id: str) -> RecordTaskInfo: ...


def load_callback_web_config(path: Path) -> WebConfigSource:
    """The callback listener's web config: TLS only (the vendor sends no credentials and
    retries at most twice, so neither basic auth nor a rate limit has a place here)."""
    web = WebConfigSource.load(path)
    cfg = web.initial
    where = f"callbacks web config file {path}"
    if cfg.basic_auth_users:
        raise ConfigError(
            f"{where}: basic_auth_users is not supported: the vendor sends no credentials "
            "(every callback is signed instead); use tls_server_config only"
        )
    if cfg.rate_limit.interval > 0:
        raise ConfigError(f"{where}: rate_limit is not supported on the callback listener")
    if cfg.http_server_config.headers:
        raise ConfigError(f"{where}: http_server_config.headers is not supported here")
    return web


def _app_storage(settings: Settings) -> dict[str, StorageInfo]:
    default = settings.callbacks.storage()
    return {
        app.app_id: app.recording_storage.info() if app.recording_storage else default
        for app in settings.apps or []
    }


def storage_warnings(settings: Settings) -> list[str]:
    """One line per configured storage the vendor's Region table says may fail."""
    out = []
    default = settings.callbacks.storage()
    if settings.callbacks.recording_storage is not None and default.problem:
        out.append(f"callbacks.recording_storage: {default.problem}")
    for i, app in enumerate(settings.apps or []):
        if app.recording_storage is not None and app.recording_storage.info().problem:
            problem = app.recording_storage.info().problem
            out.append(f"apps[{i}].recording_storage (app {app.app_id}): {problem}")
    return out


def _keys(settings: Settings) -> Keys:
    """The signing secrets of this configuration; they replace the previous configuration's in
    the log scrubber (which keeps those a grace minute more), so rotating them by reload holds
    no more than the current ones."""
    per_app = {app.app_id: app.callback_secrets for app in settings.apps or []}
    every_app = (s for secrets in per_app.values() for s in secrets)
    set_secrets("callbacks", (*settings.callbacks.secrets, *every_app))
    return Keys(settings.callbacks.secrets, {k: v for k, v in per_app.items() if v})


class CallbackService:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        known_apps: Callable[[], Collection[str]],
        client: Callable[[], TaskClient],
    ) -> None:
        cb = settings.callbacks
        self.clock = clock
        self._settings = settings
        self._known = known_apps
        self._client = client
        self.state = CallbackState()
        self.tasks = InFlightTasks(cb.tasks.max_tasks, cb.tasks.check_after_seconds)
        self.queue: queue.Queue[Accepted | None] = queue.Queue(maxsize=cb.queue_size)
        self.dedup = DedupCache(cb.max_age_seconds + cb.max_future_seconds, cb.dedup_max_entries)
        self._storage = _app_storage(settings)
        self.receiver = Receiver(
            self.state,
            _keys(settings),
            wall=clock.time,
            monotonic=clock.monotonic,
            max_age=cb.max_age_seconds,
            max_future=cb.max_future_seconds,
            dedup=self.dedup,
            events=self.queue,
        )
        apps = AppIds(self._all_known, cb.max_other_apps)
        self.processor = EventProcessor(
            self.state,
            self.tasks,
            apps,
            self.storage_of,
            max_label_values=cb.max_label_values,
            duration_unit=cb.session_duration_unit,
            wall=clock.time,
        )
        self.collector = CallbackCollector(self.state, self.tasks.counts, self.storage_list)
        self.app = CallbackApp(
            lambda: self.receiver, lambda: self._settings.callbacks.max_body_bytes
        )
        self.listener: Listener | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._checks = 0.0  # GetRecordTask budget carried between reconciler runs

    # -- apps and storage ----------------------------------------------------------------------

    def _all_known(self) -> Collection[str]:
        return {*self._known(), *self._storage, *(self.receiver.keys.per_app or {})}

    def storage_of(self, app_id: str) -> StorageInfo:
        return self._storage.get(app_id) or self._settings.callbacks.storage()

    def storage_list(self) -> list[tuple[str, StorageInfo]]:
        """Every app the exporter knows, with its storage (unknown/unknown when none)."""
        default = self._settings.callbacks.storage()
        apps = sorted({*self._known(), *self._storage})
        return [(a, self._storage.get(a, default)) for a in apps]

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> tuple[str, int]:
        """Bind the listener (ListenError, ConfigError) and start the worker and reconciler."""
        from exporter.callbacks.listener import serve

        cb = self._settings.callbacks
        assert cb.listen_address is not None
        path = cb.web_config_file
        web = load_callback_web_config(path) if path is not None else None
        host, port = parse_listen_address(cb.listen_address)
        listener = serve(self.app, host, port, web_config=web, name="callbacks", tls_only=True)
        self.listener = listener
        self._stopping.clear()
        for target, name in ((self._work, "callback-worker"), (self._reconcile, "callback-tasks")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        for line in storage_warnings(self._settings):
            log.warning("recording storage may not work", problem=line)
        return listener.address

    def stop(self) -> None:
        self._stopping.set()
        listener = self.listener
        if listener is not None:
            listener.shutdown()
            self.listener = None
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass
        for thread in self._threads:
            thread.join(2.0)
        self._threads = []

    def reconfigure(self, settings: Settings) -> None:
        """A reload: new secrets, storage, window and limits; the dedup cache stays."""
        old, cb = self._settings.callbacks, settings.callbacks
        if (old.listen_address, old.web_config_file) != (cb.listen_address, cb.web_config_file):
            log.warning("callbacks: a new listen address or web config file needs a restart")
        self.receiver.reconfigure(
            _keys(settings), cb.max_age_seconds, cb.max_future_seconds, cb.dedup_max_entries
        )
        self.tasks.reconfigure(cb.tasks.max_tasks, cb.tasks.check_after_seconds)
        self._storage = _app_storage(settings)
        self._settings = settings
        for line in storage_warnings(settings):
            log.warning("recording storage may not work", problem=line)

    # -- threads -------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            item = self.queue.get()
            try:
                if item is None:
                    return
                self.processor.apply(item)
            except Exception as exc:  # one odd event must not stop the worker
                log.error("callback event not applied", error=type(exc).__name__)
            finally:
                self.queue.task_done()

    def drain(self) -> None:
        """Wait until every queued event is applied (tests, shutdown)."""
        self.queue.join()

    def _reconcile(self) -> None:
        while not self._stopping.wait(60.0):
            self.reconcile_tick()

    def reconcile_tick(self) -> int:
        """One minute of the reconciler: at most ``checks_per_minute`` calls (a fractional rate
        saves up to one call, never more: an idle hour is not a burst later). Nothing it meets
        stops the reconciler: a call cut short by a reload or shutdown is tried in a later
        minute with the engine of that time."""
        per_minute = self._settings.callbacks.tasks.checks_per_minute
        self._checks = min(self._checks + per_minute, max(per_minute, 1.0))
        try:
            done = self.reconcile_once(int(self._checks))
        except Exception as exc:
            log.error("in-flight recording tasks not checked", error=type(exc).__name__)
            return 0
        self._checks -= done
        return done

    def reconcile_once(self, limit: int) -> int:
        """Expire old tasks, check up to ``limit`` overdue ones; returns the calls made."""
        now = self.clock.time()
        self.tasks.expire(now)
        chosen = self.tasks.overdue(now, limit) if limit > 0 else []
        calls = 0
        for n, task in enumerate(chosen):
            calls += 1
            try:
                info = self._client().get_record_task(task.app_id, task.room_id, task.task_id)
            except ApiClientError:
                self.tasks.resolve(task.key, None, now)  # not found (or gone past 72 h)
                continue
            except ApiError as exc:
                log.debug("GetRecordTask failed, checking again later", reason=exc.reason)
                continue
            except Cancelled:  # the engine was retired (reload, shutdown): next minute, anew
                self.tasks.offer_again([t.key for t in chosen[n:]])
                break
            except Exception as exc:  # this task only, checked again after check_after
                log.error("GetRecordTask answer not applied", error=type(exc).__name__)
                continue
            result = self.tasks.resolve(task.key, info.status, now)
            log.debug("in-flight recording task checked", app_id=task.app_id, result=result)
        return calls
