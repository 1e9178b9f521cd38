"""Issue 22 row 7: the log scrubber keeps the current secrets only (and the replaced ones for a
grace minute, for answers still in flight), however often the STS token rotates. The memory
and reload-time figures are in benchmarks/bench_reload.py."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from exporter.log import GRACE_SECONDS, _Scrubber


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_200_rotations_keep_only_the_current_secrets() -> None:
    clock = Clock()
    scrub = _Scrubber(clock)
    tokens = []
    for _ in range(200):
        tokens.append(secrets.token_urlsafe(900))
        scrub.set_secrets("credentials", ["Secret-Key-1", tokens[-1]])
        clock.t += 15 * 60  # a rotation every 15 minutes
    assert scrub.held() == 2
    assert scrub(f"x {tokens[-1]} Secret-Key-1 y") == "x <redacted> <redacted> y"
    assert tokens[0] in scrub(f"old {tokens[0]}")  # revoked long ago: no longer kept


def test_a_replaced_secret_stays_redacted_for_the_grace_window() -> None:
    clock = Clock()
    scrub = _Scrubber(clock)
    scrub.set_secrets("credentials", ["Secret-Key-1", "token-one-aaaa"])
    scrub.set_secrets("credentials", ["Secret-Key-1", "token-two-bbbb"])
    clock.t += GRACE_SECONDS - 1
    assert scrub("token-one-aaaa token-two-bbbb") == "<redacted> <redacted>"
    assert scrub.held() == 3
    clock.t += 2
    assert scrub("token-one-aaaa token-two-bbbb") == "token-one-aaaa <redacted>"
    assert scrub.held() == 2


def test_a_secret_inside_another_is_redacted_whole_and_sets_are_independent() -> None:
    scrub = _Scrubber(Clock())
    scrub.set_secrets("credentials", ["abcd", "xxabcdxx"])
    scrub.set_secrets("callbacks", ["cb-secret-1"])
    scrub.add("permanent-1")
    assert scrub("xxabcdxx abcd cb-secret-1 permanent-1") == " ".join(["<redacted>"] * 4)
    scrub.set_secrets("credentials", [])
    assert scrub.held() == 4  # the replaced pair is in its grace window


def test_rotating_the_callback_secrets_by_reload_keeps_only_the_current_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each configuration's callback secrets (the default and per app) replace the previous
    configuration's: 50 rotations hold the current two, not 100."""
    from exporter import log
    from exporter.callbacks.service import _keys
    from tests.conftest import make_settings

    clock = Clock()
    monkeypatch.setattr(log, "_scrubber", _Scrubber(clock))
    used = []
    for i in range(50):
        default, per_app = f"cb-default-{i:04d}", f"cb-app-{i:04d}"
        used += [default, per_app]
        (tmp_path / "app1.secret").write_text(per_app + "\n")
        apps = [{"app_id": "app1", "callback_secret_file": str(tmp_path / "app1.secret")}]
        _keys(make_settings(apps=apps, callbacks={"listen_address": ":0", "secret": default}))
        clock.t += 5 * 60
    assert log.secrets_held() == 2
    assert log.scrub(f"{used[-2]} {used[-1]}") == "<redacted> <redacted>"
    assert log.scrub(used[0]) == used[0]  # rotated away long ago: forgotten
