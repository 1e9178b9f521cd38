"""Command line: Prometheus-style flags over the YAML/env configuration.

volc-rtc-exporter --config.file=config.yml [--web.listen-address=:9877] ...
volc-rtc-exporter --demo          # embedded simulator, zero configuration
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from exporter import __version__
from exporter.errors import ConfigError
from exporter.log import setup_logging
from exporter.settings import DEFAULT_PORT, Settings, load_settings
from exporter.telemetry import SOURCES

__all__ = ["main", "parser"]

log = logging.getLogger("exporter")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="volc-rtc-exporter",
        description="Prometheus exporter for Volcengine / BytePlus RTC quality and operations "
        "data. Flags override the config file, which environment variables override.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    g = p.add_argument_group("configuration")
    g.add_argument("--config.file", dest="config_file", type=Path, help="YAML configuration file")
    g.add_argument(
        "--config.check",
        dest="config_check",
        action="store_true",
        help="validate the configuration, print a summary without secrets, and exit",
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
    d = p.add_argument_group("demo")
    d.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded API simulator on a free loopback port and monitor its apps",
    )
    d.add_argument("--demo.apps", dest="demo_apps", type=int, default=3, help="simulated apps")
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
    return p


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if args.listen_address is not None:
        out.setdefault("web", {})["listen_address"] = args.listen_address
    if args.telemetry_path is not None:
        out.setdefault("web", {})["telemetry_path"] = args.telemetry_path
    if args.refresh_mode is not None:
        out["refresh"] = {"mode": args.refresh_mode}
    if args.log_level is not None:
        out.setdefault("log", {})["level"] = args.log_level
    if args.log_format is not None:
        out.setdefault("log", {})["format"] = args.log_format
    if args.shard is not None:
        out["shard"] = args.shard
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
    enabled = [n for n in SOURCES if getattr(settings.sources, n).enabled]
    return (
        f"endpoint={settings.endpoint} region={settings.region} "
        f"access_key_id={settings.credentials.access_key_id} apps={apps!r} "
        f"sources={','.join(enabled)} mode={settings.refresh.mode} "
        f"listen={settings.web.listen_address} shard={settings.shard}"
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "mixin":
        from exporter.mixin.cli import main as mixin_main

        return int(mixin_main(argv[1:]))
    args = parser().parse_args(argv)
    overrides = _overrides(args)

    simulator = None
    if args.demo:
        from exporter.simulator.demo import start_demo

        try:
            simulator, demo_overrides = start_demo(
                args.demo_apps, args.demo_scenarios, args.demo_listen
            )
        except ValueError as exc:
            print(f"error: --demo: {exc}", file=sys.stderr)
            return 2
        overrides = _deep_merge(demo_overrides, overrides)

    try:
        settings = load_settings(args.config_file, **overrides)
    except ConfigError as exc:
        print(f"error: invalid configuration: {exc}", file=sys.stderr)
        if simulator is not None:
            simulator.stop()
        return 2
    if args.config_check:
        print(f"configuration OK: {_summary(settings)}")
        return 0

    setup_logging(settings.log.level, settings.log.format)
    from exporter.runtime import Runtime

    runtime = Runtime.build(settings)
    try:
        host, port = runtime.start()
    except OSError as exc:
        log.error("cannot listen address=%s error=%s", settings.web.listen_address, exc.strerror)
        runtime.stop()
        return 1
    if simulator is not None:
        log.info("demo mode: simulator endpoint=%s apps=%d", simulator.url, args.demo_apps)
    log.info("listening address=%s:%d version=%s %s", host, port, __version__, _summary(settings))

    stop = threading.Event()

    def _on_signal(signum: int, _frame: object) -> None:
        log.info("shutting down signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stop.wait()
    runtime.stop()
    if simulator is not None:
        simulator.stop()
    log.info("stopped")
    return 0
