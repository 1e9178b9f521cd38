"""The landing page's quota plan: the plan table, then each tiered source's traffic tiers with
the busy apps by name and id (their peak online users) and the size of the tail."""

from __future__ import annotations

import html
from collections.abc import Mapping

from exporter.planner import Plan
from exporter.traffic import Traffic

__all__ = ["plan_section"]

MAX_LISTED = 50  # busy apps listed by name; the rest are counted


def plan_section(plan: Plan, traffic: Traffic, names: Mapping[str, tuple[str, str]]) -> str:
    """HTML: the plan table and the busy apps of the traffic tiers."""
    out = [f"<pre>{html.escape(plan.table())}</pre>"]
    busy = traffic.busy()
    if busy is None:
        out.append("<p>Traffic tiers: off (every app is refreshed at the busy tier's pace).</p>")
        return "\n".join(out)
    ranked = sorted(busy, key=lambda a: (-(traffic.peak(a) or 0.0), a))
    items = []
    for app_id in ranked[:MAX_LISTED]:
        name = names.get(app_id, ("", ""))[0]
        label = f"{name} ({app_id})" if name else app_id
        items.append(f"<li>{html.escape(label)}: {traffic.peak(app_id) or 0:g} users at peak</li>")
    more = len(ranked) - MAX_LISTED
    if more > 0:
        items.append(f"<li>... and {more} more</li>")
    floor = traffic.settings.traffic_floor
    out.append(
        f"<h3>Busy apps ({len(busy)}: at least {floor:g} online users at peak)</h3>\n"
        f"<ul>\n{chr(10).join(items) or '<li>none yet</li>'}\n</ul>\n"
        "<p>Every other app is in the tail; see the tiers column above for how often each "
        "tier is refreshed.</p>"
    )
    return "\n".join(out)
