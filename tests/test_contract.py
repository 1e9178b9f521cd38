"""Drift check: the code's families are exactly the contract's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter.collectors import all_specs
from exporter.metrics import HEALTH_SPECS
from exporter.telemetry import TELEMETRY, Telemetry
from tests.contract import CONTRACT, contract_families


def code_families() -> set[str]:
    names = {spec.name for _, spec in all_specs()} | set(HEALTH_SPECS.values())
    registry = CollectorRegistry()
    Telemetry(registry)
    for metric in registry.collect():
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
    assert names >= {spec.name for spec in TELEMETRY.values()}
    return names


def test_contract_document_is_present() -> None:
    assert CONTRACT.exists(), f"{CONTRACT} missing: CI lays ../shared beside the checkout"


def test_every_contract_family_is_implemented_and_nothing_else() -> None:
    contract = contract_families()
    code = code_families()
    assert len(contract) >= 47
    assert contract - code == set(), "in the contract, not in the code"
    assert code - contract == set(), "in the code, not in the contract"


def test_metrics_reference_is_up_to_date() -> None:
    from exporter.docs import render_metrics_md
    from tests.conftest import ROOT

    path = ROOT / "docs" / "metrics.md"
    assert path.read_text(encoding="utf-8") == render_metrics_md(), (
        "docs/metrics.md is out of date: python -m exporter.docs > docs/metrics.md"
    )
