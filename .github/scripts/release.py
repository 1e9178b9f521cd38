"""Release checks for .github/workflows/release.yml (tested by tests/test_release.py).

    python .github/scripts/release.py check v0.2.0   # version=0.2.0 prerelease=false lines
    python .github/scripts/release.py notes 0.2.0    # that version's CHANGELOG section

(the check's lines go to $GITHUB_OUTPUT).

The version lives in one place, ``__version__`` in exporter/__init__.py (the package, the image
label and the manifests follow it); a tag that says otherwise, a version that is not plain
PEP 440 (X.Y.Z, or X.Y.ZaN / bN / rcN), or a CHANGELOG section that is missing, undated
("Unreleased") or empty stops the release before anything is published.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)((?:a|b|rc)\d+)?$")


class ReleaseError(Exception):
    pass


def package_version(root: Path = ROOT) -> str:
    text = (root / "exporter" / "__init__.py").read_text(encoding="utf-8")
    m = re.search(r'^__version__ = "([^"]+)"$', text, re.M)
    if m is None:
        raise ReleaseError('exporter/__init__.py: no __version__ = "..." line')
    return m.group(1)


def check_tag(tag: str, root: Path = ROOT) -> dict[str, str]:
    """The release's version and whether it is a pre-release, from a tag that must be
    ``v`` + the package version."""
    version = package_version(root)
    if not VERSION.match(version):
        raise ReleaseError(f"version {version!r} is not X.Y.Z (or X.Y.ZaN, bN, rcN)")
    if tag != f"v{version}":
        raise ReleaseError(
            f"tag {tag!r} does not match the package version {version!r} "
            f"(exporter/__init__.py): tag v{version}, or change __version__ first"
        )
    return {"version": version, "prerelease": "true" if VERSION.match(version)[4] else "false"}


def changelog_notes(version: str, root: Path = ROOT) -> str:
    """The body of ``## [version] - YYYY-MM-DD`` in CHANGELOG.md."""
    text = (root / "CHANGELOG.md").read_text(encoding="utf-8")
    m = re.search(rf"^## \[{re.escape(version)}\](.*)$", text, re.M)
    if m is None:
        raise ReleaseError(f"CHANGELOG.md has no section ## [{version}]")
    if not re.fullmatch(r" - \d{4}-\d{2}-\d{2}", m.group(1)):
        raise ReleaseError(
            f"CHANGELOG.md: ## [{version}]{m.group(1)} is not dated: write the release date "
            "(## [X.Y.Z] - YYYY-MM-DD) before tagging"
        )
    body = text[m.end() :]
    following = re.search(r"^## \[", body, re.M)
    body = (body[: following.start()] if following else body).strip()
    if not body:
        raise ReleaseError(f"CHANGELOG.md: the section of {version} is empty")
    return body + "\n"


def main(argv: list[str]) -> int:
    try:
        if len(argv) == 2 and argv[0] == "check":
            for key, value in check_tag(argv[1]).items():
                print(f"{key}={value}")
            return 0
        if len(argv) == 2 and argv[0] == "notes":
            sys.stdout.write(changelog_notes(argv[1]))
            return 0
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
