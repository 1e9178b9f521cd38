"""Structured logs: real keys, escaped values, Prometheus level words, secrets scrubbed."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import pytest

from exporter.log import JsonFormatter, LogfmtFormatter, add_secret, add_secret_hash, get_logger


@pytest.fixture
def lines() -> tuple[io.StringIO, io.StringIO]:
    logfmt, js = io.StringIO(), io.StringIO()
    root = logging.getLogger("exporter.testlog")
    root.handlers[:] = []
    for stream, fmt in ((logfmt, LogfmtFormatter()), (js, JsonFormatter())):
        h = logging.StreamHandler(stream)
        h.setFormatter(fmt)
        root.addHandler(h)
    root.setLevel(logging.DEBUG)
    root.propagate = False
    return logfmt, js


def test_fields_are_keys_and_msg_is_only_the_message(
    lines: tuple[io.StringIO, io.StringIO],
) -> None:
    log = get_logger("exporter.testlog")
    log.warning(
        "source down", source="realtime_quality", app_id="a1", reason="auth", duration_seconds=0.25
    )
    text = lines[0].getvalue().strip()
    assert " level=warn " in text and ' msg="source down" ' in text
    assert text.endswith("source=realtime_quality app_id=a1 reason=auth duration_seconds=0.25")
    doc = json.loads(lines[1].getvalue())
    assert doc["msg"] == "source down" and doc["level"] == "warn" and doc["app_id"] == "a1"


def test_hostile_values_cannot_forge_or_colour_a_line(
    lines: tuple[io.StringIO, io.StringIO],
) -> None:
    log = get_logger("exporter.testlog")
    log.info("x", app_id='evil\r\nts=2024 level=error msg="forged"\x1b[31m')
    text = lines[0].getvalue()
    assert text.count("\n") == 1 and "\x1b" not in text and "\r" not in text
    assert 'app_id="evil\\r\\nts=2024 level=error msg=\\"forged\\"\\u001b[31m"' in text
    json_line = lines[1].getvalue()
    assert json_line.count("\n") == 1 and "\x1b" not in json_line


def test_secrets_and_known_app_keys_are_redacted(lines: tuple[io.StringIO, io.StringIO]) -> None:
    add_secret("Very-Secret-Key-42")
    app_key = "f" * 8 + "0123456789abcdef0123"
    add_secret_hash(hashlib.sha256(app_key.encode()).digest())
    log = get_logger("exporter.testlog")
    log.error("vendor said", error=f"bad signature for Very-Secret-Key-42 and {app_key}!")
    out = lines[0].getvalue() + lines[1].getvalue()
    assert "Very-Secret-Key-42" not in out and app_key not in out
    assert out.count("<redacted>") == 4


def test_exceptions_are_one_field_never_a_traceback(lines: tuple[io.StringIO, io.StringIO]) -> None:
    log = get_logger("exporter.testlog")
    try:
        raise RuntimeError("client has been closed")
    except RuntimeError:
        log.exception("refresh failed", source="x")
    text = lines[0].getvalue()
    assert text.count("\n") == 1 and "Traceback" not in text
    assert 'error="RuntimeError: client has been closed"' in text
