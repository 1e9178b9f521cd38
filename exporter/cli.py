"""Command line: Prometheus-style flags over the YAML/env configuration.

volc-rtc-exporter --config.file=config.yml [--web.listen-address=:9877] ...
volc-rtc-exporter --demo          # embedded simulator, zero configuration
volc-rtc-exporter mixin ...       # generate dashboards, rules, routing, runbooks
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path
from typing import Any

from exporter import __version__, revision
from exporter.collectors import SOURCES
from exporter.configtext import web_security
from exporter.errors import ConfigError
from exporter.log import get_logger, setup_logging
from exporter.settings import DEFAULT_PORT, Settings, load_settings

__all__ = ["main", "parser"]

log = get_logger("exporter")

MAX_DEMO_APPS = 500
SUBCOMMANDS = """subcommands:
  volc-rtc-exporter mixin [--config FILE] [--out DIR] [--check] [--png] [--jsonnet]
      generate the Grafana dashboards, Prometheus rules, Alertmanager routing, runbooks
      and the Jsonnet mixin (volc-rtc-exporter mixin --help)"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="volc-rtc-exporter",
        description="Prometheus exporter for Volcengine / BytePlus RTC quality and operations "
        "data.\nFlags override the config file, which environment variables override.",
        epilog=SUBCOMMANDS,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    python = platform.python_version()
    version = f"volc-rtc-exporter {__version__} (revision {revision()}, Python {python})"
    p.add_argument("--version", action="version", version=version)
    g = p.add_argument_group("configuration")
    g.add_argument("--config.file", dest="config_file", type=Path, help="YAML configuration file")
    g.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration, print a summary and the quota plan, and exit",
    )
    g.add_argument("--shard", dest="shard", help="N/M: serve shard N of M (default 1/1)")
    w = p.add_argument_group("web")
    w.add_argument(
        "--web.listen-address",
        dest="listen_address",
        help=f"address to listen on (default :{DEFAULT_PORT})",
    )
    w.add_argument(
        "--web.telemetry-path", dest="telemetry_path", help="metrics path (default /metrics)"
    )
    w.add_argument(
        "--web.config.file",
        dest="web_config",
        type=Path,
        help="exporter-toolkit web configuration: TLS and basic auth (see docs/web.md)",
    )
    w.add_argument(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        default=None,
        help="enable POST /-/reload (SIGHUP always reloads)",
    )
    _callback_flags(p.add_argument_group("event callbacks"))
    r = p.add_argument_group("refresh")
    r.add_argument(
        "--refresh.mode",
        dest="refresh_mode",
        choices=["timer", "scrape"],
        help="timer (default): background refresh, scrapes read the cache; "
        "scrape: a scrape refreshes the sources that are due",
    )
    lg = p.add_argument_group("logging")
    lg.add_argument(
        "--log.level", dest="log_level", choices=["debug", "info", "warn", "error"], help="info"
    )
    lg.add_argument("--log.format", dest="log_format", choices=["logfmt", "json"], help="logfmt")
    _demo_flags(p.add_argument_group("demo"))
    return p


def _demo_flags(d: argparse._ArgumentGroup) -> None:
    d.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded API simulator on a free loopback port and monitor its apps",
    )
    d.add_argument(
        "--demo.apps", dest="demo_apps", type=int, default=3, help="simulated apps (1-500)"
    )
    d.add_argument(
        "--demo.listen-address",
        dest="demo_listen",
        default="127.0.0.1:0",
        help="where the demo simulator listens (default: a free loopback port); make it "
        "reachable to switch scenarios at run time via /-/scenarios",
    )
    d.add_argument(
        "--demo.scenario",
        dest="demo_scenarios",
        action="append",
        default=[],
        metavar="NAME[:key=value,...]",
        help="switch a simulator scenario on at start (repeatable), e.g. stall_spike:media=video",
    )


def _callback_flags(c: argparse._ArgumentGroup) -> None:
    c.add_argument(
        "--callbacks.listen-address",
        dest="callbacks_listen",
        help="receive the vendor's event callbacks (POST /callbacks) on this [host]:port; "
        "off by default (see docs/callbacks.md)",
    )
    c.add_argument(
        "--callbacks.web-config.file",
        dest="callbacks_web_config",
        type=Path,
        help="web configuration of the callback listener: TLS only (tls_server_config)",
    )


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    web = {
        "listen_address": args.listen_address,
        "telemetry_path": args.telemetry_path,
        "config_file": args.web_config,
        "enable_lifecycle": args.enable_lifecycle,
    }
    if any(v is not None for v in web.values()):
        out["web"] = {k: v for k, v in web.items() if v is not None}
    if args.refresh_mode is not None:
        out["refresh"] = {"mode": args.refresh_mode}
    logs = {"level": args.log_level, "format": args.log_format}
    if any(v is not None for v in logs.values()):
        out["log"] = {k: v for k, v in logs.items() if v is not None}
    if args.shard is not None:
        out["shard"] = args.shard
    callbacks = {
        "listen_address": args.callbacks_listen,
        "web_config_file": args.callbacks_web_config,
    }
    if any(v is not None for v in callbacks.values()):
        out["callbacks"] = {k: v for k, v in callbacks.items() if v is not None}
    return out


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = (
            _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        )
    return out


