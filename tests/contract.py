"""The metric names of ../shared/docs/metrics-contract.md, read from the document itself."""

from __future__ import annotations

import re

from tests.conftest import ROOT

CONTRACT = ROOT.parent / "shared" / "docs" / "metrics-contract.md"


def contract_families() -> set[str]:
    text = CONTRACT.read_text(encoding="utf-8")
    names = set(re.findall(r"`(volcengine_rtc_[a-z_]+)`", text))
    # strip prefixes that are mentioned as namespaces, not families
    return {n for n in names if not n.endswith("_")}
