"""Scenarios a test or a demo switches on: quality problems and API misbehaviour.

Each scenario has a name, documented parameters with defaults, and what the exporter should show.
Data scenarios change the values of one app from shortly before they are switched on; API
scenarios change how the simulator answers (optionally only for one ``action`` or ``app_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCENARIOS", "ActiveScenario", "ScenarioSpec", "parse_spec"]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: str  # "data" or "api"
    summary: str
    expect: str  # what the exporter should show
    defaults: dict[str, Any] = field(default_factory=dict)


_FILTERS = {"action": "", "app_id": ""}

SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec(
            "stall_spike",
            "data",
            "Audio and/or video stall rate of one app jumps to `value` percent.",
            "volcengine_rtc_stall_ratio{app_id=<app>,media=<media>} rises to value/100 for that "
            "app only; RtcAudioStallHigh / RtcVideoStallHigh fire.",
            {"app_id": "", "media": "audio,video", "value": 25.0},
        ),
        ScenarioSpec(
            "join_drop",
            "data",
            "Join-room success (5 s) of one app drops to `value` percent.",
            "volcengine_rtc_join_room_success_ratio{app_id=<app>} falls to value/100; "
            "RtcJoinRoomSuccessLow fires.",
            {"app_id": "", "value": 80.0},
        ),
        ScenarioSpec(
            "first_frame_failure",
            "data",
            "First-frame send and decode success of one app drop to `value` percent.",
            "volcengine_rtc_first_frame_send_success_ratio and "
            "volcengine_rtc_first_frame_decode_success_ratio fall to value/100 for that app.",
            {"app_id": "", "media": "audio,video", "value": 85.0},
        ),
        ScenarioSpec(
            "network_delay",
            "data",
            "Share of call time within the 400 ms delay threshold of one app drops to `value`.",
            "volcengine_rtc_network_delay_within_threshold_ratio falls to value/100 for that app.",
            {"app_id": "", "media": "audio,video", "value": 70.0},
        ),
        ScenarioSpec(
            "throttle_storm",
            "api",
            "Requests are answered HTTP 429 FlowLimitExceeded.QPSOverLimit with `probability`.",
            'volcengine_rtc_exporter_api_request_failures_total{reason="throttled"} rises; the '
            "last good values are served until max_staleness; no source gives up.",
            {"probability": 1.0, **_FILTERS},
        ),
        ScenarioSpec(
            "server_errors",
            "api",
            "A burst of HTTP `status` (500 InternalError or 503 ServiceUnavailableTemp) answers.",
            'failures_total{reason="server"} rises; retries with back-off; source_up 0 if they '
            "persist.",
            {"probability": 1.0, "status": 500, **_FILTERS},
        ),
        ScenarioSpec(
            "slow",
            "api",
            "Every answer is delayed by `seconds`.",
            "request duration histogram moves; beyond the client timeout, "
            'failures_total{reason="timeout"}.',
            {"seconds": 3.0, **_FILTERS},
        ),
        ScenarioSpec(
            "malformed_json",
            "api",
            "HTTP 200 with a truncated JSON body.",
            'failures_total{reason="schema"} rises; that source goes down; nothing crashes.',
            {**_FILTERS},
        ),
        ScenarioSpec(
            "error_200",
            "api",
            "HTTP 200 whose ResponseMetadata carries an Error (`code`).",
            "counted as a failure with the reason of the code (InternalError -> server).",
            {"code": "InternalError", **_FILTERS},
        ),
        ScenarioSpec(
            "expired_credentials",
            "api",
            "Every request is answered HTTP 401 InvalidAccessKey, as for a revoked key.",
            'failures_total{reason="auth"} rises; a log line names the code, never the secret.',
            {**_FILTERS},
        ),
    )
}


@dataclass
class ActiveScenario:
    name: str
    params: dict[str, Any]
    since: float

    def applies(self, action: str, app_id: str) -> bool:
        want_action = str(self.params.get("action", "") or "")
        want_app = str(self.params.get("app_id", "") or "")
        return (not want_action or want_action == action) and (not want_app or want_app == app_id)

    def media(self) -> set[str]:
        return {m.strip() for m in str(self.params.get("media", "")).split(",") if m.strip()}


def coerce(name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Validate a scenario's parameters against its defaults; raise ValueError."""
    spec = SCENARIOS.get(name)
    if spec is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    out = dict(spec.defaults)
    for key, value in params.items():
        if key not in spec.defaults:
            raise ValueError(f"scenario {name}: unknown parameter {key!r}")
        default = spec.defaults[key]
        try:
            out[key] = type(default)(value) if not isinstance(default, str) else str(value)
        except (TypeError, ValueError):
            raise ValueError(f"scenario {name}: {key} must be {type(default).__name__}") from None
    return out


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``"stall_spike:media=video,value=30"`` -> ("stall_spike", {...})."""
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            # allow media lists: "media=audio,video" splits into "video" with no '='
            if "media" in params:
                params["media"] = f"{params['media']},{item}"
                continue
            raise ValueError(f"scenario parameter {item!r} is not key=value")
        params[key.strip()] = value.strip()
    return name.strip(), coerce(name.strip(), params)
