"""The receiver over real loopback HTTP, inside a running exporter: every outcome gives the
documented answer and counter on /metrics, other paths and methods are refused, any
Content-Type is JSON, TLS from its own web config, bad configuration exits 2, and nothing
secret (callback secret, signatures, third-party storage keys) reaches a log line at any level
or /metrics."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from exporter.callbacks.receiver import Accepted
from exporter.cli import main
from exporter.collectors import SOURCES
from exporter.log import JsonFormatter, LogfmtFormatter
from exporter.runtime import Runtime
from tests.callbacks_util import SECRET, envelope, self_signed, signed
from tests.conftest import AK, SK, fixture_transport, make_settings
from tests.conftest import envelope as api_envelope


def start(tmp_path: Path | None = None, overrides: Any = None, **callbacks: Any) -> Runtime:
    transport, _ = fixture_transport(overrides)
    cb = {"listen_address": "127.0.0.1:0", "secret": SECRET, **callbacks}
    # one small poll source: the receiver is under test, not the refreshes
    sources = {c.name: {"enabled": c.name == "realtime_operation"} for c in SOURCES}
    s = make_settings(web={"listen_address": "127.0.0.1:0"}, callbacks=cb, sources=sources)
    rt = Runtime.build(s, transport=transport)
    rt.start()
    return rt


@pytest.fixture
def rt() -> Iterator[Runtime]:
    runtime = start()
    yield runtime
    runtime.stop()


def url(rt: Runtime, path: str = "/callbacks") -> str:
    assert rt.callback_address is not None
    return f"http://127.0.0.1:{rt.callback_address[1]}{path}"


def metrics(rt: Runtime) -> str:
    assert rt.server is not None
    return httpx.get(f"http://127.0.0.1:{rt.server.address[1]}/metrics").text


def sample(text: str, name: str, **labels: str) -> float:
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and labels.items() <= s.labels.items():
                return float(s.value)
    return 0.0


def requests(rt: Runtime) -> dict[str, float]:
    text = metrics(rt)
    outcomes = ("accepted", "duplicate", "bad_signature", "stale", "malformed", "too_large",
                "overloaded")  # fmt: skip
    return {o: sample(text, "volcengine_rtc_callback_requests_total", outcome=o) for o in outcomes}


def now(rt: Runtime) -> float:
    return rt.clock.time()


def test_each_outcome_answers_as_documented_and_is_counted(rt: Runtime) -> None:
    t = now(rt)
    good = signed("UserJoinRoom", {"DeviceType": "iOS"}, t=t, event_id="http-1")
    cases = [
        (good, 200, "accepted"),
        (good, 200, "duplicate"),
        (signed("UserJoinRoom", {}, t=t, secret="guess"), 401, "bad_signature"),
        (signed("UserJoinRoom", {}, t=t - 3600), 401, "stale"),
        (signed("UserJoinRoom", {}, t=t + 600), 401, "stale"),
        (b"<xml/>", 400, "malformed"),
        (
            json.dumps({**envelope("UserJoinRoom", {}, t=t), "EventData": {"a": 1}}).encode(),
            400,
            "malformed",
        ),
        (
            json.dumps({**envelope("UserJoinRoom", {}, t=t), "EventTime": "now"}).encode(),
            400,
            "malformed",
        ),
        (b"{" + b" " * (1 << 20) + b"}", 413, "too_large"),
    ]
    for body, status, outcome in cases:
        r = httpx.post(url(rt), content=body)
        assert (r.status_code, r.text.strip()) == (status, outcome)
    chunks = iter([b"{", b" " * (1 << 20), b"}"])  # no Content-Length: cut while reading
    assert httpx.post(url(rt), content=chunks).status_code == 413
    assert requests(rt) == {
        "accepted": 1, "duplicate": 1, "bad_signature": 1, "stale": 2, "malformed": 3,
        "too_large": 2, "overloaded": 0,
    }  # fmt: skip
    assert rt.callbacks is not None
    rt.callbacks.drain()
    text = metrics(rt)
    assert sample(text, "volcengine_rtc_callback_events_total", app_id="app1") == 1
    assert sample(text, "volcengine_rtc_user_joins_total", device_type="ios") == 1


def test_overloaded_answers_503_and_the_retry_is_accepted_once() -> None:
    rt = start(queue_size=1)
    assert rt.callbacks is not None
    gate, busy = threading.Event(), threading.Event()
    apply = rt.callbacks.processor.apply

    def slow(item: Accepted) -> None:
        busy.set()
        gate.wait(10)
        apply(item)

    rt.callbacks.processor.apply = slow  # type: ignore[method-assign]
    try:
        t = now(rt)
        bodies = [signed("UserJoinRoom", {}, t=t, event_id=f"q{i}") for i in range(3)]
        assert httpx.post(url(rt), content=bodies[0]).status_code == 200
        assert busy.wait(5)  # the worker holds the first; the queue has room for one
        assert httpx.post(url(rt), content=bodies[1]).status_code == 200
        over = httpx.post(url(rt), content=bodies[2])
        assert (over.status_code, over.text.strip()) == (503, "overloaded")
        gate.set()
        rt.callbacks.drain()
        assert httpx.post(url(rt), content=bodies[2]).status_code == 200  # the vendor's retry
        rt.callbacks.drain()
        counts = requests(rt)
        assert (counts["accepted"], counts["overloaded"]) == (3, 1)
        assert sample(metrics(rt), "volcengine_rtc_callback_events_total") == 3
    finally:
        gate.set()
        rt.stop()


def test_other_paths_and_methods_are_refused_and_not_counted(rt: Runtime) -> None:
    assert httpx.get(url(rt)).status_code == 405
    assert httpx.get(url(rt)).headers["allow"] == "POST"
    assert httpx.put(url(rt), content=b"{}").status_code == 405
    assert httpx.post(url(rt, "/metrics"), content=b"{}").status_code == 404
    assert httpx.get(url(rt, "/")).status_code == 404
    assert sum(requests(rt).values()) == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_any_content_type_is_read_as_json(rt: Runtime, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = signed("UserJoinRoom", {}, t=now(rt))
    assert httpx.post(url(rt), content=body, headers=headers).status_code == 200


def test_tls_from_its_own_web_config(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    web = tmp_path / "cb-web.yml"
    web.write_text(f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n")
    rt = start(web_config_file=str(web))
    try:
        https = url(rt).replace("http://", "https://")
        r = httpx.post(
            https,
            content=signed("UserJoinRoom", {}, t=now(rt)),
            verify=ssl.create_default_context(cafile=str(cert)),
        )
        assert r.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.post(url(rt), content=b"{}")  # plain HTTP to the TLS port
        assert rt.server is not None and rt.server.url.startswith("http://")  # /metrics apart
    finally:
        rt.stop()


def write_config(tmp_path: Path, **extra: Any) -> Path:
    doc = {"endpoint": "http://127.0.0.1:1", "credentials": {"access_key_id": AK, "secret_access_key": SK},
           "apps": [{"app_id": "app1"}], "callbacks": {"secret": SECRET}} | extra  # fmt: skip
    path = tmp_path / "config.yml"
    path.write_text(json.dumps(doc))
    return path


def test_bad_callback_configuration_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(tmp_path)
    web = tmp_path / "cb-web.yml"
    web.write_text("basic_auth_users: {vendor: $2y$10$" + "a" * 53 + "}\n")
    args = ["--config.file", str(cfg), "--callbacks.listen-address=127.0.0.1:0"]
    assert main([*args, f"--callbacks.web-config.file={web}"]) == 2
    assert "basic_auth_users is not supported" in capsys.readouterr().err
    assert main(["--config.file", str(cfg), "--callbacks.listen-address=nowhere"]) == 2
    assert "callbacks.listen_address" in capsys.readouterr().err
    unsigned = tmp_path / "unsigned.yml"
    unsigned.write_text(cfg.read_text().replace(f', "callbacks": {{"secret": "{SECRET}"}}', ""))
    assert main(["--config.file", str(unsigned), "--callbacks.listen-address=127.0.0.1:0"]) == 2
    assert "callbacks.secret_file" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["--config.file", str(cfg), f"--callbacks.listen-address=127.0.0.1:{port}",
                     "--web.listen-address=127.0.0.1:0"]) == 2  # fmt: skip
    assert "already in use" in capsys.readouterr().err


def test_config_check_warns_about_unsupported_storage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(
        tmp_path,
        apps=[{"app_id": "app1", "recording_storage": {"type": 2, "vendor": 0, "region": 7}},
              {"app_id": "app2", "recording_storage": {"type": 2, "vendor": 2, "region": 0}}],
    )  # fmt: skip
    assert main(["--config.file", str(cfg), "--callbacks.listen-address=:9", "--config.check"]) == 0
    out = capsys.readouterr().out
    assert "apps[0].recording_storage (app app1): s3 region eu-central-1 is not supported" in out
    assert "apps[1].recording_storage (app app2): huawei_obs region code 0 is not in" in out
    assert "callbacks=:9" in out


def test_storage_is_decoded_and_an_unsupported_region_is_a_start_up_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The start-up log names an unsupported region; an app with no storage configured is
    unknown/unknown (not an error), and a code outside the table unknown_<code>."""
    transport, _ = fixture_transport()
    apps = [{"app_id": "app1", "recording_storage": {"type": 2, "vendor": 0, "region": 7}},
            {"app_id": "app2"},
            {"app_id": "app3", "recording_storage": {"type": 2, "vendor": 2, "region": 0}}]  # fmt: skip
    sources = {c.name: {"enabled": c.name == "realtime_operation"} for c in SOURCES}
    cb = {"listen_address": "127.0.0.1:0", "secret": SECRET}
    s = make_settings(web={"listen_address": "127.0.0.1:0"}, apps=apps, callbacks=cb,
                      sources=sources)  # fmt: skip
    with caplog.at_level(logging.WARNING):
        rt = Runtime.build(s, transport=transport)
        rt.start()
    try:
        problems = [LogfmtFormatter().format(r) for r in caplog.records]
        assert any("s3 region eu-central-1 is not supported" in p for p in problems), problems
        assert any("huawei_obs region code 0 is not in" in p for p in problems), problems
        text = metrics(rt)
        info = "volcengine_rtc_storage_info"
        assert sample(text, info, app_id="app1", storage_platform="s3",
                      storage_region="eu-central-1", supported="false") == 1  # fmt: skip
        assert sample(text, info, app_id="app2", storage_platform="unknown",
                      storage_region="unknown") == 1  # fmt: skip
        assert sample(text, info, app_id="app3", storage_platform="huawei_obs",
                      storage_region="unknown_0", supported="false") == 1  # fmt: skip
    finally:
        rt.stop()


