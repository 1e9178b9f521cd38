"""Both refresh modes over one cache: single flight, scrape timeout, staleness, isolation."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from exporter.runtime import Runtime
from tests.conftest import (
    GOLDEN_APP,
    GOLDEN_TIME,
    FrozenClock,
    envelope,
    fixture_transport,
    golden_settings,
)

T = GOLDEN_TIME
APP = GOLDEN_APP


def settings(mode: str, **kw: object):  # type: ignore[no-untyped-def]
    return golden_settings(refresh={"mode": mode}, web={"listen_address": "127.0.0.1:0"}, **kw)


def test_scrape_mode_ten_concurrent_scrapes_one_call_per_source() -> None:
    gate = threading.Event()
    transport, calls = fixture_transport()
    inner = transport.handle_request

    class Slow(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            gate.wait(5)  # hold every upstream call until all scrapes are in
            return inner(request)

    rt = Runtime.build(settings("scrape"), transport=Slow(), clock=FrozenClock(T))
    host, port = rt.start()
    try:
        url = f"http://{host}:{port}/metrics"
        with ThreadPoolExecutor(10) as pool:
            futures = [
                pool.submit(
                    httpx.get,
                    url,
                    timeout=15,
                    headers={"X-Prometheus-Scrape-Timeout-Seconds": "10"},
                )
                for _ in range(10)
            ]
            time.sleep(0.5)
            gate.set()
            bodies = [f.result().text for f in futures]
        assert Counter(calls) == Counter(
            {
                "ListApps": 1,
                "ListRealTimeOperationData": 1,
                "ListRealTimeQuality": 2,  # native and web
                "ListQuality": 2,
                "ListOperationData": 1,
                "ListCallDetail": 1,  # the configured room (rooms adds its finds afterwards)
                "ListRealTimeQualityDistribution": 20,  # 5 indicators x 2 dimensions x 2
                "ListQualityDistribution": 30,  # 5 indicators x 3 dimensions x 2
                "ListOperationDistribution": 2,  # province, country
                "ListRoomInfo": 1,
                "GetRoomOnlineUsers": 1,  # sources.rooms.top_rooms of the golden settings
                "ListUserInfo": 1,  # the configured watch list
            }
        )
        assert all("volcengine_rtc_online_users{" in b for b in bodies)
        # a scrape within the interval reads the cache only
        before = len(calls)
        httpx.get(url, timeout=5)
        assert len(calls) == before
    finally:
        rt.stop()


def test_scrape_mode_answers_within_scrape_timeout_from_cache() -> None:
    transport, calls = fixture_transport()
    inner = transport.handle_request
    release = threading.Event()

    class Hang(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            release.wait(10)
            return inner(request)

    rt = Runtime.build(settings("scrape"), transport=Hang(), clock=FrozenClock(T))
    host, port = rt.start()
    try:
        started = time.monotonic()
        r = httpx.get(
            f"http://{host}:{port}/metrics",
            headers={"X-Prometheus-Scrape-Timeout-Seconds": "1.5"},
            timeout=10,
        )
        elapsed = time.monotonic() - started
        assert r.status_code == 200
        assert elapsed < 5  # bounded by the scrape timeout, not by the hanging upstream
        assert 'volcengine_rtc_exporter_source_up{app_id="' in r.text
        assert "volcengine_rtc_online_users{" not in r.text  # nothing cached yet
        assert httpx.get(f"http://{host}:{port}/-/ready").status_code == 503
    finally:
        release.set()
        rt.stop()


def test_timer_mode_scrape_only_reads_cache() -> None:
    transport, calls = fixture_transport()
    rt = Runtime.build(settings("timer"), transport=transport)
    host, port = rt.start()
    try:
        deadline = time.monotonic() + 10
        while not rt.refresher.ready() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rt.refresher.ready()
        n = len(calls)
        for _ in range(5):
            assert httpx.get(f"http://{host}:{port}/metrics").status_code == 200
        assert len(calls) == n
        assert httpx.get(f"http://{host}:{port}/-/ready").status_code == 200
        assert httpx.get(f"http://{host}:{port}/-/healthy").status_code == 200
        page = httpx.get(f"http://{host}:{port}/").text
        assert "realtime_quality" in page and "test-Secret" not in page
    finally:
        rt.stop()


def test_failure_keeps_last_good_until_stale_then_series_disappear() -> None:
    clock = FrozenClock(T)
    failing = {"on": False}
    transport, _ = fixture_transport()
    inner = transport.handle_request

    class Flaky(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if failing["on"] and request.url.params["Action"] == "ListRealTimeOperationData":
                return httpx.Response(
                    500, content=envelope(error={"Code": "InternalError", "Message": "x"})
                )
            return inner(request)

    s = settings(
        "timer", rate_limit={"requests_per_second": 1000.0, "headroom": 1.0, "max_retries": 0}
    )
    rt = Runtime.build(s, transport=Flaky(), clock=clock)
    for name in rt.sources:
        rt.refresher.refresh(name)
    users = lambda: rt.registry.get_sample_value("volcengine_rtc_online_users", {"app_id": APP})  # noqa: E731
    up = lambda src: rt.registry.get_sample_value(
        "volcengine_rtc_exporter_source_up", {"source": src, "app_id": APP}
    )  # noqa: E731
    good = users()
    assert good is not None and up("realtime_operation") == 1.0

    failing["on"] = True
    clock.t += 30
    rt.refresher.refresh("realtime_operation")
    assert users() == good  # last good value still served
    assert up("realtime_operation") == 0.0
    assert up("realtime_quality") == 1.0  # one source failing never hides another
    assert (
        rt.registry.get_sample_value(
            "volcengine_rtc_exporter_api_request_failures_total",
            {"action": "ListRealTimeOperationData", "reason": "server"},
        )
        == 1.0
    )

    clock.t = T + 91  # past 3 x 30 s since the last success
    assert users() is None
    assert up("realtime_operation") == 0.0
    assert (
        rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_last_success_timestamp_seconds",
            {"source": "realtime_operation", "app_id": APP},
        )
        == T
    )
    # other sources are still within their own staleness
    assert (
        rt.registry.get_sample_value(
            "volcengine_rtc_report_users", {"app_id": APP, "granularity": "1d"}
        )
        is not None
    )

    failing["on"] = False
    rt.refresher.refresh("realtime_operation")
    assert users() is not None and up("realtime_operation") == 1.0


def test_health_families_present_before_any_refresh() -> None:
    transport, _ = fixture_transport()
    rt = Runtime.build(settings("timer"), transport=transport, clock=FrozenClock(T))
    get = rt.registry.get_sample_value
    for src in (
        "realtime_operation",
        "realtime_quality",
        "quality_report",
        "operation_report",
        "call_detail",
    ):
        assert get("volcengine_rtc_exporter_source_up", {"source": src, "app_id": APP}) == 0.0
    assert get("volcengine_rtc_exporter_source_up", {"source": "apps", "app_id": ""}) == 0.0
    assert get("volcengine_rtc_exporter_api_requests_total", {"action": "ListQuality"}) == 0.0
    assert get("volcengine_rtc_exporter_series_dropped_total", {"source": "call_detail"}) == 0.0
    # configured apps show app_info even before ListApps answered
    assert (
        get("volcengine_rtc_app_info", {"app_id": APP, "app_name": "golden", "status": "unknown"})
        == 1.0
    )


@pytest.mark.parametrize("mode", ["timer", "scrape"])
def test_unexpected_exception_marks_source_down_not_dead(mode: str) -> None:
    transport, _ = fixture_transport(
        {"ListRealTimeQuality": lambda r: (_ for _ in ()).throw(RuntimeError("boom"))}
    )
    rt = Runtime.build(
        settings(
            mode, rate_limit={"max_retries": 0, "requests_per_second": 1000.0, "headroom": 1.0}
        ),
        transport=transport,
        clock=FrozenClock(T),
    )
    rt.refresher.refresh("realtime_quality")
    rt.refresher.refresh("realtime_operation")
    assert (
        rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_up", {"source": "realtime_quality", "app_id": APP}
        )
        == 0.0
    )
    assert (
        rt.registry.get_sample_value(
            "volcengine_rtc_exporter_source_up", {"source": "realtime_operation", "app_id": APP}
        )
        == 1.0
    )
