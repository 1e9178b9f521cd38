"""Property tests (hypothesis): parsing vendor answers and loading configuration never raise
anything but the project's own errors, and every well-formed point still comes through."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.errors import ApiSchemaError, ConfigError
from exporter.models import parse_apps, parse_call_detail, parse_indicators, sanitize
from exporter.settings import load_settings

TZ = dt.timezone(dt.timedelta(hours=8))
T0 = dt.datetime(2024, 1, 1, tzinfo=TZ)

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
good_point = st.builds(
    lambda minutes, value: {
        "TimeStamp": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        "Value": value,
    },
    st.integers(min_value=0, max_value=10_000),
    st.floats(min_value=0, max_value=1e6, allow_nan=False),
)
bad_point = st.fixed_dictionaries({}, optional={"TimeStamp": junk, "Value": junk, "Extra": junk})
point = st.one_of(good_point, bad_point, junk)
indicator = st.one_of(
    st.fixed_dictionaries(
        {
            "Name": st.sampled_from(["80ms_audio_stall_rate", "online_user_count"]),
            "Unit": st.sampled_from(["%", "", None]),
            "Data": st.lists(point, max_size=6),
        },
        optional={"overview": junk, "Extra": junk},
    ),  # fmt: skip
    st.dictionaries(st.sampled_from(["Name", "Unit", "Data"]), junk, max_size=3),
    junk,
)
result = st.one_of(
    st.fixed_dictionaries({"Indicators": st.lists(indicator, max_size=4)}),
    st.dictionaries(st.sampled_from(["Indicators", "AggregateGranularity"]), junk, max_size=2),
)


def roundtrip(doc: Any) -> Any:
    """Through JSON as the client sees it (NaN/Infinity tokens included)."""
    return sanitize(json.loads(json.dumps(doc, allow_nan=True)))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(result)
def test_indicator_parsing_never_raises_but_schema_errors(doc: dict[str, Any]) -> None:
    try:
        out = parse_indicators(roundtrip(doc), "ListRealTimeQuality", TZ)
    except ApiSchemaError:
        assert not isinstance(doc.get("Indicators"), list | None)
        return
    for ind in out.indicators:
        assert isinstance(ind.name, str) and ind.name and isinstance(ind.unit, str)
        for p in ind.points:
            assert math.isfinite(p.ts)
            assert p.value is None or isinstance(p.value, float)


@settings(max_examples=200)
@given(st.lists(good_point, min_size=1, max_size=8), st.lists(bad_point, max_size=8))
def test_every_well_formed_point_comes_through(good: list[dict[str, Any]], bad: list[Any]) -> None:
    data = good + bad
    doc = {"Indicators": [{"Name": "online_user_count", "Unit": "", "Data": data}]}
    out = parse_indicators(roundtrip(doc), "ListRealTimeOperationData", TZ)
    got = {(p.ts, p.value) for p in out.indicators[0].points}
    for g in good:
        ts = dt.datetime.fromisoformat(g["TimeStamp"]).timestamp()
        assert (ts, float(g["Value"])) in got
    assert sum(out.skipped.values()) + len(out.indicators[0].points) == len(data)


call_record = st.one_of(
    st.fixed_dictionaries(
        {
            "UserId": st.text(min_size=1, max_size=5),
            "RoomId": st.one_of(st.none(), st.text(max_size=5)),
            "PeerId": st.one_of(st.none(), st.text(max_size=5)),
            "Direction": st.sampled_from(["up", "down", None]),
            "CallDetail": st.lists(
                st.one_of(
                    st.fixed_dictionaries(
                        {
                            "Name": junk,
                            "Desc": junk,
                            "Unit": junk,
                            "Data": st.lists(
                                st.one_of(
                                    st.fixed_dictionaries({"Time": junk, "Value": junk}), junk
                                ),
                                max_size=4,
                            ),
                        }
                    ),
                    junk,
                ),
                max_size=3,
            ),
        },
    ),  # fmt: skip
    junk,
)


@settings(max_examples=200)
@given(st.one_of(st.fixed_dictionaries({"UserCallDetail": st.lists(call_record, max_size=4)}),
                 st.dictionaries(st.just("UserCallDetail"), junk)))  # fmt: skip
def test_call_detail_and_apps_parsing_never_raise_but_schema_errors(doc: dict[str, Any]) -> None:
    try:
        parse_call_detail(roundtrip(doc), "ListCallDetail")
    except ApiSchemaError:
        pass
    apps = {"AppList": doc.get("UserCallDetail"), "Total": 3}
    try:
        parse_apps(roundtrip(apps), "ListApps")
    except ApiSchemaError:
        pass


@given(st.text(max_size=30))
def test_sanitize_always_gives_valid_utf8(text: str) -> None:
    json.dumps(sanitize({"k" + text: [text, {"x": text}]}), ensure_ascii=False).encode("utf-8")
    sanitize(text).encode("utf-8")  # never raises
    assert sanitize("\ud800x\udfff") == "\ufffdx\ufffd"


yaml_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
config_doc = st.dictionaries(
    st.sampled_from(
        ["endpoint", "provider", "timezone", "timeout_seconds", "apps", "sources", "rate_limit",
         "refresh", "web", "log", "shard", "credentials", "max_response_bytes", "bogus"]
    ),
    yaml_value,
    max_size=5,
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config_doc)
def test_config_loading_never_raises_but_config_errors(tmp_path: Path, doc: dict[str, Any]) -> None:
    import yaml

    path = tmp_path / "c.yml"
    doc = {"credentials": {"access_key_id": "A", "secret_access_key": "S3cr3t-value"}} | doc
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    try:
        load_settings(path)
    except ConfigError as exc:
        assert "S3cr3t-value" not in str(exc)
