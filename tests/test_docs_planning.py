"""docs/scaling.md's traffic tiers and docs/diagnosis.md's triggers: the settings shown are the
defaults and the worked figures are the planner's."""

from __future__ import annotations

import re

import httpx
import pytest
import yaml

from exporter.planner import make_plan
from exporter.runtime import Runtime
from exporter.settings import load_settings
from tests.conftest import ROOT, FrozenClock, make_settings

CREDS = {"credentials": {"access_key_id": "AK", "secret_access_key": "SK"}}


def example(doc: str, name: str) -> str:
    text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
    m = re.search(rf"<!-- example: {name} -->\s*```yaml\n(.*?)```", text, re.S)
    assert m, f"example {name!r} not found in docs/{doc}"
    return m.group(1)


@pytest.mark.parametrize(("doc", "name"), [("scaling.md", "planning"),
                                           ("diagnosis.md", "diagnosis-triggers")])  # fmt: skip
def test_the_settings_shown_are_the_defaults(doc: str, name: str) -> None:
    shown = yaml.safe_load(example(doc, name))
    assert load_settings(None, **CREDS, **shown).planning == load_settings(None, **CREDS).planning


def test_the_worked_figures_are_the_plan() -> None:
    apps = [{"app_id": f"app{i:03d}"} for i in range(500)]
    transport = httpx.MockTransport(lambda r: httpx.Response(500))
    rt = Runtime.build(make_settings(apps=apps, rate_limit={"headroom": 0.9, "requests_per_second": None}), transport=transport,
                       clock=FrozenClock(0))  # fmt: skip
    busy = frozenset(a["app_id"] for a in apps[:20])
    plan = make_plan(rt.sources, rt.targets.current(), rt.engine.limiters, busy).sources
    flat = make_plan(rt.sources, rt.targets.current(), rt.engine.limiters, None).sources
    q, b = plan["realtime_quality"], plan["realtime_breakdown"]
    text = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    assert (q.effective, q.tiers["tail"].interval, b.effective) == (60, 960, 300)
    assert (
        round(flat["realtime_quality"].effective),
        round(flat["realtime_breakdown"].effective),
    ) == (583, 5833)
    assert "every **60 s** (was 583 s) and each tail app every 960 s" in text
    assert "every 300 s (was 5,833 s)" in text
    assert f"`{q.tier_summary()}`" in text
    rt.stop()
