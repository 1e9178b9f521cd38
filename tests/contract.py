"""The metric names of the public interface, kept in the repository (tests/metric_names.txt)."""

from __future__ import annotations

from tests.conftest import ROOT

NAMES = ROOT / "tests" / "metric_names.txt"


def contract_families() -> set[str]:
    lines = NAMES.read_text(encoding="utf-8").splitlines()
    return {ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}
