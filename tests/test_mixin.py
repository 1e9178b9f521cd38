"""Generated dashboards, rules and routing: committed and current, layout pictures redrawn and
compared, conventions of rules and dashboards, drift against the exporter's families, and the
mixin's own structure."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models import units
from PIL import Image, ImageChops

from exporter.callbacks.families import SPECS as CALLBACKS
from exporter.collectors import all_specs
from exporter.health import HEALTH
from exporter.mixin.cli import main as mixin_main
from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import DASHBOARDS, build_dashboards
from exporter.mixin.layout import layout_pictures
from exporter.mixin.quality import quality_views
from exporter.mixin.render import RULES_PATH, render_all
from exporter.mixin.rules import QUALITY_ALERTS, alert_rules, build_rules, recording_names
from exporter.mixin.runbooks import ALERTS
from tests.conftest import ROOT, need_binary

RULES = ROOT / RULES_PATH
MIXIN = ROOT / "exporter" / "mixin"

# families of the metrics contract that no source serves yet (the diagnosis sources)
PENDING = {
    *(f"volcengine_rtc_breakdown_{v.metric}" for v in quality_views()),
    *(f"volcengine_rtc_report_breakdown_{v.metric}" for v in quality_views()),
    "volcengine_rtc_report_breakdown_users",
    "volcengine_rtc_report_breakdown_users_share_ratio",
    "volcengine_rtc_room_active_users",
    "volcengine_rtc_room_online_users",
    "volcengine_rtc_client_info",
} - {spec.name for _, spec in all_specs()}


def served_families() -> set[str]:
    callbacks = {spec.name for spec in CALLBACKS.values()}  # the event callback receiver
    return {spec.name for _, spec in all_specs()} | {h.name for h in HEALTH.values()} | callbacks


# -- generated files --------------------------------------------------------------------------


def test_generated_files_are_committed_and_current() -> None:
    for rel, content in render_all(MixinConfig()).items():
        path = ROOT / rel
        assert path.exists(), f"{rel} missing: run make mixin"
        assert path.read_text(encoding="utf-8") == content, f"{rel} is stale: run make mixin"


def test_layout_pictures_are_redrawn_identically() -> None:
    pictures = layout_pictures(MixinConfig())
    assert set(pictures) == set(DASHBOARDS)
    for uid, drawn in pictures.items():
        with Image.open(ROOT / "grafana" / "dashboards" / f"{uid}.png") as committed:
            assert committed.size == drawn.size, f"{uid}.png is stale: run make mixin"
            diff = ImageChops.difference(committed.convert("RGB"), drawn.convert("RGB"))
            assert diff.getbbox() is None, f"{uid}.png is stale: run make mixin"


def test_cli_regenerates_with_user_thresholds(tmp_path: Path) -> None:
    cfg = tmp_path / "thresholds.yml"
    cfg.write_text(
        'selector: job="rtc"\nmin_online_users: 500\nthresholds: {video_stall_max: 0.2}\n'
        "for: {quality: 7m}\ncluster_label: cluster\n"
    )
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path)]) == 0
    rules = yaml.safe_load((tmp_path / RULES_PATH).read_text())
    video = next(
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "RtcVideoStallHigh"
    )
    assert "> 0.2" in video["expr"] and ">= 500" in video["expr"] and video["for"] == "7m"
    assert 'volcengine_rtc_stall_ratio{job="rtc", media="video", threshold="0.5"}' in video["expr"]
    assert "by (cluster, job, instance, app_id, product_type, media)" in video["expr"]
    dash = json.loads((tmp_path / "grafana/dashboards/rtc-overview.json").read_text())
    assert [v["name"] for v in dash["templating"]["list"]][:4] == [
        "datasource",
        "cluster",
        "job",
        "instance",
    ]
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert exprs and all('cluster=~"$cluster"' in e for e in exprs)
    assert all('job="rtc"' in e for e in exprs if "volcengine_rtc_" in e and ":" not in e)
    watch = json.loads((tmp_path / "grafana/dashboards/rtc-client-watch.json").read_text())
    assert all(
        'job="rtc"' in v["query"] for v in watch["templating"]["list"] if v["type"] == "query"
    )
    am = yaml.safe_load((tmp_path / "deploy/alertmanager/alertmanager.yml").read_text())
    assert am["route"]["routes"][0]["group_by"] == ["cluster", "app_id"]
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path), "--check"]) == 0
    assert mixin_main(["--out", str(tmp_path), "--check"]) == 1  # defaults differ from the files
    bad = tmp_path / "bad.yml"
    bad.write_text("thresholds: {video_stall_max: 5}\n")
    assert mixin_main(["--config", str(bad), "--out", str(tmp_path)]) == 2
    bad.write_text("overrides: [{app_id: a, thresholds: {no_such: 1}}]\n")
    assert mixin_main(["--config", str(bad), "--out", str(tmp_path)]) == 2
    bad.write_text("thresholds: {blind_after_seconds: 0.4}\n")  # would render a [0s] range
    assert mixin_main(["--config", str(bad), "--out", str(tmp_path)]) == 2


def test_check_warns_about_placeholder_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mixin_main(["--out", str(ROOT), "--check"]) == 0  # the shipped files: current ...
    err = capsys.readouterr().err
    # ... but generated with the placeholders: each link setting left is named
    assert "warning: grafana_url is the placeholder http://localhost:3000" in err
    assert "warning: docs_url is the placeholder" in err and "runbook_url" in err
    assert "pager_webhook_url is the example" in err
    cfg = tmp_path / "links.yml"
    cfg.write_text(
        "grafana_url: https://grafana.corp.internal/\n"
        "docs_url: https://wiki.corp.internal/rtc\n"
        "receivers: {pager_webhook_url: http://pd-bridge:9095/, chat_webhook_url: http://c:1/}\n"
    )
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path)]) == 0
    assert "warning" not in capsys.readouterr().err
    rules = (tmp_path / RULES_PATH).read_text()
    assert "localhost:3000" not in rules and "github.com" not in rules
    assert "dashboard_url: https://grafana.corp.internal/d/rtc-diagnosis/" in rules
    assert "runbook_url: https://wiki.corp.internal/rtc/runbooks.md#rtcvideostallsevere" in rules
    bad = tmp_path / "bad.yml"
    bad.write_text("grafana_url: grafana:3000\n")
    assert mixin_main(["--config", str(bad), "--out", str(tmp_path)]) == 2


def test_promtool_check_rules() -> None:
    promtool = need_binary("promtool")
    res = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    count = sum(len(g["rules"]) for g in build_rules(MixinConfig())["groups"])
    assert f"SUCCESS: {count} rules found" in res.stdout


# -- rule conventions -------------------------------------------------------------------------


def test_rule_conventions() -> None:
    cfg = MixinConfig()
    alerts = alert_rules(cfg)
    assert {a["alert"] for a in alerts} == {a.name for a in ALERTS}
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    for a in alerts:
        assert a["alert"].startswith("Rtc")
        assert a["labels"]["severity"] in ("critical", "warning")
        assert a["labels"]["category"] in ("quality", "health", "recording")
        assert {"summary", "description", "runbook_url", "dashboard_url"} <= set(a["annotations"])
        assert a["annotations"]["runbook_url"].endswith("#" + a["alert"].lower())
        assert f"## {a['alert']}\n" in runbooks
    for qa in QUALITY_ALERTS:
        rule = next(a for a in alerts if a["alert"] == qa.name)
        expr = rule["expr"]
        # web clients page for their app; the threshold label is selected, never summed across
        assert "by (job, instance, app_id, product_type" in expr
        assert "app_id:volcengine_rtc_online_users:max_over_time1h >=" in expr, "traffic gate"
        assert f'ALERTS{{alertname="{qa.name}", alertstate="firing"}}' in expr, "held"
        assert rule["for"] == ("10m" if qa.tier == "sustained" else "2m")
        assert {"app_name", "dashboard_url"} <= set(rule["annotations"])
        assert "var-app_id={{ $labels.app_id }}" in rule["annotations"]["dashboard_url"]
        assert "Worst segment" in rule["annotations"]["description"]
        if qa.tier == "severe":
            assert rule["labels"]["severity"] == "critical"
    stalls = {a["alert"]: a["expr"] for a in alerts if "Stall" in a["alert"]}
    assert 'threshold="0.08"' in stalls["RtcAudioStallHigh"]
    assert all('threshold="0.5"' in e for n, e in stalls.items() if "Video" in n)


def test_quality_gates_follow_severity() -> None:
    for rule in alert_rules(MixinConfig()):
        if rule["labels"].get("source") != "realtime_quality" or "tier" not in rule["labels"]:
            continue
        gate = re.search(r">= (\d+)\)$", rule["expr"])
        assert gate, rule["alert"]
        expected = "200" if rule["labels"]["severity"] == "critical" else "50"
        assert gate.group(1) == expected, rule["alert"]


# -- dashboards -------------------------------------------------------------------------------


def panels(dash: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dash["panels"] if p["type"] not in ("row", "text")]


def test_dashboard_variables_and_links() -> None:
    for uid, dash in build_dashboards(MixinConfig()).items():
        names = [v["name"] for v in dash["templating"]["list"]]
        assert names[:3] == ["datasource", "job", "instance"], uid
        assert dash["annotations"]["list"][0]["expr"].startswith("ALERTS{")
        exprs = " ".join(t["expr"] for p in panels(dash) for t in p["targets"])
        if re.search(
            r"volcengine_rtc_(report_)?(breakdown_)?(join|stall|first_frame|network)", exprs
        ):
            assert "product_type" in names, f"{uid} shows quality without a product_type variable"
        for p in panels(dash):
            assert p["links"] and p["links"][0]["url"].endswith("metrics.md"), p["title"]
            for t in p["targets"]:
                assert 'job=~"$job"' in t["expr"] or ":" in t["expr"], (uid, p["title"])
    overview = build_dashboards(MixinConfig())["rtc-overview"]
    titles = {"Video stall rate", "Join success (5 s)", "Apps by distance from their thresholds"}
    quality = [p for p in panels(overview) if p["title"] in titles]
    assert len(quality) == 3 and all(
        "/d/rtc-diagnosis/" in p["fieldConfig"]["defaults"]["links"][0]["url"] for p in quality
    )
    app = next(v for v in overview["templating"]["list"] if v["name"] == "app_id")
    assert app["multi"] and "app_name" in app["regex"]


def test_units_are_grafana_unit_ids() -> None:
    known = {v for k, v in vars(units).items() if not k.startswith("_") and isinstance(v, str)}
    assert "fps" not in known and "percentunit" in known
    for uid, dash in build_dashboards(MixinConfig()).items():
        for p in panels(dash):
            unit = p["fieldConfig"]["defaults"]["unit"]
            custom = re.fullmatch(r"(suffix|prefix|si|count|currency):.+", unit)
            assert unit in known or custom, (uid, p["title"], unit)
            exprs = " ".join(t["expr"] for t in p["targets"])
            if "_ratio" in exprs:
                assert unit == "percentunit", p["title"]
            if "bytes_per_second" in exprs:
                assert unit == "bps" and exprs.startswith("8 * "), p["title"]


def test_alert_thresholds_are_drawn() -> None:
    cfg = MixinConfig()
    dashes = build_dashboards(cfg)
    by_title = {p["title"]: p for p in panels(dashes["rtc-overview"])}

    def steps(title: str) -> list[tuple[float | None, str]]:
        s = by_title[title]["fieldConfig"]["defaults"]["thresholds"]["steps"]
        return [(x["value"], x["color"]) for x in s]

    assert steps("Video stall rate") == [(None, "green"), (0.08, "orange"), (0.2, "red")]
    assert steps("Audio stall rate") == [(None, "green"), (0.05, "orange"), (0.15, "red")]
    assert steps("Join success (5 s)") == [(None, "red"), (0.85, "orange"), (0.95, "green")]
    assert (
        by_title["Video stall rate"]["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
        == "dashed"
    )


def test_every_family_appears_in_a_panel_and_exists() -> None:
    dashes = build_dashboards(MixinConfig())
    panel_text = " ".join(
        t["expr"] for d in dashes.values() for p in panels(d) for t in p["targets"]
    )
    vendor = {spec.name for _, spec in all_specs()}
    missing = {f for f in vendor | PENDING if not re.search(rf"{f}\b", panel_text)}
    assert missing == set()
    known = served_families() | PENDING
    texts = [r["expr"] for g in build_rules(MixinConfig())["groups"] for r in g["rules"]]
    texts += [panel_text] + [
        str(v.get("query", "")) for d in dashes.values() for v in d["templating"]["list"]
    ]
    records = recording_names(MixinConfig())
    for text in texts:
        for name in re.findall(r"(?<![:\w])(volcengine_rtc_[a-z_]+)", text):
            assert re.sub(r"_bucket$", "", name) in known, name
        for rec in re.findall(r"\b\w+:volcengine_rtc_\w+:\w+\b", text):
            assert rec in records, rec


def test_quality_panels_pair_live_and_report() -> None:
    dashes = build_dashboards(MixinConfig())
    live = {
        p["title"] for p in panels(dashes["rtc-overview"]) if "_ratio" in p["targets"][0]["expr"]
    }
    report = {
        p["title"].removesuffix(" (report)")
        for p in panels(dashes["rtc-daily-report"])
        if "(report)" in p["title"]
    }
    assert report <= live and len(report) == 6
    diagnosis = " ".join(t["expr"] for p in panels(dashes["rtc-diagnosis"]) for t in p["targets"])
    for v in quality_views():
        assert v.breakdown in diagnosis and v.report_breakdown in diagnosis


# -- structure of the mixin -------------------------------------------------------------------


def test_module_and_function_sizes() -> None:
    for path in MIXIN.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) <= 400, path
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 80, f"{path.name}:{node.name} has {length} lines"


def test_the_exporter_quality_table_is_read_in_one_place() -> None:
    readers = [p.name for p in MIXIN.rglob("*.py") if "collectors.quality" in p.read_text()]
    assert readers == ["quality.py"]


@pytest.mark.parametrize("uid", DASHBOARDS)
def test_dashboards_in_the_kubernetes_configmap(uid: str) -> None:
    cm = yaml.safe_load((ROOT / "deploy/kubernetes/base/grafana-dashboards.yaml").read_text())
    assert json.loads(cm["data"][f"{uid}.json"]) == build_dashboards(MixinConfig())[uid]


def test_alerting_doc_examples_are_valid_configs() -> None:
    text = (ROOT / "docs" / "alerting.md").read_text()
    blocks = re.findall(r"<!-- example: mixin -->\n```yaml\n(.*?)```", text, re.S)
    assert len(blocks) == 2
    configs = [MixinConfig.model_validate(yaml.safe_load(b)) for b in blocks]
    assert configs[1] == MixinConfig()  # "All settings" shows the defaults
    rules = [r for r in alert_rules(configs[0]) if r["alert"] == "RtcVideoStallSevere"]
    assert [('app_id="661e0000000000000543cf"' in r["expr"]) for r in rules] == [False, True]
    assert "> 0.3" in rules[1]["expr"] and ">= 500" in rules[1]["expr"]


def test_runbooks_tell_where_to_look() -> None:
    runbooks = (ROOT / "docs" / "runbooks.md").read_text()
    for qa in QUALITY_ALERTS:
        section = runbooks.split(f"## {qa.name}\n")[1].split("\n## ")[0]
        assert "**Find where.**" in section and "RTC diagnosis" in section, qa.name
        assert "`app_name`" in section and "since when" in section, qa.name


def test_legends_name_apps_by_their_name() -> None:
    """Issue 21 item 4: wherever a legend or table tells apps apart, it shows ``app_name``
    (joined from ``volcengine_rtc_app_info``, the id when the name is unknown), never a bare
    hex ``app_id`` (tables of a dashboard scoped to one chosen app excepted)."""
    named = 0
    for uid, dash in build_dashboards(MixinConfig()).items():
        for panel in dash["panels"]:
            for t in panel.get("targets", []):
                legend, expr = t.get("legendFormat", ""), t["expr"]
                assert "{{app_id}}" not in legend, (uid, panel["title"], legend)
                one_app = 'app_id="$app_id"' in expr
                table = panel["type"] == "table" and "app_id" in expr and not one_app
                if "{{app_name}}" in legend or table:
                    assert "group_left (app_name)" in expr, (uid, panel["title"])
                    assert "label_replace(" in expr and '"app_name", "$1", "app_id"' in expr
                    named += 1
    assert named >= 20
