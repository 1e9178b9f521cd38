"""The Jsonnet mixin (``mixin/``), generated from the Python generator: its output is rendered
for the defaults and for probe values of every knob, and what changed becomes a template over
``_config`` (``infer``); the template is checked against the generator before it is written.
"""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.jsonnet.files import MIXIN_DIR, check_template, mixin_files
from exporter.mixin.jsonnet.infer import InferenceError, infer

__all__ = ["MIXIN_DIR", "InferenceError", "render_jsonnet"]


def render_jsonnet(cfg: MixinConfig | None = None) -> dict[str, str]:
    """Relative path -> content of every file of ``mixin/``; ``cfg`` gives the defaults of
    its ``_config`` (the templates hold for any configuration)."""
    tpl = infer()
    check_template(tpl)
    return mixin_files(tpl, cfg or MixinConfig())
