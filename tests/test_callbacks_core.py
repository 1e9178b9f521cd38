"""The receiver's core without a server: the order of the checks, what a rejected request
leaves untouched, dedup and overload, secrets per app, reload, what each event changes,
in-flight tasks in any order, bounded labels, and reconciling overdue tasks."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from exporter.callbacks.service import CallbackService, load_callback_web_config
from exporter.errors import ApiClientError, ApiServerError, ConfigError
from exporter.recordtask import RecordTaskInfo
from exporter.settings import Settings
from tests.callbacks_util import SECRET, envelope, signed
from tests.conftest import VirtualClock, make_settings

T0 = 1704196800.0


def settings(**callbacks: Any) -> Settings:
    apps = callbacks.pop("apps", [{"app_id": "app1"}, {"app_id": "app2"}])
    cb = {"listen_address": "127.0.0.1:0", "secret": SECRET, **callbacks}
    return make_settings(apps=apps, callbacks=cb)


class FakeTasks:
    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.calls: list[str] = []

    def get_record_task(self, app_id: str, room_id: str, task_id: str) -> RecordTaskInfo:
        self.calls.append(task_id)
        answer = self.answers.get(task_id, 2)
        if isinstance(answer, Exception):
            raise answer
        return RecordTaskInfo(answer, "", None)


def service(s: Settings | None = None, clock: VirtualClock | None = None) -> CallbackService:
    clock = clock or VirtualClock(T0)
    fake = FakeTasks()
    svc = CallbackService(
        s or settings(), clock=clock, known_apps=lambda: {"app1", "app2"}, client=lambda: fake
    )
    svc.fake = fake  # type: ignore[attr-defined]
    return svc


def run(svc: CallbackService) -> None:
    """Apply what is queued, in this thread."""
    while not svc.queue.empty():
        item = svc.queue.get_nowait()
        assert item is not None
        svc.processor.apply(item)


def outcomes(svc: CallbackService) -> dict[str, float]:
    return {k: v for k, v in svc.state.requests.items() if v}


def value(svc: CallbackService, key: str, *labels: str) -> float:
    return svc.state.value(key, labels)


# -- the checks -------------------------------------------------------------------------------


def test_each_outcome_and_its_status() -> None:
    svc = service()
    h = svc.receiver.handle
    good = signed("UserJoinRoom", {"DeviceType": "iOS"}, t=T0 - 5, event_id="e1")
    assert h(good).status == 200 and h(good).outcome == "duplicate"
    assert h(None).status == 413
    assert h(b"{").status == 400
    assert h(signed("UserJoinRoom", {}, t=T0, secret="wrong")).outcome == "bad_signature"
    stale = h(signed("UserJoinRoom", {}, t=T0 - 601))
    future = h(signed("UserJoinRoom", {}, t=T0 + 61))
    assert (stale.outcome, stale.status, future.outcome) == ("stale", 401, "stale")
    assert h(signed("UserJoinRoom", {}, t=T0 - 599)).outcome == "accepted"
    assert h(signed("UserJoinRoom", {}, t=T0 + 59)).outcome == "accepted"
    assert outcomes(svc) == {
        "accepted": 3, "duplicate": 1, "too_large": 1, "malformed": 1, "bad_signature": 1,
        "stale": 2,
    }  # fmt: skip


def test_checks_run_in_order() -> None:
    svc = service()
    h = svc.receiver.handle
    # unsigned and malformed: malformed; badly signed and stale: bad_signature
    doc = envelope("UserJoinRoom", {}, t=T0, secret="wrong")
    assert h(json.dumps({**doc, "EventData": "{"}).encode()).outcome == "malformed"
    assert h(signed("UserJoinRoom", {}, t=T0 - 3600, secret="wrong")).outcome == "bad_signature"
    # an accepted event replayed after the window is stale, not a duplicate
    clock = VirtualClock(T0)
    svc = service(clock=clock)
    replay = signed("UserJoinRoom", {}, t=T0, event_id="r1")
    assert svc.receiver.handle(replay).outcome == "accepted"
    clock.advance(601)
    assert svc.receiver.handle(replay).outcome == "stale"


def test_a_rejected_request_touches_nothing_else() -> None:
    svc = service()
    h = svc.receiver.handle
    doc = envelope("RecordStarted", {"RoomId": "r", "TaskId": "t", "Code": 0}, t=T0, event_id="x")
    forged = {**doc, "Signature": "0" * 64}
    assert h(json.dumps(forged).encode()).outcome == "bad_signature"
    assert h(signed("RecordStarted", {}, t=T0 - 4000, event_id="x")).outcome == "stale"
    assert len(svc.dedup) == 0 and svc.queue.empty()
    run(svc)
    snap = svc.state.snapshot()
    assert all(not series for series in snap.counters.values()) and not snap.last_event
    assert svc.tasks.counts() == {}
    assert h(json.dumps(doc).encode()).outcome == "accepted"  # the same EventId, now signed


def test_overloaded_is_retried_and_then_accepted_once() -> None:
    svc = service(settings(queue_size=1))
    first = signed("UserJoinRoom", {"DeviceType": "android"}, t=T0, event_id="a")
    second = signed("UserJoinRoom", {"DeviceType": "android"}, t=T0, event_id="b")
    assert svc.receiver.handle(first).outcome == "accepted"
    over = svc.receiver.handle(second)
    assert (over.outcome, over.status) == ("overloaded", 503)
    run(svc)
    assert svc.receiver.handle(second).outcome == "accepted"  # the vendor's retry
    assert svc.receiver.handle(second).outcome == "duplicate"
    run(svc)
    assert value(svc, "events", "app1", "userjoinroom") == 2
    assert value(svc, "joins", "app1", "android", "visible") == 2


def test_secrets_per_app_and_default() -> None:
    s = settings()
    own = make_settings(
        apps=[{"app_id": "app1", "callback_secret_file": None}, {"app_id": "app2"}],
        callbacks={"listen_address": ":0", "secret": SECRET},
    )
    assert own.callbacks.secrets == (SECRET,)
    svc = service(s)
    assert (
        svc.receiver.handle(signed("UserJoinRoom", {}, t=T0, app_id="app9")).outcome == "accepted"
    )


def test_per_app_secret_file(tmp_path: Path) -> None:
    path = tmp_path / "app2.secret"
    path.write_text("new-app2-secret\nold-app2-secret\n")
    s = settings(apps=[{"app_id": "app1"}, {"app_id": "app2", "callback_secret_file": str(path)}])
    h = service(s).receiver.handle
    assert h(signed("UserJoinRoom", {}, t=T0, app_id="app2")).outcome == "bad_signature"
    for secret in ("new-app2-secret", "old-app2-secret"):
        assert (
            h(signed("UserJoinRoom", {}, t=T0, app_id="app2", secret=secret)).outcome == "accepted"
        )
    assert h(signed("UserJoinRoom", {}, t=T0, app_id="app1")).outcome == "accepted"


def test_a_secret_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="callbacks.secret_file"):
        make_settings(callbacks={"listen_address": ":0"})
    path = tmp_path / "s"
    path.write_text("only-app1\n")
    ok = make_settings(
        apps=[{"app_id": "app1", "callback_secret_file": str(path)}],
        callbacks={"listen_address": ":0"},
    )
    assert ok.apps is not None and ok.apps[0].callback_secrets == ("only-app1",)
    path.write_text("   \n")
    with pytest.raises(ConfigError, match="callback_secret_file .* is empty"):
        make_settings(apps=[{"app_id": "a", "callback_secret_file": str(path)}])
    with pytest.raises(ConfigError, match="secret or secret_file, not both"):
        make_settings(callbacks={"secret": "x", "secret_file": str(path)})


def test_reload_keeps_the_dedup_cache_and_changes_the_secret() -> None:
    clock = VirtualClock(T0)
    svc = service(clock=clock)
    seen = signed("UserJoinRoom", {}, t=T0, event_id="kept")
    assert svc.receiver.handle(seen).outcome == "accepted"
    svc.reconfigure(settings(secret="rotated-secret"))
    assert svc.receiver.handle(seen).outcome == "bad_signature"  # the old secret is gone
    again = signed("UserJoinRoom", {}, t=T0, event_id="kept", secret="rotated-secret")
    assert svc.receiver.handle(again).outcome == "duplicate"  # the cache survived
    fresh = signed("UserJoinRoom", {}, t=T0, secret="rotated-secret")
    assert svc.receiver.handle(fresh).outcome == "accepted"


def test_callback_web_config_is_tls_only(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("basic_auth_users: {alice: $2y$10$" + "a" * 53 + "}\n")
    with pytest.raises(ConfigError, match="basic_auth_users is not supported"):
        load_callback_web_config(path)
    path.write_text("rate_limit: {interval: 1s, burst: 5}\n")
    with pytest.raises(ConfigError, match="rate_limit is not supported"):
        load_callback_web_config(path)
    path.write_text("{}\n")
    assert not load_callback_web_config(path).tls_enabled


# -- what events change -----------------------------------------------------------------------


def deliver(svc: CallbackService, event_type: str, data: dict[str, Any], **kw: Any) -> None:
    kw.setdefault("t", svc.clock.time())
    assert svc.receiver.handle(signed(event_type, data, **kw)).outcome == "accepted"
    run(svc)


def test_user_events() -> None:
    svc = service()
    deliver(svc, "UserJoinRoom", {"RoomId": "r", "UserId": "u", "DeviceType": "Android"})
    deliver(svc, "InvisibleUserJoinRoom", {"DeviceType": "iOS"})
    deliver(
        svc, "UserLeaveRoom", {"DeviceType": "android", "Reason": "UserLeave", "Duration": 90000}
    )
    deliver(svc, "InvisibleUserLeaveRoom", {"Reason": "Timeout", "Duration": "bad"})
    assert value(svc, "joins", "app1", "android", "visible") == 1
    assert value(svc, "joins", "app1", "ios", "invisible") == 1
    assert value(svc, "leaves", "app1", "android", "visible", "userleave") == 1
    assert value(svc, "leaves", "app1", "unknown", "invisible", "timeout") == 1
    snap = svc.state.snapshot()
    [(labels, hist)] = snap.histograms["session"]
    assert labels == ("app1",) and hist.sum == 90.0 and sum(hist.counts) == 1
    assert snap.last_event == {"app1": T0}
    assert value(svc, "events", "app1", "userleaveroom") == 1


def test_session_duration_in_seconds_when_configured() -> None:
    svc = service(settings(session_duration_unit="s"))
    deliver(svc, "UserLeaveRoom", {"Duration": 90})
    assert svc.state.snapshot().histograms["session"][0][1].sum == 90.0


def test_recording_lifecycle_with_storage() -> None:
    s = settings(
        recording_storage={"type": 2, "vendor": 1, "region": 3},
        apps=[
            {"app_id": "app1"},
            {"app_id": "app2", "recording_storage": {"type": 1, "region": 0}},
        ],
    )
    clock = VirtualClock(T0)
    svc = service(s, clock)
    task = {"RoomId": "room1", "TaskId": "t1"}
    deliver(svc, "RecordStarted", {**task, "Code": 0})
    deliver(
        svc, "RecordStarted", {"RoomId": "room1", "TaskId": "t2", "Code": 1, "ErrorMessage": "x"}
    )
    assert value(svc, "rec_started", "app1", "success") == 1
    assert value(svc, "rec_started", "app1", "failure") == 1
    assert svc.tasks.counts() == {("app1", "recording"): 1}
    files = [{"ObjectKey": "a.mp4", "Size": 1000, "Duration": 60000}, {"Size": 24, "Duration": 500}]
    deliver(svc, "RecordStopped", {**task, "Code": 0, "RecordFileList": files})
    oss = ("app1", "aliyun_oss", "oss-cn-beijing")
    assert value(svc, "files", *oss) == 2 and value(svc, "bytes", *oss) == 1024
    assert value(svc, "media_seconds", *oss) == 60.5
    assert svc.tasks.counts() == {("app1", "recording"): 0, ("app1", "uploading"): 1}
    clock.advance(42)
    deliver(svc, "RecordUploadDone", {**task, "Code": 0})
    assert value(svc, "uploads", "app1", "success", "aliyun_oss", "oss-cn-beijing") == 1
    [(labels, hist)] = svc.state.snapshot().histograms["upload_delay"]
    assert labels == ("app1",) and hist.sum == pytest.approx(42)
    assert svc.tasks.counts() == {("app1", "recording"): 0, ("app1", "uploading"): 0}
    deliver(svc, "RecordUploadDone", {"RoomId": "r", "TaskId": "t9", "Code": 1}, app_id="app2")
    assert value(svc, "uploads", "app2", "failure", "vod", "cn-north-1") == 1
    info = {a: (i.platform, i.region, i.supported) for a, i in svc.storage_list()}
    assert info == {
        "app1": ("aliyun_oss", "oss-cn-beijing", True),
        "app2": ("vod", "cn-north-1", True),
    }


def test_recording_events_out_of_order() -> None:
    clock = VirtualClock(T0)
    svc = service(clock=clock)
    a = {"RoomId": "r", "TaskId": "a"}
    # stop before start: uploading, and the late start does not re-open the recording
    deliver(svc, "RecordStopped", {**a, "RecordFileList": []}, t=T0 - 10)
    deliver(svc, "RecordStarted", {**a, "Code": 0}, t=T0 - 100)
    assert svc.tasks.counts() == {("app1", "uploading"): 1}
    # upload before stop: done; the late stop still gives the delay and opens nothing
    b = {"RoomId": "r", "TaskId": "b"}
    deliver(svc, "RecordStarted", {**b, "Code": 0}, t=T0 - 200)
    deliver(svc, "RecordUploadDone", {**b, "Code": 0}, t=T0 - 5)
    deliver(svc, "RecordStopped", {**b}, t=T0 - 35)
    counts = svc.tasks.counts()
    assert counts[("app1", "recording")] == 0 and counts[("app1", "uploading")] == 1
    [(_, hist)] = svc.state.snapshot().histograms["upload_delay"]
    assert hist.sum == pytest.approx(30) and sum(hist.counts) == 1


def test_cdn_relay_and_unknown_events() -> None:
    svc = service()
    deliver(svc, "TranscodeStateChanged", {"State": 5})
    deliver(svc, "TranscodeStarted", {})
    deliver(svc, "RelayStreamStateChanged", {"Status": 2})
    deliver(svc, "SnapshotRealTimeData", {"whatever": True})
    assert value(svc, "cdn", "app1", "transcodestatechanged", "5") == 1
    assert value(svc, "cdn", "app1", "transcodestarted", "unknown") == 1
    assert value(svc, "relay", "app1", "2") == 1
    assert value(svc, "events", "app1", "snapshotrealtimedata") == 1


def test_labels_are_bounded_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    svc = service(settings(max_label_values=3, max_other_apps=2))
    caplog.set_level(logging.WARNING)
    for device in ("A", "b", "C", "d", "E", "f"):
        deliver(svc, "UserJoinRoom", {"DeviceType": device})
    assert value(svc, "joins", "app1", "other", "visible") == 3
    assert {value(svc, "joins", "app1", d, "visible") for d in "abc"} == {1}
    lines = [r for r in caplog.records if "too many distinct label values" in r.getMessage()]
    assert len(lines) == 1
    for app in ("app1", "app2", "x1", "x2", "x3", "x4"):
        deliver(svc, "RoomDestroy", {}, app_id=app)
    assert value(svc, "events", "app2", "roomdestroy") == 1  # the exporter's own apps: all
    assert value(svc, "events", "x2", "roomdestroy") == 1
    assert value(svc, "events", "other", "roomdestroy") == 2


# -- in-flight tasks: expiry and reconciliation -----------------------------------------------


def test_overdue_tasks_are_checked_gently_and_resolved() -> None:
    clock = VirtualClock(T0)
    svc = service(settings(tasks={"check_after_seconds": 600, "max_tasks": 10}), clock)
    fake = svc.fake  # type: ignore[attr-defined]
    for i in range(5):
        deliver(svc, "RecordStarted", {"RoomId": "r", "TaskId": f"t{i}", "Code": 0})
    fake.answers = {
        "t0": 3,
        "t1": 4,
        "t2": ApiClientError("no such task"),
        "t3": ApiServerError("x"),
    }
    assert svc.reconcile_once(10) == 0  # nothing is overdue yet
    clock.advance(601)
    assert svc.reconcile_once(2) == 2 and fake.calls == ["t0", "t1"]
    assert svc.reconcile_once(10) == 3  # each task once per check_after
    assert svc.tasks.counts()[("app1", "recording")] == 2  # t3 (API error) and t4 (running)
    assert svc.reconcile_once(10) == 0
    clock.advance(601)
    fake.answers = {}
    assert svc.reconcile_once(10) == 2
    assert svc.tasks.counts()[("app1", "recording")] == 2


def test_the_reconciler_is_a_per_minute_cap_and_survives_a_reload() -> None:
    """``checks_per_minute`` caps every minute (an idle hour saves no burst); a call cut short
    by a reload (the old engine's limiter cancels its waiters) or any other error costs that
    minute only: the next minute checks again, with the client of that time."""
    from exporter.limiter import Cancelled

    clock = VirtualClock(T0)
    cfg = {"check_after_seconds": 600, "max_tasks": 100, "checks_per_minute": 3}
    svc = service(settings(tasks=cfg), clock)
    fake = svc.fake  # type: ignore[attr-defined]
    for _ in range(120):  # two idle hours: nothing overdue, nothing saved up
        assert svc.reconcile_tick() == 0
    for i in range(20):
        deliver(svc, "RecordStarted", {"RoomId": "r", "TaskId": f"t{i}", "Code": 0})
    clock.advance(601)
    assert svc.reconcile_tick() == 3 and fake.calls == ["t0", "t1", "t2"]
    fake.answers = {"t3": Cancelled("retired")}
    assert svc.reconcile_tick() == 1  # t3 cut short: the rest of this minute is not spent
    fake.answers = {"t4": RuntimeError("odd")}  # t3, t4, t5 offered again at once
    assert svc.reconcile_tick() == 3 and fake.calls[-3:] == ["t3", "t4", "t5"]
    fake.answers = {}
    assert svc.reconcile_tick() == 3 and fake.calls[-3:] == ["t6", "t7", "t8"]  # t4 waits
    half = service(settings(tasks=cfg | {"checks_per_minute": 0.5}), clock)
    for i in range(3):
        deliver(half, "RecordStarted", {"RoomId": "r", "TaskId": f"h{i}", "Code": 0})
    clock.advance(601)
    assert [half.reconcile_tick() for _ in range(4)] == [0, 1, 0, 1]


def test_tasks_expire_after_72h_and_stay_bounded() -> None:
    clock = VirtualClock(T0)
    svc = service(settings(tasks={"max_tasks": 10, "checks_per_minute": 0}), clock)
    for i in range(15):
        deliver(svc, "RecordStarted", {"RoomId": "r", "TaskId": f"t{i}", "Code": 0})
    assert len(svc.tasks) == 10 and svc.tasks.evicted == 5
    clock.advance(72 * 3600)
    svc.reconcile_once(0)
    assert len(svc.tasks) == 0 and svc.tasks.counts() == {("app1", "recording"): 0}
