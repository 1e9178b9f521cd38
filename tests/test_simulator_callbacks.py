"""The simulator's event callbacks: signed as documented, the world's joins, leaves and
recording tasks, GetRecordTask agreeing with the events, the vendor's delivery (retries on
non-200, give up after three, duplicates, reordering) and the scenarios; and through the
exporter's own receiver, the recording families with the app's storage labels."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from exporter.callbacks.envelope import parse_envelope
from exporter.callbacks.signature import verify
from exporter.collectors import SOURCES
from exporter.runtime import Runtime
from exporter.signing import VolcAuth
from exporter.simulator import Simulator
from exporter.simulator.callback_feed import CallbackFeed
from exporter.simulator.demo import recording_storage
from tests.conftest import AK, SK, VirtualClock, make_settings

SECRET = "sim-cb-secret"


class Sink:
    """A callback URL that records bodies and answers from a script of statuses (then 200)."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.script: list[int] = []
        self.always: int | None = None
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(body)
                status = outer.always or (outer.script.pop(0) if outer.script else 200)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_port}/callbacks"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def docs(self) -> list[dict[str, Any]]:
        return [json.loads(b) for b in self.bodies]


@pytest.fixture
def sink() -> Iterator[Sink]:
    s = Sink()
    yield s
    s.server.shutdown()


def feed_for(sim: Simulator, url: str, **kw: Any) -> CallbackFeed:
    kw = {"retry_delay": 0.01, "duplicates": 0.0, "reorder": 0.0, **kw}
    return CallbackFeed(sim, url, SECRET, **kw)


def run(feed: CallbackFeed, clock: VirtualClock, seconds: float) -> None:
    clock.advance(seconds)
    feed.pump()
    feed.flush()


@pytest.fixture
def world() -> Iterator[tuple[Simulator, VirtualClock]]:
    clock = VirtualClock(1704196800.0)
    sim = Simulator(apps=2, clock=clock, credentials={AK: SK}, qps=1000.0)
    yield sim, clock
    sim.stop()


def test_events_are_signed_and_tell_the_world(world: Any, sink: Sink) -> None:
    sim, clock = world
    feed = feed_for(sim, sink.url)
    try:
        run(feed, clock, 900)
    finally:
        feed.stop()
    docs = sink.docs()
    assert docs and all(verify(parse_envelope(b), [SECRET]) for b in sink.bodies)
    kinds = {d["EventType"] for d in docs}
    assert {"UserJoinRoom", "UserLeaveRoom", "InvisibleUserJoinRoom", "RecordStarted",
            "RecordStopped", "RecordUploadDone"} <= kinds  # fmt: skip
    assert len({d["EventId"] for d in docs}) == len(docs)
    assert {d["AppId"] for d in docs} == {a.app_id for a in sim.running_apps}
    leave = next(json.loads(d["EventData"]) for d in docs if d["EventType"] == "UserLeaveRoom")
    assert {"RoomId", "UserId", "DeviceType", "Reason", "Duration", "Timestamp"} <= set(leave)
    stop = next(json.loads(d["EventData"]) for d in docs if d["EventType"] == "RecordStopped")
    assert stop["RecordFileList"][0]["Size"] > 0 and stop["RecordFileList"][0]["Duration"] > 0
    assert feed.stats["delivered"] == len(docs) and feed.stats["gave_up"] == 0


def get_record_task(sim: Simulator, app_id: str, room: str, task: str) -> httpx.Response:
    client = httpx.Client(transport=sim.transport(), base_url="http://sim")
    clock = lambda: dt.datetime.fromtimestamp(sim.clock(), dt.UTC)  # noqa: E731
    client.auth = VolcAuth(lambda: (AK, SK, None), region="cn-north-1", service="rtc", clock=clock)
    params = {"Action": "GetRecordTask", "Version": "2023-11-01", "AppId": app_id,
              "RoomId": room, "TaskId": task}  # fmt: skip
    return client.get("/", params=params)


