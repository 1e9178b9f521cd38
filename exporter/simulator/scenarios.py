"""Scenarios a test or a demo switches on: quality problems and API misbehaviour.

Each scenario has a name, documented parameters with defaults, and what the exporter should show.
Data scenarios change the values of one app from shortly before they are switched on; API
scenarios change how the simulator answers (optionally only for one ``action`` or ``app_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from exporter.simulator.segments import segments

__all__ = ["SCENARIOS", "ActiveScenario", "ScenarioSpec", "coerce", "parse_spec"]


@dataclass(frozen=True)
class ScenarioSpec:
    name: str
    kind: str  # "data" or "api"
    summary: str
    expect: str  # what the exporter should show
    defaults: dict[str, Any] = field(default_factory=dict)


_API = {"action": "", "app_id": ""}
_SEGMENT = {"product_type": "", "os": "", "network": "", "province": ""}
_SEGMENT_NOTE = (
    " Optional `product_type` (native|web; empty: both) and `os`, `network`, `province` limit it "
    "to one segment: the distribution APIs show exactly that segment at `value`, the app-level "
    "value moves by the segment's share of traffic (android is 46 %), and the watched users of "
    "that segment in the busiest rooms get worse ListCallDetail values."
)
_PERCENT = "percent, 0..100"

SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec(
            "stall_spike",
            "data",
            "Audio and/or video stall rate of one app jumps to `value` "
            + _PERCENT
            + "."
            + _SEGMENT_NOTE,
            "volcengine_rtc_stall_ratio{app_id=<app>,media=<media>} rises to value/100 for that "
            "app only (limited to a segment: to about share*value/100, and "
            "volcengine_rtc_breakdown_stall_ratio{segment=<segment>} to value/100); "
            "RtcAudioStallHigh / RtcVideoStallHigh fire; watched users of the segment show longer "
            "volcengine_rtc_client_stall_duration_seconds and more packet loss.",
            {"app_id": "", "media": "audio,video", "value": 25.0, **_SEGMENT},
        ),
        ScenarioSpec(
            "join_drop",
            "data",
            "Join-room success (5 s) of one app drops to `value` " + _PERCENT + "." + _SEGMENT_NOTE,
            "volcengine_rtc_join_room_success_ratio{app_id=<app>} falls to value/100 (or by the "
            "segment's share); RtcJoinRoomSuccessLow fires.",
            {"app_id": "", "value": 80.0, **_SEGMENT},
        ),
        ScenarioSpec(
            "first_frame_failure",
            "data",
            "First-frame send and decode success of one app drop to `value` "
            + _PERCENT
            + "."
            + _SEGMENT_NOTE,
            "volcengine_rtc_first_frame_send_success_ratio and "
            "volcengine_rtc_first_frame_decode_success_ratio fall to value/100 for that app.",
            {"app_id": "", "media": "audio,video", "value": 85.0, **_SEGMENT},
        ),
        ScenarioSpec(
            "network_delay",
            "data",
            "Share of call time within the 400 ms delay threshold of one app drops to `value`."
            + _SEGMENT_NOTE,
            "volcengine_rtc_network_delay_within_threshold_ratio falls to value/100 for that app; "
            "watched users of the segment show higher volcengine_rtc_client_network_delay_seconds.",
            {"app_id": "", "media": "audio,video", "value": 70.0, **_SEGMENT},
        ),
        ScenarioSpec(
            "partial_bucket",
            "data",
            "Every bucket whose data is not all in yet (its end plus the action's data delay is "
            "still ahead), the newest ones included, is returned partly filled: counts times "
            "`fill`, failure shares (100 - success, stall rate) doubled plus 5 points.",
            "nothing changes: the exporter exports a bucket only once its end plus the action's "
            "delay has passed (settle_seconds); one that did not wait would halve "
            "volcengine_rtc_online_users and sink volcengine_rtc_join_room_success_ratio.",
            {"app_id": "", "fill": 0.5},
        ),
        ScenarioSpec(
            "crowded_rooms",
            "data",
            "One app gets `rooms` more running rooms (1-3 users each, created over the last "
            "23 h) and `crowd-hot`, created after them, with `users` users: its busiest room. "
            "ListRoomInfo then lists at most `cap` calls per query, oldest first, with `Total` "
            "counting every match and `HasMore` true when it left some out: the simulator's "
            "reading of the documented HasMore (too many rooms match; narrow the query).",
            "the rooms source narrows the ListRoomInfo window (more calls, shorter windows) "
            'and finds crowd-hot: volcengine_rtc_room_active_users{room_id="crowd-hot"}; '
            "what no window of a minute or the call budget (sources.rooms.max_pages) can list "
            'is counted in volcengine_rtc_exporter_points_skipped_total{source="rooms",'
            'reason="has_more"|"max_pages"} and logged once. Without narrowing, crowd-hot '
            "would be missing.",
            {"app_id": "", "rooms": 400, "cap": 250, "users": 60},
        ),
        ScenarioSpec(
            "throttle_storm",
            "api",
            "Requests are answered HTTP 429 FlowLimitExceeded.QPSOverLimit with `probability`.",
            'volcengine_rtc_exporter_api_request_failures_total{reason="throttled"} rises and the '
            "client retries with back-off; a refresh still throttled after its retries marks "
            'that source down at once (source_up 0; RtcSourceDown{reason="throttled"} after '
            "its for, muted by RtcApiThrottled); the last good values stay exported until "
            "max_staleness (3 effective intervals by default), then the series disappear.",
            {"probability": 1.0, **_API},
        ),
        ScenarioSpec(
            "server_errors",
            "api",
            "A burst of HTTP `status` (500 InternalError or 503 ServiceUnavailableTemp) answers.",
            'failures_total{reason="server"} rises; retries with back-off; source_up 0 if they '
            "persist.",
            {"probability": 1.0, "status": 500, **_API},
        ),
        ScenarioSpec(
            "slow",
            "api",
            "Every answer is delayed by `seconds` (on the simulator's sleep: virtual in tests).",
            "request duration histogram moves; beyond the client timeout, "
            'failures_total{reason="timeout"}. A reload (SIGHUP, /-/reload) while answers are '
            "slow aborts the old engine's calls: they count as no failure and change no "
            "source_up.",
            {"seconds": 3.0, **_API},
        ),
        ScenarioSpec(
            "malformed_json",
            "api",
            "HTTP 200 with a truncated JSON body.",
            'failures_total{reason="schema"} rises; that source goes down; nothing crashes.',
            {**_API},
        ),
        ScenarioSpec(
            "error_200",
            "api",
            "HTTP 200 whose ResponseMetadata carries an Error (`code`).",
            "counted as a failure with the reason of the code (InternalError -> server).",
            {"code": "InternalError", **_API},
        ),
        ScenarioSpec(
            "expired_credentials",
            "api",
            "Every request is answered HTTP 401 InvalidAccessKey, as for a revoked key.",
            'failures_total{reason="auth"} rises; a log line names the code, never the secret.',
            {**_API},
        ),
        ScenarioSpec(
            "surrogates",
            "api",
            "A lone UTF-16 surrogate (the JSON escape `\\ud800`) is put into every value of the "
            "response field `field` (Unit, AppName, AppId, RoomId, UserId, PeerId, Status, Name, "
            "Dimension, DistributionName, Desc, ...; a non-string value becomes such a string).",
            "no crash and no unencodable /metrics page: the exporter drops or escapes the value; "
            'points it cannot use count as failures_total{reason="schema"} or points_skipped.',
            {"field": "Unit", **_API},
        ),
        ScenarioSpec(
            "huge_body",
            "api",
            "HTTP 200 with a valid-looking body of `megabytes` MB (the real result, its list "
            "repeated).",
            'the client stops reading at its response size cap: failures_total{reason="schema"}'
            " rises, memory stays flat, other sources are unaffected.",
            {"megabytes": 16.0, **_API},
        ),
        ScenarioSpec(
            "endless_body",
            "api",
            "HTTP 200, chunked transfer that never ends (a JSON array that keeps growing).",
            "the request ends at the client's size cap or timeout (reason schema or timeout); "
            "the connection is closed, nothing hangs.",
            {**_API},
        ),
        ScenarioSpec(
            "trickle",
            "api",
            "The normal body sent at `bytes_per_second` (real time over HTTP).",
            'the client\'s overall deadline ends it: failures_total{reason="timeout"}; a slow '
            "drip cannot hold a refresh for longer than the timeout.",
            {"bytes_per_second": 100.0, **_API},
        ),
        ScenarioSpec(
            "apps_spike",
            "api",
            "ListApps also lists `count` apps that do not exist (a test account's burst, a "
            "glitch); their data calls are answered InvalidParameter.NotExistAppId.",
            "the exporter does not poll the extra apps until a second ListApps answer confirms "
            "them (it asks again within a minute; log line 'discovery answer adds more apps'): "
            "switched off before that, they never appear. Confirmed, they show with source_up 0 "
            "(reason client) and the quota plan lengthens; once the spike ends, the next "
            "ListApps answer drops them at once: no more calls, no series, and the next runs of "
            "the sources come forward to the plan of the remaining apps.",
            {"count": 5000},
        ),
        ScenarioSpec(
            "product_type_error",
            "api",
            "Calls with ProductType=`product_type` (empty: any) are answered HTTP 200 with "
            "ResponseMetadata.Error `code`; the other product type answers normally.",
            "the other product type's series stay current; the failing one's last values are "
            "served until stale (3 intervals), then vanish; source_up 0 for the quality and "
            'breakdown sources of that app (RtcSourceDown, reason "server" for InternalError), '
            "one log line 'source partly down' per app and product type, one 'source part "
            "recovered' when the scenario ends.",
            {"product_type": "web", "code": "InternalError", **_API},
        ),
        ScenarioSpec(
            "clock_ahead",
            "api",
            "Every TimeStamp and Time in answers is `seconds` ahead (the vendor's clock runs "
            "ahead).",
            "points more than 2 minutes ahead are skipped and counted (points_skipped_total{reason="
            '"future"}), one log line says how far ahead; the last usable values stay until '
            "stale and source_data_timestamp_seconds stops moving, so RtcDataStale fires. A "
            "skew under 2 minutes only makes the data look that much older.",
            {"seconds": 3600.0, **_API},
        ),
        ScenarioSpec(
            "duplicate_points",
            "api",
            "Each data point (with `last` > 0: the `last` newest of each series) is listed "
            "twice, the copy with its value times `factor`.",
            "a bucket whose copies disagree is not used (counted as points_skipped_total{reason="
            '"duplicate"}): the newest earlier bucket without a conflict is exported; with '
            "every point doubled, the affected series vanish while it lasts. factor=1 changes "
            "nothing.",
            {"factor": 1.5, "last": 0, **_API},
        ),
        ScenarioSpec(
            "bad_values",
            "api",
            "Data points whose Value is `kind`: nan, inf, -inf, negative, huge (1e308), string "
            '("12"), bool (true), null, missing, or mixed (each point the next kind in turn).',
            "no sample for an unusable value (never NaN or a wrong number); skipped points are "
            "counted (volcengine_rtc_exporter_points_skipped_total); the source stays up.",
            {"kind": "mixed", **_API},
        ),
        ScenarioSpec(
            "bad_points",
            "api",
            "Data points with a broken TimeStamp/Time, by `kind`: missing, null, number (wrong "
            "type), no_offset (no UTC offset), extra (unknown extra fields; otherwise valid), "
            "or mixed.",
            "broken points are skipped and counted, extra fields are ignored, a timestamp "
            "without offset is never read as local time; the source stays up.",
            {"kind": "mixed", **_API},
        ),
        ScenarioSpec(
            "share_fraction",
            "api",
            "ListOperationDistribution answers `Proportion` as a fraction 0..1 (two decimals) "
            "instead of a percentage: the docs name no scale (占比), and their example "
            "(66.66 for 666 users) only suggests percent.",
            "nothing changes in volcengine_rtc_report_breakdown_users_share_ratio: the exporter "
            "reads the scale from the answer (the shares of a dimension add up to about 1 "
            "instead of 100) and logs the detected scale once; a share 100 times too small "
            "never appears.",
            {**_API},
        ),
        ScenarioSpec(
            "random_units",
            "api",
            "Every answer carries a new random Unit string on each indicator.",
            "those indicators are skipped and volcengine_rtc_exporter_unknown_unit_total counts "
            "them; the exporter's memory and label sets stay bounded.",
            {**_API},
        ),
        ScenarioSpec(
            "hostile_ids",
            "api",
            "Ids and names carry ANSI escapes and CR/LF (a fake log line) in `fields` "
            "(comma list; empty: AppName, RoomId, UserId, PeerId, CallId, DeviceType, "
            "SdkVersion and the user lists).",
            "log lines stay one line with the escapes quoted; label values are exported "
            "verbatim but escaped by the exposition format; no terminal control reaches a log.",
            {"fields": "", **_API},
        ),
        ScenarioSpec(
            "echo_secret",
            "api",
            "An error answer (HTTP `status`, `code`) whose Message contains the request's "
            "SecretAccessKey and the app's AppKey.",
            "the failure is counted (client or auth reason) but neither secret appears in the "
            "exporter's logs, /metrics or pages.",
            {"status": 400, "code": "InvalidParameter", **_API},
        ),
    )
}

# the event-callback scenarios live with the feed (their module imports ScenarioSpec from here)
from exporter.simulator.callback_scenarios import CALLBACK_SCENARIOS  # noqa: E402

SCENARIOS.update(CALLBACK_SCENARIOS)

_CHOICES: dict[str, set[str]] = {
    "product_type": {"", "native", "web"},
    "os": {"", *segments("OS")},
    "network": {"", *segments("Access")},
    "province": {"", *segments("Province")},
}
_KINDS = {
    "bad_values": {"nan", "inf", "-inf", "negative", "huge", "string", "bool", "null", "missing"},
    "bad_points": {"missing", "null", "number", "no_offset", "extra"},
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


_RANGES = {"rooms": (0, 20_000), "cap": (1, 100_000), "users": (1, 1_000)}


def _check(name: str, key: str, value: Any) -> None:
    low, high = _RANGES.get(key, (None, None))
    if low is not None and high is not None and not low <= value <= high:
        raise ValueError(f"scenario {name}: {key} must be {low}..{high}")
    allowed = _CHOICES.get(key)
    if key == "kind" and name in _KINDS:
        allowed = _KINDS[name] | {"mixed"}
    if allowed is not None and value not in allowed:
        raise ValueError(f"scenario {name}: {key} must be one of {sorted(allowed)}")
    if key == "media" and not {m.strip() for m in str(value).split(",")} <= {"audio", "video"}:
        raise ValueError(f"scenario {name}: media is a list of audio, video")


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
        _check(name, key, out[key])
    return out


def parse_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``"stall_spike:media=audio,video,os=android"`` -> ("stall_spike", {...}).

    An item without ``=`` continues the list value of the key before it (``media``, ``fields``).
    """
    name, _, rest = text.partition(":")
    params: dict[str, Any] = {}
    last = ""
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            if not last:
                raise ValueError(f"scenario parameter {item!r} is not key=value")
            params[last] = f"{params[last]},{item}"
            continue
        last = key.strip()
        params[last] = value.strip()
    return name.strip(), coerce(name.strip(), params)
