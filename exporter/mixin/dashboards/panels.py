"""The small panel helper every dashboard module uses: a declarative ``PanelSpec`` (title, unit,
queries, thresholds, links) turned into grafana-foundation-sdk builders, the shared variables
(data source, cluster, job, instance, app, product type, media), and the dashboard frame.

Units are Grafana unit ids from the SDK's own list (``grafana_foundation_sdk.models.units``) or
Grafana's custom-unit syntax (``suffix:<text>``); Grafana has no frames-per-second unit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import units
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    GraphThresholdsStyleMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from exporter.mixin.config import MixinConfig

__all__ = [
    "DS",
    "FPS",
    "DashboardSpec",
    "PanelSpec",
    "Scope",
    "build_dashboard",
    "lines",
    "units",
]

DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
FPS = "suffix: fps"
Kind = Literal["timeseries", "stat", "bargauge", "table"]
GREEN, ORANGE, RED = "green", "orange", "red"


@dataclass(frozen=True)
class PanelSpec:
    title: str
    unit: str
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    description: str
    kind: Kind = "timeseries"
    width: int = 12
    height: int = 8
    max: float | None = None
    steps: tuple[tuple[float | None, str], ...] = ()  # Grafana thresholds: (value, colour)
    instant: bool = False  # bar gauges and tables show the newest value
    links: tuple[tuple[str, str], ...] = ()  # data links: (title, url)
    repeat: str = ""  # repeat horizontally for each value of this variable
    # anything the declarative fields do not cover (table transformations, overrides, stat
    # text mode): called with the SDK builder, returns it
    customise: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class DashboardSpec:
    uid: str
    title: str
    description: str
    rows: tuple[tuple[str, tuple[PanelSpec, ...]], ...]
    variables: tuple[Any, ...]  # builders, after data source / cluster / job / instance
    note: str = ""
    time_from: str = "now-6h"
    tags: tuple[str, ...] = field(default=("volc-rtc",))


def lines(worse: Literal["higher", "lower"], limits: tuple[float, ...]) -> tuple[Any, ...]:
    """Grafana threshold steps that draw alert thresholds: the sustained tier orange, the
    severe tier red, the good side green."""
    if not limits:
        return ()
    ordered = sorted(limits)
    if worse == "higher":  # green below the sustained threshold, red from the severe one
        colours = [ORANGE, RED][: len(ordered)]
        return ((None, GREEN), *zip(ordered, colours, strict=True))
    colours = [ORANGE, GREEN] if len(ordered) == 2 else [GREEN]
    return ((None, RED if len(ordered) == 2 else ORANGE), *zip(ordered, colours, strict=True))


class Scope:
    """Matchers that scope a dashboard's queries to the chosen cluster, job and instance."""

    def __init__(self, cfg: MixinConfig) -> None:
        self.cfg = cfg
        self.matchers = tuple(f'{label}=~"${label}"' for label in cfg.instance_labels)

    def q(self, metric: str, *matchers: str, agg: str = "") -> str:
        series = f"{metric}{self.cfg.sel(*self.matchers, *(m for m in matchers if m))}"
        return f"{agg}({series})" if agg else series

    def named(self, expr: str, *, per_instance: bool = True) -> str:
        """``expr`` with each series' ``app_name`` label joined from ``volcengine_rtc_app_info``
        (the app id when the name is unknown), for legends and tables. ``per_instance=False``
        for series already summed across the exporter's replicas (joined on ``app_id`` only)."""
        cfg = self.cfg
        info = f"volcengine_rtc_app_info{cfg.sel(*self.matchers)}"
        on = cfg.by("app_id") if per_instance else "app_id"
        names = f"max by ({on}, app_name) ({info})"
        return (
            f"({expr}) * on ({on}) group_left (app_name) {names}\n"
            # `* 1` drops the metric name, as the join above does
            f"or ignoring (app_name) "
            f'label_replace(({expr}) * 1, "app_name", "$1", "app_id", "(.+)")'
        )

    def variables(self) -> list[Any]:
        cfg = self.cfg
        ds = db.DatasourceVariable("datasource").label("Data source").type("prometheus")
        out: list[Any] = [ds]
        info = "volcengine_rtc_exporter_build_info"
        chosen: list[str] = []
        for label in cfg.instance_labels:
            query = f"label_values({info}{cfg.sel(*chosen)}, {label})"
            out.append(query_var(label, label.capitalize(), query))
            chosen.append(f'{label}=~"${label}"')
        return out

    def app_var(self, *, multi: bool) -> Any:
        series = f"volcengine_rtc_app_info{self.cfg.sel(*self.matchers)}"
        return query_var("app_id", "App", f"query_result({series})", multi=multi).regex(
            '/app_id="(?<value>[^"]+)".*app_name="(?<text>[^"]*)"/'
        )


