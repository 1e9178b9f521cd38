"""RTC events and recording: what the vendor pushes (event callbacks) — events per type,
joins and leaves with their reasons, cloud recording outcomes by storage platform and region,
upload delay, in-flight tasks, CDN and relay state changes, and the receiver itself (outcomes,
delivery delay, newest event per app). Sums across the exporter's replicas: events of one app
reach whichever replica the Ingress picks."""

from __future__ import annotations

from exporter.mixin.config import MixinConfig
from exporter.mixin.dashboards.panels import DashboardSpec, PanelSpec, Scope, query_var, units
from exporter.mixin.rules.callbacks import EVENTS_DASHBOARD, REJECTED

__all__ = ["events"]

R = "volcengine_rtc_"
RATE = "[$__rate_interval]"
APP = 'app_id=~"$app_id"'


def _rate(s: Scope, family: str, by: str, *matchers: str) -> str:
    return f"sum by ({by}) (rate({s.q(R + family, APP, *matchers)}{RATE}))"


def _per_app(s: Scope, expr: str) -> str:
    """``expr`` (one series per ``app_id``, summed across replicas) with the app's name."""
    return s.named(expr, per_instance=False)


def _app_rate(s: Scope, family: str) -> str:
    return _per_app(s, _rate(s, family, "app_id"))


def _quantiles(s: Scope, family: str, *, per_app: bool = False) -> tuple[tuple[str, str], ...]:
    buckets = s.q(R + family + "_bucket", APP) if per_app else s.q(R + family + "_bucket")
    group = "le, app_id" if per_app else "le"
    out = []
    for q in (0.5, 0.99):
        expr = f"histogram_quantile({q}, sum by ({group}) (rate({buckets}{RATE})))"
        if per_app:
            out.append((_per_app(s, expr), f"p{int(q * 100)} {{{{app_name}}}}"))
        else:
            out.append((expr, f"p{int(q * 100)}"))
    return tuple(out)


def _receiver(s: Scope) -> tuple[PanelSpec, ...]:
    requests = s.q(R + "callback_requests_total")
    rejected = s.q(R + "callback_requests_total", f'outcome=~"{REJECTED}"')
    last = s.q(R + "callback_last_event_timestamp_seconds", APP)
    return (
        PanelSpec("Requests by outcome", units.RequestsPerSecond,
                  ((f"sum by (outcome) (rate({requests}{RATE}))", "{{outcome}}"),),
                  "POST /callbacks per second by outcome: accepted and duplicate (200), "
                  "bad_signature and stale (401), malformed (400), too_large (413), "
                  "overloaded (503) (RtcCallbacksRejected).", width=8),
        PanelSpec("Rejected share (1h)", units.PercentUnit,
                  ((f"sum(rate({rejected}[1h])) / sum(rate({requests}[1h]))", "rejected"),),
                  "Share of requests rejected in the last hour.", kind="stat", width=4,
                  max=1),
        PanelSpec("Delivery delay p50 / p99", units.Seconds,
                  _quantiles(s, "callback_delivery_delay_seconds"),
                  "Receipt time minus the event's EventTime, for accepted events.", width=6),
        PanelSpec("Newest event age", units.Seconds,
                  ((_per_app(s, f"time() - max by (app_id) ({last})"), "{{app_name}}"),),
                  "Seconds since the newest accepted event of each app (RtcCallbacksSilent).",
                  width=6),
        PanelSpec("Events per type", units.EventsPerSecond,
                  ((_rate(s, "callback_events_total", "event_type"), "{{event_type}}"),),
                  "Accepted events per second by the vendor's EventType (lower-cased).",
                  width=24),
    )  # fmt: skip


def _users(s: Scope) -> tuple[PanelSpec, ...]:
    return (
        PanelSpec("Joins by device type", units.EventsPerSecond,
                  ((_rate(s, "user_joins_total", "device_type, visibility"),
                    "{{device_type}} {{visibility}}"),),
                  "Users joining a room per second (UserJoinRoom, InvisibleUserJoinRoom).",
                  width=8),
        PanelSpec("Leaves by reason", units.EventsPerSecond,
                  ((_rate(s, "user_leaves_total", "reason"), "{{reason}}"),),
                  "Users leaving a room per second, by the vendor's Reason.", width=8),
        PanelSpec("Session duration p50 / p99", units.Seconds,
                  _quantiles(s, "session_duration_seconds", per_app=True),
                  "Time in the room of users who left (UserLeaveRoom Duration).", width=8),
    )  # fmt: skip


