"""Issue 22 row 1: ListApps lists thousands of apps for a while, then one again.

Apps that vanish are dropped from the cache, the plan and the cycles in flight at once; a
shorter plan brings the next run forward; a spike is polled only once a second answer confirms
it."""

from __future__ import annotations

from typing import Any

from exporter.scheduler import TimerScheduler
from tests.faults.harness import build, only, series

QUOTA = {"requests_per_second": 2.0, "headroom": 0.9, "max_retries": 0}
KEEP = "app-0000"


def test_vanished_apps_are_not_called_not_exported_and_the_next_run_comes_forward() -> None:
    apps = [f"app-{i:04d}" for i in range(300)]
    rt, vendor, clock = build(
        apps, only("apps", "realtime_operation", "realtime_quality"), apps=None, rate_limit=QUOTA
    )
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    rt.refresher.refresh("apps")  # the first answer is taken as it is
    assert len(rt.targets.current()) == 300
    # the quota stretches the plan: no app has shown traffic yet, all 300 are in the tail
    assert rt.refresher.plan.sources["realtime_quality"].tiers["tail"].interval > 300
    flipped: dict[str, int] = {}

    def glitch_ends(action: str, params: dict[str, Any]) -> None:
        if action == "ListRealTimeOperationData" and vendor.count(action) == 5 and not flipped:
            flipped["at"] = len(vendor.calls)
            vendor.apps = [KEEP]
            rt.refresher.refresh("apps")  # ListApps answers while the cycle is under way

    vendor.hook = glitch_ends
    scheduler.tick()  # one cycle of every source, realtime_operation first
    after = vendor.calls[flipped["at"] :]
    assert [c for c in after if c[1] not in ("", KEEP)] == []  # no call to a vanished app
    assert {app for _, app in rt.cache.entries()} <= {KEEP, ""}
    up = series(rt, "volcengine_rtc_exporter_source_up")
    assert {dict(labels)["app_id"] for labels in up} <= {KEEP, ""}
    assert set(up.values()) == {1.0}  # no source_up 0 for vanished apps
    # the plan for one app: the configured interval, and the next run within it
    assert rt.refresher.interval("realtime_quality") == 60.0
    assert rt.refresher.plan.sources["realtime_quality"].tiers["tail"].interval == 60.0
    next_run = scheduler.next_run("realtime_quality")
    assert next_run is not None and next_run - clock.monotonic() <= 60.0


def test_a_spike_is_polled_only_when_a_second_answer_confirms_it() -> None:
    rt, vendor, clock = build([KEEP], only("apps", "realtime_operation"), apps=None)
    scheduler = TimerScheduler(rt.refresher, jitter=0.0)
    scheduler.tick()
    assert [t.app_id for t in rt.targets.current()] == [KEEP]
    spike = [KEEP] + [f"spike-{i:04d}" for i in range(500)]

    vendor.apps = spike  # a glitch: 500 apps appear in one answer ...
    rt.refresher.refresh("apps")
    assert [t.app_id for t in rt.targets.current()] == [KEEP]  # ... held back
    assert rt.refresher.plan.sources["realtime_operation"].apps == 1
    assert scheduler.due_at("apps", clock.monotonic()) <= clock.monotonic() + 60  # re-checked soon
    vendor.apps = [KEEP]  # ... and gone at the re-check: never polled
    rt.refresher.refresh("apps")
    assert rt.targets.pending() == 0
    assert vendor.count("ListRealTimeOperationData", set(spike[1:])) == 0

    vendor.apps = spike  # real growth: confirmed by the next answer
    rt.refresher.refresh("apps")
    rt.refresher.refresh("apps")
    assert len(rt.targets.current()) == 501
    vendor.apps = spike[:8]  # small changes are taken at once, vanished apps go at once
    rt.refresher.refresh("apps")
    assert len(rt.targets.current()) == 8
    vendor.apps = spike[:8] + ["new-1", "new-2"]
    rt.refresher.refresh("apps")
    assert len(rt.targets.current()) == 10


def test_the_spike_threshold_is_configurable() -> None:
    rt, vendor, _ = build(
        [KEEP], only("apps", "realtime_operation", apps={"spike_min_apps": 1000}), apps=None
    )
    rt.refresher.refresh("apps")
    vendor.apps = [KEEP] + [f"spike-{i:04d}" for i in range(500)]
    rt.refresher.refresh("apps")
    assert len(rt.targets.current()) == 501
