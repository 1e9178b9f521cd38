"""Drift check: the code's families are exactly the documented names, in both directions."""

from __future__ import annotations

from exporter.callbacks.families import SPECS as CALLBACKS
from exporter.collectors import all_specs
from exporter.health import HEALTH
from exporter.runtime import Runtime
from tests.conftest import FrozenClock, fixture_transport, golden_settings
from tests.contract import contract_families


def code_families() -> set[str]:
    vendor = {spec.name for _, spec in all_specs()}
    return vendor | {spec.name for spec in HEALTH.values()} | {s.name for s in CALLBACKS.values()}


def test_every_documented_family_is_implemented_and_nothing_else() -> None:
    contract = contract_families()
    code = code_families()
    assert contract - code == set(), "in tests/metric_names.txt, not in the code"
    assert code - contract == set(), "in the code, not in tests/metric_names.txt"


def test_every_family_is_exposed_from_the_first_scrape() -> None:
    transport, _ = fixture_transport()
    receiver = {"listen_address": "127.0.0.1:0", "secret": "cb-secret"}  # event callbacks on
    rt = Runtime.build(
        golden_settings(callbacks=receiver), transport=transport, clock=FrozenClock(0)
    )
    exposed = set()
    for metric in rt.registry.collect():
        exposed.add(metric.name + ("_total" if metric.type == "counter" else ""))
    assert contract_families() <= exposed
    assert {"process_resident_memory_bytes", "python_info"} <= {
        s.name for m in rt.registry.collect() for s in m.samples
    }


def test_metrics_reference_is_up_to_date() -> None:
    from exporter.docs import render_metrics_md
    from tests.conftest import ROOT

    path = ROOT / "docs" / "metrics.md"
    assert path.read_text(encoding="utf-8") == render_metrics_md(), (
        "docs/metrics.md is out of date: python -m exporter.docs > docs/metrics.md"
    )


def test_nothing_reads_outside_the_repository() -> None:
    """A user clones the repository alone: no code, test or doc may point beside it."""
    from tests.conftest import ROOT

    needles = ("../" + "shared", "/work/" + "shared")
    files = [
        *ROOT.glob("exporter/**/*.py"),
        *ROOT.glob("tests/**/*.py"),
        *ROOT.glob("benchmarks/*.py"),
        *ROOT.glob("docs/*.md"),
        ROOT / "Makefile",
        ROOT / "README.md",
        ROOT / ".ci" / "run",
    ]
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if any(n in p.read_text(encoding="utf-8") for n in needles)
    ]
    assert offenders == []
