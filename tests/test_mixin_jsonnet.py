"""The Jsonnet mixin (mixin/) renders exactly what the Python generator renders, with a real
Jsonnet (the C++ implementation's bindings), for the defaults and for other configurations;
it is vendored and configured the way kube-prometheus users do; and it is current."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.mixin.config import MixinConfig
from exporter.mixin.jsonnet.align import TEXT_TRANSFORMS, align
from exporter.mixin.jsonnet.infer import InferenceError, Template, render_parts, substitute
from exporter.mixin.jsonnet.knobs import Knob, knobs
from exporter.mixin.jsonnet.pyformat import PYFORMAT
from tests.conftest import ROOT, need_binary

_jsonnet = pytest.importorskip("_jsonnet", reason="pip install jsonnet (the test extra)")

MIXIN = ROOT / "mixin"
STALE = "mixin/ is stale: run `make mixin` (volc-rtc-exporter mixin --jsonnet)"
# everything a thresholds file can say, and per-app overrides (one equal to the default, one
# changing only the traffic gate: the ranking rules have no copy for it, the alerts do)
NON_DEFAULT = {
    "selector": 'namespace="rtc"',
    "cluster_label": "cluster",
    "exporter_job": "rtc-exporter",
    "min_online_users": 300,
    "min_online_users_warning": 25,
    "gate_window": "2h",
    "hold_missing_data": "30m",
    "worst_segment_factor": 2,
    "thresholds": {"video_stall_max": 0.1, "join_room_success_min": 0.9,
                   "online_users_drop_ratio": 0.3, "blind_after_seconds": 1200,
                   "data_age_max_seconds": 450},
    "severe": {"video_stall_max": 0.25},
    "for": {"quality": "15m", "severe": "3m", "exporter_down": "2m"},
    "severities": {"audio_stall_high": "warning", "data_stale": "critical",
                   "first_frame_failures_high": "critical"},
    "rule_interval": "1m",
    "grafana_url": "https://grafana.example.com",
    "docs_url": "https://docs.example.com/rtc",
    "dashboard_refresh": "5m",
    "overrides": [
        {"app_id": "661e0000000000000543cf", "thresholds": {"video_stall_max": 0.15},
         "severe": {"video_stall_max": 0.3}, "min_online_users": 500},
        {"app_id": "app-2", "thresholds": {"network_delay_within_threshold_min": 0.7}},
        {"app_id": "app-3", "thresholds": {"audio_stall_max": 0.05}},
        {"app_id": "app-4", "min_online_users": 50},
    ],
}  # fmt: skip


def jsonnet(snippet: str, jpath: list[Path] | None = None) -> Any:
    return json.loads(
        _jsonnet.evaluate_snippet("test.jsonnet", snippet, jpathdir=[str(p) for p in jpath or []])
    )


def rendered_by_jsonnet(config: dict[str, Any]) -> dict[str, Any]:
    """mixin.libsonnet with ``_config`` replaced, in the Python generator's shape."""
    out = jsonnet(
        f"local m = (import '{MIXIN}/mixin.libsonnet') + {{ _config+:: {json.dumps(config)} }};\n"
        "{ groups: m.prometheusRules.groups + m.prometheusAlerts.groups,"
        "  dashboards: m.grafanaDashboards }"
    )
    dashboards = {name.removesuffix(".json"): d for name, d in out["dashboards"].items()}
    return {"rules": {"groups": out["groups"]}, "dashboards": dashboards}


def first_difference(want: Any, got: Any, path: str = "") -> str:
    if isinstance(want, dict) and isinstance(got, dict):
        if set(want) != set(got):
            return f"{path}: keys {sorted(set(want) ^ set(got))}"
        return next(
            (d for k in want if (d := first_difference(want[k], got[k], f"{path}.{k}"))), ""
        )
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{path}: {len(want)} items, Jsonnet {len(got)}"
        return next((d for i, (a, b) in enumerate(zip(want, got, strict=True)) if (d := first_difference(a, b, f"{path}[{i}]"))), "")  # fmt: skip
    return "" if want == got else f"{path}: {want!r} != Jsonnet {got!r}"


