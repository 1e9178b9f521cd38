"""Alerts on the event callbacks: cloud recordings that fail to start or to upload (naming the
storage platform and region), an app whose events stopped coming while it has traffic, and a
high share of rejected callback requests.

Events of one app may reach any replica behind the Ingress, so every expression sums across
instances (``by`` cluster, job and the alert's own labels, never instance).
"""

from __future__ import annotations

from typing import Any

from exporter.mixin.config import MixinConfig, seconds
from exporter.mixin.rules.common import alert

__all__ = ["CALLBACK_RUNBOOKS", "EVENTS_DASHBOARD", "callback_alerts"]

EVENTS_DASHBOARD = "rtc-events"
R = "volcengine_rtc_"
REJECTED = "bad_signature|stale|malformed|too_large"


def _by(cfg: MixinConfig, *labels: str) -> str:
    return ", ".join(((cfg.cluster_label,) if cfg.cluster_label else ()) + ("job", *labels))


def _url(cfg: MixinConfig, app: bool = True) -> str:
    base = f"{cfg.grafana_url}/d/{EVENTS_DASHBOARD}/{EVENTS_DASHBOARD}"
    job = "?var-job={{ $labels.job }}"
    return base + job + ("&var-app_id={{ $labels.app_id }}" if app else "")


def _failing(cfg: MixinConfig, family: str, labels: tuple[str, ...], ratio: float) -> str:
    """The failure share of a result-labelled counter over the window, with a floor."""
    c = cfg.callbacks
    by = _by(cfg, *labels)
    failures = family + cfg.sel('result="failure"')
    failed = f"sum by ({by}) (increase({failures}[{c.window}]))"
    total = f"sum by ({by}) (increase({family}{cfg.sel()}[{c.window}]))"
    floor = f"{c.recording_min_failures:g}"
    return f"(\n  {failed}\n/\n  {total}\n) > {ratio:g}\nand\n{failed} >= {floor}"


def _start_failing(cfg: MixinConfig) -> dict[str, Any]:
    c = cfg.callbacks
    family = R + "recording_tasks_started_total"
    expr = _failing(cfg, family, ("app_id",), c.recording_start_failure_ratio_max)
    annotations = {
        "summary": "Cloud recordings of {{ $labels.app_id }} fail to start",
        "description": "{{ $value | humanizePercentage }} of the recording tasks started in "
        f"the last {c.window} for app {{{{ $labels.app_id }}}} failed (RecordStarted with a "
        "non-zero Code): those calls are not being recorded.",
        "dashboard_url": _url(cfg),
    }
    name, for_, severity = (
        "RtcRecordingStartFailing",
        c.for_.recording_start_failing,
        c.severities.recording_start_failing,
    )
    return alert(cfg, name, expr, for_, severity, annotations, {"category": "recording"})


def _upload_failing(cfg: MixinConfig) -> dict[str, Any]:
    c = cfg.callbacks
    labels = ("app_id", "storage_platform", "storage_region")
    expr = _failing(
        cfg, R + "recording_uploads_total", labels, c.recording_upload_failure_ratio_max
    )
    where = "{{ $labels.storage_platform }} {{ $labels.storage_region }}"
    annotations = {
        "summary": "Recordings of {{ $labels.app_id }} fail to upload to " + where,
        "description": "{{ $value | humanizePercentage }} of the recording uploads of app "
        f"{{{{ $labels.app_id }}}} in the last {c.window} failed (RecordUploadDone with a "
        "non-zero Code); storage platform {{ $labels.storage_platform }}, region "
        "{{ $labels.storage_region }}. The files may be lost: check the bucket, its "
        "credentials and that the StorageConfig region matches the bucket's "
        '(volcengine_rtc_storage_info{supported="false"} marks a region the vendor does '
        "not support).",
        "dashboard_url": _url(cfg),
    }
    name, for_, severity = (
        "RtcRecordingUploadFailing",
        c.for_.recording_upload_failing,
        c.severities.recording_upload_failing,
    )
    return alert(cfg, name, expr, for_, severity, annotations, {"category": "recording"})


def _silent(cfg: MixinConfig) -> dict[str, Any]:
    c = cfg.callbacks
    app = _by(cfg, "app_id")
    last = f"{R}callback_last_event_timestamp_seconds{cfg.sel()}"
    expr = (
        f"time() - max by ({app}) (max_over_time({last}[{c.silent_lookback}])) "
        f"> {seconds(c.silent_after):g}\n"
        f"and on ({app})\n"
        f"max by ({app}) ({R}online_users{cfg.sel()}) >= {c.silent_min_online_users:g}"
    )
    annotations = {
        "summary": "No event callbacks from {{ $labels.app_id }} for "
        f"{c.silent_after} while it has users",
        "description": "App {{ $labels.app_id }} has users (the poll path sees them) but the "
        f"receiver has accepted no event of it for {c.silent_after}: callbacks switched off "
        "or unsubscribed in the console, the callback URL wrong or unreachable, or the "
        "secret rotated (then RtcCallbacksRejected fires too).",
        "dashboard_url": _url(cfg),
    }
    name, for_, severity = (
        "RtcCallbacksSilent",
        c.for_.callbacks_silent,
        c.severities.callbacks_silent,
    )
    return alert(cfg, name, expr, for_, severity, annotations, {"category": "health"})


