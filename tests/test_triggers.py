"""Diagnosis on demand: which quality values trigger a breakdown, and the series cap's order."""

from __future__ import annotations

from exporter.collectors.base import Collected
from exporter.collectors.budget import SeriesBudget
from exporter.thresholds import SUSTAINED
from exporter.triggers import Diagnosis, Trigger, TriggerSettings, TriggerThresholds
from exporter.types import Sample, Snapshot

STALL = "volcengine_rtc_stall_ratio"
JOIN = "volcengine_rtc_join_room_success_ratio"


def quality(*samples: tuple[str, float, dict[str, str]]) -> Snapshot:
    return Snapshot(
        samples=[Sample(m, tuple({"app_id": "a", **labels}.items()), v) for m, v, labels in samples]
    )


def video(
    value: float, pt: str = "native", threshold: str = "0.5"
) -> tuple[str, float, dict[str, str]]:
    return STALL, value, {"product_type": pt, "media": "video", "threshold": threshold}


def test_the_defaults_are_the_alerts_sustained_thresholds() -> None:
    assert TriggerThresholds().model_dump() == SUSTAINED
    from exporter.mixin.config import Thresholds

    mixin = Thresholds().model_dump()
    assert {k: mixin[k] for k in SUSTAINED} == SUSTAINED


def test_a_crossing_triggers_once_and_again_after_recovery() -> None:
    d = Diagnosis(TriggerSettings())
    assert d.check("a", quality(video(0.05))) == []
    assert d.troubled() == frozenset()
    assert d.check("a", quality(video(0.09), video(0.2, "web"))) == [
        Trigger("a", "stall_rate", "native"),
        Trigger("a", "stall_rate", "web"),
    ]
    assert d.troubled() == {"a"}
    assert d.check("a", quality(video(0.3), video(0.2, "web"))) == []  # still bad: no repeat
    assert d.check("a", quality(video(0.01), video(0.2, "web"))) == []
    assert d.check("a", quality(video(0.1), video(0.2, "web"))) == [
        Trigger("a", "stall_rate", "native")
    ]
    d.forget(set())
    assert d.troubled() == frozenset()


def test_only_the_threshold_the_alert_judges_and_lower_is_worse() -> None:
    d = Diagnosis(TriggerSettings())
    # the 200 ms video stall threshold is not the one the alert judges (500 ms)
    assert d.check("a", quality(video(0.5, threshold="0.2"))) == []
    join = (JOIN, 0.9, {"product_type": "web", "threshold": "5"})
    assert d.check("a", quality(join)) == [Trigger("a", "join_room_success_rate", "web")]
    audio = (STALL, 0.06, {"product_type": "native", "media": "audio", "threshold": "0.08"})
    assert d.check("b", quality(audio)) == [Trigger("b", "stall_rate", "native")]


def test_configured_thresholds_and_disabled_triggers() -> None:
    strict = TriggerSettings(thresholds=TriggerThresholds(video_stall_max=0.2))
    assert Diagnosis(strict).check("a", quality(video(0.1))) == []
    off = Diagnosis(TriggerSettings(enabled=False))
    assert off.check("a", quality(video(0.5))) == []
    assert off.troubled() == {"a"}  # still first in the breakdown's cycle


def collected(n: int, app: str) -> Collected:
    out = Collected()
    for i in range(n):
        out.values[("m", (("app_id", app), ("i", str(i))))] = (0.0, 1.0)
    return out


def test_the_cap_counts_what_the_tail_outside_the_cycle_holds() -> None:
    b = SeriesBudget(100)
    assert b.plan(["hot", "t1"], {"hot", "t1", "t2"}, 1) == frozenset()
    b.reset()
    assert len(b.take(collected(40, "hot"), "hot").samples) == 40
    assert len(b.take(collected(40, "t1"), "t1").samples) == 40
    assert b.plan(["hot", "t2"], {"hot", "t1", "t2"}, 1) == frozenset()  # t1 keeps its 40
    b.reset()
    assert len(b.take(collected(40, "hot"), "hot").samples) == 40
    snap = b.take(collected(40, "t2"), "t2")
    assert len(snap.samples) == 20 and snap.dropped == 20  # 100 - 40 (t1) - 40 (hot)
    b.hold("t2", 60)  # a triggered answer, never cut, counts too
    b.plan(["hot", "t1"], {"hot", "t1", "t2"}, 2)  # t1 (40) and hot (40): t2 must go
    b.plan(["t1"], {"hot", "t1", "t2"}, 0)
    b.reset()
    assert len(b.take(collected(80, "t1"), "t1").samples) == 60  # 100 - 40 (hot)
    b.plan(["t1"], {"t1"}, 1)  # the others vanished: their series no longer count
    b.reset()
    assert len(b.take(collected(90, "t1"), "t1").samples) == 90


def test_apps_in_trouble_and_busy_apps_push_the_tail_out_of_the_cap() -> None:
    b = SeriesBudget(100)
    monitored = {"busy", "t1", "t2"}
    b.plan(["t1", "t2"], monitored, 0)
    b.reset()
    for app in ("t1", "t2"):
        assert len(b.take(collected(40, app), app).samples) == 40
    # a new busy app needs 50: cut to what the tail leaves, the first time
    assert b.plan(["busy"], monitored, 1) == frozenset()
    b.reset()
    assert len(b.take(collected(50, "busy"), "busy").samples) == 20
    # the next cycle knows it needs 50: the largest tail holder goes (t1 and t2 tie: by name)
    assert b.plan(["busy"], monitored, 1) == {"t1"}
    b.reset()
    assert len(b.take(collected(50, "busy"), "busy").samples) == 50
    # a tail app in the cycle never pushes another tail app out
    assert b.plan(["t1"], monitored, 0) == frozenset()
