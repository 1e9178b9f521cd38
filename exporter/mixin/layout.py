"""Draw each dashboard's layout (rows, panels, titles, units, queries) as a PNG, so a user can
see what they would import before installing Grafana. Needs Pillow (the ``mixin`` extra)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards import build_dashboards

__all__ = ["draw_layout", "draw_layouts", "layout_pictures"]

COL = 50  # pixels per grid column (24 columns)
ROW = 30  # pixels per grid row
PAD = 16
BG, PANEL, BORDER, TITLE, MUTED, ROWBAR = (
    "#111217", "#181b1f", "#2c3235", "#d8d9da", "#8e8e8e", "#22252b"
)  # fmt: skip
COLOURS = {
    "timeseries": "#73bf69",
    "stat": "#5794f2",
    "bargauge": "#f2cc0c",
    "table": "#8ab8ff",
    "text": "#b877d9",
    "row": "#ff9830",
}


def draw_layout(dash: dict[str, Any]) -> Image.Image:
    panels = dash["panels"]
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = 24 * COL + 2 * PAD, bottom * ROW + 2 * PAD + 60
    img = Image.new("RGB", (width, height), BG)
    d = ImageDraw.Draw(img)
    big = ImageFont.load_default(size=22)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=11)
    variables = ", ".join("$" + v["name"] for v in dash["templating"]["list"])
    d.text((PAD, 12), dash["title"], fill=TITLE, font=big)
    d.text((PAD, 40), f"variables: {variables}", fill=MUTED, font=small)
    for p in panels:
        g = p["gridPos"]
        x0, y0 = PAD + g["x"] * COL, PAD + 60 + g["y"] * ROW
        x1, y1 = x0 + g["w"] * COL - 6, y0 + g["h"] * ROW - 6
        kind = p["type"]
        if kind == "row":
            d.rectangle((x0, y0, x1, y1 + 4), fill=ROWBAR)
            d.text((x0 + 8, y0 + 6), "ROW  " + p["title"], fill=COLOURS["row"], font=font)
            continue
        d.rectangle((x0, y0, x1, y1), fill=PANEL, outline=BORDER)
        d.rectangle((x0, y0, x0 + 4, y1), fill=COLOURS.get(kind, MUTED))
        d.text((x0 + 12, y0 + 8), p.get("title", ""), fill=TITLE, font=font)
        defaults = p.get("fieldConfig", {}).get("defaults", {})
        info = f"{kind}  ·  unit {defaults.get('unit') or '-'}"
        steps = [s["value"] for s in defaults.get("thresholds", {}).get("steps", []) if s["value"]]
        if steps:
            info += "  ·  thresholds " + " / ".join(f"{v:g}" for v in steps)
        if p.get("repeat"):
            info += f"  ·  one per ${p['repeat']}"
        d.text((x0 + 12, y0 + 28), info, fill=MUTED, font=small)
        y = y0 + 46
        for t in p.get("targets", []):
            expr = " ".join(t.get("expr", "").split())
            limit = max(10, (x1 - x0 - 24) // 6)
            text = expr if len(expr) <= limit else expr[: limit - 3] + "..."
            if y + 14 < y1:
                d.text((x0 + 12, y), text, fill="#9fa7b3", font=small)
            y += 16
    return img


def layout_pictures(cfg: MixinConfig) -> dict[str, Image.Image]:
    """uid -> layout picture (deterministic for a given Pillow version: the pinned one)."""
    return {uid: draw_layout(dash) for uid, dash in build_dashboards(cfg).items()}


def draw_layouts(cfg: MixinConfig, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for uid, img in layout_pictures(cfg).items():
        path = out / f"{uid}.png"
        img.save(path, optimize=True)
        paths.append(path)
    return paths