def _recording(s: Scope) -> tuple[PanelSpec, ...]:
    storage = "storage_platform, storage_region"
    uploads = R + "recording_uploads_total"
    failure = 'result="failure"'
    failed = f"sum by ({storage}) (rate({s.q(uploads, APP, failure)}[1h]))"
    total = f"sum by ({storage}) (rate({s.q(uploads, APP)}[1h]))"
    info = s.q(R + "storage_info", APP)
    return (
        PanelSpec("Recording tasks started", units.OpsPerSecond,
                  ((_rate(s, "recording_tasks_started_total", "result"), "{{result}}"),
                   (_app_rate(s, "recording_tasks_stopped_total"), "stopped {{app_name}}")),
                  "Tasks started (RecordStarted, by Code) and stopped per second "
                  "(RtcRecordingStartFailing).", width=8),
        PanelSpec("Uploads by result and storage", units.OpsPerSecond,
                  ((_rate(s, "recording_uploads_total", f"result, {storage}"),
                    "{{result}} {{storage_platform}} {{storage_region}}"),),
                  "RecordUploadDone per second by result and the app's configured storage.",
                  width=8),
        PanelSpec("Upload failure share by storage (1h)", units.PercentUnit,
                  ((f"{failed} / {total}", "{{storage_platform}} {{storage_region}}"),),
                  "Share of uploads that failed per storage platform and region "
                  "(RtcRecordingUploadFailing).", width=8, max=1),
        PanelSpec("Upload delay p50 / p99", units.Seconds,
                  _quantiles(s, "recording_upload_delay_seconds", per_app=True),
                  "From a task's RecordStopped to its RecordUploadDone.", width=8),
        PanelSpec("Tasks in flight", units.Short,
                  ((f"sum by (state) ({s.q(R + 'recording_tasks_in_flight', APP)})",
                    "{{state}}"),),
                  "Tasks recording, and stopped but not yet uploaded (expire after 72 h; "
                  "overdue ones are checked with GetRecordTask).", width=8),
        PanelSpec("Recorded bytes by storage", units.BytesPerSecondSI,
                  ((_rate(s, "recording_bytes_total", storage),
                    "bytes {{storage_platform}} {{storage_region}}"),),
                  "Bytes of recording files produced per second, by storage.", width=8),
        PanelSpec("Files and media seconds", units.Short,
                  ((_app_rate(s, "recording_files_total"), "files/s {{app_name}}"),
                   (_app_rate(s, "recording_media_seconds_total"), "media s/s {{app_name}}")),
                  "Recording files per second and media seconds recorded per second.",
                  width=12),
        PanelSpec("Configured storage", units.Short,
                  ((_per_app(s, f"max by (app_id, {storage}, supported) ({info})"), ""),),
                  "Each app's recording storage decoded with the vendor's Region table; "
                  "supported=false: a region the vendor does not support or a code outside "
                  "the table.", kind="table", width=12),
    )  # fmt: skip


def _tasks(s: Scope) -> tuple[PanelSpec, ...]:
    return (
        PanelSpec("Push-to-CDN state changes", units.EventsPerSecond,
                  ((_rate(s, "cdn_push_state_changes_total", "event_type, state"),
                    "{{event_type}} {{state}}"),),
                  "Transcode* events per second, by the event's state.", width=12),
        PanelSpec("Relay stream state changes", units.EventsPerSecond,
                  ((_rate(s, "relay_stream_state_changes_total", "status"), "{{status}}"),),
                  "RelayStreamStateChanged events per second, by Status.", width=12),
    )  # fmt: skip


def events(cfg: MixinConfig) -> DashboardSpec:
    s = Scope(cfg)
    apps = f"label_values({R}callback_events_total{cfg.sel(*s.matchers)}, app_id)"
    return DashboardSpec(
        EVENTS_DASHBOARD,
        "RTC events and recording",
        "Event callbacks pushed by the RTC server: events per type, joins and leaves, cloud "
        "recording outcomes by storage, upload delay, CDN and relay, and the receiver.",
        (
            ("Receiver", _receiver(s)),
            ("Users", _users(s)),
            ("Cloud recording", _recording(s)),
            ("Push to CDN and relay", _tasks(s)),
        ),
        (query_var("app_id", "App", apps),),
        note="Counts of what the vendor pushed (at most three deliveries; lost events are not "
        "recovered): read rates and shares, not totals. See docs/callbacks.md.",
    )
