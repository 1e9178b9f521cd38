"""The worst-segment recording rules of the live breakdown families, which the quality alerts'
descriptions read (``Worst segment: os=android at 45%``)."""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig
from exporter.mixin.quality import quality_views
from exporter.mixin.rules.common import worst_record
from exporter.mixin.rules.quality import STAGE

__all__ = ["worst_segment_rules"]


def worst_segment_rules(cfg: MixinConfig) -> list[dict[str, Any]]:
    """Per live breakdown family: the segment (any dimension) furthest below (or above) the
    app's own value, kept only when ``worst_segment_factor`` times worse than the app."""
    f = cfg.worst_segment_factor
    out = []
    for view in quality_views():
        keys = [*cfg.instance_labels, "app_id", "product_type"]
        keys += (["media"] if view.media else []) + (["threshold"] if view.threshold else [])
        on = ", ".join(keys)
        seg, app = f"{view.breakdown}{cfg.sel()}", f"{view.live}{cfg.sel()}"
        if view.worse == "higher":
            expr = f"topk by ({on}) (1, {seg} > on ({on}) group_left () ({f:g} * {app}))"
        else:
            expr = (
                f"bottomk by ({on}) (1, {seg} < on ({on}) group_left () (1 - {f:g} * (1 - {app})))"
            )
        if view.metric in STAGE:
            expr = f'label_replace({expr}, "stage", "{STAGE[view.metric]}", "", "")'
        out.append({"record": worst_record(view.breakdown), "expr": expr})
    return out
