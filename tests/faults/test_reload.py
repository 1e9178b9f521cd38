"""Issue 22 rows 5, 6 and 8: what a reload carries over, what it drops at once, and what the
engine it replaces may no longer do."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from exporter.runtime import Runtime
from tests.conftest import FrozenClock, make_settings
from tests.faults.harness import T, build, only, series, value
from tests.faults.vendor import FaultyVendor

APP = "app-1"
CLIENT = "volcengine_rtc_client_stall_duration_seconds"
INFO = "volcengine_rtc_client_info"


def watched(rt: Runtime, family: str) -> set[str]:
    return {dict(labels)["user_id"] for labels in series(rt, family)}


def test_a_reload_carries_the_automatic_watch_list() -> None:
    """Row 5: no hole in the client_* and client_info series of automatically watched users."""
    rt, _, clock = build([APP], only("rooms", "call_detail"), apps=[{"app_id": APP}], virtual=False)
    for name in ("rooms", "call_detail", "rooms"):  # pick the users, read them, describe them
        rt.refresher.refresh(name)
    assert watched(rt, CLIENT) == watched(rt, INFO) == {"u1", "u2"}

    rt.reload(rt.settings)
    assert [w.user_ids for w in rt.targets.current()[0].watch] == [("u1", "u2")]
    for name in ("call_detail", "rooms"):  # the new engine's first cycles
        clock.t += 60
        rt.refresher.refresh(name)
        assert watched(rt, CLIENT) == watched(rt, INFO) == {"u1", "u2"}, name


def test_a_removed_app_goes_with_the_reload() -> None:
    """Row 8: its series go at once, not at the next cycle of each source."""
    rt, _, _ = build(
        [APP, "app-2"], only("realtime_operation", "realtime_quality"),
        apps=[{"app_id": APP}, {"app_id": "app-2"}], virtual=False,
    )  # fmt: skip
    for name in rt.sources:
        rt.refresher.refresh(name)
    ids = lambda: {dict(k).get("app_id") for f in rt.registry.collect() for s in f.samples  # noqa: E731
                   for k in [s.labels.items()]}  # fmt: skip
    assert "app-2" in ids()
    rt.reload(make_settings(sources=rt.settings.sources.model_dump(), apps=[{"app_id": APP}],
                            rate_limit=rt.settings.rate_limit.model_dump()))  # fmt: skip
    assert "app-2" not in ids()
    assert value(rt, "volcengine_rtc_online_users", app_id=APP) is not None  # the rest stays


@pytest.mark.parametrize("late", ["aborted", "answered"])
def test_the_replaced_engine_never_writes(late: str) -> None:
    """Row 6: a reload while the vendor is slow; the old engine's call ends afterwards (aborted,
    or answered late) and must leave the shared cache and the failure counters alone."""
    clock = FrozenClock(T)
    vendor = FaultyVendor(clock, [APP])
    rt = Runtime.build(
        make_settings(sources=only("quality_report"), apps=[{"app_id": APP}],
                      rate_limit={"requests_per_second": 1000, "headroom": 1, "max_retries": 0}),
        transport=vendor, clock=clock,
    )  # fmt: skip
    rt.refresher.refresh("quality_report")
    good = rt.cache.get("quality_report", APP)
    assert good is not None and good.up
    in_flight, release = threading.Event(), threading.Event()

    def slow(action: str, params: dict[str, Any]) -> None:
        if action == "ListQuality" and not release.is_set():
            in_flight.set()
            release.wait(10)
            if late == "aborted":
                raise httpx.ReadTimeout("connection closed by the reload")
            vendor.value = 50.0  # a late answer with other values

    vendor.hook = slow
    old = rt.refresher
    cycle = old.trigger("quality_report")
    assert in_flight.wait(10)
    rt.reload(rt.settings)
    release.set()
    cycle.result(10)
    try:
        assert rt.cache.get("quality_report", APP) is good
        failures = series(rt, "volcengine_rtc_exporter_api_request_failures_total")
        assert set(failures.values()) == {0.0}
        assert value(rt, "volcengine_rtc_exporter_source_up", source="quality_report",
                     app_id=APP) == 1.0  # fmt: skip
    finally:
        rt.stop()


def test_a_key_rotation_keeps_the_schedule_of_healthy_sources() -> None:
    rt, _, clock = build([APP], only("realtime_operation", "quality_report"),
                         apps=[{"app_id": APP}], refresh={"mode": "timer"})  # fmt: skip
    scheduler = rt.engine.scheduler
    assert scheduler is not None
    scheduler.tick()
    clock.advance(10)
    due = {n: scheduler.due_at(n, clock.monotonic()) for n in rt.sources}
    assert min(due.values()) > clock.monotonic()
    rotated = rt.settings.model_copy(
        update={"credentials": rt.settings.credentials.model_copy(
            update={"session_token": None, "access_key_id": "AKLTrotated"})}
    )  # fmt: skip
    rt.reload(rotated)
    new = rt.engine.scheduler
    assert new is not None and new is not scheduler
    assert {n: new.due_at(n, clock.monotonic()) for n in rt.sources} == due  # hourly stays hourly
    changed = make_settings(
        sources=only("realtime_operation", "quality_report",
                     realtime_operation={"interval_seconds": 20}),
        apps=[{"app_id": APP}], refresh={"mode": "timer"},
        rate_limit=rt.settings.rate_limit.model_dump(),
    )  # fmt: skip
    rt.reload(changed)
    now = clock.monotonic()
    assert all(rt.engine.scheduler.due_at(n, now) == now for n in rt.sources)  # type: ignore[union-attr]