def test_get_record_task_agrees_with_the_events(world: Any, sink: Sink) -> None:
    sim, clock = world
    sim.activate("recording_start_failures", {"share": 0.5})
    feed = feed_for(sim, sink.url)
    try:
        run(feed, clock, 900)
    finally:
        feed.stop()
    started = [
        (d["AppId"], json.loads(d["EventData"]))
        for d in sink.docs()
        if d["EventType"] == "RecordStarted"
    ]
    codes = {data["Code"] for _, data in started}
    assert codes == {0, 1}
    stopped = {
        (d["AppId"], json.loads(d["EventData"])["TaskId"])
        for d in sink.docs()
        if d["EventType"] == "RecordStopped"
    }
    for app_id, data in started:
        r = get_record_task(sim, app_id, data["RoomId"], data["TaskId"])
        assert r.status_code == 200, r.text
        status = r.json()["Result"]["RecordTask"]["Status"]
        if data["Code"] == 1:
            assert status == 4 and (app_id, data["TaskId"]) not in stopped
        else:
            assert status == (3 if (app_id, data["TaskId"]) in stopped else 2)
    missing = get_record_task(sim, started[0][0], "room-x", "no-such-task")
    assert missing.status_code == 400
    assert "TaskNotExist" in missing.text


def test_retries_on_non_200_then_gives_up(world: Any, sink: Sink) -> None:
    sim, clock = world
    feed = feed_for(sim, sink.url)
    try:
        body = feed.sign(next(iter(_one_event(sim))))
        sink.script = [503, 500]
        assert feed.deliver(body) is True
        assert len(sink.bodies) == 3 and feed.stats["retries"] == 2
        sink.always = 401
        assert feed.deliver(body) is False
        assert len(sink.bodies) == 6 and feed.stats["gave_up"] == 1
    finally:
        feed.stop()


def _one_event(sim: Simulator) -> list[Any]:
    from exporter.simulator.callback_events import burst_events

    return burst_events(sim, 1, sim.clock(), 0.0)


def test_duplicates_and_reordering(world: Any, sink: Sink) -> None:
    sim, clock = world
    feed = feed_for(sim, sink.url, duplicates=1.0, reorder=1.0, senders=1)
    try:
        run(feed, clock, 300)
    finally:
        feed.stop()
    ids = [d["EventId"] for d in sink.docs()]
    assert len(ids) == 2 * len(set(ids))  # every event delivered twice
    times = [parse_envelope(b).time for b in sink.bodies[::2]]
    assert times != sorted(times)  # neighbours swapped: not in event order


def test_wrong_secret_and_burst(world: Any, sink: Sink) -> None:
    sim, clock = world
    feed = feed_for(sim, sink.url)
    try:
        sim.activate("wrong_secret", {"app_id": sim.running_apps[1].app_id})
        sim.activate("burst", {"events": 40, "senders": 4})
        run(feed, clock, 300)
    finally:
        feed.stop()
    by_app: dict[str, set[bool]] = {}
    for body in sink.bodies:
        env = parse_envelope(body)
        by_app.setdefault(env.app_id, set()).add(verify(env, [SECRET]))
    assert by_app == {sim.running_apps[0].app_id: {True}, sim.running_apps[1].app_id: {False}}
    burst = [d for d in sink.docs() if json.loads(d["EventData"]).get("RoomId") == "room-burst"]
    assert len(burst) == 40


def test_upload_failures_reach_the_exporter_with_storage_labels(world: Any) -> None:
    """Simulator feed -> the exporter's receiver over HTTP -> its families."""
    sim, clock = world
    apps = [
        {"app_id": a.app_id, "recording_storage": recording_storage(a.index)}
        for a in sim.running_apps
    ]
    only = {c.name: {"enabled": c.name == "realtime_operation"} for c in SOURCES}
    receiver = {"listen_address": "127.0.0.1:0", "secret": SECRET}
    web = {"listen_address": "127.0.0.1:0"}
    s = make_settings(apps=apps, web=web, sources=only, callbacks=receiver)
    rt = Runtime.build(s, transport=sim.transport(), clock=clock)
    rt.serve()
    assert rt.callbacks is not None
    rt.callbacks.start()
    sim.activate("upload_failures", {"platform": "s3", "region": "us-east-1"})
    feed = feed_for(sim, f"http://127.0.0.1:{rt.callbacks.listener.address[1]}/callbacks")  # type: ignore[union-attr]
    try:
        for _ in range(10):  # 15 minutes, delivered a minute at a time (within the window)
            run(feed, clock, 90)
        rt.callbacks.drain()
        state = rt.callbacks.state
        first, second = (a.app_id for a in sim.running_apps)
        assert state.value("uploads", (first, "failure", "s3", "us-east-1")) > 0
        assert state.value("uploads", (first, "success", "s3", "us-east-1")) == 0
        assert state.value("uploads", (second, "success", "aliyun_oss", "oss-cn-hangzhou")) > 0
        assert state.value("requests", ("accepted",)) == feed.stats["delivered"]
        assert state.value("requests", ("bad_signature",)) == 0
    finally:
        feed.stop()
        rt.stop()
