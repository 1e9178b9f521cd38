"""Bounded label vocabularies for vendor strings (``reason``, ``event_type``, ``device_type``,
CDN ``state``, relay ``status``) and for app ids that are not the exporter's own.

Values are lower-cased, trimmed and cut to 64 characters; an empty value is ``unknown``. The
first ``cap`` distinct values of a family get their own label value; every later new value is
counted as ``other`` and logged once per family (the log line names the family and the first
value that did not fit, so a new vendor vocabulary is noticed without a label explosion).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection

from exporter.log import get_logger

__all__ = ["AppIds", "Vocabulary", "normalise"]

log = get_logger(__name__)

MAX_LENGTH = 64


def normalise(value: object) -> str:
    """A vendor string as a label value: lower-cased, trimmed, at most 64 characters."""
    if value is None or isinstance(value, bool):
        text = "" if value is None else str(value).lower()
    elif isinstance(value, int | float | str):
        text = str(value).strip().lower()
    else:
        text = ""
    text = " ".join(text.split())
    return text[:MAX_LENGTH] or "unknown"


class Vocabulary:
    def __init__(self, family: str, cap: int, normal: Callable[[object], str] = normalise) -> None:
        self.family = family
        self.cap = cap
        self._normal = normal
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self.overflowed = 0

    def __call__(self, value: object) -> str:
        label = self._normal(value)
        with self._lock:
            if label in self._seen:
                return label
            if len(self._seen) < self.cap:
                self._seen.add(label)
                return label
            self.overflowed += 1
            first = self.overflowed == 1
        if first:
            log.warning(
                "too many distinct label values: counting the rest as other",
                family=self.family,
                cap=self.cap,
                value=label,
            )
        return "other"


def _app_id(value: object) -> str:
    return str(value).strip()[:128] or "unknown"


class AppIds:
    """``app_id`` labels: the exporter's apps (configured, discovered, or with a secret of their
    own) as they are; at most ``cap`` others, then ``other`` (signed events of apps this
    exporter does not poll still count). ``known`` is read at most once a second."""

    def __init__(self, known: Callable[[], Collection[str]], cap: int) -> None:
        self._known = known
        self._cache: Collection[str] = ()
        self._read = -1.0
        self._others = Vocabulary("app_id", cap, _app_id)

    def __call__(self, app_id: str) -> str:
        now = time.monotonic()
        if now - self._read >= 1.0 or self._read < 0:
            self._cache, self._read = self._known(), now
        if app_id in self._cache:
            return app_id
        return self._others(app_id)
