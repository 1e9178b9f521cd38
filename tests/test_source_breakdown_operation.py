"""operation_breakdown: ListOperationDistribution -> users and user share by region (pure fetch)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from exporter.collectors.operation_breakdown import OperationBreakdownSettings
from exporter.errors import ApiSchemaError
from exporter.types import AppTarget
from tests.fakes import TZ, T, by_name, make_source

APP = AppTarget("app1")
ACTION = "ListOperationDistribution"
USERS = "volcengine_rtc_report_breakdown_users"
SHARE = "volcengine_rtc_report_breakdown_users_share_ratio"


def documented(params: dict[str, Any]) -> dict[str, Any]:
    """The documented example shape (Name user_num, lower-case Dimension, two decimals)."""
    if params["Dimension"] == "Province":
        data = [{"DistributionName": "上海", "Value": 666.00, "Proportion": 66.66},
                {"DistributionName": "广东", "Value": 333.00, "Proportion": 33.34}]  # fmt: skip
    else:
        data = [{"DistributionName": "中国", "Value": 990.0, "Proportion": 99.0},
                {"DistributionName": "Singapore", "Value": 9.0, "Proportion": 0.9}]  # fmt: skip
    return {"Name": "user_num", "Dimension": params["Dimension"].lower(), "Data": data}


def key(metric: str, dimension: str, segment: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return metric, frozenset({("app_id", "app1"), ("dimension", dimension), ("segment", segment)})


def test_users_and_share_by_province_and_country_over_the_last_complete_day() -> None:
    src, client = make_source("operation_breakdown", {ACTION: documented})
    snap = src.fetch(APP, T)
    assert [(p["Dimension"], p["Indicator"]) for _, p in client.calls] == [
        ("Province", "user_count"), ("Country", "user_count"),
    ]  # fmt: skip
    assert src.calls(APP) == {ACTION: 2}
    params = client.calls[0][1]
    assert params["StartTime"] == dt.datetime(2024, 1, 1, tzinfo=TZ)
    assert params["EndTime"] == dt.datetime(2024, 1, 2, tzinfo=TZ)
    assert by_name(snap) == {
        key(USERS, "province", "上海"): 666.0, key(SHARE, "province", "上海"): 0.6666,
        key(USERS, "province", "广东"): 333.0, key(SHARE, "province", "广东"): 0.3334,
        key(USERS, "country", "中国"): 990.0, key(SHARE, "country", "中国"): 0.99,
        key(USERS, "country", "Singapore"): 9.0, key(SHARE, "country", "Singapore"): 0.009,
    }  # fmt: skip
    assert snap.data_timestamp == dt.datetime(2024, 1, 1, tzinfo=TZ).timestamp()


def test_odd_rows_cost_only_themselves() -> None:
    def payload(params: dict[str, Any]) -> dict[str, Any]:
        return {"Data": [
            {"DistributionName": " 北京 ", "Value": 10, "Proportion": None},  # share missing
            {"DistributionName": "天津", "Value": None, "Proportion": 5.0},  # count missing
            {"DistributionName": "", "Value": 1, "Proportion": 1},
            {"Value": 1, "Proportion": 1},
            {"DistributionName": "河北", "Value": "many", "Proportion": 1},
            {"DistributionName": "山西", "Value": 3, "Proportion": 130.0},  # not a percentage
            None,
        ]}  # fmt: skip

    src, _ = make_source("operation_breakdown", {ACTION: payload}, dimensions=["province"])
    snap = src.fetch(APP, T)
    assert by_name(snap) == {
        key(USERS, "province", "北京"): 10.0,
        key(SHARE, "province", "天津"): 0.05,
        key(USERS, "province", "山西"): 3.0,
    }
    assert snap.skipped == {"malformed": 3, "value": 1, "out_of_range": 1}


def test_no_data_list_is_empty_and_a_wrong_type_fails_the_fetch() -> None:
    src, _ = make_source("operation_breakdown", {ACTION: lambda p: {"Name": "user_num"}})
    assert src.fetch(APP, T).samples == []
    src, _ = make_source("operation_breakdown", {ACTION: lambda p: {"Data": {"上海": 1}}})
    with pytest.raises(ApiSchemaError):
        src.fetch(APP, T)


def test_series_cap_counts_the_cut() -> None:
    src, _ = make_source("operation_breakdown", {ACTION: documented}, max_breakdown_series=3)
    src.begin_cycle()
    snap = src.fetch(APP, T)
    assert len(snap.samples) == 3 and snap.dropped == 5


def test_only_regions_are_dimensions_of_this_api() -> None:
    assert OperationBreakdownSettings(dimensions=["country"]).dimensions == ["country"]
    with pytest.raises(ValidationError):
        OperationBreakdownSettings.model_validate({"dimensions": ["os"]})
    src, _ = make_source("operation_breakdown", {})
    assert [s.name for s in src.specs] == [USERS, SHARE]
    assert all(s.labels == ("app_id", "dimension", "segment") for s in src.specs)
