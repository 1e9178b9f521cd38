"""The release path: the workflows pass actionlint (with shellcheck on their scripts), CI runs
the README's `make test` with the packages .ci/run installs, a `v*` tag publishes to PyPI with
trusted publishing, a multi-arch image with SBOM and provenance, and a GitHub release with the
CHANGELOG section; the tag must equal the one version (.github/scripts/release.py)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from exporter import __version__
from tests.conftest import ROOT
from tests.test_deploy import tool

WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPT = ROOT / ".github" / "scripts" / "release.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_script", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = load_script()


def workflow(name: str) -> dict[str, Any]:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return dict(data)


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def uses(job: dict[str, Any], action: str) -> dict[str, Any]:
    return next(s for s in steps(job) if s.get("uses", "").startswith(action + "@"))


def test_actionlint() -> None:
    res = subprocess.run(
        [tool("actionlint"), "-shellcheck", tool("shellcheck"), "-no-color"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_ci_runs_make_test_with_the_ci_packages() -> None:
    ci = workflow("ci.yml")
    assert {"push", "pull_request", "workflow_call"} <= set(ci["on"])
    test = ci["jobs"]["test"]
    runs = [s.get("run", "") for s in steps(test)]
    assert any("sudo .ci/deps" in r for r in runs)
    assert any(r.startswith("make test") for r in runs)
    assert ci["env"]["CI"] == "true"  # e2e tests fail instead of skipping
    soak = ci["jobs"]["soak"]
    assert any("make soak" in s.get("run", "") for s in steps(soak))
    ci_run = (ROOT / ".ci" / "run").read_text()
    assert ".ci/deps" in ci_run and ci_run.index("make test") < ci_run.index("make soak")
    assert "apt-get install" in (ROOT / ".ci" / "deps").read_text()


def test_release_on_a_tag_publishes_everything_once_ci_passed() -> None:
    rel = workflow("release.yml")
    assert rel["on"] == {"push": {"tags": ["v*"]}}
    jobs = rel["jobs"]
    assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
    check = " ".join(s.get("run", "") for s in steps(jobs["check"]))
    assert 'release.py check "$GITHUB_REF_NAME"' in check and "release.py notes" in check
    for name in ("dist", "image"):
        assert set(jobs[name]["needs"]) >= {"check", "ci"}, name
    # PyPI: trusted publishing, no token
    pypi = jobs["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}
    publish = uses(pypi, "pypa/gh-action-pypi-publish")
    assert "password" not in publish.get("with", {})
    assert pypi["environment"]["name"] == "pypi"
    dist = " ".join(s.get("run", "") for s in steps(jobs["dist"]))
    assert "python -m build" in dist and "twine check --strict" in dist
    assert uses(jobs["dist"], "actions/attest-build-provenance")["with"]["subject-path"]
    # image: both architectures, SBOM, provenance, version tags
    build = uses(jobs["image"], "docker/build-push-action")["with"]
    assert set(build["platforms"].split(",")) == {"linux/amd64", "linux/arm64"}
    assert build["sbom"] is True and build["provenance"] == "mode=max" and build["push"] is True
    assert "VERSION=${{ needs.check.outputs.version }}" in build["build-args"]
    tags = uses(jobs["image"], "docker/metadata-action")["with"]["tags"]
    assert "value=${{ needs.check.outputs.version }}" in tags and "{{major}}.{{minor}}" in tags
    assert rel["env"]["IMAGE"] == "ghcr.io/volc-rtc-exporter/volc-rtc-exporter"
    assert jobs["image"]["permissions"]["packages"] == "write"
    # the GitHub release, with the CHANGELOG section, after both are out
    gh = jobs["release"]
    assert set(gh["needs"]) >= {"pypi", "image"}
    script = " ".join(s.get("run", "") for s in steps(gh))
    assert "gh release create" in script and "--notes-file artifacts/notes/notes.md" in script
    assert gh["permissions"] == {"contents": "write"}
    assert rel["permissions"] == {"contents": "read"}  # every job asks for what it needs


# -- the version check ------------------------------------------------------------------------


def fake_repo(tmp: Path, version: str, changelog: str) -> Path:
    (tmp / "exporter").mkdir()
    (tmp / "exporter" / "__init__.py").write_text(f'"""x"""\n\n__version__ = "{version}"\n')
    (tmp / "CHANGELOG.md").write_text(changelog)
    return tmp


CHANGELOG = """# Changelog