def test_nothing_secret_in_logs_or_metrics(caplog: pytest.LogCaptureFixture) -> None:
    storage_key, storage_secret = "AKIA-storage-key-77", "storage-Secret-Key-9f3a1c"

    def record_task(request: httpx.Request) -> httpx.Response:
        task = request.url.params["TaskId"]
        echoed = {"CustomConfig": {"AccessKey": storage_key, "SecretKey": storage_secret}}
        if task == "gone":
            error = {"Code": "InvalidParameter", "Message": f"bad {storage_secret} {storage_key}"}
            return httpx.Response(400, content=api_envelope(error=error))
        result = {"RecordTask": {"Status": 3, "EndTime": 1, "StorageConfig": echoed}}
        return httpx.Response(200, content=api_envelope(result))

    caplog.set_level(logging.DEBUG)
    rt = start(overrides={"GetRecordTask": record_task}, tasks={"check_after_seconds": 60})
    try:
        t = now(rt)
        bodies = [
            signed("RecordStarted", {"RoomId": "r", "TaskId": "gone", "Code": 0}, t=t),
            signed("RecordStarted", {"RoomId": "r", "TaskId": "done", "Code": 0}, t=t),
            signed("UserJoinRoom", {}, t=t, secret="attacker-guess"),
            signed("UserJoinRoom", {}, t=t - 7200),
            json.dumps({**envelope("UserJoinRoom", {}, t=t), "EventData": "{"}).encode(),
        ]
        signatures = [json.loads(b)["Signature"] for b in bodies]
        for body in bodies:
            httpx.post(url(rt), content=body)
        assert rt.callbacks is not None
        rt.callbacks.drain()
        rt.clock = rt.callbacks.clock = _Later(rt.clock, 120)  # type: ignore[assignment]
        assert rt.callbacks.reconcile_once(10) == 2
        text = metrics(rt)
    finally:
        rt.stop()
    lines = [f.format(r) for r in caplog.records for f in (LogfmtFormatter(), JsonFormatter())]
    assert any("callback rejected" in ln for ln in lines)  # debug lines were written
    for secret in (SECRET, storage_key, storage_secret, *signatures):
        assert all(secret not in ln for ln in lines), secret
        assert secret not in text


class _Later:
    def __init__(self, clock: Any, seconds: float) -> None:
        self._clock, self._seconds = clock, seconds

    def time(self) -> float:
        return float(self._clock.time()) + self._seconds

    def monotonic(self) -> float:
        return float(self._clock.monotonic()) + self._seconds
