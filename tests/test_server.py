"""The HTTP app: reload (lifecycle API and key rotation), format negotiation, landing page."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from exporter.runtime import Runtime
from exporter.server import scrape_budget
from exporter.settings import load_settings
from exporter.simulator import Simulator
from tests.conftest import AK, FrozenClock, SimTransport, fixture_transport, golden_settings

T = 1704196800.0


def config(tmp: Path, secret_file: Path, **extra: Any) -> Path:
    doc: dict[str, Any] = {
        "endpoint": "http://rtc.test",
        "credentials": {"access_key_id": AK, "secret_access_key_file": str(secret_file)},
        "apps": [{"app_id": "placeholder"}],
        "rate_limit": {"requests_per_second": 1000, "headroom": 1, "max_retries": 0},
        "web": {"listen_address": "127.0.0.1:0", "enable_lifecycle": True},
        "sources": {n: {"enabled": n == "realtime_operation"} for n in (
            "realtime_quality", "quality_report", "operation_report", "call_detail", "apps")},
    } | extra  # fmt: skip
    path = tmp / "config.yml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_rotating_the_secret_key_file_then_reloading_signs_with_the_new_key(tmp_path: Path) -> None:
    sim = Simulator(apps=1, credentials={AK: "old-Secret-1"}, qps=1000.0, clock=FrozenClock(T))
    app_id = sim.apps[0].app_id
    secret = tmp_path / "sk"
    secret.write_text("old-Secret-1\n")
    path = config(tmp_path, secret, apps=[{"app_id": app_id}])
    rt = Runtime.build(load_settings(path), transport=SimTransport(sim), clock=FrozenClock(T))
    host, port = rt.start()
    rt.view.reloader = lambda: rt.reload_config(lambda: load_settings(path))
    url = f"http://{host}:{port}"
    up = lambda: rt.registry.get_sample_value(  # noqa: E731
        "volcengine_rtc_exporter_source_up", {"source": "realtime_operation", "app_id": app_id}
    )
    try:
        rt.refresher.refresh("realtime_operation")
        assert up() == 1.0
        sim.credentials = {AK: "new-Secret-2"}  # the key is rotated at the vendor
        rt.refresher.refresh("realtime_operation")
        assert up() == 0.0
        secret.write_text("new-Secret-2\n")  # ... and in the mounted secret
        assert httpx.post(url + "/-/reload").status_code == 200
        rt.refresher.refresh("realtime_operation")
        assert up() == 1.0
        assert (
            rt.registry.get_sample_value("volcengine_rtc_exporter_config_last_reload_successful")
            == 1.0
        )
    finally:
        rt.stop()


def test_a_bad_reload_keeps_the_running_configuration(tmp_path: Path) -> None:
    secret = tmp_path / "sk"
    secret.write_text("Sup3r-Secret\n")
    path = config(tmp_path, secret)
    transport, _ = fixture_transport()
    rt = Runtime.build(load_settings(path), transport=transport, clock=FrozenClock(T))
    host, port = rt.start()
    rt.view.reloader = lambda: rt.reload_config(lambda: load_settings(path))
    url = f"http://{host}:{port}"
    get = rt.registry.get_sample_value
    try:
        before = get("volcengine_rtc_exporter_config_last_reload_success_timestamp_seconds")
        path.write_text(path.read_text() + "timeout_seconds: -5\n")
        r = httpx.post(url + "/-/reload")
        assert r.status_code == 500 and "timeout_seconds" in r.text and "Sup3r" not in r.text
        assert get("volcengine_rtc_exporter_config_last_reload_successful") == 0.0
        assert get("volcengine_rtc_exporter_config_last_reload_success_timestamp_seconds") == before
        assert rt.settings.timeout_seconds == 10  # the running configuration stays
        assert httpx.get(url + "/metrics").status_code == 200
        assert httpx.get(url + "/-/reload").status_code == 405
    finally:
        rt.stop()


def test_reload_that_adds_and_drops_apps_keeps_the_cache_of_apps_that_stay(tmp_path: Path) -> None:
    secret = tmp_path / "sk"
    secret.write_text("Sup3r-Secret\n")
    path = config(tmp_path, secret, apps=[{"app_id": "keep"}, {"app_id": "drop"}])
    transport, calls = fixture_transport()
    rt = Runtime.build(load_settings(path), transport=transport, clock=FrozenClock(T))
    rt.refresher.refresh("realtime_operation")
    keep_before = rt.cache.get("realtime_operation", "keep")
    path.write_text(path.read_text().replace("app_id: drop", "app_id: new"))
    assert rt.reload_config(lambda: load_settings(path)) is None
    assert rt.cache.get("realtime_operation", "keep") is keep_before  # served until refreshed
    assert {t.app_id for t in rt.targets.current()} == {"keep", "new"}
    rt.refresher.refresh("realtime_operation")
    assert rt.cache.get("realtime_operation", "drop") is None
    rt.stop()


def test_lifecycle_api_is_off_by_default() -> None:
    transport, _ = fixture_transport()
    rt = Runtime.build(golden_settings(web={"listen_address": "127.0.0.1:0"}), transport=transport)
    host, port = rt.start()
    try:
        assert httpx.post(f"http://{host}:{port}/-/reload").status_code == 403
    finally:
        rt.stop()


def test_openmetrics_and_gzip_are_negotiated_and_cached_bytes_are_reused() -> None:
    transport, _ = fixture_transport()
    clock = FrozenClock(T)
    rt = Runtime.build(golden_settings(web={"listen_address": "127.0.0.1:0"}), transport=transport, clock=clock)  # fmt: skip
    for name in rt.sources:
        rt.refresher.refresh(name)
    host, port = rt.serve()
    client = httpx.Client(base_url=f"http://{host}:{port}")

    def get(headers: dict[str, str]) -> tuple[int, httpx.Headers, bytes]:
        r = client.get("/metrics", headers={"Accept-Encoding": "identity"} | headers)
        return r.status_code, r.headers, r.read()

    status, headers, text = get({})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    # one scrape path: the bytes served are what the view renders (tests, golden file)
    assert text == rt.view.body("text")
    status, headers, om = get({"Accept": "application/openmetrics-text; version=1.0.0"})
    assert headers["Content-Type"].startswith("application/openmetrics-text")
    assert om.endswith(b"# EOF\n") and om.count(b"# EOF") == 1
    assert om == rt.view.body("openmetrics")
    r = client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip" and r.content == text  # httpx decodes it
    # the vendor part is rendered once per cache change, then reused byte for byte
    first = rt.collector.rendered("text")
    second = rt.collector.rendered("text")
    assert all(a is b for a, b in zip(first, second, strict=True))
    rt.refresher.refresh("realtime_operation")
    third = rt.collector.rendered("text")
    assert sum(a is not b for a, b in zip(second, third, strict=True)) >= 1
    # the registry the tests query is the served body parsed back, not a second rendering
    from prometheus_client.parser import text_string_to_metric_families

    served = {
        (m.name, tuple(sorted(m.labels.items()))): m.value
        for f in text_string_to_metric_families(get({})[2].decode())
        for m in f.samples
        if m.name.startswith("volcengine_rtc_online")
    }
    assert served and all(
        rt.registry.get_sample_value(name, dict(labels)) == value
        for (name, labels), value in served.items()
    )
    client.close()
    rt.stop()


def test_landing_page_names_each_app_and_escapes_vendor_ids() -> None:
    transport, _ = fixture_transport()
    apps = [{"app_id": "<script>x</script>\x1b[31m", "name": "<b>Voice & chat</b>"}]
    rt = Runtime.build(golden_settings(apps=apps), transport=transport, clock=FrozenClock(T))
    rt.refresher.refresh("realtime_operation")
    page = rt.view.landing()
    assert "<script>x" not in page and "<b>Voice" not in page
    row = next(line for line in page.splitlines() if line.startswith("<tr><td>realtime_operation"))
    cells = row.removeprefix("<tr><td>").removesuffix("</td></tr>").split("</td><td>")
    assert cells[1] == "&lt;script&gt;x&lt;/script&gt;\x1b[31m"
    assert cells[2] == "&lt;b&gt;Voice &amp; chat&lt;/b&gt;"  # the name next to the id
    rt.stop()


@pytest.mark.parametrize(
    ("header", "configured", "expected"),
    [
        ("10", 10.0, 8.5),
        ("1.5", 10.0, 0.5),
        (None, 10.0, 8.5),
        ("junk", 4.0, 3.0),
        ("nan", 4.0, 3.0),
        ("60", 20.0, 17.0),
        ("60", 10.0, 8.5),
        ("0.2", 10.0, 0.05),
    ],
)
def test_scrape_mode_answers_before_the_scrape_timeout(
    header: str | None, configured: float, expected: float
) -> None:
    assert scrape_budget(header, configured) == pytest.approx(expected)


def test_gzip_body_is_one_member_equal_to_the_plain_body_and_its_prefix_is_reused() -> None:
    transport, _ = fixture_transport()
    clock = FrozenClock(T)
    rt = Runtime.build(golden_settings(), transport=transport, clock=clock)
    for name in rt.sources:
        rt.refresher.refresh(name)
    ex = rt.exposition
    for fmt in ("text", "openmetrics"):
        plain = ex.body(fmt)
        first = ex.gzip_chunks(fmt)
        assert gzip.decompress(b"".join(first)) == plain
        d = __import__("zlib").decompressobj(16 + 15)
        assert d.decompress(b"".join(first)) == plain and d.unused_data == b""  # one member
        again = ex.gzip_chunks(fmt)
        assert again[0] is first[0]  # the compressed vendor parts are not compressed again
    rt.refresher.refresh("realtime_operation")
    clock.t += 1
    assert gzip.decompress(b"".join(ex.gzip_chunks("text"))) == ex.body("text")
    rt.stop()


class _View:
    """A ScrapeView stand-in that records what the app asks of it."""

    telemetry_path = "/metrics"
    scrape_timeout: float | None = 10.0
    lifecycle = False

    def __init__(self) -> None:
        self.deadlines: list[float | None] = []

    def render(self, fmt: str, gzip: bool, deadline: float | None) -> list[bytes]:
        self.deadlines.append(deadline)
        return [b"a 1\n"]

    def ready(self) -> bool:
        return True

    def reload(self) -> str | None:
        return None

    def landing(self) -> str:
        return ""


def _get(app: Any, path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] = []) -> tuple[int, dict[bytes, bytes], bytes]:  # fmt: skip  # noqa: B006
    import asyncio

    got: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            got["status"], got["headers"] = message["status"], dict(message["headers"])
        else:
            got["body"] += message.get("body", b"")

    scope = {"type": "http", "path": path, "method": method, "headers": headers}
    asyncio.run(app(scope, receive, send))
    return got["status"], got["headers"], got["body"]


def test_the_scrape_deadline_is_set_on_arrival_from_the_header() -> None:
    from exporter.server import ExporterApp

    view = _View()
    app = ExporterApp(view, workers=1, monotonic=lambda: 100.0)
    try:
        _get(app, "/metrics", headers=[(b"x-prometheus-scrape-timeout-seconds", b"10")])
        _get(app, "/metrics", headers=[(b"x-prometheus-scrape-timeout-seconds", b"4")])
        view.scrape_timeout = None  # timer mode: no deadline, the cache is served
        _get(app, "/metrics")
        assert view.deadlines == [100.0 + 8.5, 100.0 + 3.0, None]
    finally:
        app.close()


def test_methods_other_than_the_paths_own_get_405_with_allow() -> None:
    from exporter.server import ExporterApp

    app = ExporterApp(_View(), workers=1)
    try:
        for path in ("/metrics", "/", "/-/healthy", "/-/ready"):
            status, headers, _ = _get(app, path, "DELETE")
            assert (status, headers[b"allow"]) == (405, b"GET, HEAD")
        assert _get(app, "/-/reload", "POST")[0] == 403  # the lifecycle API is off
        assert _get(app, "/nowhere", "FOO")[0] == 404
    finally:
        app.close()


def test_a_scrape_past_its_deadline_serves_the_cache_without_refreshing() -> None:
    import time as _time

    transport, _ = fixture_transport()
    rt = Runtime.build(golden_settings(refresh={"mode": "scrape"}), transport=transport, clock=FrozenClock(T))  # fmt: skip
    calls: list[float] = []
    rt.engine.refresher.refresh_due = calls.append  # type: ignore[method-assign]
    try:
        rt.view.render("text", False, _time.monotonic() - 1)  # queued past its deadline
        assert calls == []
        rt.view.render("text", False, _time.monotonic() + 5)
        assert len(calls) == 1 and 4 < calls[0] <= 5
    finally:
        rt.stop()
