"""Run the simulator alone: ``python -m exporter.simulator --port 8080``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

from exporter.simulator.scenarios import SCENARIOS
from exporter.simulator.server import Simulator


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m exporter.simulator",
        description="Simulated Volcengine RTC data OpenAPI on a local port.",
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
    p.add_argument("--qps", type=float, default=2.0, help="per-action limit (ListCallDetail: 10)")
    p.add_argument("--scenario", action="append", default=[], metavar="NAME[:k=v,...]")
    p.add_argument("--list-scenarios", action="store_true")
    args = p.parse_args(argv)
    if args.list_scenarios:
        for s in SCENARIOS.values():
            print(f"{s.name} ({s.kind}) {json.dumps(s.defaults)}")
            print(f"  {s.summary}\n  expect: {s.expect}")
        return 0
    if args.secret_access_key_file:
        with open(args.secret_access_key_file, encoding="utf-8") as f:
            sk = f.read().strip()
        generated = False
    else:
        import secrets

        sk = secrets.token_urlsafe(24)
        generated = True
    try:
        sim = Simulator(
            host=args.host,
            port=args.port,
            apps=args.apps,
            seed=args.seed,
            credentials={args.access_key_id: sk},
            qps=args.qps,
            scenarios=args.scenario,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    url = sim.start()
    info = {"endpoint": url, "access_key_id": args.access_key_id,
            "apps": [a.app_id for a in sim.running_apps]}  # fmt: skip
    if generated:
        info["secret_access_key"] = sk  # the simulator's own throwaway key, for local tools
    print(json.dumps(info), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
