"""Handlers of the time-series actions: realtime and offline quality and operations, and the
distribution (breakdown) actions. Each takes a validated ``Ctx`` and returns the ``Result``."""

from __future__ import annotations

from typing import Any

from exporter.simulator.data import CST
from exporter.simulator.names import (
    OPERATION,
    OPERATION_UNITS,
    QUALITY_NAMES,
    REALTIME_OPERATION,
)
from exporter.simulator.segments import CHINA, DIMENSIONS, segments, share
from exporter.simulator.validate import Ctx, ts

__all__ = [
    "list_operation_data",
    "list_operation_distribution",
    "list_quality",
    "list_quality_distribution",
    "list_realtime_operation_data",
    "list_realtime_quality",
    "list_realtime_quality_distribution",
]

DAY = 86400.0
GRANULARITY = {"1d": DAY, "1h": 3600.0, "5min": 300.0}
REALTIME_BUCKET = 30.0


def buckets(ctx: Ctx, length: float) -> list[tuple[float, bool]]:
    """(bucket start, partly filled) for buckets overlapping [start, end) whose data has started
    to arrive (start <= now - delay), with full values. With ``partial_bucket`` every bucket
    whose data is not all in yet (its end plus the delay is still ahead) is returned partly
    filled, the newest ones included: what a real API may answer."""
    now, delay = ctx.now, ctx.spec.delay
    show_partial = ctx.model.partial_fill(ctx.app.app_id) is not None
    b = ((ctx.start + CST) // length) * length - CST
    out = []
    while b < ctx.end and b <= now:
        arrived = b <= now - delay
        complete = b + length + delay <= now
        if b + length > ctx.start and (arrived or show_partial):
            out.append((b, show_partial and not complete))
        b += length
    return out


def _count(ctx: Ctx, value: float, partial: bool) -> float:
    fill = ctx.model.partial_fill(ctx.app.app_id)
    return float(round(value * fill)) if partial and fill is not None else value


def list_realtime_operation_data(ctx: Ctx) -> dict[str, Any]:
    app = ctx.app
    out = []
    for ind in ctx.indicator_list(REALTIME_OPERATION):
        fn = app.online_users if ind == "online_user_count" else app.online_rooms
        data = [
            {"TimeStamp": ts(b), "Value": _count(ctx, fn(b), p)}
            for b, p in buckets(ctx, REALTIME_BUCKET)
        ]
        out.append({"Name": ind, "Unit": "", "Data": data})
    return {"Indicators": out}


def list_realtime_quality(ctx: Ctx) -> dict[str, Any]:
    inds = ctx.indicator_list(QUALITY_NAMES)
    product = ctx.product_type()
    room = ctx.text("RoomId")
    users = ctx.id_list("UserId", 20)
    out = []
    for ind in inds:
        for name, media in QUALITY_NAMES[ind]:
            data = [
                {
                    "TimeStamp": ts(b),
                    "Value": ctx.model.quality(ctx.app, ind, media, b, product=product, partial=p),
                }
                for b, p in buckets(ctx, REALTIME_BUCKET)
            ]
            out.append({"Name": name, "Unit": "%", "Data": data})
    return {"RoomId": room or "", "UserId": users if room else [], "Indicators": out}


def list_quality(ctx: Ctx) -> dict[str, Any]:
    inds = ctx.indicator_list(QUALITY_NAMES)
    g = ctx.granularity()
    product = ctx.product_type()
    selection: dict[str, list[str]] = {}
    for key, dim in (("OS", "OS"), ("Access", "Access")):
        chosen = ctx.segment_filter(key, segments(dim))
        if chosen is not None and product == "native":  # documented: ignored for web
            selection[dim] = chosen
    ctx.text("RoomId")
    ctx.id_list("UserId", 20)
    length = GRANULARITY[g]
    out = []
    for ind in inds:
        for name, media in QUALITY_NAMES[ind]:
            data = []
            for b, p in buckets(ctx, length):
                base = ctx.app.quality_report(ind, media, b, length)
                v = ctx.model.quality(
                    ctx.app, ind, media, b, base=base, product=product, selection=selection,
                    partial=p,
                )  # fmt: skip
                data.append({"TimeStamp": ts(b), "Value": v})
            out.append({"Name": name, "Unit": "%", "Data": data})
    return {"AggregateGranularity": g, "Indicators": out}


def list_operation_data(ctx: Ctx) -> dict[str, Any]:
    inds = ctx.indicator_list(OPERATION)
    g = ctx.granularity()
    length = GRANULARITY[g]
    out = []
    for ind in inds:
        data = [
            {"TimeStamp": ts(b), "Value": _count(ctx, ctx.app.operation(ind, b, length), p)}
            for b, p in buckets(ctx, length)
        ]
        out.append({"Name": ind, "Unit": OPERATION_UNITS.get(ind, ""), "Data": data})
    return {"AggregateGranularity": g, "Indicators": out}


def _distribution(ctx: Ctx, length: float, realtime: bool) -> dict[str, Any]:
    ind = ctx.one_indicator(QUALITY_NAMES)
    # capitalised, as every page spells it; BytePlus's ListQualityDistribution has no Province
    dim = ctx.choice("Dimension", ctx.spec.dimensions_for(ctx.provider, DIMENSIONS))
    ctx.text("Platform")  # optional; how it combines with ProductType is undocumented
    product = ctx.product_type()
    app, out = ctx.app, []
    for name, media in QUALITY_NAMES[ind]:
        data = []
        for b, p in buckets(ctx, length):
            base = (
                app.quality(ind, media, b)
                if realtime
                else app.quality_report(ind, media, b, length)
            )
            for seg in segments(dim):
                v = ctx.model.quality(
                    app, ind, media, b, base=base, product=product, selection={dim: [seg]},
                    partial=p,
                )  # fmt: skip
                data.append({"Dimension": seg, "TimeStamp": ts(b), "Value": v})
        out.append({"Name": name, "Data": data})
    return {"Indicators": out}


def list_realtime_quality_distribution(ctx: Ctx) -> dict[str, Any]:
    return _distribution(ctx, REALTIME_BUCKET, realtime=True)


def list_quality_distribution(ctx: Ctx) -> dict[str, Any]:
    # the bucket length of this action is undocumented; one point per day (+08:00) here
    return _distribution(ctx, DAY, realtime=False)


def list_operation_distribution(ctx: Ctx) -> dict[str, Any]:
    ctx.one_indicator(("user_count", "user_num"))  # docs disagree on the name; both accepted
    dim = ctx.choice("Dimension", ("Province", "Country"), fold=True)
    end = min(ctx.end, ctx.now - ctx.spec.delay)
    users = ctx.app.operation("user_count", ctx.start, end - ctx.start) if end > ctx.start else 0
    china = share("Country", {CHINA}) if dim == "Province" else 1.0
    values = [(seg, users * share(dim, {seg}) * china) for seg in segments(dim)]
    total = sum(v for _, v in values) or 1.0
    data = [
        {"DistributionName": seg, "Value": round(v, 2), "Proportion": round(100 * v / total, 2)}
        for seg, v in values
        if v > 0
    ]
    return {"Name": "user_num", "Dimension": str(ctx.params["Dimension"]), "Data": data}
