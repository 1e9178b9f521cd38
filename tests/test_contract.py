"""Drift check: the code's families are exactly the contract's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from exporter.collectors import all_specs
from exporter.metrics import HEALTH_SPECS
from exporter.telemetry import Telemetry
from tests.contract import CONTRACT, contract_families


def code_families() -> set[str]:
    names = {spec.name for _, spec in all_specs()} | set(HEALTH_SPECS.values())
    registry = CollectorRegistry()
    Telemetry(registry)
    for metric in registry.collect():
        names.add(metric.name + ("_total" if metric.type == "counter" else ""))
    return names


def test_contract_document_is_present() -> None:
    assert CONTRACT.exists(), f"{CONTRACT} missing: CI lays ../shared beside the checkout"


def test_every_contract_family_is_implemented_and_nothing_else() -> None:
    contract = contract_families()
    code = code_families()
    assert len(contract) >= 47
    assert contract - code == set(), "in the contract, not in the code"
    assert code - contract == set(), "in the code, not in the contract"
