"""``--demo``: start the simulator in-process and point the exporter at it."""

from __future__ import annotations

import secrets
from typing import Any

from exporter.settings import parse_listen_address
from exporter.simulator.callback_feed import CallbackFeed
from exporter.simulator.recordings import storage_of
from exporter.simulator.server import Simulator

__all__ = ["DEMO_ROOM", "DEMO_USERS", "recording_storage", "start_demo", "start_feed"]

DEMO_ROOM = "room-demo-1"
DEMO_USERS = ["alice", "bob", "carol"]
# the demo's vendor allows more than a real account (2/s for most actions) so that every family,
# the breakdowns' many calls included, shows within seconds; the exporter is told the same quota
DEMO_QPS = 20.0


def start_demo(
    apps: int, scenarios: list[str], listen: str = "127.0.0.1:0"
) -> tuple[Simulator, dict[str, Any]]:
    """Start a simulator with generated credentials; return it and the settings overrides.

    The running apps are configured explicitly (names included) and the first one gets a
    watch-list room, so every metric family of the contract is populated.
    """
    if apps < 1:
        raise ValueError("--demo.apps must be at least 1")
    ak = "AKLTdemo" + secrets.token_hex(6)
    sk = secrets.token_urlsafe(24)
    host, port = parse_listen_address(listen)
    sim = Simulator(
        host=host or "0.0.0.0",
        port=port,
        apps=apps,
        credentials={ak: sk},
        scenarios=scenarios,
        qps=DEMO_QPS,
    )
    sim.start()
    # the exporter talks to it over loopback whatever address it listens on
    url = f"http://127.0.0.1:{sim.port}"
    app_list: list[dict[str, Any]] = []
    for i, app in enumerate(sim.running_apps):
        entry: dict[str, Any] = {"app_id": app.app_id, "name": app.name}
        if i == 0:
            entry["call_detail"] = [{"room_id": DEMO_ROOM, "user_ids": DEMO_USERS}]
        entry["recording_storage"] = recording_storage(app.index)
        app_list.append(entry)
    overrides: dict[str, Any] = {
        "endpoint": url,
        "credentials": {"access_key_id": ak, "secret_access_key": sk},
        "apps": app_list,
        "rate_limit": {"requests_per_second": DEMO_QPS},
        # the simulator's event callbacks go to the exporter's receiver (start_feed)
        "callbacks": {"listen_address": "127.0.0.1:0", "secret": secrets.token_urlsafe(18)},
    }
    return sim, overrides


def recording_storage(index: int) -> dict[str, int]:
    """The StorageConfig codes the simulated app records to, as ``apps[].recording_storage``."""
    type_, vendor, region = storage_of(index)
    return {"type": type_, "region": region} | ({"vendor": vendor} if vendor is not None else {})


def start_feed(sim: Simulator, address: tuple[str, int], secret: str) -> CallbackFeed:
    """Deliver the simulated world's events to the exporter's receiver at ``address``."""
    host = address[0] if address[0] not in ("", "0.0.0.0", "::") else "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    # the last five minutes of the world first, so every family shows at once
    feed = CallbackFeed(sim, f"http://{host}:{address[1]}/callbacks", secret, backlog=300.0)
    feed.pump()
    sim.feed = feed.start()
    return feed
