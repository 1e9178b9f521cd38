"""The distribution sources against the vendor's own pages: the dimensions each provider
documents, what a refused dimension costs, and the scale of ``Proportion``."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from exporter.errors import ApiClientError
from exporter.runtime import Runtime
from exporter.simulator import Simulator
from tests.conftest import AK, GOLDEN_TIME, SK, FrozenClock, SimTransport, make_settings
from tests.fakes import T, by_name, find, make_source
from tests.test_source_breakdown import APP, REPORT, world
from tests.test_source_breakdown_operation import ACTION, SHARE, USERS, key
from tests.vendor import vendor_result

PROVINCE_REFUSED = ApiClientError(
    "Dimension must be one of Country, OS, Access", action=REPORT, status=400,
    code="InvalidParameter",
)  # fmt: skip


def refusing(dimension: str) -> Any:
    """The documented answer, except that ``dimension`` is refused as a bad request."""
    answer = world(offset=-2 * 86400)

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        if params["Dimension"] == dimension:
            raise PROVINCE_REFUSED
        return answer(params)

    return payload


# -- dimensions --------------------------------------------------------------------------------


def test_byteplus_report_breakdown_sends_only_the_dimensions_its_page_lists() -> None:
    src, client = make_source("report_breakdown", {REPORT: world()}, provider="byteplus")
    src.fetch(APP, T)
    assert {p["Dimension"] for _, p in client.calls} == {"OS", "Access"}
    assert src.calls(APP) == {REPORT: 20} and len(client.calls) == 20
    live, client = make_source("realtime_breakdown", {"ListRealTimeQualityDistribution": world()},
                               provider="byteplus", dimensions=["os", "province"])  # fmt: skip
    live.fetch(APP, T)  # its page lists Province
    assert {p["Dimension"] for _, p in client.calls} == {"OS", "Province"}


def test_a_refused_dimension_costs_its_call_and_is_dropped_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    src, client = make_source("report_breakdown", {REPORT: refusing("Province")},
                              provider="byteplus", dimensions=["os", "province", "network"])  # fmt: skip
    with caplog.at_level(logging.WARNING):
        snap = src.fetch(APP, T)
        again = src.fetch(APP, T)
    sent = [p["Dimension"] for _, p in client.calls]
    assert sent[:3] == ["OS", "Province", "Access"] and sent.count("Province") == 1
    assert snap.skipped == {"dimension_refused": 1} and not again.skipped
    assert {dict(s.labels)["dimension"] for s in snap.samples} == {"os", "network"}
    assert len(find(snap, "volcengine_rtc_report_breakdown_stall_ratio")) == len(
        find(again, "volcengine_rtc_report_breakdown_stall_ratio")
    )
    assert src.calls(APP) == {REPORT: 20}
    dropped = [r for r in caplog.records if r.getMessage().startswith("dimension refused")]
    assert len(dropped) == 1


def test_a_refusal_before_any_answer_is_dropped_when_another_dimension_answers() -> None:
    src, client = make_source("report_breakdown", {REPORT: refusing("Province")},
                              dimensions=["province", "os"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert [p["Dimension"] for _, p in client.calls][:3] == ["Province", "OS", "OS"]
    assert snap.skipped == {"dimension_refused": 1}


def test_when_nothing_answers_the_refresh_fails_as_before() -> None:
    src, client = make_source("report_breakdown", {REPORT: PROVINCE_REFUSED})
    with pytest.raises(ApiClientError):
        src.fetch(APP, T)
    with pytest.raises(ApiClientError):
        src.fetch(APP, T)  # nothing was dropped: the refusal was not the dimension's
    assert {p["Dimension"] for _, p in client.calls} == {"OS", "Access", "Province"}


def test_operation_breakdown_keeps_the_country_when_the_province_is_refused() -> None:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        if params["Dimension"] == "Province":
            raise PROVINCE_REFUSED
        return {"Data": [{"DistributionName": "中国", "Value": 10.0, "Proportion": 100.0}]}

    src, _ = make_source("operation_breakdown", {ACTION: payload})
    snap = src.fetch(APP, T)
    assert by_name(snap) == {
        key(USERS, "country", "中国"): 10.0,
        key(SHARE, "country", "中国"): 1.0,
    }
    assert snap.skipped == {"dimension_refused": 1} and src.calls(APP) == {ACTION: 1}


def test_the_simulated_byteplus_refuses_province_and_the_exporter_goes_on() -> None:
    clock = FrozenClock(GOLDEN_TIME)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0, provider="byteplus",
                    quotas={"*": {"minute": 0, "day": 0}})  # fmt: skip
    app = sim.apps[0].app_id
    unlimited = {"per_second": 1000, "per_minute": 60_000, "per_day": 1e7}
    settings = make_settings(
        endpoint="http://sim.test", provider="byteplus", apps=[{"app_id": app}],
        sources={"report_breakdown": {"dimensions": ["os", "province"], "indicators": ["stall_rate"],
                                      "product_types": ["native"]}},
        rate_limit={"quotas": {REPORT: unlimited}},
    )  # fmt: skip
    rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
    try:
        for _ in range(2):
            rt.refresher.refresh("report_breakdown")
        get = rt.registry.get_sample_value
        assert get("volcengine_rtc_exporter_source_up",
                   {"source": "report_breakdown", "app_id": app}) == 1.0  # fmt: skip
        assert get("volcengine_rtc_exporter_api_request_failures_total",
                   {"action": REPORT, "reason": "client"}) == 1.0  # fmt: skip
        assert get("volcengine_rtc_exporter_points_skipped_total",
                   {"source": "report_breakdown", "reason": "dimension_refused"}) == 1.0  # fmt: skip
        stall = get("volcengine_rtc_report_breakdown_stall_ratio", {
            "app_id": app, "product_type": "native", "media": "video", "threshold": "0.5",
            "dimension": "os", "segment": "android"})  # fmt: skip
        assert stall is not None and 0 < stall < 1
    finally:
        rt.stop()
    assert sim.stats_doc()[REPORT] == {"200": 2, "400": 1}  # province once, never again


# -- Proportion --------------------------------------------------------------------------------


def shares(*rows: tuple[str, float, float]) -> dict[str, Any]:
    return {"Data": [{"DistributionName": n, "Value": v, "Proportion": p} for n, v, p in rows]}


def answers(province: dict[str, Any], country: dict[str, Any]) -> Any:
    return lambda params: province if params["Dimension"] == "Province" else country


def share_of(snap: Any, dimension: str, segment: str) -> float | None:
    return by_name(snap).get(key(SHARE, dimension, segment))


def test_the_vendor_example_reads_as_a_percentage() -> None:
    example = vendor_result("ListOperationDistribution")
    src, _ = make_source("operation_breakdown", {ACTION: lambda p: example},
                         dimensions=["province"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "上海") == 0.6666 and not snap.skipped


def test_shares_that_add_up_to_one_are_fractions() -> None:
    province = shares(("广东", 600, 0.6), ("上海", 300, 0.3), ("北京", 100, 0.1))
    country = shares(("中国", 1000, 0.91), ("新加坡", 99, 0.09))
    src, _ = make_source("operation_breakdown", {ACTION: answers(province, country)})
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") == 0.6 and share_of(snap, "country", "新加坡") == 0.09
    assert not snap.skipped


def test_a_percent_dimension_settles_the_scale_of_an_ambiguous_one() -> None:
    # 1 % of the users are in China: the provinces alone would look like fractions
    province = shares(("广东", 6, 0.6), ("上海", 4, 0.4))
    country = shares(("新加坡", 990, 99.0), ("中国", 10, 1.0))
    src, _ = make_source("operation_breakdown", {ACTION: answers(province, country)})
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") == 0.006 and share_of(snap, "country", "中国") == 0.01


def test_without_evidence_shares_are_skipped_and_counted_until_the_scale_is_known() -> None:
    ambiguous = shares(("广东", 6, 0.3), ("上海", 4, 0.2))  # 0.5 % or 50 %?
    src, _ = make_source("operation_breakdown", {ACTION: lambda p: ambiguous},
                         dimensions=["province"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") is None
    assert by_name(snap)[key(USERS, "province", "广东")] == 6.0  # counts are exported anyway
    assert snap.skipped == {"share_scale_unknown": 2}
    src.client.answers[ACTION] = lambda p: shares(("广东", 6, 60.0), ("上海", 4, 40.0))  # type: ignore[attr-defined]
    src.fetch(APP, T)  # percent, proven
    src.client.answers[ACTION] = lambda p: ambiguous  # type: ignore[attr-defined]
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") == 0.003 and not snap.skipped


def test_a_learned_percent_scale_is_not_flipped_by_an_ambiguous_answer() -> None:
    """Percent is proven; a later province answer summing to 1 (1 % of the users in China, the
    country answer empty) reads as percent still, not as fractions 100 times too large."""
    province = shares(("广东", 6, 0.6), ("上海", 4, 0.4))
    country = shares(("新加坡", 990, 99.0), ("中国", 10, 1.0))
    src, _ = make_source("operation_breakdown", {ACTION: answers(province, country)})
    src.fetch(APP, T)  # percent, proven by the country dimension
    src.client.answers[ACTION] = answers(province, shares())  # type: ignore[attr-defined]
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") == 0.006 and not snap.skipped


def test_a_scale_that_changes_is_counted_and_not_exported_until_it_settles() -> None:
    province = shares(("广东", 6, 0.6), ("上海", 4, 0.3))
    in_fraction = shares(("中国", 900, 0.9), ("新加坡", 100, 0.1))
    in_percent = shares(("中国", 900, 90.0), ("新加坡", 100, 10.0))
    src, _ = make_source("operation_breakdown", {ACTION: answers(province, in_fraction)})
    snap = src.fetch(APP, T)  # the country dimension proves fraction
    assert share_of(snap, "country", "中国") == 0.9 and not snap.skipped
    src.client.answers[ACTION] = answers(shares(("广东", 6, 60.0)), in_percent)  # type: ignore[attr-defined]
    snap = src.fetch(APP, T)  # now percent: which one was right is not known
    assert share_of(snap, "country", "中国") is None and share_of(snap, "province", "广东") is None
    assert snap.skipped == {"share_scale_mismatch": 3}
    assert by_name(snap)[key(USERS, "country", "中国")] == 900.0  # counts are exported anyway
    snap = src.fetch(APP, T)  # percent again: settled
    assert share_of(snap, "country", "中国") == 0.9 and not snap.skipped
    both = answers(shares(("广东", 6, 60.0)), in_fraction)  # one refresh proving both scales
    src.client.answers[ACTION] = both  # type: ignore[attr-defined]
    snap = src.fetch(APP, T)
    assert snap.skipped == {"share_scale_mismatch": 3}
    assert share_of(snap, "country", "中国") is None


def test_shares_that_fit_neither_scale_are_skipped_and_counted() -> None:
    too_much = shares(("广东", 6, 80.0), ("上海", 4, 70.0))
    src, _ = make_source("operation_breakdown", {ACTION: lambda p: too_much},
                         dimensions=["province"])  # fmt: skip
    snap = src.fetch(APP, T)
    assert share_of(snap, "province", "广东") is None
    assert snap.skipped == {"share_scale_mismatch": 2}


def test_the_simulators_fraction_shares_come_out_the_same() -> None:
    clock = FrozenClock(GOLDEN_TIME)
    sim = Simulator(apps=1, credentials={AK: SK}, clock=clock, qps=1000.0)
    app = sim.apps[0].app_id
    got = {}
    for fraction in (False, True):
        if fraction:
            sim.activate("share_fraction")
        settings = make_settings(endpoint="http://sim.test", apps=[{"app_id": app}])
        rt = Runtime.build(settings, transport=SimTransport(sim), clock=clock)
        try:
            rt.refresher.refresh("operation_breakdown")
            got[fraction] = {
                s.labels["segment"]: s.value
                for m in rt.registry.collect() if m.name == SHARE for s in m.samples
            }  # fmt: skip
        finally:
            rt.stop()
    assert got[False] and got[False].keys() == got[True].keys()
    for segment, share in got[False].items():
        assert got[True][segment] == pytest.approx(share, abs=0.0051), segment


def test_a_product_type_refused_as_a_whole_drops_no_dimension() -> None:
    """ProductType=web refused for every call while native answers: web fails on its own
    (a failed part), the native breakdown stays, and no dimension is taken for refused."""
    answer = world(offset=-2 * 86400)

    def payload(params: dict[str, Any]) -> dict[str, Any]:
        if params["ProductType"] == "web":
            raise ApiClientError("web is off", action=REPORT, status=400, code="InvalidParameter")
        return answer(params)

    src, client = make_source("report_breakdown", {REPORT: payload})
    snap = src.fetch(APP, T)
    again = src.fetch(APP, T)
    assert {dict(s.labels)["product_type"] for s in snap.samples} == {"native"}
    assert list(snap.failed_parts) == [(("product_type", "web"),)]
    for s in (snap, again):
        assert {dict(x.labels)["dimension"] for x in s.samples} == {"os", "network", "province"}
    assert src.calls(APP) == {REPORT: 30}
    assert sum(p["ProductType"] == "web" for _, p in client.calls) == 30  # 15 per refresh
