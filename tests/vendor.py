"""The vendor-shaped fixtures of ``tests/fixtures/vendor`` (hand-written; see its README)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VENDOR = Path(__file__).resolve().parent / "fixtures" / "vendor"


def vendor_doc(name: str) -> dict[str, Any]:
    """The whole answer (envelope and ``Result``) of ``tests/fixtures/vendor/<name>.json``."""
    doc = json.loads((VENDOR / f"{name}.json").read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def vendor_result(name: str) -> dict[str, Any]:
    """Just the ``Result`` of a vendor-shaped answer."""
    return dict(vendor_doc(name)["Result"])
