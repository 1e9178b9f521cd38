"""The one registry of sources: complete declarations only, and every part of the exporter
(settings, telemetry, docs, plan, landing page, simulator) knows every registered source."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

import httpx
import pytest

import exporter.collectors as collectors
from exporter.collectors import SOURCES
from exporter.collectors.base import (
    RegistrationError,
    Source,
    SourceSettings,
    register,
    registered,
)
from exporter.docs import render_metrics_md
from exporter.runtime import Runtime
from exporter.simulator import Simulator
from exporter.types import AppTarget, MetricSpec, Snapshot
from tests.conftest import AK, SK, FrozenClock, SimTransport, fixture_transport, golden_settings


def _source(**attrs: Any) -> type[Source[Any]]:
    base: dict[str, Any] = {
        "name": "test_source",
        "title": "Test",
        "actions": ("ListTest",),
        "settings_model": SourceSettings,
        "specs": (MetricSpec("volcengine_rtc_test_value", "x", ("app_id",)),),
        "order": 999,
        "fetch": lambda self, app, now: Snapshot(),
    }
    base.update(attrs)
    base = {k: v for k, v in base.items() if v is not None}
    return type("TestSource", (Source,), base)


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"title": None}, "does not declare title"),
        ({"settings_model": None}, "does not declare settings_model"),
        ({"name": "Bad-Name"}, "lower_snake_case"),
        ({"name": "realtime_operation"}, "registered twice"),
        ({"actions": ()}, "actions"),
        ({"actions": ("list apps",)}, "actions"),
        ({"settings_model": dict}, "SourceSettings"),
        ({"specs": ()}, "no metric family"),
        ({"specs": (MetricSpec("volcengine_rtc_online_users", "x", ()),)}, "already exported"),
    ],
)
def test_an_incomplete_or_duplicate_source_is_refused(attrs: dict[str, Any], message: str) -> None:
    before = registered()
    with pytest.raises(RegistrationError, match=message):
        register(_source(**attrs))
    assert registered() == before


def test_every_source_class_in_the_package_is_registered() -> None:
    found = set()
    for info in pkgutil.iter_modules(collectors.__path__):
        module = importlib.import_module(f"exporter.collectors.{info.name}")
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Source) and obj is not Source and not inspect.isabstract(obj):
                found.add(obj)
    assert found == set(SOURCES), "a Source subclass is not decorated with @register"


def test_every_registered_source_is_known_everywhere() -> None:
    transport, _ = fixture_transport()
    rt = Runtime.build(golden_settings(), transport=transport, clock=FrozenClock(0))
    docs = render_metrics_md()
    page = rt.view.landing()  # the landing page shows the plan of every source
    get = rt.registry.get_sample_value
    for cls in SOURCES:
        assert rt.settings.source(cls.name) is not None  # sources.<name> exists
        assert f"source label: `{cls.name}`" in docs
        assert cls.name in page
        assert get("volcengine_rtc_exporter_series_dropped_total", {"source": cls.name}) == 0.0
        for action in cls.actions:
            assert get("volcengine_rtc_exporter_api_requests_total", {"action": action}) == 0.0
        assert cls.name in rt.refresher.plan.sources
        for spec in cls.specs:
            assert spec.name in docs


def test_the_simulator_serves_every_action_of_every_source() -> None:
    from exporter.signing import VolcAuth

    sim = Simulator(apps=1, credentials={AK: SK}, qps=1000.0)
    client = httpx.Client(
        base_url="http://sim",
        transport=SimTransport(sim),
        auth=VolcAuth(lambda: (AK, SK, None), region="cn-north-1"),
    )
    for cls in SOURCES:
        for action in cls.actions:
            r = client.post(f"/?Action={action}&Version=2023-11-01", json={})
            if r.status_code == 400 and "Method" in r.text:
                r = client.get(f"/?Action={action}&Version=2023-11-01")
            code = r.json()["ResponseMetadata"].get("Error", {}).get("Code", "")
            assert code != "InvalidActionOrVersion", action


def test_a_source_needs_nothing_but_its_module() -> None:
    """What a new source costs: the module and its @register; the rest reads the registry."""
    cls = register(
        _source(
            name="zz_probe", specs=(MetricSpec("volcengine_rtc_zz_probe", "probe", ("app_id",)),)
        )
    )
    try:
        from exporter.collectors.base import _REGISTRY  # noqa: PLC2701

        assert cls in registered()
        assert any(c.name == "zz_probe" for c in registered())
        src = cls(None, SourceSettings(), None)  # type: ignore[arg-type]
        assert src.calls(AppTarget("a")) == {"ListTest": 1}
    finally:
        _REGISTRY.pop("zz_probe")
