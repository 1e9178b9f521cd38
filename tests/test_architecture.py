"""The shape of the code: small modules and functions, layers that only call downwards, and a
source name that lives in its own module."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

EXPORTER = ROOT / "exporter"
MODULES = sorted(EXPORTER.rglob("*.py"))

# module -> exporter modules it must not import (directly); the layers only call downwards
LEAVES = {
    "types": set(),
    "units": set(),
    "errors": set(),
    "log": set(),
    "health": {"errors"},
    "pool": set(),
    "refresh_log": {"log", "types"},
}
FORBIDDEN = {
    "signing": {"client", "collectors", "cache", "scheduler", "metrics", "server", "runtime"},
    "limiter": {"client", "collectors", "cache", "scheduler", "metrics", "server", "runtime"},
    "models": {"client", "collectors", "cache", "scheduler", "metrics", "server", "runtime"},
    "models_rooms": {"client", "collectors", "cache", "scheduler", "metrics", "server", "runtime"},
    "client": {"collectors", "cache", "scheduler", "metrics", "server", "runtime", "settings"},
    "collectors": {"cache", "scheduler", "metrics", "server", "runtime", "settings", "targets"},
    "cache": {"client", "collectors.", "scheduler", "metrics", "server", "runtime"},
    "metrics": {"scheduler", "server", "runtime", "client"},
    # the HTTP app sees a ScrapeView, never the runtime, the engine or the cache
    "server": {"scheduler", "client", "collectors", "runtime", "refresher", "cache", "metrics"},
    # the serving layer knows HTTP and the web config file, nothing of the exporter above it
    "web": {
        "runtime",
        "server",
        "view",
        "refresher",
        "scheduler",
        "metrics",
        "collectors",
        "client",
        "cache",
        "callbacks",
        "settings",
    },  # fmt: skip
    "scheduler": {"metrics", "server", "runtime"},
    "refresher": {"metrics", "server", "runtime", "scheduler"},
}
for _lower in ("signing", "limiter", "models", "client", "collectors", "cache"):
    FORBIDDEN[_lower] |= {"refresher"}
EVERYWHERE = {"simulator", "mixin"}  # the product never imports these (but --demo, mixin cmd)


def imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("exporter"):
            out.add(node.module.removeprefix("exporter").lstrip("."))
        elif isinstance(node, ast.Import):
            out |= {
                a.name.removeprefix("exporter.")
                for a in node.names
                if a.name.startswith("exporter")
            }
    return out


def module_name(path: Path) -> str:
    rel = path.relative_to(EXPORTER).with_suffix("")
    return ".".join(rel.parts)


@pytest.mark.parametrize("path", MODULES, ids=[module_name(p) for p in MODULES])
def test_no_module_over_400_lines_no_function_over_80(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 400
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= 80, f"{node.name} has {length} lines"


def test_layers_only_call_downwards() -> None:
    problems = []
    for path in MODULES:
        name = module_name(path)
        top = name.split(".")[0]
        if top in EVERYWHERE or name in ("cli", "docs", "__main__"):
            continue
        found = imports(path)
        for used in found:
            if used.split(".")[0] in EVERYWHERE and name != "cli":
                problems.append(f"{name} imports {used}")
        if name in LEAVES:
            problems += [f"{name} is a leaf but imports {u}" for u in found - LEAVES[name] if u]
            continue
        forbidden = FORBIDDEN.get(top) or set()
        for used in found:
            if any(
                used == f or used.startswith(f if f.endswith(".") else f + ".") for f in forbidden
            ):
                problems.append(f"{name} imports {used}")
    assert problems == []


def test_a_source_name_lives_in_its_own_module() -> None:
    res = subprocess.run(
        ["git", "grep", "-c", '"realtime_operation"', "--", "exporter/"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    files = [ln for ln in res.stdout.splitlines() if ln]
    assert len(files) <= 2, files
