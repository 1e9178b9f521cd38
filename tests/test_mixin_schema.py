"""Every generated dashboard against Grafana's own schema: the TypeScript types that Grafana
generates from its CUE kinds and publishes as ``@grafana/schema`` (pinned in
``grafana/schema-check/package.json`` to the Grafana version of grafana-foundation-sdk). The
dashboard JSON, and each panel's options and custom field config against its panel plugin's
types, are type-checked by ``tsc`` as object literals, so an unknown key or a wrong type fails.

``make install-test`` installs the checker (``npm ci`` in ``grafana/schema-check``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import build_dashboards
from tests.conftest import ROOT

CHECK = ROOT / "grafana" / "schema-check"
SCHEMA = CHECK / "node_modules" / "@grafana" / "schema" / "dist" / "esm" / "raw"
TSC = CHECK / "node_modules" / ".bin" / "tsc"

# panel type -> (types module, options type, custom field config type or "")
PLUGINS = {
    "timeseries": ("timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen", "Options", "FieldConfig"),
    "stat": ("stat/panelcfg/x/StatPanelCfg_types.gen", "Options", ""),
    "bargauge": ("bargauge/panelcfg/x/BarGaugePanelCfg_types.gen", "Options", ""),
    "table": ("table/panelcfg/x/TablePanelCfg_types.gen", "Options", "FieldConfig"),
    "text": ("text/panelcfg/x/TextPanelCfg_types.gen", "Options", ""),
}


def checker() -> Path:
    if not TSC.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("grafana/schema-check is not installed: make install-test")
        pytest.skip("grafana/schema-check not installed (make install-test; needs npm)")
    return TSC


# Grafana stores enum values as their strings; TypeScript's string enums are nominal, so the
# literal types are compared with the enums' string values instead.
LOOSE = """
type Loose<T> = T extends string ? `${T}` : T extends number ? number : T extends boolean
  ? boolean : T extends null | undefined ? T : T extends (infer U)[] ? Loose<U>[]
  : T extends object ? { [K in keyof T]: Loose<T[K]> } : T;
"""


def typescript(dash: dict[str, Any]) -> str:
    dash = json.loads(json.dumps(dash))
    # a Prometheus annotation keeps its query in `expr`, a field of the data source's own
    # annotation model that Grafana's generic type does not list: checked on its own below
    annotations = dash.pop("annotations")["list"]
    lines = [
        f'import type {{ Dashboard, AnnotationQuery }} from "{SCHEMA}/dashboard/x/dashboard_types.gen";'
    ]
    for name, (module, _, _) in PLUGINS.items():
        lines.append(f'import type * as {name} from "{SCHEMA}/composable/{module}";')
    lines.append(LOOSE)
    lines.append(f"export const dashboard: Loose<Dashboard> = {json.dumps(dash, indent=1)};")
    lines.append(
        "export const annotations: Loose<AnnotationQuery & { expr: string }>[] = "
        f"{json.dumps(annotations)};"
    )
    for i, panel in enumerate(dash["panels"]):
        if panel["type"] == "row":
            continue
        _, options, custom = PLUGINS[panel["type"]]
        # Partial: Grafana fills in the plugin's defaults for what a dashboard leaves out
        kind, value = panel["type"], json.dumps(panel.get("options", {}))
        lines.append(f"export const options{i}: Partial<Loose<{kind}.{options}>> = {value};")
        if custom:
            value = json.dumps(panel["fieldConfig"]["defaults"].get("custom", {}))
            lines.append(f"export const custom{i}: Partial<Loose<{kind}.{custom}>> = {value};")
    return "\n".join(lines) + "\n"


def tsc(tmp: Path, sources: dict[str, str]) -> subprocess.CompletedProcess[str]:
    for name, text in sources.items():
        (tmp / name).write_text(text)
    args = [str(checker()), "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022"]
    args += ["--module", "es2022", "--moduleResolution", "bundler", *sources]
    return subprocess.run(args, capture_output=True, text=True, cwd=tmp)


def test_dashboards_match_grafanas_schema(tmp_path: Path) -> None:
    dashes = build_dashboards(MixinConfig())
    used = {p["type"] for d in dashes.values() for p in d["panels"]} - {"row"}
    assert used <= set(PLUGINS)
    res = tsc(tmp_path, {f"{uid}.ts": typescript(d) for uid, d in dashes.items()})
    assert res.returncode == 0, res.stdout[-5000:] + res.stderr[-2000:]


def test_the_check_catches_an_unknown_key_and_a_wrong_type(tmp_path: Path) -> None:
    dash = build_dashboards(MixinConfig())["rtc-overview"]
    bad = json.loads(json.dumps(dash))
    bad["refreshInterval"] = "1m"  # not a dashboard field
    bad["panels"][1]["options"] = {"graphMode": 3}  # an enum string
    res = tsc(tmp_path, {"bad.ts": typescript(bad)})
    assert res.returncode != 0
    assert "'\"refreshInterval\"' does not exist in type" in res.stdout
    assert '\'number\' is not assignable to type \'"area" | "line" | "none"' in res.stdout
