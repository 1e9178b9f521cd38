"""``volc-rtc-exporter mixin``: (re)generate dashboards, rules and routing."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    print("mixin generation is not available in this build", file=sys.stderr)
    return 2