## [1.3.0rc1] - Unreleased

- [FEATURE] next

## [1.2.0] - 2026-12-01

### Exporter

- [FEATURE] something

## [1.1.0] - 2026-10-01

- [BUGFIX] older
"""


@pytest.mark.parametrize(
    ("version", "tag", "out"),
    [
        ("1.2.0", "v1.2.0", {"version": "1.2.0", "prerelease": "false"}),
        ("1.3.0rc1", "v1.3.0rc1", {"version": "1.3.0rc1", "prerelease": "true"}),
        ("2.0.0b2", "v2.0.0b2", {"version": "2.0.0b2", "prerelease": "true"}),
    ],
)
def test_tag_equal_to_the_version_passes(
    tmp_path: Path, version: str, tag: str, out: dict[str, str]
) -> None:
    assert release.check_tag(tag, fake_repo(tmp_path, version, CHANGELOG)) == out


@pytest.mark.parametrize(
    ("version", "tag", "reason"),
    [
        ("1.2.0", "v1.2.1", "does not match the package version '1.2.0'"),
        ("1.2.0", "1.2.0", "does not match"),
        ("1.2.0", "v1.2.0-rc1", "does not match"),
        ("1.2", "v1.2", "is not X.Y.Z"),
        ("1.2.0.dev3", "v1.2.0.dev3", "is not X.Y.Z"),
    ],
)
def test_tag_and_version_that_differ_stop_the_release(
    tmp_path: Path, version: str, tag: str, reason: str
) -> None:
    with pytest.raises(release.ReleaseError, match=reason.replace(".", r"\.")):
        release.check_tag(tag, fake_repo(tmp_path, version, CHANGELOG))


def test_notes_are_that_versions_section(tmp_path: Path) -> None:
    root = fake_repo(tmp_path, "1.2.0", CHANGELOG)
    assert release.changelog_notes("1.2.0", root) == "### Exporter\n\n- [FEATURE] something\n"
    assert release.changelog_notes("1.1.0", root) == "- [BUGFIX] older\n"
    with pytest.raises(release.ReleaseError, match="not dated"):
        release.changelog_notes("1.3.0rc1", root)
    with pytest.raises(release.ReleaseError, match="no section"):
        release.changelog_notes("9.9.9", root)
    (tmp_path / "e").mkdir()
    empty = fake_repo(tmp_path / "e", "1.0.0", "## [1.0.0] - 2026-01-01\n\n## [0.9.0] - x\n")
    with pytest.raises(release.ReleaseError, match="empty"):
        release.changelog_notes("1.0.0", empty)


def test_the_script_as_the_workflow_runs_it(tmp_path: Path) -> None:
    """Exit codes and output for $GITHUB_OUTPUT, on this repository."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)

    ok = run("check", f"v{__version__}")
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == f"version={__version__}"
    bad = run("check", "v0.0.0-not-it")
    assert bad.returncode == 1 and "does not match the package version" in bad.stderr
    assert bad.stdout == ""  # nothing reaches $GITHUB_OUTPUT
    assert run("nonsense").returncode == 2
    notes = run("notes", __version__)
    # a version is released by dating its CHANGELOG section (docs/releasing.md)
    section = (ROOT / "CHANGELOG.md").read_text().split(f"## [{__version__}]", 1)[1].split("\n")[0]
    if "Unreleased" in section:
        assert notes.returncode == 1 and "not dated" in notes.stderr
    else:
        assert notes.returncode == 0 and notes.stdout.strip()
