"""The event-callback scenarios: recording start failures, upload failures for one storage
platform and region, a wrong secret, a burst. Merged into ``scenarios.SCENARIOS``."""

from __future__ import annotations

from exporter.simulator.scenarios import ScenarioSpec

__all__ = ["CALLBACKS_DOC", "CALLBACK_SCENARIOS"]

CALLBACKS_DOC = """\
## Event callbacks

With `--callbacks-url URL` (and `--callbacks-secret-file`; default: a generated secret, printed
as `callbacks_secret` in the first output line) the simulator POSTs signed event callbacks to
`URL` as its world evolves, and `--demo` points them at the exporter's receiver: users joining
and leaving every app's rooms (a few every 20 s, staying 30 s to 10 min, `DeviceType`, `Reason`
and `Duration` in ms), and a cloud recording task per app every 90 s (`RecordStarted`, then
`RecordStopped` with its file after 1 to 4 min, then `RecordUploadDone` 5 to 45 s later;
`--callbacks-recording-period` shortens the cycle for tests), and a push-to-CDN task and a relay
stream per app every 150 s (`Transcode*` with `State`, `RelayStreamStateChanged` with `Status`).
`--demo` starts with the last five minutes of the world, delivered at once (so every family
shows immediately; their delivery delay is up to 300 s). `GetRecordTask` answers what the
events said (Status 2 running, 3 ended, 4 failed; tasks older than 72 h are gone).

Delivery is the vendor's: each event signed as documented, sent on a fresh connection, HTTP
200 within 5 s is success, anything else is retried up to twice (`--callbacks-retry-delay`,
default 1 s) and then given up; a delivered event is sent again with probability
`--callbacks-duplicates` (default 0.02), neighbours are swapped with `--callbacks-reorder`
(default 0.05), and four senders work at once. Each app records to the storage given by its
index (1, 5, ...: Amazon S3 us-east-1; 2, 6, ...: Aliyun OSS oss-cn-hangzhou; 3, 7, ...: TOS
cn-beijing; 4, 8, ...: VOD cn-north-1), listed as `recording_storage` in the first output line
in the form of the exporter's `apps[].recording_storage`.
"""

CALLBACK_SCENARIOS: dict[str, ScenarioSpec] = {
    s.name: s
    for s in (
        ScenarioSpec(
            "recording_start_failures",
            "callbacks",
            "A share `share` (0..1) of the cloud recording tasks that start fails: RecordStarted "
            "carries Code 1 and an ErrorMessage, and GetRecordTask answers Status 4 (failed). "
            "Optional `app_id` limits it to one app.",
            'volcengine_rtc_recording_tasks_started_total{result="failure"} rises for the app; '
            "RtcRecordingStartFailing fires.",
            {"share": 1.0, "app_id": ""},
        ),
        ScenarioSpec(
            "upload_failures",
            "callbacks",
            "Uploads of recordings to one storage platform and region fail (RecordUploadDone "
            "Code 1) with `share` (0..1): every app whose storage decodes to `platform` and "
            "`region` (labels as the exporter shows them; the simulator gives app 1, 5, ... "
            "Amazon S3 us-east-1, app 2, 6, ... Aliyun OSS oss-cn-hangzhou, app 3, 7, ... TOS "
            "cn-beijing, app 4, 8, ... VOD cn-north-1).",
            'volcengine_rtc_recording_uploads_total{result="failure",storage_platform=<platform>,'
            "storage_region=<region>} rises; RtcRecordingUploadFailing fires naming the platform "
            "and region.",
            {"platform": "s3", "region": "us-east-1", "share": 1.0},
        ),
        ScenarioSpec(
            "wrong_secret",
            "callbacks",
            "Callbacks are signed with another secret (as after a rotation in the console that "
            "the exporter did not get); optional `app_id`.",
            'volcengine_rtc_callback_requests_total{outcome="bad_signature"} rises, the apps '
            "get no events; RtcCallbacksRejected and, later, RtcCallbacksSilent fire.",
            {"app_id": ""},
        ),
        ScenarioSpec(
            "burst",
            "callbacks",
            "Once, when switched on: `events` extra UserJoinRoom events for the first app, sent "
            "by `senders` concurrent senders (a fresh connection each).",
            "every event counted exactly once (volcengine_rtc_callback_events_total); with a "
            "small queue some are answered 503 overloaded and accepted on the vendor's retry.",
            {"events": 500, "senders": 8},
        ),
    )
}
