"""Generate docs/metrics.md from the code's tables: ``python -m exporter.docs``."""

from __future__ import annotations

import sys

from exporter.collectors import all_specs
from exporter.metrics import HEALTH_SPECS
from exporter.telemetry import TELEMETRY

__all__ = ["render_metrics_md"]

_SOURCE_TITLES = {
    "realtime_operation": "Realtime operations (`ListRealTimeOperationData`)",
    "realtime_quality": "Live quality (`ListRealTimeQuality`)",
    "quality_report": "Quality report (`ListQuality`)",
    "operation_report": "Operations report (`ListOperationData`)",
    "call_detail": "Per-user client metrics (`ListCallDetail`, watch list only)",
    "apps": "Apps (`ListApps`)",
}

_HEALTH = [
    (HEALTH_SPECS["build_info"], "gauge", "version, python_version", "Exporter build (value 1)."),
    (HEALTH_SPECS["up"], "gauge", "source, app_id",
     "1 when the last refresh succeeded and its data is within max_staleness."),
    (HEALTH_SPECS["last_success"], "gauge", "source, app_id",
     "Unix time of the last successful refresh."),
    (HEALTH_SPECS["data_ts"], "gauge", "source, app_id",
     "Start of the newest vendor bucket exported: the data's own age."),
    (HEALTH_SPECS["duration"], "gauge", "source", "Duration of the last refresh cycle."),
]  # fmt: skip


def render_metrics_md() -> str:
    lines = [
        "# Metric reference",
        "",
        "Generated from the exporter's tables by `python -m exporter.docs > docs/metrics.md`;",
        "a test fails when this file is out of date. Names, units and labels follow",
        "`../shared/docs/metrics-contract.md`. Vendor values are cached and refreshed on each",
        "source's interval; a missing data point gives no sample, never 0.",
        "",
    ]
    current = None
    for source, spec in all_specs():
        if source != current:
            current = source
            lines += ["", f"## {_SOURCE_TITLES[source]}", "", f"source label: `{source}`", ""]
            lines += ["| metric | labels | description |", "|---|---|---|"]
        labels = ", ".join(f"`{label}`" for label in spec.labels)
        lines.append(f"| `{spec.name}` | {labels} | {spec.help} |")
    lines += ["", "## Exporter health", "", "| metric | type | labels | description |"]
    lines += ["|---|---|---|---|"]
    for name, kind, labels, text in _HEALTH:
        lines.append(f"| `{name}` | {kind} | {labels} | {text} |")
    for tspec in TELEMETRY.values():
        labels = ", ".join(tspec.labels)
        lines.append(f"| `{tspec.name}` | {tspec.type} | {labels} | {tspec.help} |")
    lines += [
        "",
        "`source` is one of `realtime_operation`, `realtime_quality`, `quality_report`,",
        '`operation_report`, `call_detail`, `apps` (the `apps` source has `app_id=""`).',
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
