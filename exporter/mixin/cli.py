"""``volc-rtc-exporter mixin``: (re)generate dashboards, rules, routing and runbooks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from exporter.errors import ConfigError


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="volc-rtc-exporter mixin",
        description="Generate Grafana dashboards, Prometheus rules, Alertmanager routing and "
        "runbooks from one thresholds file.",
    )
    p.add_argument("--config", type=Path, help="YAML thresholds file (defaults when omitted)")
    p.add_argument("--out", type=Path, default=Path("."), help="output root (default: .)")
    p.add_argument(
        "--check", action="store_true", help="exit 1 if files under --out differ from generated"
    )
    p.add_argument("--png", action="store_true", help="also draw each dashboard's layout as PNG")
    p.add_argument(
        "--jsonnet",
        action="store_true",
        help="also write the Jsonnet mixin (mixin/, for jsonnet-bundler and kube-prometheus)",
    )
    args = p.parse_args(argv)
    try:
        from exporter.mixin.config import load_mixin_config, placeholders
        from exporter.mixin.render import differences, render_all, write_all
    except ImportError as exc:
        print(
            f"error: {exc.name} is missing: pip install 'volc-rtc-exporter[mixin]'",
            file=sys.stderr,
        )
        return 2
    try:
        cfg = load_mixin_config(args.config)
    except ConfigError as exc:
        print(f"error: invalid mixin configuration: {exc}", file=sys.stderr)
        return 2
    for warning in placeholders(cfg):  # links the on-call would open: say what is not set
        print(f"warning: {warning}", file=sys.stderr)
    files = render_all(cfg)
    if args.jsonnet:
        from exporter.mixin.jsonnet import render_jsonnet

        files.update(render_jsonnet(cfg))
    if args.check:
        diff = differences(files, args.out)
        for line in diff:
            print(line, file=sys.stderr)
        return 1 if diff else 0
    for path in write_all(files, args.out):
        print(f"wrote {path}")
    if args.png:
        from exporter.mixin.layout import draw_layouts

        for path in draw_layouts(cfg, args.out / "grafana" / "dashboards"):
            print(f"wrote {path}")
    return 0
