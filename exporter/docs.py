"""Generate docs/metrics.md from the code's tables: ``python -m exporter.docs``."""

from __future__ import annotations

import sys

from exporter.callbacks.families import SPECS as CALLBACKS
from exporter.collectors import SOURCES
from exporter.health import HEALTH

__all__ = ["render_metrics_md"]


def render_metrics_md() -> str:
    lines = [
        "# Metric reference",
        "",
        "Generated from the exporter's tables by `python -m exporter.docs > docs/metrics.md`;",
        "a test fails when this file is out of date. Vendor values are gauges in base units",
        "(ratios 0..1, seconds, bytes per second), cached and refreshed on each source's",
        "interval; a missing data point gives no sample, never 0. `tests/metric_names.txt`",
        "lists every family name: the public interface that dashboards and alerts rely on.",
        "",
    ]
    for cls in SOURCES:
        actions = ", ".join(f"`{a}`" for a in cls.actions)
        lines += ["", f"## {cls.title} ({actions})", "", f"source label: `{cls.name}`", ""]
        lines += ["| metric | labels | description |", "|---|---|---|"]
        for spec in cls.specs:
            labels = ", ".join(f"`{label}`" for label in spec.labels)
            lines.append(f"| `{spec.name}` | {labels} | {spec.help} |")
    lines += [
        "",
        "## Event callbacks (pushed by the RTC server; opt-in receiver, `docs/callbacks.md`)",
        "",
        "Present when `callbacks.listen_address` is set. Counters and histograms count what",
        "the receiver was sent; events can be lost, so sum them across replicas and read them",
        "as rates. Never `room_id`, `user_id` or `task_id` labels.",
        "",
        "| metric | type | labels | description |",
        "|---|---|---|---|",
    ]
    for family in CALLBACKS.values():
        labels = ", ".join(f"`{label}`" for label in family.labels) or "—"
        lines.append(f"| `{family.name}` | {family.type} | {labels} | {family.help} |")
    lines += ["", "## Exporter health", "", "| metric | type | labels | description |"]
    lines += ["|---|---|---|---|"]
    for health in HEALTH.values():
        labels = ", ".join(health.labels) or "—"
        lines.append(f"| `{health.name}` | {health.type} | {labels} | {health.help} |")
    names = ", ".join(f"`{cls.name}`" for cls in SOURCES)
    lines += [
        "",
        f'`source` is one of {names}; account-wide sources have `app_id=""`.',
        "The standard `process_*` and `python_*` families of prometheus_client are exported too.",
        "",
    ]
    return "\n".join(lines)


def render_scenarios_md() -> str:
    """docs/scenarios.md; the generator lives with the simulator's tables."""
    from exporter.simulator.reference import render_scenarios_md as render

    return render()


if __name__ == "__main__":
    if sys.argv[1:] == ["scenarios"]:
        sys.stdout.write(render_scenarios_md())
    else:
        sys.stdout.write(render_metrics_md())
