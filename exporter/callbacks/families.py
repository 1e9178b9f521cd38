"""The callback families (names, types, HELP, labels as in the metrics contract), their state,
and the collector that exports them from the exporter's registry.

Counters and histograms only grow; the two gauges are the newest event per app and the bounded
in-flight task count (``tasks``); ``volcengine_rtc_storage_info`` comes from the configuration.
The state is plain numbers under one lock: the request path only bumps ``requests``, the event
worker everything else, and a scrape copies it. ``requests_total`` has every outcome from the
first scrape.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.callbacks.storage import StorageInfo

__all__ = ["OUTCOMES", "SPECS", "CallbackCollector", "CallbackState", "FamilySpec"]

OUTCOMES = (
    "accepted",
    "duplicate",
    "bad_signature",
    "stale",
    "malformed",
    "too_large",
    "overloaded",
)
STORAGE = ("storage_platform", "storage_region")


@dataclass(frozen=True)
class FamilySpec:
    name: str  # as exposed (counters with _total)
    type: str  # counter, gauge, histogram
    help: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


def _s(
    name: str, type_: str, help_: str, *labels: str, buckets: tuple[float, ...] = ()
) -> FamilySpec:
    return FamilySpec("volcengine_rtc_" + name, type_, help_, labels, buckets)


_RECEIPT = "receipt time of the event's request"
SPECS: dict[str, FamilySpec] = {
    "requests": _s("callback_requests_total", "counter",
                   "POST /callbacks requests to the event callback receiver, by outcome "
                   "(accepted and duplicate answered 200, too_large 413, malformed 400, "
                   "bad_signature and stale 401, overloaded 503).", "outcome"),
    "events": _s("callback_events_total", "counter",
                 "Accepted event callbacks, by app and the vendor's EventType (lower-cased; "
                 "beyond the first distinct values counted as other).", "app_id", "event_type"),
    "last_event": _s("callback_last_event_timestamp_seconds", "gauge",
                     f"Unix time ({_RECEIPT}) of the newest accepted event of the app.", "app_id"),
    "delivery_delay": _s("callback_delivery_delay_seconds", "histogram",
                         f"Delay of accepted events: {_RECEIPT} minus the event's EventTime.",
                         buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600)),
    "joins": _s("user_joins_total", "counter",
                "Users joining a room (UserJoinRoom, InvisibleUserJoinRoom events), by the "
                "vendor's DeviceType (lower-cased).", "app_id", "device_type", "visibility"),
    "leaves": _s("user_leaves_total", "counter",
                 "Users leaving a room (UserLeaveRoom, InvisibleUserLeaveRoom events), by "
                 "DeviceType and the vendor's Reason (lower-cased).",
                 "app_id", "device_type", "visibility", "reason"),
    "session": _s("session_duration_seconds", "histogram",
                  "Time in the room of users who left (UserLeaveRoom Duration, converted to "
                  "seconds).", "app_id",
                  buckets=(10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)),
    "rec_started": _s("recording_tasks_started_total", "counter",
                      "Cloud recording tasks started (RecordStarted events): result success for "
                      "Code 0, else failure.", "app_id", "result"),
    "rec_stopped": _s("recording_tasks_stopped_total", "counter",
                      "Cloud recording tasks stopped (RecordStopped events).", "app_id"),
    "uploads": _s("recording_uploads_total", "counter",
                  "Recording uploads finished (RecordUploadDone events), by result (Code 0 "
                  "success, else failure) and the app's configured storage.",
                  "app_id", "result", *STORAGE),
    "files": _s("recording_files_total", "counter",
                "Recording files produced (RecordStopped RecordFileList entries).",
                "app_id", *STORAGE),
    "bytes": _s("recording_bytes_total", "counter",
                "Bytes of the recording files produced (RecordFileList Size).", "app_id", *STORAGE),
    "media_seconds": _s("recording_media_seconds_total", "counter",
                        "Media time of the recording files produced (RecordFileList Duration, "
                        "milliseconds converted to seconds).", "app_id", *STORAGE),
    "upload_delay": _s("recording_upload_delay_seconds", "histogram",
                       "Time from a task's RecordStopped to its RecordUploadDone (EventTimes).",
                       "app_id", buckets=(1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200)),
    "in_flight": _s("recording_tasks_in_flight", "gauge",
                    "Recording tasks started and not yet stopped (state recording) or stopped "
                    "and not yet uploaded (uploading), per the events; entries expire after 72 h "
                    "and overdue ones are checked with GetRecordTask.", "app_id", "state"),
    "cdn": _s("cdn_push_state_changes_total", "counter",
              "Push-to-CDN (transcode) events (Transcode* EventTypes), by the event's state "
              "(lower-cased; unknown when it carries none).", "app_id", "event_type", "state"),
    "relay": _s("relay_stream_state_changes_total", "counter",
                "RelayStreamStateChanged events, by the event's Status.", "app_id", "status"),
    "storage_info": _s("storage_info", "gauge",
                       "The recording storage configured for the app (value 1), decoded with the "
                       "vendor's Region table; supported=false for a region the vendor does not "
                       "support or a code outside the table.",
                       "app_id", *STORAGE, "supported"),
}  # fmt: skip

Labels = tuple[str, ...]


class _Histogram:
    __slots__ = ("buckets", "counts", "sum")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.sum += value

    def exposition(self) -> tuple[list[tuple[str, float]], float]:
        out, total = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else f"{bound:g}", float(total)))
        return out, self.sum


class CallbackState:
    """Everything the families count; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = dict.fromkeys(OUTCOMES, 0.0)
        self._counters: dict[str, dict[Labels, float]] = {
            k: {} for k, s in SPECS.items() if s.type == "counter" and k != "requests"
        }
        self._histograms: dict[str, dict[Labels, _Histogram]] = {
            k: {} for k, s in SPECS.items() if s.type == "histogram"
        }
        self.last_event: dict[str, float] = {}

    def request(self, outcome: str) -> None:
        with self._lock:
            self.requests[outcome] += 1

    def inc(self, key: str, labels: Labels, amount: float = 1.0) -> None:
        with self._lock:
            series = self._counters[key]
            series[labels] = series.get(labels, 0.0) + amount

    def observe(self, key: str, labels: Labels, value: float) -> None:
        with self._lock:
            series = self._histograms[key]
            hist = series.get(labels)
            if hist is None:
                hist = series[labels] = _Histogram(SPECS[key].buckets)
            hist.observe(value)

    def event_seen(self, app_id: str, received: float) -> None:
        with self._lock:
            if received > self.last_event.get(app_id, 0.0):
                self.last_event[app_id] = received

    def value(self, key: str, labels: Labels) -> float:
        """A counter's current value (tests, the docs' examples)."""
        with self._lock:
            if key == "requests":
                return self.requests[labels[0]]
            return self._counters[key].get(labels, 0.0)

    def snapshot(self) -> Snapshot:
        with self._lock:
            counters = {k: dict(v) for k, v in self._counters.items()}
            hists: dict[str, list[tuple[Labels, _Histogram]]] = {}
            for k, series in self._histograms.items():
                copies = []
                for labels, h in series.items():
                    c = _Histogram(h.buckets)
                    c.counts, c.sum = list(h.counts), h.sum
                    copies.append((labels, c))
                hists[k] = copies
            return Snapshot(counters, hists, dict(self.last_event), dict(self.requests))


