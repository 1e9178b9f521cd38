"""``docs/scenarios.md``, generated from the simulator's own tables (a test keeps it current)."""

from __future__ import annotations

from exporter.simulator.actions import ACTIONS, PROVIDERS, quota_key
from exporter.simulator.callback_scenarios import CALLBACKS_DOC
from exporter.simulator.scenarios import SCENARIOS
from exporter.simulator.segments import DIMENSIONS, segments, share

__all__ = ["render_scenarios_md"]

_INTRO = """\
# Simulator scenarios

Generated from `exporter/simulator/` (scenarios, action and quota tables) by
`python -m exporter.docs scenarios > docs/scenarios.md`. Switch a scenario on with
`--scenario NAME[:key=value,...]` (simulator), `--demo.scenario ...` (demo mode), or
`POST /-/scenarios {"name": ..., "params": {...}}`; `DELETE /-/scenarios[/NAME]`
switches them off. Data scenarios default to the first app; API scenarios apply to
every request unless `action` or `app_id` narrows them. A list value continues after a
comma: `stall_spike:media=audio,video,os=android`.

Data scenarios also take `product_type` (`native` or `web`; empty: both) and `os`,
`network`, `province` (one segment each, as the distribution APIs spell it) to limit the
problem to a slice of the traffic, e.g. `stall_spike:media=video,os=android,value=30`.
"""

_CLI = """\
## Running the simulator

`python -m exporter.simulator` flags: `--host`, `--port` (default 8080), `--apps` (running
apps; one suspended app is added), `--seed`, `--access-key-id`, `--secret-access-key-file`
(default: a generated key, printed once), `--provider volcengine|byteplus` (quota table and
signing region), `--region` (override the signing region), `--qps N` (per-second limit of
every action), `--quota ACTION:WINDOW=N` (repeatable; WINDOW is `second`, `minute` or `day`,
ACTION `*` means every action, `0` removes the window; e.g. `--quota ListQuality:day=1000`),
`--scenario NAME[:k=v,...]` (repeatable), `--list-scenarios`. The first output line is a
JSON object: `endpoint`, `access_key_id`, `apps`, `provider`, `region`, `quotas`,
`scenarios` (and `secret_access_key` when generated).

Admin endpoints (unsigned): `GET /-/healthy`; `GET /-/stats` (answers per action and HTTP
status, and `quota_rejections` per action and window); `GET /-/quotas` (limits and what is
left in each window); `GET/POST/DELETE /-/scenarios[/NAME]`.

Quotas are account-wide sliding windows of 1 s, 60 s and 86400 s, counted per action; a full
window answers HTTP 429 `FlowLimitExceeded.QPSOverLimit`. Tests run them on an injected clock.
"""

_WORLD = """\
## The simulated world

Each app has a small set of rooms placed around the simulator's start time: `room-demo-1`,
the busiest running room (the demo's watch-list room; its users cover every OS, network and
province below, so a segment-limited scenario always hits some of them; `alice` receives
from two peers, `bob` sends badly, `dave` has left, `erin` left and rejoined, four invisible
viewers, and two server-side (Linux) users that ListUserInfo lists only with
`ExcludeServerUser=false`: the visible `relay-bot` and the invisible `recorder-bot`),
`room-long` (running, created 30 h earlier: older than ListRoomInfo's 24 h span),
`room-reuse` (one RoomId, a finished and a running call), `meeting-1`, `meeting-2`
(running), `class-1..3` (finished, earlier days) and `room-late` (created ten minutes after
the start). For a room the world does not know, ListCallDetail
answers for the requested users, each receiving from the others.

Traffic shares of the segments (the distribution APIs; `Province` is within China):
"""


def _span(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def _quota_text(limits: dict[str, float]) -> str:
    return ", ".join(f"{v:g}/{w}" for w, v in limits.items()) or "none"


def _actions_table() -> list[str]:
    lines = [
        "## Actions and quotas",
        "",
        "| action | method | versions | span / lookback / delay | " + " | ".join(PROVIDERS) + " |",
        "|---|---|---|---|" + "---|" * len(PROVIDERS),
    ]
    for spec in ACTIONS.values():
        window = (
            f"{_span(spec.max_span)}{' (clamped)' if spec.clamp_span else ''} / "
            f"{_span(spec.max_lookback)} / {_span(spec.delay)}"
            if spec.max_span
            else "live"
        )
        quotas = " | ".join(_quota_text(spec.quotas[p].limits()) for p in PROVIDERS)
        versions = ", ".join(spec.versions)
        for provider, only in spec.provider_versions:
            versions += f" ({provider}: {', '.join(only)} only)"
        lines.append(f"| `{spec.name}` | {spec.method} | {versions} | {window} | {quotas} |")
        if spec.variant_quota is not None:
            key = quota_key(spec, {"Property": "true"})
            limit = _quota_text(spec.variant_quota.limits())
            lines.append(f"| `{key}` | | | | " + " | ".join(limit for _ in PROVIDERS) + " |")
    return lines + [
        "",
        "BytePlus values come from its pages; where none was found (the realtime actions,",
        "ListOperationData, ListOperationDistribution, GetRoomOnlineUsers) the Volcengine value",
        "is used. ListApps' quota is undocumented in both and treated like the data APIs.",
        "",
        "With `--provider byteplus` the simulator is as strict as BytePlus's pages: an action",
        "whose page shows one version answers any other with HTTP 404",
        "`InvalidActionOrVersion` (CodeN 100008), and `ListQualityDistribution` refuses",
        "`Dimension=Province` (its page lists Country, OS and Access only) with HTTP 400",
        "`InvalidParameter`. Volcengine serves both versions and all four dimensions.",
        "",
    ]


def render_scenarios_md() -> str:
    lines = [_INTRO]
    for spec in SCENARIOS.values():
        params = ", ".join(f"`{k}`={v!r}" for k, v in spec.defaults.items()) or "none"
        lines += [
            f"## `{spec.name}` ({spec.kind})",
            "",
            spec.summary,
            "",
            f"* parameters (defaults): {params}",
            f"* the exporter shows: {spec.expect}",
            "",
        ]
    lines += [_CLI, CALLBACKS_DOC, *_actions_table(), _WORLD]
    for dim in DIMENSIONS:
        parts = ", ".join(f"{s} {100 * share(dim, {s}):g} %" for s in segments(dim))
        lines.append(f"* `{dim}`: {parts}")
    return "\n".join(lines) + "\n"
