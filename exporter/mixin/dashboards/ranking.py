"""The overview's "where to look first" panels: the worst app of each paging indicator (by
name), how many apps are past a threshold, and every app with traffic ranked by how far it is
from its thresholds right now (``app_id:volcengine_rtc_quality:threshold_multiple``, per-app
overrides included), with its value, its online users and a link to diagnose it."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.models.common import BigValueTextMode
from grafana_foundation_sdk.models.dashboard import (
    DataTransformerConfig,
    DynamicConfigValue,
    MatcherConfig,
)

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.panels import PanelSpec, Scope, lines, units
from exporter.mixin.rules import QUALITY_MULTIPLE, QUALITY_VALUE, USERS, users_peak

__all__ = ["apps_over_threshold", "ranking_panels", "ranking_table", "worst_stats"]

APP = 'app_id=~"$app_id"'
PT = 'product_type=~"$product_type"'
RATIO, VALUE, USERS_COL = "× threshold", "Value", "Online users"
DIAGNOSE = (
    "/d/rtc-diagnosis/rtc-diagnosis?var-app_id=${__data.fields.app_id}"
    "&var-product_type=${__data.fields.product_type}&var-media=${__data.fields.media}"
    "&${__url_time_range}"
)


def _name_and_value(b: Any) -> Any:
    return b.text_mode(BigValueTextMode.VALUE_AND_NAME)


def worst_stats(cfg: MixinConfig, s: Scope) -> tuple[PanelSpec, ...]:
    """The worst app (and client type) of join success, audio and video stall, by name."""
    t, sev = cfg.thresholds, cfg.severe
    by = cfg.by("app_id", "product_type")
    rows = (
        ("Worst join success (5 s)", "volcengine_rtc_join_room_success_ratio", "", "lower",
         (t.join_room_success_min, sev.join_room_success_min)),
        ("Worst audio stall rate", "volcengine_rtc_stall_ratio", 'media="audio"', "higher",
         (t.audio_stall_max, sev.audio_stall_max)),
        ("Worst video stall rate", "volcengine_rtc_stall_ratio", 'media="video"', "higher",
         (t.video_stall_max, sev.video_stall_max)),
    )  # fmt: skip
    out = []
    for title, family, media, worse, limits in rows:
        agg, pick = ("min", "bottomk") if worse == "lower" else ("max", "topk")
        series = s.q(family, APP, PT, media)
        expr = f"{pick}(1, {s.named(f'{agg} by ({by}) ({series})')})"
        out.append(
            PanelSpec(
                title,
                units.PercentUnit,
                ((expr, "{{app_name}} ({{product_type}})"),),
                f"The selected app and client type with the worst value now ({family}); "
                "colours: the alert thresholds.",
                kind="stat",
                width=4,
                height=4,
                steps=lines("lower" if worse == "lower" else "higher", limits),
                instant=True,
                customise=_name_and_value,
            )
        )
    return tuple(out)


def _gated(cfg: MixinConfig, s: Scope, expr: str) -> str:
    """Only apps with traffic, as the warning-level alerts see them."""
    peak = f"{users_peak(cfg)}{{{', '.join(s.matchers)}}}"
    gate = cfg.min_online_users_warning
    return f"{expr}\nand on ({cfg.by('app_id')}) ({peak} >= {gate:g})"


def apps_over_threshold(cfg: MixinConfig, s: Scope) -> PanelSpec:
    ratio = f"{QUALITY_MULTIPLE}{{{', '.join((*s.matchers, APP, PT))}}}"
    worst = _gated(cfg, s, f"max by ({cfg.by('app_id')}) ({ratio})")
    return PanelSpec(
        "Apps past a threshold",
        units.Short,
        ((f"count(({worst}) >= 1) or vector(0)", "apps"),),
        "Apps with traffic whose value of some indicator is past its sustained alert "
        f"threshold right now ({QUALITY_MULTIPLE} >= 1; per-app overrides included).",
        kind="stat",
        width=4,
        height=4,
        steps=((None, "green"), (1, "orange")),
        instant=True,
    )


def _table(b: Any) -> Any:
    hidden = ("Time", "job", "instance", "__name__", "threshold")
    organize = {
        "excludeByName": {name: True for name in hidden},
        "renameByName": {"Value #A": RATIO, "Value #B": VALUE, "Value #C": USERS_COL},
        "indexByName": {
            name: i
            for i, name in enumerate(
                ("app_name", "app_id", "indicator", "media", "stage", "product_type",
                 "Value #B", "Value #A", "Value #C")
            )
        },
    }  # fmt: skip
    b = b.transformations(
        [
            DataTransformerConfig(id_val="merge", options={}),
            DataTransformerConfig(id_val="organize", options=organize),
        ]
    ).sort_by([cb.TableSortByFieldState().display_name(RATIO).desc(True)])
    steps = [{"value": None, "color": "green"}, {"value": 1, "color": "orange"}]
    overrides = (
        (RATIO, [DynamicConfigValue("unit", "suffix:×"), DynamicConfigValue("decimals", 2),
                 DynamicConfigValue("thresholds", {"mode": "absolute", "steps": steps}),
                 DynamicConfigValue("custom.cellOptions", {"type": "color-background"})]),
        (USERS_COL, [DynamicConfigValue("unit", "short")]),
    )  # fmt: skip
    for name, props in overrides:
        b = b.with_override(MatcherConfig(id_val="byName", options=name), props)
    return b


def ranking_table(cfg: MixinConfig, s: Scope) -> PanelSpec:
    """One row per app with traffic: its worst indicator and client type, the value, how many
    times the threshold it is, its online users; sorted worst first; a click diagnoses it."""
    scoped = ", ".join((*s.matchers, APP, PT))
    worst = _gated(cfg, s, f"topk by ({cfg.by('app_id')}) (1, {QUALITY_MULTIPLE}{{{scoped}}})")
    keys = cfg.by("app_id", "product_type", "indicator", "media", "stage")
    value = f"{QUALITY_VALUE}{{{scoped}}}\nand on ({keys}) ({worst})"
    app_users = f"{USERS}{{{', '.join((*s.matchers, APP))}}}"
    users = f"({worst}) * 0\n+ on ({cfg.by('app_id')}) group_left () {app_users}"
    targets: tuple[tuple[str, str], ...] = tuple(
        (f"sort_desc({s.named(e)})", "") for e in (worst, value, users)
    )
    return PanelSpec(
        "Apps by distance from their thresholds",
        units.PercentUnit,
        targets,
        "Every app with traffic (peak users over the warning gate), worst first: the indicator "
        "and client type furthest past (or closest to) its sustained alert threshold now, its "
        "value, how many times the threshold that is (1 = at the threshold; for success "
        "ratios, failures against the allowed failures) and the app's online users. Click a "
        "row to diagnose the app.",
        kind="table",
        width=24,
        height=9,
        links=(("Diagnose ${__data.fields.app_name}", DIAGNOSE),),
        customise=_table,
    )


def ranking_panels(cfg: MixinConfig, s: Scope) -> tuple[PanelSpec, ...]:
    return (apps_over_threshold(cfg, s), *worst_stats(cfg, s))