@dataclass
class Snapshot:
    counters: dict[str, dict[Labels, float]]
    histograms: dict[str, list[tuple[Labels, _Histogram]]]
    last_event: dict[str, float]
    requests: dict[str, float]


def _labels(key: str) -> list[str]:
    return list(SPECS[key].labels)


class CallbackCollector(Collector):
    """Exports the state; in-flight counts and the storage of each app are read on collect."""

    def __init__(
        self,
        state: CallbackState,
        in_flight: Callable[[], dict[tuple[str, str], int]],
        storage: Callable[[], list[tuple[str, StorageInfo]]],
    ) -> None:
        self._state = state
        self._in_flight = in_flight
        self._storage = storage

    def describe(self) -> Iterable[Metric]:
        snap = Snapshot({}, {}, {}, {})
        return self._families(snap, {}, [])

    def collect(self) -> Iterable[Metric]:
        return self._families(self._state.snapshot(), self._in_flight(), self._storage())

    def _families(
        self,
        snap: Snapshot,
        in_flight: dict[tuple[str, str], int],
        storage: list[tuple[str, StorageInfo]],
    ) -> list[Metric]:
        out: list[Metric] = []
        for key, spec in SPECS.items():
            if spec.type == "counter":
                counter = CounterMetricFamily(spec.name, spec.help, labels=_labels(key))
                series = snap.requests if key == "requests" else snap.counters.get(key, {})
                for labels, value in sorted(series.items()):
                    counter.add_metric([labels] if isinstance(labels, str) else list(labels), value)
                out.append(counter)
            elif spec.type == "histogram":
                hist = HistogramMetricFamily(spec.name, spec.help, labels=_labels(key))
                for hlabels, h in sorted(snap.histograms.get(key, []), key=lambda x: x[0]):
                    buckets, total = h.exposition()
                    hist.add_metric(list(hlabels), buckets, total)
                out.append(hist)
            else:
                gauge = GaugeMetricFamily(spec.name, spec.help, labels=_labels(key))
                self._gauge(key, gauge, snap, in_flight, storage)
                out.append(gauge)
        return out

    @staticmethod
    def _gauge(
        key: str,
        gauge: GaugeMetricFamily,
        snap: Snapshot,
        in_flight: dict[tuple[str, str], int],
        storage: list[tuple[str, StorageInfo]],
    ) -> None:
        if key == "last_event":
            for app_id, ts in sorted(snap.last_event.items()):
                gauge.add_metric([app_id], ts)
        elif key == "in_flight":
            for (app_id, state), n in sorted(in_flight.items()):
                gauge.add_metric([app_id, state], float(n))
        elif key == "storage_info":
            for app_id, info in storage:
                supported = "true" if info.supported else "false"
                gauge.add_metric([app_id, info.platform, info.region, supported], 1.0)