def _summary(settings: Settings) -> str:
    apps = (
        "discovered with ListApps" if settings.apps is None else f"{len(settings.apps)} configured"
    )
    enabled = [cls.name for cls in SOURCES if settings.source(cls.name).enabled]
    return (
        f"provider={settings.provider} endpoint={settings.base_url} "
        f"region={settings.signing_region} access_key_id={settings.credentials.access_key_id} "
        f"apps={apps!r} sources={','.join(enabled)} mode={settings.refresh.mode} "
        f"listen={settings.web.listen_address} {web_security(settings.web.config_file)} "
        f"shard={settings.shard} callbacks={settings.callbacks.listen_address or 'off'}"
    )


def _check(settings: Settings) -> int:
    from exporter.runtime import Runtime

    runtime = Runtime.build(settings)
    print(f"configuration OK: {_summary(settings)}")
    if settings.apps is None:
        print("apps are discovered at run time: the plan below counts none yet")
    print("\nquota plan (per source: calls per cycle, configured and effective interval):")
    print(runtime.refresher.plan.table())
    from exporter.callbacks.service import storage_warnings

    for line in storage_warnings(settings):
        print(f"warning: recording storage may not work: {line}")
    runtime.stop()
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "mixin":
        from exporter.mixin.cli import main as mixin_main

        return int(mixin_main(argv[1:]))
    args = parser().parse_args(argv)
    overrides = _overrides(args)

    simulator = None
    if args.demo:
        if not 1 <= args.demo_apps <= MAX_DEMO_APPS:
            return _error(f"--demo.apps must be within 1..{MAX_DEMO_APPS}")
        from exporter.simulator.demo import start_demo

        try:
            simulator, demo_overrides = start_demo(
                args.demo_apps, args.demo_scenarios, args.demo_listen
            )
        except (ValueError, OSError) as exc:
            return _error(f"--demo: {getattr(exc, 'strerror', None) or exc}")
        overrides = _deep_merge(demo_overrides, overrides)

    try:
        settings = load_settings(args.config_file, **overrides)
    except ConfigError as exc:
        if simulator is not None:
            simulator.stop()
        return _error(f"invalid configuration: {exc}")
    if settings.web.config_file is not None:
        from exporter.web.source import WebConfigSource

        try:
            WebConfigSource.load(settings.web.config_file)  # validated now: a bad file exits 2
        except ConfigError as exc:
            if simulator is not None:
                simulator.stop()
            return _error(f"invalid web configuration: {exc}")
    if settings.callbacks.web_config_file is not None:
        from exporter.callbacks.service import load_callback_web_config

        try:
            load_callback_web_config(settings.callbacks.web_config_file)
        except ConfigError as exc:
            if simulator is not None:
                simulator.stop()
            return _error(f"invalid callbacks web configuration: {exc}")
    if args.config_check:
        return _check(settings)
    try:
        return _run(settings, args.config_file, overrides, simulator)
    finally:
        if simulator is not None:
            simulator.stop()


def _run(
    settings: Settings, config_file: Path | None, overrides: dict[str, Any], simulator: Any
) -> int:
    from exporter.errors import ListenError
    from exporter.runtime import Runtime
    from exporter.signals import Signals

    setup_logging(settings.log.level, settings.log.format)
    tune_malloc()
    runtime = Runtime.build(settings)

    def reload() -> str | None:
        return runtime.reload_config(lambda: load_settings(config_file, **overrides))

    runtime.view.reloader = reload
    # installed before listening: a SIGHUP during start-up reloads instead of killing us
    signals = Signals(reload)  # SIGHUP reloads (coalesced, never lost), SIGTERM/SIGINT stop
    signals.install()
    try:
        host, port = runtime.start()
    except (ListenError, ConfigError) as exc:
        signals.uninstall()
        runtime.stop()
        return _error(str(exc))
    if simulator is not None:
        log.info("demo mode", simulator=simulator.url, apps=len(simulator.running_apps))
        if runtime.callback_address is not None and settings.callbacks.secrets:
            from exporter.simulator.demo import start_feed

            start_feed(simulator, runtime.callback_address, settings.callbacks.secrets[0])
    log.info("listening", address=f"{host}:{port}", version=__version__, revision=revision())
    if runtime.callback_address is not None:
        chost, cport = runtime.callback_address
        log.info("receiving event callbacks", address=f"{chost}:{cport}", path="/callbacks")
    log.info("configuration", summary=_summary(settings))

    signals.wait_for_stop()
    log.info("shutting down")

    def stop() -> None:
        runtime.shutdown_server()
        runtime.stop()

    signals.stop_within(stop)  # at most 1.5 s, then the process exits anyway
    log.info("stopped")  # the handlers stay: a late SIGHUP must not kill an exiting process
    return 0


def tune_malloc() -> None:
    """Let memory go back to the system after scrapes (glibc only; a no-op elsewhere).

    A scrape's buffers are large and short-lived; glibc raises its mmap threshold after
    freeing such a buffer, so later ones come from the heap and RSS never comes down, and each
    worker thread may get an arena of its own. A fixed 256 KiB threshold and two arenas keep
    RSS near its warm level (the same as MALLOC_MMAP_THRESHOLD_ and MALLOC_ARENA_MAX)."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_mmap_threshold, m_arena_max = -3, -8
    mallopt(m_mmap_threshold, 256 * 1024)
    mallopt(m_arena_max, 2)