def query_var(name: str, label: str, query: str, *, multi: bool = True) -> db.QueryVariable:
    """A query variable; multi-select ones offer "All" meaning any value (``.*``)."""
    v = (
        db.QueryVariable(name)
        .label(label)
        .datasource(DS)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    return v.multi(True).include_all(True).all_value(".*") if multi else v


def custom_var(name: str, label: str, values: str, *, multi: bool, default: str = "") -> Any:
    v = db.CustomVariable(name).label(label).values(values)
    if not multi and default:
        return v.current(VariableOption(selected=True, text=default, value=default))
    if multi:
        v = v.multi(True)
    return (
        v.include_all(True)
        .all_value(".*")
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )


def _reference(cfg: MixinConfig) -> db.DashboardLink:
    return db.DashboardLink("Metric reference").url(f"{cfg.docs_url}/metrics.md").target_blank(True)


ZERO_BASED = (units.PercentUnit, units.Seconds, units.BitsPerSecondSI, FPS, units.RequestsPerSecond)


def _common(builder: Any, cfg: MixinConfig, p: PanelSpec) -> Any:
    b = (
        builder.title(p.title)
        .description(p.description)
        .datasource(DS)
        .unit(p.unit)
        .span(p.width)
        .height(p.height)
        .links([_reference(cfg)])
    )
    if p.max is not None:
        b = b.max(p.max)
    if p.unit in ZERO_BASED:
        b = b.min(0)
    if p.steps:
        steps = [Threshold(value=v, color=c) for v, c in p.steps]
        b = b.thresholds(db.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps))
    if p.links:
        b = b.data_links([db.DashboardLink(t).url(u) for t, u in p.links])
    if p.repeat:
        b = b.repeat(p.repeat).repeat_direction("h").max_per_row(4)
    if p.customise is not None:
        b = p.customise(b)
    for i, (expr, legend) in enumerate(p.targets):
        query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(ord("A") + i))
        if p.instant or p.kind in ("bargauge", "table"):
            query = query.instant()
        if p.kind == "table":
            query = query.format(PromQueryFormat.TABLE)
        b = b.with_target(query)
    return b


def _panel(cfg: MixinConfig, p: PanelSpec) -> Any:
    if p.kind == "stat":
        return _common(stat.Panel(), cfg, p)
    if p.kind == "bargauge":
        gauge = bargauge.Panel().display_mode(BarGaugeDisplayMode.GRADIENT)
        gauge = gauge.orientation(VizOrientation.HORIZONTAL).reduce_options(
            cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False)
        )
        return _common(gauge, cfg, p)
    if p.kind == "table":
        return _common(table.Panel(), cfg, p)
    b = timeseries.Panel()
    if p.steps:
        dashed = cb.GraphThresholdsStyleConfig().mode(GraphThresholdsStyleMode.DASHED)
        b = b.thresholds_style(dashed)
    return _common(b, cfg, p)


def build_dashboard(cfg: MixinConfig, spec: DashboardSpec, scope: Scope) -> dict[str, Any]:
    b = (
        db.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .refresh(cfg.dashboard_refresh)
        .time(spec.time_from, "now")
        .timezone("browser")
        .editable()
        .link(
            db.DashboardLink("RTC dashboards")
            .type(DashboardLinkType.DASHBOARDS)
            .tags(["volc-rtc"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
        .annotation(
            db.AnnotationQuery()
            .name("RTC alerts")
            .datasource(DS)
            .expr('ALERTS{alertname=~"Rtc.*", alertstate="firing"}')
            .enable(True)
            .icon_color("red")
        )
    )
    for var in [*scope.variables(), *spec.variables]:
        b = b.with_variable(var)
    if spec.note:
        note = text.Panel().title("About this dashboard").content(spec.note)
        b = b.with_panel(note.span(24).height(3))
    for row_title, panels in spec.rows:
        b = b.with_row(db.Row(row_title))
        for p in panels:
            b = b.with_panel(_panel(cfg, p))
    doc: dict[str, Any] = json.loads(JSONEncoder(sort_keys=True, indent=2).encode(b.build()))
    for var in doc["templating"]["list"]:
        if var["type"] != "interval":  # the SDK writes interval-only fields on every variable
            for key in ("auto", "auto_count", "auto_min"):
                var.pop(key, None)
    return doc
