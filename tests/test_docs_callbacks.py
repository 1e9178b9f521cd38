"""docs/callbacks.md: its configuration examples are valid, the defaults and answers it states
are the code's, and it names every callback family and alert."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from exporter.callbacks.config import CallbacksSettings, TaskSettings
from exporter.callbacks.families import SPECS
from exporter.callbacks.receiver import STATUS
from exporter.mixin.callbacks import CallbackAlerts
from exporter.mixin.config import MixinConfig
from exporter.mixin.rules.callbacks import callback_alerts
from exporter.settings import load_settings
from tests.conftest import AK, ROOT, SK

DOC = (ROOT / "docs" / "callbacks.md").read_text(encoding="utf-8")


def example(name: str) -> str:
    m = re.search(rf"<!-- example: {name} -->\s*```yaml\n(.*?)```", DOC, re.S)
    assert m, f"example {name!r} not found in docs/callbacks.md"
    return m.group(1)


def test_the_configuration_example_is_valid(tmp_path: Path) -> None:
    text = example("callbacks")
    for path in set(re.findall(r"/run/secrets/\w+", text)):
        secret = tmp_path / Path(path).name
        secret.write_text("cb-" + secret.name + "\n")
        text = text.replace(path, str(secret))
    doc = yaml.safe_load(text)
    s = load_settings(None, credentials={"access_key_id": AK, "secret_access_key": SK}, **doc)
    assert s.callbacks.enabled and s.callbacks.secrets == ("cb-rtc_callback_secret",)
    assert s.callbacks.storage().region == "oss-cn-beijing"
    assert s.apps is not None and s.apps[1].callback_secrets == ("cb-rtc_callback_secret_777ab",)
    assert s.apps[0].recording_storage is not None
    assert s.apps[0].recording_storage.info().platform == "vod"


def test_the_defaults_in_the_table_are_the_codes() -> None:
    rows = dict(re.findall(r"^\| `(callbacks\.[a-z_.]+)`[^|]*\| `([^`]+)` \|", DOC, re.M))
    defaults = CallbacksSettings()
    tasks = TaskSettings()
    assert rows, "no defaults found"
    for key, shown in rows.items():
        name = key.removeprefix("callbacks.")
        obj = tasks if name.startswith("tasks.") else defaults
        value = getattr(obj, name.removeprefix("tasks."))
        assert shown == f"{value:g}" if isinstance(value, float) else shown == str(value), key
    assert len(rows) >= 9
    window = f"`{defaults.max_age_seconds:g}`, `{defaults.max_future_seconds:g}`"
    assert f"`callbacks.max_age_seconds`, `callbacks.max_future_seconds` | {window} |" in DOC
    assert "more than 10 min old or 1 min ahead" in DOC


def test_the_answers_are_the_receivers() -> None:
    for outcome, status in STATUS.items():
        assert re.search(rf"\| {status} \| `{outcome}` \|", DOC), outcome


def test_the_mixin_example_shows_the_defaults() -> None:
    doc = yaml.safe_load(example("mixin-callbacks"))
    assert MixinConfig.model_validate(doc).callbacks == CallbackAlerts()
    assert set(doc["callbacks"]) == set(CallbackAlerts.model_fields) - {"for_"} | {"for"}


def test_every_family_and_alert_is_named() -> None:
    for spec in SPECS.values():
        short = spec.name.removeprefix("volcengine_rtc_recording_")
        assert f"`{spec.name}" in DOC or f"..._{short}`" in DOC, spec.name
    for rule in callback_alerts(MixinConfig()):
        assert f"`{rule['alert']}`" in DOC