@pytest.mark.parametrize("config", [{}, NON_DEFAULT], ids=["defaults", "non-default"])
def test_jsonnet_renders_what_the_python_generator_renders(config: dict[str, Any]) -> None:
    cfg = MixinConfig.model_validate(config)
    want = render_parts(cfg)
    got = rendered_by_jsonnet(cfg.model_dump(by_alias=True, mode="json"))
    assert want == got, f"{STALE}\nfirst difference: {first_difference(want, got)}"


def test_config_libsonnet_holds_every_knob_with_its_default() -> None:
    config = jsonnet(f"import '{MIXIN}/config.libsonnet'")
    assert config == MixinConfig().model_dump(by_alias=True, mode="json"), STALE
    paths = {k.path for k in knobs()}
    assert ("thresholds", "video_stall_max") in paths and ("for", "quality") in paths


def test_vendored_with_jsonnet_bundler_layout_and_configured_like_kube_prometheus(
    tmp_path: Path,
) -> None:
    """`jb install github.com/volc-rtc-exporter/volc-rtc-exporter/mixin` puts mixin/ under
    vendor/; a user overrides a few knobs with `+:` and gets valid rule files."""
    vendor = tmp_path / "vendor"
    shutil.copytree(MIXIN, vendor / "github.com/volc-rtc-exporter/volc-rtc-exporter/mixin")
    (tmp_path / "main.jsonnet").write_text(
        "local volcrtc = (import 'github.com/volc-rtc-exporter/volc-rtc-exporter/mixin/"
        "mixin.libsonnet') + {\n"
        "  _config+:: { selector: 'namespace=\"rtc\"', thresholds+: { video_stall_max: 0.1 } },\n"
        "};\n"
        "{ rules: volcrtc.prometheusRules, alerts: volcrtc.prometheusAlerts,\n"
        "  dashboards: std.objectFields(volcrtc.grafanaDashboards) }\n"
    )
    out = json.loads(_jsonnet.evaluate_file(str(tmp_path / "main.jsonnet"), jpathdir=[str(vendor)]))
    cfg = MixinConfig.model_validate({"selector": 'namespace="rtc"',
                                      "thresholds": {"video_stall_max": 0.1}})  # fmt: skip
    assert out["rules"]["groups"] + out["alerts"]["groups"] == render_parts(cfg)["rules"]["groups"]
    assert out["dashboards"] == sorted(f"{uid}.json" for uid in render_parts(cfg)["dashboards"])
    stall = next(
        r for r in out["alerts"]["groups"][0]["rules"] if r["alert"] == "RtcVideoStallHigh"
    )
    assert "> 0.1" in stall["expr"] and 'namespace="rtc"' in stall["expr"]
    promtool = need_binary("promtool")
    rules = tmp_path / "rules.yml"
    rules.write_text(yaml.safe_dump({"groups": out["rules"]["groups"] + out["alerts"]["groups"]}))
    res = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("script", ["alerts.jsonnet", "rules.jsonnet", "dashboards.jsonnet"])
def test_entry_points_render(script: str, tmp_path: Path) -> None:
    """`jsonnet alerts.jsonnet > alerts.yml` is a rule file promtool accepts."""
    data = json.loads(_jsonnet.evaluate_file(str(MIXIN / script)))
    if script == "dashboards.jsonnet":
        assert set(data) == {f"{uid}.json" for uid in render_parts(MixinConfig())["dashboards"]}
        return
    path = tmp_path / "rules.yml"
    path.write_text(json.dumps(data))
    res = subprocess.run(
        [need_binary("promtool"), "check", "rules", str(path)], capture_output=True, text=True
    )
    assert res.returncode == 0 and "SUCCESS" in res.stdout, res.stdout + res.stderr


def test_jsonnetfile_declares_a_package() -> None:
    data = json.loads((MIXIN / "jsonnetfile.json").read_text())
    assert data["version"] == 1 and data["dependencies"] == []


# -- the number formatting the templates rely on -----------------------------------------------


