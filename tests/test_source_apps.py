"""apps: ListApps -> discovery and volcengine_rtc_app_info (pure fetch, then targets)."""

from __future__ import annotations

import hashlib
from typing import Any

from exporter.log import scrub
from exporter.targets import Targets
from exporter.types import AppTarget
from tests.conftest import make_settings
from tests.fakes import T, make_source

APPS = [
    {
        "AppId": f"a{i:03d}",
        "AppName": f"n{i}",
        "AppKey": f"KEY{i:013d}",
        "Status": 1 if i % 10 else 6,
    }
    for i in range(150)
]


def pages(params: dict[str, Any]) -> dict[str, Any]:
    off, lim = int(params["Offset"]), int(params["Limit"])
    return {"AppList": APPS[off : off + lim], "Total": len(APPS)}


def test_discovery_pages_keeps_running_apps_and_drops_app_keys() -> None:
    src, client = make_source("apps", {"ListApps": pages})
    snap = src.fetch(AppTarget(""), T)
    assert len(client.calls) == 2
    targets = Targets(make_settings(apps=None))
    assert targets.needs_discovery()
    src.contribute(snap, targets)
    monitored = {t.app_id for t in targets.current()}
    assert len(monitored) == 135 and "a010" not in monitored
    assert "KEY1" not in repr(snap)
    # only a hash is kept, for the log scrubber
    assert scrub(f"vendor says KEY{1:013d} is wrong") == "vendor says <redacted> is wrong"
    assert hashlib.sha256(b"KEY0000000000001").hexdigest() not in repr(snap)


def test_app_info_for_every_monitored_app() -> None:
    src, _ = make_source("apps", {"ListApps": pages})
    targets = Targets(
        make_settings(apps=[{"app_id": "a001", "name": "mine"}, {"app_id": "zz9", "name": "cfg"}])
    )
    fams = list(src.build([src.fetch(AppTarget(""), T)], targets))
    got = {tuple(sorted(s.labels.items())) for f in fams for s in f.samples}
    assert (("app_id", "a001"), ("app_name", "n1"), ("status", "running")) in got
    # configured but unknown to ListApps: its configured name, status unknown
    assert (("app_id", "zz9"), ("app_name", "cfg"), ("status", "unknown")) in got
    assert len(got) == 2  # configured apps only, not the whole account


def test_unknown_status_numbers_are_kept_as_numbers() -> None:
    answer = lambda p: {"AppList": [{"AppId": "x", "AppName": "y", "Status": 42}], "Total": 1}  # noqa: E731
    src, _ = make_source("apps", {"ListApps": answer})
    snap = src.fetch(AppTarget(""), T)
    assert snap.apps == {"x": ("y", "42")}  # type: ignore[attr-defined]
