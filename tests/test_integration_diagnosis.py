"""Trustworthy numbers and diagnosis, through the exporter as a process over real HTTP against
the simulator: web-only incidents, partly filled buckets, per-peer values, and an OS-limited
stall that the breakdown, the busiest room and the client metrics all point at."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.collectors.call_detail import ROWS
from tests.procs import ExporterProc, SimProc, wait_for

FAST = {
    "realtime_operation": {"interval_seconds": 1},
    "realtime_quality": {"interval_seconds": 1},
    "call_detail": {"interval_seconds": 1},
    "realtime_breakdown": {"interval_seconds": 2},
    "rooms": {"interval_seconds": 1, "top_rooms": 1},
    "quality_report": {"enabled": False},
    "operation_report": {"enabled": False},
    "report_breakdown": {"enabled": False},
    "operation_breakdown": {"enabled": False},
}


def config(sim: SimProc, **sources: Any) -> dict[str, Any]:
    return {
        "endpoint": sim.url,
        "credentials": {"access_key_id": "AKLTinteg", "secret_access_key": sim.secret},
        "apps": [{"app_id": a} for a in sim.apps],
        "sources": FAST | sources,
        "rate_limit": {"requests_per_second": 200, "max_retries": 0},
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SimProc, ExporterProc]]:
    tmp = tmp_path_factory.mktemp("diag")
    sim = SimProc(tmp, apps=2, qps=1000)
    exp = ExporterProc(tmp, config(sim))
    try:
        exp.wait_ready()
        yield sim, exp
    finally:
        exp.stop()
        sim.stop()


def stall(exp: ExporterProc, app: str, product_type: str) -> float | None:
    return exp.get(
        "volcengine_rtc_stall_ratio", app_id=app, media="video", product_type=product_type
    )


def test_a_web_only_stall_spike_shows_on_web_only(stack: tuple[SimProc, ExporterProc]) -> None:
    sim, exp = stack
    app = sim.apps[1]
    sim.scenario("stall_spike", app_id=app, media="video", product_type="web", value=30)
    try:
        wait_for(lambda: stall(exp, app, "web") == 0.3, 20, "web stall")
        native = stall(exp, app, "native")
        assert native is not None and native < 0.1
    finally:
        sim.clear("stall_spike")


def test_every_user_peer_pair_has_every_receive_side_metric(
    stack: tuple[SimProc, ExporterProc],
) -> None:
    """Every (user, peer) pair the vendor reports has its own series in every receive-side
    family, and users receiving from several peers keep one series per peer."""
    sim, exp = stack
    receive = [r for r in ROWS if r.per_peer]

    def pairs_per_row() -> dict[str, set[tuple[str, ...]]]:
        out: dict[str, set[tuple[str, ...]]] = {r.key: set() for r in receive}
        for (name, labels), _ in exp.samples().items():
            lab = dict(labels)
            for r in receive:
                if (
                    name == "volcengine_rtc_client_" + r.metric
                    and set(r.labels) <= labels
                    and lab.get("peer_id")
                ):
                    out[r.key].add((lab["app_id"], lab["room_id"], lab["user_id"], lab["peer_id"]))
        return out

    def complete() -> bool:
        rows = pairs_per_row()
        union = set().union(*rows.values())
        peers: dict[tuple[str, ...], set[str]] = {}
        for app, room, user, peer in union:
            peers.setdefault((app, room, user), set()).add(peer)
        return (
            bool(union)
            and all(v == union for v in rows.values())
            and max(map(len, peers.values())) >= 2
        )

    wait_for(complete, 30, "a series per (user, peer) for every receive-side metric")


def test_an_os_limited_stall_is_found_by_the_breakdown_the_room_and_the_client_metrics(
    stack: tuple[SimProc, ExporterProc],
) -> None:
    sim, exp = stack
    app = sim.apps[0]
    sim.scenario("stall_spike", app_id=app, media="video", os="android", value=30)
    try:
        # the app-level alert condition: video stall over the 8 % threshold
        wait_for(lambda: (stall(exp, app, "native") or 0) > 0.08, 30, "app-level stall")

        # the breakdown names android as the worst OS segment, at the scenario's value
        def worst_os() -> tuple[str, float]:
            segs = {
                dict(ls)["segment"]: v
                for (n, ls), v in exp.samples().items()
                if n == "volcengine_rtc_breakdown_stall_ratio"
                and {
                    ("app_id", app),
                    ("dimension", "os"),
                    ("media", "video"),
                    ("product_type", "native"),
                }
                <= ls
            }
            return max(segs.items(), key=lambda kv: kv[1]) if segs else ("", 0.0)

        wait_for(lambda: worst_os() == ("android", 0.3), 30, "android worst in the breakdown")

        # the busiest room is watched; its android users show the stalls in client metrics
        def android_users() -> set[str]:
            return {
                dict(ls)["user_id"]
                for (n, ls), v in exp.samples().items()
                if n == "volcengine_rtc_client_info"
                and ("os", "android") in ls
                and ("app_id", app) in ls
            }

        wait_for(lambda: bool(android_users()), 30, "watched android users")

        def worst_stall_of(users: set[str]) -> float:
            return max(
                (v for (n, ls), v in exp.samples().items()
                 if n == "volcengine_rtc_client_stall_duration_seconds" and ("media", "video") in ls
                 and dict(ls)["user_id"] in users and ("app_id", app) in ls),
                default=0.0,
            )  # fmt: skip

        def others() -> set[str]:
            return {
                dict(ls)["user_id"]
                for (n, ls), v in exp.samples().items()
                if n == "volcengine_rtc_client_info"
                and ("os", "android") not in ls
                and ("app_id", app) in ls
            }

        wait_for(
            lambda: worst_stall_of(android_users()) > 2 * worst_stall_of(others()),
            30,
            "android users stall",
        )
    finally:
        sim.clear("stall_spike")


def test_a_partly_filled_newest_bucket_never_shows_as_a_dip(tmp_path: Path) -> None:
    sim = SimProc(tmp_path, apps=1, qps=1000)
    app = sim.apps[0]
    only_ops = {"realtime_breakdown": {"enabled": False}, "rooms": {"enabled": False},
                "call_detail": {"enabled": False}}  # fmt: skip
    settled = ExporterProc(tmp_path, config(sim, **only_ops))
    eager_dir = tmp_path / "eager"
    eager_dir.mkdir()
    eager = ExporterProc(eager_dir, config(sim, **only_ops, realtime_operation={"interval_seconds": 1, "settle_seconds": 0}))  # fmt: skip
    try:
        settled.wait_ready()
        eager.wait_ready()
        users = lambda e: e.get("volcengine_rtc_online_users", app_id=app)  # noqa: E731
        wait_for(lambda: users(settled) is not None and users(eager) is not None, 20, "values")
        before = users(settled)
        sim.scenario("partial_bucket", app_id=app, fill=0.5)
        # the scenario bites: an exporter that does not wait for the data delay shows the dip
        wait_for(lambda: users(eager) < 0.7 * before, 20, "the dip, without settling")  # type: ignore[operator]
        for _ in range(8):
            value = users(settled)
            assert value is not None and value > 0.8 * before, (value, before)
            join = settled.get(
                "volcengine_rtc_join_room_success_ratio", app_id=app, product_type="native"
            )
            assert join is None or join > 0.9
    finally:
        eager.stop()
        settled.stop()
        sim.stop()