def _rejected(cfg: MixinConfig) -> dict[str, Any]:
    c = cfg.callbacks
    family = R + "callback_requests_total"
    matcher = 'outcome=~"' + REJECTED + '"'
    rejected = f"rate({family}{cfg.sel(matcher)}[{c.rejected_window}])"
    by, out = _by(cfg), _by(cfg, "outcome")
    expr = (
        f"sum by ({out}) ({rejected})\n/ on ({by}) group_left\n"
        f"sum by ({by}) (rate({family}{cfg.sel()}[{c.rejected_window}]))\n"
        f"> {c.rejected_ratio_max:g}\n"
        f"and\nsum by ({out}) ({rejected}) > {c.rejected_min_per_second:g}"
    )
    annotations = {
        "summary": "{{ $value | humanizePercentage }} of the callback requests are rejected "
        "as {{ $labels.outcome }}",
        "description": "bad_signature: the secret in the console and the exporter's differ "
        "(rotated?), or someone is probing the public URL; stale: the sender's or the "
        "exporter's clock is off, or requests are replayed; malformed / too_large: not the "
        "vendor's envelope (probing, or a proxy rewriting bodies).",
        "dashboard_url": _url(cfg, app=False),
    }
    name, for_, severity = (
        "RtcCallbacksRejected",
        c.for_.callbacks_rejected,
        c.severities.callbacks_rejected,
    )
    return alert(cfg, name, expr, for_, severity, annotations, {"category": "health"})


def callback_alerts(cfg: MixinConfig) -> list[dict[str, Any]]:
    return [_start_failing(cfg), _upload_failing(cfg), _silent(cfg), _rejected(cfg)]


# (alert, meaning, confirm, first checks) for docs/runbooks.md
CALLBACK_RUNBOOKS: tuple[tuple[str, str, str, str], ...] = (
    ("RtcRecordingStartFailing",
     "Cloud recording tasks of an app fail to start (RecordStarted events with a non-zero "
     "Code): the calls they were meant to record are not recorded. Counted from the event "
     "callbacks, summed over the exporter's replicas.",
     "RTC events and recording → *Recording tasks started* by result for the app.",
     "The ErrorMessage of the failed RecordStarted events in your own callback logs; the "
     "StartRecord request (layout, streams, storage); recording quota of the account; the "
     "vendor's status page."),
    ("RtcRecordingUploadFailing",
     "Uploads of finished recordings to the app's storage fail (RecordUploadDone with a "
     "non-zero Code); the page names the storage platform and region, decoded from the app's "
     "configured StorageConfig with the vendor's Region table. Files may be lost.",
     "RTC events and recording → *Uploads by result and storage* and *Upload failure share*; "
     "`volcengine_rtc_storage_info` for the app's configured platform and region.",
     "That the StorageConfig region matches the bucket's region (a mismatch \"may make the "
     "upload fail\", says the vendor) and is not one the vendor does not support "
     "(supported=\"false\", e.g. Amazon S3 eu-central-1); the bucket exists and the "
     "third-party credentials in StorageConfig are valid; for VOD/TOS the service is "
     "activated in that region."),
    ("RtcCallbacksSilent",
     "An app has users according to the poll path but the receiver has accepted none of its "
     "events for the configured time, after having had events within the lookback.",
     "RTC events and recording → *Newest event age* and *Requests by outcome* (bad_signature "
     "means the secret changed).",
     "The callback configuration of the app in the console (or GetCallback): URL, "
     "subscribed events, secret; that the URL reaches the receiver (Ingress, TLS "
     "certificate valid, DNS); RtcCallbacksRejected."),
    ("RtcCallbacksRejected",
     "A high share of the requests to the callback receiver is rejected, by outcome "
     "(`outcome` label): bad_signature, stale, malformed or too_large.",
     "RTC events and recording → *Requests by outcome*.",
     "bad_signature: compare the console's callback secret with callbacks.secret_file (a "
     "rotation needs both, or two lines in the file while it happens), or block the "
     "sources probing the URL; stale: NTP on the exporter's host; malformed: a proxy "
     "rewriting bodies, or not the vendor sending."),
)  # fmt: skip
