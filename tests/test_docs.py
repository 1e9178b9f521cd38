"""The README's examples work, and the generated docs are current."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from exporter.cli import parser
from exporter.docs import render_scenarios_md
from exporter.settings import load_settings
from tests.conftest import ROOT, need_binary

README = (ROOT / "README.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    m = re.search(rf"<!-- example: {name} -->\s*```\w*\n(.*?)```", README, re.S)
    assert m, f"README example {name!r} not found"
    return m.group(1)


def test_readme_config_example_is_valid(tmp_path: Path) -> None:
    secret = tmp_path / "sk"
    secret.write_text("s3cret\n")
    cfg = tmp_path / "config.yml"
    cfg.write_text(example("config").replace("/run/secrets/volcengine_sk", str(secret)))
    s = load_settings(cfg)
    assert s.apps is not None and s.apps[0].call_detail[0].room_id == "room-1"
    assert s.credential_triple()[1] == "s3cret"
    assert s.sources.realtime_quality.product_types == ["native", "web"]


def test_readme_scrape_config_passes_promtool(tmp_path: Path) -> None:
    promtool = need_binary("promtool")
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(example("prometheus"))
    res = subprocess.run([promtool, "check", "config", str(cfg)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_flag_is_documented() -> None:
    flags = {
        opt for action in parser()._actions for opt in action.option_strings if opt.startswith("--")
    }
    flags -= {"--help", "--version"}
    missing = {f for f in flags if f"`{f}`" not in README}
    assert missing == set()


def _dry_run(target: str, *variables: str) -> str:
    """What `make <target>` would run, without running it (make -n, fresh venv path)."""
    res = subprocess.run(
        ["make", "-n", "-B", target, "VENV=/nonexistent-venv", *variables],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return res.stdout


def test_quick_start_commands_do_what_the_readme_says() -> None:
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quick and "make test" in quick
    demo = _dry_run("demo")
    assert "python3 -m venv /nonexistent-venv" in demo  # a bare machine gets its own venv
    assert re.search(r"pip install --quiet \.$", demo, re.M)
    assert re.search(r"volc-rtc-exporter --demo --web.listen-address=127.0.0.1:9877$", demo, re.M)
    anywhere = _dry_run("demo", "LISTEN=0.0.0.0:9877")
    assert re.search(r"--web.listen-address=0.0.0.0:9877$", anywhere, re.M)
    assert "make demo LISTEN=0.0.0.0:9877" in quick  # the variable is documented
    test = _dry_run("test")
    for step in ("ruff check .", "ruff format --check .", "/mypy", "/pytest -q"):
        assert step in test, step
    assert "-m slow" not in test  # the slow suites are `make soak`
    assert "pytest -q -m slow" in _dry_run("soak")
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("make test") < ci.index("make soak")


def test_scenarios_doc_is_up_to_date() -> None:
    assert (ROOT / "docs" / "scenarios.md").read_text(encoding="utf-8") == render_scenarios_md()


def test_linked_docs_exist() -> None:
    for link in re.findall(r"\]\((docs/[^)]+)\)", README):
        assert (ROOT / link).exists(), link


def test_readme_mixin_example_is_valid(tmp_path: Path) -> None:
    from exporter.mixin.cli import main as mixin_main

    cfg = tmp_path / "thresholds.yml"
    cfg.write_text(example("mixin"))
    assert mixin_main(["--config", str(cfg), "--out", str(tmp_path)]) == 0
    rules = (tmp_path / "deploy/prometheus/rules/volc-rtc.rules.yml").read_text()
    assert "> 0.1" in rules and ">= 200" in rules


def test_readme_pictures_exist() -> None:
    for link in re.findall(r"\]\((grafana/dashboards/[^)]+\.png)\)", README):
        assert (ROOT / link).exists(), link
