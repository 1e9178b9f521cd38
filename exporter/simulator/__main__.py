"""Run the simulator alone: ``python -m exporter.simulator --port 8080``.

The first line of output is one JSON object: endpoint, access key id, running app ids, provider,
signing region, the effective quota table and the active scenarios (plus the secret key when it
was generated). Everything after it is free text.
"""

from __future__ import annotations

import argparse
import json
import secrets
import signal
import sys
import threading
from typing import Any

from exporter.simulator.actions import PROVIDERS
from exporter.simulator.demo import recording_storage
from exporter.simulator.quotas import parse_quota_override
from exporter.simulator.scenarios import SCENARIOS
from exporter.simulator.server import Simulator


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description="Simulated Volcengine / BytePlus RTC data OpenAPI on a local port.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--apps", type=int, default=3, help="running apps (one suspended app is added)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--access-key-id", default="AKLTsimulator")
    p.add_argument(
        "--secret-access-key-file",
        help="file holding the secret key (default: generated, printed once to stdout)",
    )
    p.add_argument(
        "--provider",
        choices=sorted(PROVIDERS),
        default="volcengine",
        help="quota table and signing region (volcengine: cn-north-1, byteplus: ap-singapore-1)",
    )
    p.add_argument("--region", help="signing region (default: the provider's)")
    p.add_argument(
        "--qps", type=float, help="per-second limit of every action (default: the provider's table)"
    )
    p.add_argument(
        "--quota",
        action="append",
        default=[],
        metavar="ACTION:WINDOW=N",
        help="override one quota window (second, minute, day; ACTION * is every action; "
        "0 removes the window), e.g. ListQuality:day=1000 (repeatable)",
    )
    p.add_argument("--scenario", action="append", default=[], metavar="NAME[:k=v,...]")
    cb = p.add_argument_group("event callbacks (docs/callbacks.md)")
    cb.add_argument("--callbacks-url", help="deliver signed event callbacks to this URL")
    cb.add_argument("--callbacks-secret-file", help="the callback secret (default: generated)")
    cb.add_argument("--callbacks-duplicates", type=float, default=0.02, help="P(resend)")
    cb.add_argument("--callbacks-reorder", type=float, default=0.05, help="P(swap neighbours)")
    cb.add_argument("--callbacks-retry-delay", type=float, default=1.0, help="seconds")
    cb.add_argument(
        "--callbacks-recording-period",
        type=float,
        default=90.0,
        help="seconds between two recording tasks of an app (durations scale with it)",
    )
    p.add_argument("--list-scenarios", action="store_true")
    return p


def _quotas(specs: list[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for text in specs:
        action, window, limit = parse_quota_override(text)
        out.setdefault(action, {})[window] = limit
    return out


def _start_feed(sim: Simulator, args: argparse.Namespace, info: dict[str, Any]) -> None:
    from exporter.simulator.callback_feed import CallbackFeed

    if args.callbacks_secret_file:
        with open(args.callbacks_secret_file, encoding="utf-8") as f:
            secret = f.read().split()[0]
    else:
        secret = info["callbacks_secret"] = secrets.token_urlsafe(18)
    sim.feed = CallbackFeed(
        sim,
        args.callbacks_url,
        secret,
        retry_delay=args.callbacks_retry_delay,
        duplicates=args.callbacks_duplicates,
        reorder=args.callbacks_reorder,
        recording_period=args.callbacks_recording_period,
    ).start()
    info["callbacks_url"] = args.callbacks_url


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.list_scenarios:
        for s in SCENARIOS.values():
            print(f"{s.name} ({s.kind}) {json.dumps(s.defaults)}")
            print(f"  {s.summary}\n  expect: {s.expect}")
        return 0
    if args.secret_access_key_file:
        with open(args.secret_access_key_file, encoding="utf-8") as f:
            sk = f.read().strip()
    else:
        sk = secrets.token_urlsafe(24)
    try:
        sim = Simulator(
            host=args.host,
            port=args.port,
            apps=args.apps,
            seed=args.seed,
            credentials={args.access_key_id: sk},
            provider=args.provider,
            region=args.region,
            qps=args.qps,
            quotas=_quotas(args.quota),
            scenarios=args.scenario,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = sim.start()
    info: dict[str, Any] = {
        "endpoint": url,
        "access_key_id": args.access_key_id,
        "apps": [a.app_id for a in sim.running_apps],
        "provider": sim.provider,
        "region": sim.region,
        "quotas": sim.limits,
        "scenarios": sorted(sim.active),
    }
    if not args.secret_access_key_file:
        info["secret_access_key"] = sk  # the simulator's own throwaway key, for local tools
    info["recording_storage"] = {a.app_id: recording_storage(a.index) for a in sim.running_apps}
    if args.callbacks_url:
        _start_feed(sim, args, info)
    print(json.dumps(info), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
