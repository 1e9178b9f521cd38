"""API versions per provider and action, and the fall-back when the vendor refuses one
(``exporter.versions`` through ``VolcClient._call``), over httpx.MockTransport."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from prometheus_client import CollectorRegistry

from exporter.client import VolcClient
from exporter.errors import ApiClientError
from exporter.limiter import Limiters, Quota
from exporter.quotas import PROVIDERS
from exporter.runtime import Runtime
from exporter.simulator import Simulator
from exporter.telemetry import Telemetry
from tests.conftest import (
    AK,
    GOLDEN_TIME,
    SK,
    FrozenClock,
    SimTransport,
    VirtualClock,
    VirtualWaiter,
    envelope,
    make_settings,
)
from tests.simapi import make as make_sim
from tests.test_client import T0, T1, TZ
from tests.vendor import vendor_doc

V2020, V2023 = "2020-12-01", "2023-11-01"
OK = {"Indicators": [], "UserCallDetail": [], "RoomList": [], "UserList": [],
      "RoomExists": False, "AppList": [], "Data": []}  # fmt: skip
Handler = Callable[[httpx.Request], httpx.Response]


class Vendor:
    """Answers OK, except for the (action, version) pairs in ``refuse``, which get the vendor's
    InvalidActionOrVersion answer with ``status``."""

    def __init__(self, refuse: set[tuple[str, str]] | None = None, status: int = 404) -> None:
        self.refuse, self.status = refuse or set(), status
        self.sent: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        q = dict(parse_qsl(urlsplit(str(request.url)).query))
        self.sent.append((q["Action"], q["Version"]))
        if (q["Action"], q["Version"]) in self.refuse or (q["Action"], "*") in self.refuse:
            doc = vendor_doc("InvalidActionOrVersion")
            doc["ResponseMetadata"] |= {"Action": q["Action"], "Version": q["Version"]}
            return httpx.Response(self.status, content=json.dumps(doc).encode())
        return httpx.Response(200, content=envelope(OK))


def make(
    vendor: Handler, provider: str = "volcengine", version: str | None = None
) -> tuple[VolcClient, CollectorRegistry]:
    clock = VirtualClock()
    registry = CollectorRegistry()
    client = VolcClient(
        endpoint="https://example.test",
        region="cn-north-1",
        credentials=lambda: (AK, SK, None),
        telemetry=Telemetry(registry, [], [], clock),
        limiters=Limiters({}, Quota(per_second=1000), clock=clock),
        waiter=VirtualWaiter(clock),
        tz=TZ,
        version=version,
        provider=provider,
        max_retries=2,
        transport=httpx.MockTransport(vendor),
        monotonic=clock,
    )
    return client, registry


def every_action(client: VolcClient) -> None:
    client.query_indicators("ListRealTimeQuality", "a", T0, T1, ["stall_rate"])
    client.query_indicators("ListQuality", "a", T0, T1, ["stall_rate"], AggregateGranularity="1d")
    client.query_distribution("ListQualityDistribution", "a", T0, T1, "stall_rate", "OS", "web")
    client.query_distribution(
        "ListRealTimeQualityDistribution", "a", T0, T1, "stall_rate", "OS", "web"
    )
    client.operation_distribution("a", T0, T1, "Country")
    client.list_call_detail("a", T0, T1, "r", ["u"])
    client.list_room_info("a", T0, T1, page=1, page_size=100)
    client.get_room_online_users("a", "r")
    client.list_user_info("a", T0, T1, "r", ["u"])
    client.list_apps()


def test_byteplus_sends_the_versions_its_pages_show() -> None:
    vendor = Vendor()
    every_action(make(vendor, "byteplus")[0])
    assert dict(vendor.sent) == {
        "ListRealTimeQuality": V2023,  # no BytePlus page: the newest
        "ListQuality": V2020,
        "ListQualityDistribution": V2020,
        "ListRealTimeQualityDistribution": V2020,
        "ListOperationDistribution": V2023,
        "ListCallDetail": V2020,
        "ListRoomInfo": V2020,
        "GetRoomOnlineUsers": V2023,
        "ListUserInfo": V2023,
        "ListApps": V2023,
    }


def test_volcengine_sends_2023_11_01_and_a_configured_version_goes_first() -> None:
    vendor = Vendor()
    every_action(make(vendor)[0])
    assert {v for _, v in vendor.sent} == {V2023}
    vendor = Vendor()
    every_action(make(vendor, "byteplus", version=V2023)[0])
    assert {v for _, v in vendor.sent} == {V2023}  # the user's choice is tried first
    vendor = Vendor()
    every_action(make(vendor, version=V2020)[0])
    # GetRoomOnlineUsers does not exist in 2020-12-01: its newest version instead
    assert {a for a, v in vendor.sent if v != V2020} == {"GetRoomOnlineUsers"}


@pytest.mark.parametrize("status", [404, 200])  # 2023-11-01 wording, and 200 + Error (2020-12-01)
def test_a_refused_version_costs_one_call_and_the_next_one_is_kept(
    status: int, caplog: pytest.LogCaptureFixture
) -> None:
    vendor = Vendor({("ListQuality", V2023)}, status)
    client, registry = make(vendor, "byteplus", version=V2023)
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            client.query_indicators("ListQuality", "a", T0, T1, ["x"], AggregateGranularity="1d")
    assert vendor.sent == [("ListQuality", V2023)] + [("ListQuality", V2020)] * 3
    failures = {"action": "ListQuality", "reason": "client"}
    assert registry.get_sample_value("volcengine_rtc_exporter_api_request_failures_total",
                                     failures) == 1.0  # fmt: skip
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("API version refused; trying the next documented one") == 1
    assert messages.count("using a fall-back API version") == 1
    # other actions keep the configured version
    client.list_user_info("a", T0, T1, "r", ["u"])
    assert vendor.sent[-1] == ("ListUserInfo", V2023)


def test_when_every_version_is_refused_the_call_fails_with_one_request_each_time() -> None:
    vendor = Vendor({("ListCallDetail", "*")})
    client, _ = make(vendor)
    for _ in range(3):
        with pytest.raises(ApiClientError) as err:
            client.list_call_detail("a", T0, T1, "r", ["u"])
        assert err.value.code == "InvalidActionOrVersion"
    assert vendor.sent == [("ListCallDetail", V2023), ("ListCallDetail", V2020),
                           ("ListCallDetail", V2023), ("ListCallDetail", V2023)]  # fmt: skip


def test_other_refusals_do_not_change_the_version() -> None:
    sent: list[str] = []

    def invalid(request: httpx.Request) -> httpx.Response:
        sent.append(dict(parse_qsl(urlsplit(str(request.url)).query))["Version"])
        error = {"Code": "InvalidParameter", "Message": "Dimension is invalid"}
        return httpx.Response(400, content=envelope(error=error))

    client, _ = make(invalid)
    for _ in range(2):
        with pytest.raises(ApiClientError):
            client.query_distribution(
                "ListQualityDistribution", "a", T0, T1, "x", "Province", "web"
            )
    assert sent == [V2023, V2023]


def test_every_action_of_the_provider_tables_exists_in_its_versions() -> None:
    for provider in PROVIDERS.values():
        for action, documented in provider.versions.items():
            order = provider.version_order(action)
            assert order[: len(documented)] == documented and len(order) == 2


# -- against the simulated BytePlus ------------------------------------------------------------


def test_the_simulated_byteplus_serves_only_the_versions_its_pages_show() -> None:
    sim, _, api = make_sim(provider="byteplus")
    body = api.window(-3 * 86400, Indicator=["stall_rate"], AggregateGranularity="1d")
    status, doc = api.post("ListQuality", body, V2023)
    assert status == 404 and doc["ResponseMetadata"]["Error"]["Code"] == "InvalidActionOrVersion"
    assert doc["ResponseMetadata"]["Error"]["CodeN"] == 100008 and "Result" not in doc
    assert api.post("ListQuality", body, V2020)[0] == 200
    volc, _, vapi = make_sim()
    assert vapi.post("ListQuality", body | {"AppId": volc.apps[0].app_id}, V2023)[0] == 200


def test_a_configured_version_byteplus_refuses_falls_back_in_the_exporter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = FrozenClock(GOLDEN_TIME)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0, provider="byteplus",
                    quotas={"*": {"minute": 0, "day": 0}})  # fmt: skip
    settings = make_settings(
        endpoint="http://sim.test",
        provider="byteplus",
        version=V2023,
        apps=[{"app_id": sim.apps[0].app_id}],
        rate_limit={
            "quotas": {"ListQuality": {"per_second": 1000, "per_minute": 60_000, "per_day": 1e7}}
        },  # fmt: skip
    )
    rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(2):
                rt.refresher.refresh("quality_report")
        get = rt.registry.get_sample_value
        up = {"source": "quality_report", "app_id": sim.apps[0].app_id}
        assert get("volcengine_rtc_exporter_source_up", up) == 1.0
        failures = {"action": "ListQuality", "reason": "client"}
        assert get("volcengine_rtc_exporter_api_request_failures_total", failures) == 1.0
        assert get("volcengine_rtc_exporter_api_requests_total", {"action": "ListQuality"}) == 5.0
    finally:
        rt.stop()
    refused = [r for r in caplog.records if r.getMessage().startswith("API version refused")]
    assert len(refused) == 1