def test_pyformat_prints_what_python_prints() -> None:
    rng = random.Random(3)
    values = [0.08, 0.95, 200, 1e-5, 123456.0, 1234567.0, 999999.5, 2.675, 0.125, 0.005, 12349.85]
    values += [round(rng.uniform(0, 1), rng.randint(1, 7)) for _ in range(15)]
    values += [rng.randint(0, 10**6) / rng.choice([60, 7, 3, 100]) for _ in range(15)]
    values += [k + 0.5 for k in range(6)] + [k / 1000 + 0.0005 for k in range(0, 1000, 97)]
    got = jsonnet(
        f"local f = {PYFORMAT};\n"
        f"[[f.g(x), f.percent0(x), f.g(x * 100), f.g(x / 60)] for x in {json.dumps(values)}]"
    )
    want = [[format(v, "g"), format(v, ".0%"), format(v * 100, "g"), format(v / 60, "g")]
            for v in values]  # fmt: skip
    assert [(v, w, g) for v, w, g in zip(values, want, got, strict=True) if w != g] == []
    assert jsonnet(f"local f = {PYFORMAT}; [f.capitalize('myCluster'), f.seconds('90s'), "
                   "f.seconds('250ms'), f.seconds('2h')]") == ["Mycluster", 90, 0.25, 7200]  # fmt: skip


# -- the inference refuses what it cannot express ----------------------------------------------


def test_a_difference_no_format_explains_is_refused() -> None:
    base, probe1, probe2 = "x > 0.08", "x > 0.08297", "x > 0.12345"  # probe2 is not 0.07698
    assert align("t", "number", [base, probe1, "x > 0.07698"], [0.08, 0.08297, 0.07698])
    assert align("t", "number", [base, probe1, probe2], [0.08, 0.08297, 0.07698]) is None
    assert "percent0" in TEXT_TRANSFORMS


def test_a_knob_that_changes_the_structure_is_refused() -> None:
    knob = Knob(("min_online_users",), "number", 200.0)

    def render(values: dict[tuple[str, ...], Any], parts: frozenset[str]) -> dict[str, Any]:
        n = int(values.get(knob.path, 200))
        return {"rules": {"items": list(range(n % 3))}}

    with pytest.raises(InferenceError, match="changes the structure"):
        substitute(render, {}, Template(render({}, frozenset())), [knob], [()])


@pytest.mark.slow
def test_committed_mixin_is_what_the_generator_writes() -> None:
    """Byte for byte (the default run checks what it renders, above)."""
    from exporter.mixin.jsonnet import render_jsonnet

    files = render_jsonnet()
    stale = [rel for rel, text in files.items() if (ROOT / rel).read_text() != text]
    extra = {str(p.relative_to(ROOT)) for p in MIXIN.rglob("*") if p.is_file()} - set(files)
    assert not stale and not extra, f"{STALE}: {stale or sorted(extra)}"


def test_documented_jsonnet_examples_evaluate(tmp_path: Path) -> None:
    """The README's example as written, and docs/alerting.md's configuration, against mixin/
    vendored where jsonnet-bundler puts it."""
    vendor = tmp_path / "vendor"
    shutil.copytree(MIXIN, vendor / "github.com/volc-rtc-exporter/volc-rtc-exporter/mixin")
    readme = (ROOT / "README.md").read_text()
    block = readme.split("**Jsonnet (kube-prometheus", 1)[1].split("```jsonnet\n", 1)[1]
    out = jsonnet(block.split("```", 1)[0], [vendor])
    cfg = MixinConfig.model_validate(
        {"selector": 'namespace="rtc"', "thresholds": {"video_stall_max": 0.1}}
    )
    python = render_parts(cfg)
    assert out["volc-rtc-rules.json"]["groups"] == python["rules"]["groups"]
    assert out["dashboards/rtc-overview.json"] == python["dashboards"]["rtc-overview"]
    alerting = (ROOT / "docs" / "alerting.md").read_text().split("## Jsonnet mixin", 1)[1]
    config = alerting.split("```jsonnet\n", 1)[1].split("```", 1)[0]
    alerts = jsonnet(config + "volcrtc.prometheusAlerts", [vendor])
    names = [r["alert"] for r in alerts["groups"][0]["rules"]]
    assert names.count("RtcVideoStallHigh") == 2  # the default rule and the overriding app's
